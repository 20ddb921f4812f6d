"""DMN decision tables: the subset the engine runs, checked at deploy.

Runs: one decision table per ``decision``, hit policy UNIQUE (the default) or COLLECT, input and output
entries written as Python expressions (``"SO-YT"``, ``> 150``, ``-`` for any), evaluated in the sandbox.
Refused, with the line and element: other hit policies, literal-expression decisions, decision
requirement graphs (``informationRequirement``), and anything that is not DMN 1.x XML.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit
from engine.bpmn import parse_xml_any
from engine.errors import N_, DeployError
from engine.models import DecisionDefinition

SUPPORTED_HIT_POLICIES = ("UNIQUE", "COLLECT")


def _fail(message: str, filename: str, node: etree._Element | None, **params: Any) -> DeployError:
    details = {"file": filename, "line": node.sourceline if node is not None else 1,
               "element": node.get("id") if node is not None else None}
    return DeployError(message, details={k: v for k, v in details.items() if v is not None}, **params)


def is_dmn(root: etree._Element) -> bool:
    q = etree.QName(root)
    return q.localname == "definitions" and "DMN" in (q.namespace or "").upper()


def check_dmn(content: bytes, filename: str) -> list[tuple[str, str]]:
    """Check a DMN file; returns (decision id, name) for each decision."""
    tree = parse_xml_any(content, filename)
    root = tree.getroot()
    if not is_dmn(root):
        raise _fail(N_("This is not a DMN file"), filename, root)
    decisions = [el for el in root if isinstance(el.tag, str) and etree.QName(el).localname == "decision"]
    if not decisions:
        raise _fail(N_("The file has no decision"), filename, root)
    out = []
    for decision in decisions:
        if any(etree.QName(c).localname == "informationRequirement" for c in decision if isinstance(c.tag, str)):
            raise _fail(N_("Decision requirement graphs are not supported: one decision table per decision"),
                        filename, decision)
        table = next((c for c in decision if isinstance(c.tag, str) and etree.QName(c).localname == "decisionTable"),
                     None)
        if table is None:
            raise _fail(N_("Only decision tables are supported (not literal expressions)"), filename, decision)
        policy = (table.get("hitPolicy") or "UNIQUE").upper()
        if policy not in SUPPORTED_HIT_POLICIES:
            raise _fail(N_("The hit policy %(policy)s is not supported; use UNIQUE or COLLECT"), filename, table,
                        policy=policy)
        out.append((decision.get("id"), decision.get("name") or decision.get("id")))
    return out


def deploy(session: Session, content: bytes, filename: str, actor: str = "system") -> list[DecisionDefinition]:
    result = []
    for key, name in check_dmn(content, filename):
        digest = hashlib.sha256(key.encode() + b"\0" + content).hexdigest()
        existing = session.scalar(select(DecisionDefinition).where(DecisionDefinition.content_hash == digest))
        if existing is not None:
            result.append(existing)
            continue
        last = session.scalar(select(func.max(DecisionDefinition.version))
                              .where(DecisionDefinition.decision_key == key)) or 0
        row = DecisionDefinition(decision_key=key, name=name, version=last + 1, content_hash=digest,
                                 filename=filename, dmn_xml=content.decode("utf-8"), deployed_by=actor)
        session.add(row)
        session.flush()
        audit.record(session, actor, "decision.deployed", "decision_definition", row.id, decision=key,
                     version=row.version)
        result.append(row)
    return result


def latest_files(session: Session) -> list[bytes]:
    """The newest version of each decision's file, for parsing the processes that use them."""
    newest = (select(DecisionDefinition.decision_key, func.max(DecisionDefinition.version).label("v"))
              .group_by(DecisionDefinition.decision_key).subquery())
    same = (DecisionDefinition.decision_key == newest.c.decision_key) & (DecisionDefinition.version == newest.c.v)
    rows = session.scalars(select(DecisionDefinition).join(newest, same))
    return list(dict.fromkeys(r.dmn_xml.encode("utf-8") for r in rows))
