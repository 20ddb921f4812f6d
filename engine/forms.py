"""Task forms: the fields a model declares, checked on the server. Pure functions."""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.errors import N_, Invalid

TRUE = {"true", "1", "on", "yes", "có"}
FALSE = {"false", "0", "off", "no", "không", ""}


def _coerce(field: dict[str, Any], raw: Any, choices: list[str] | None) -> Any:
    kind = field.get("type", "string")
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise ValueError(N_("must be yes or no"))
    if kind == "long":
        if isinstance(raw, bool):
            raise ValueError(N_("must be a whole number"))
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ValueError(N_("must be a whole number")) from None
    if kind == "date":
        try:
            return date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError:
            raise ValueError(N_("must be a date (YYYY-MM-DD)")) from None
    if not isinstance(raw, str | int | float):
        raise ValueError(N_("must be text"))
    text = str(raw).strip()
    options = [o["id"] for o in field.get("options") or []] or choices
    if options is not None and text and text not in options:
        raise ValueError(N_("is not one of the allowed choices"))
    return text


def validate(fields: list[dict[str, Any]], submitted: dict[str, Any],
             choices: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Return the clean values of ``submitted`` for ``fields``, or raise Invalid naming each bad field.

    ``choices`` gives the allowed values of fields whose options come from data (``choices=departments``).
    Unknown keys are refused, so that a form cannot write arbitrary process variables.
    """
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    known = {f["id"] for f in fields}
    for key in submitted:
        if key not in known:
            errors[key] = N_("is not a field of this form")
    for field in fields:
        fid = field["id"]
        rules = field.get("validation") or {}
        raw = submitted.get(fid)
        if raw is None or (isinstance(raw, str) and not raw.strip() and field.get("type") != "boolean"):
            if "required" in rules:
                errors[fid] = N_("is required")
            else:  # an empty optional field is set, to nothing, so that conditions and scripts can test it
                clean[fid] = False if field.get("type") == "boolean" else None
            continue
        source = (field.get("properties") or {}).get("choices")
        try:
            value = _coerce(field, raw, (choices or {}).get(source) if source else None)
        except ValueError as exc:
            errors[fid] = str(exc)
            continue
        limit = rules.get("maxlength")
        if limit and isinstance(value, str) and len(value) > int(limit):
            errors[fid] = N_("is too long")
            continue
        clean[fid] = value
    if errors:
        raise Invalid(N_("Some fields are not valid"), code="invalid_form", details={"fields": errors})
    return clean


def shown(fields: list[dict[str, Any]], values: dict[str, Any]) -> list[dict[str, Any]]:
    """The submitted values as a person reads them: each field's label, and an option's name for its id."""
    out = []
    for field in fields:
        if field["id"] not in values:
            continue
        value = values[field["id"]]
        names = {o["id"]: o.get("name") or o["id"] for o in field.get("options") or []}
        out.append({"id": field["id"], "label": field.get("label") or field["id"], "value": names.get(value, value)})
    return out


class SchemaError(ValueError):
    """A JSON Schema form the engine cannot render; the message names the property."""


def fields_from_json_schema(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """A form declared as JSON Schema (an object of simple properties) → the engine's field list.

    Supported: ``string`` (with ``enum`` + optional ``enumNames``, ``format: date``, ``maxLength``,
    ``x-widget: textarea``), ``integer``, ``boolean``; ``title`` as the label; the ``required`` list.
    """
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        raise SchemaError("the schema must be an object with properties")
    required = set(schema.get("required") or [])
    fields = []
    for fid, prop in schema["properties"].items():
        if not isinstance(prop, dict):
            raise SchemaError(f"property {fid}: not an object")
        kind = prop.get("type")
        field: dict[str, Any] = {"id": fid, "label": prop.get("title") or fid, "default": prop.get("default"),
                                 "options": [], "properties": {}, "validation": {}}
        if kind == "string" and "enum" in prop:
            names = prop.get("enumNames") or prop["enum"]
            field["type"] = "enum"
            field["options"] = [{"id": str(v), "name": str(n)} for v, n in zip(prop["enum"], names, strict=False)]
        elif kind == "string":
            field["type"] = "date" if prop.get("format") == "date" else "string"
        elif kind == "integer":
            field["type"] = "long"
        elif kind == "boolean":
            field["type"] = "boolean"
        else:
            raise SchemaError(f"property {fid}: type {kind!r} is not supported (string, integer, boolean)")
        if prop.get("x-widget") == "textarea":
            field["properties"]["widget"] = "textarea"
        if "maxLength" in prop:
            field["validation"]["maxlength"] = str(prop["maxLength"])
        if fid in required:
            field["validation"]["required"] = None
        fields.append(field)
    return fields
