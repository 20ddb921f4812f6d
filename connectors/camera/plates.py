"""Plate text from OCR normalised to Vietnamese formats, with a confidence. Pure.

Cars: ``36A-123.45`` (older ``36A-1234``, two series letters ``51LD-123.45``); motorbikes, on two lines:
``36-B1 123.45`` (older ``36-B1 1234``). OCR confuses letters and digits, so a character in a position that
must be a digit (or a letter) is mapped to its look-alike, and every such fix lowers the confidence."""

from __future__ import annotations

import re
from dataclasses import dataclass

TO_DIGIT = {"O": "0", "D": "0", "Q": "0", "U": "0", "I": "1", "L": "1", "T": "1", "J": "1", "Z": "2", "S": "5",
            "B": "8", "G": "6", "A": "4"}
TO_LETTER = {"0": "D", "1": "T", "2": "Z", "4": "A", "5": "S", "6": "G", "8": "B"}


@dataclass(frozen=True)
class Template:
    kind: str  # car or motorbike
    classes: str  # D digit, L letter, X letter or digit (motorbike series)
    layout: str  # Python format over the characters


TEMPLATES = (
    Template("car", "DDLDDDDD", "{0}{1}{2}-{3}{4}{5}.{6}{7}"),
    Template("car", "DDLLDDDDD", "{0}{1}{2}{3}-{4}{5}{6}.{7}{8}"),
    Template("car", "DDLDDDD", "{0}{1}{2}-{3}{4}{5}{6}"),
    Template("motorbike", "DDLXDDDDD", "{0}{1}-{2}{3} {4}{5}{6}.{7}{8}"),
    Template("motorbike", "DDLXDDDD", "{0}{1}-{2}{3} {4}{5}{6}{7}"),
)


@dataclass(frozen=True)
class Plate:
    text: str
    kind: str
    confidence: float


def _coerce(chars: str, classes: str) -> tuple[str, int] | None:
    out, fixes = [], 0
    for ch, cls in zip(chars, classes, strict=True):
        if cls == "D" and not ch.isdigit():
            if ch not in TO_DIGIT:
                return None
            ch, fixes = TO_DIGIT[ch], fixes + 1
        elif cls == "L" and not ch.isalpha():
            if ch not in TO_LETTER:
                return None
            ch, fixes = TO_LETTER[ch], fixes + 1
        out.append(ch)
    return "".join(out), fixes


def _layout_hint(raw: str) -> str | None:
    """A line break or a dash right after the two province digits marks a motorbike plate; a dash after the
    series letters marks a car plate; otherwise the layout says nothing."""
    if "\n" in raw.strip() or re.match(r"^\s*\w{2}\s*-", raw):
        return "motorbike"
    return "car" if re.match(r"^\s*\w{3,4}\s*-", raw) else None


def normalise(raw: str, ocr_confidence: float = 1.0) -> Plate | None:
    """The best Vietnamese reading of ``raw``, or None when no format fits."""
    chars = re.sub(r"[^0-9A-Z]", "", raw.upper().replace("Đ", "D"))
    hint = _layout_hint(raw)
    best: tuple[float, Plate] | None = None
    for template in TEMPLATES:
        if len(chars) != len(template.classes):
            continue
        fixed = _coerce(chars, template.classes)
        if fixed is None or int(fixed[0][:2]) < 11:  # province codes start at 11
            continue
        text, fixes = fixed
        confidence = ocr_confidence * 0.8**fixes
        if hint is not None and template.kind != hint:
            confidence *= 0.5
        elif hint is None and template.kind == "motorbike":  # same characters fit both: cars are likelier
            confidence *= 0.9
        if best is None or confidence > best[0]:
            best = (confidence, Plate(template.layout.format(*text), template.kind, round(confidence, 3)))
    return best[1] if best else None


def distance(a: str, b: str) -> int:
    """Edit distance over the plate characters only, for approximate plate search."""
    x, y = re.sub(r"[^0-9A-Z]", "", a.upper()), re.sub(r"[^0-9A-Z]", "", b.upper())
    row = list(range(len(y) + 1))
    for i, cx in enumerate(x, 1):
        prev, row[0] = row[0], i
        for j, cy in enumerate(y, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (cx != cy))
    return row[-1]
