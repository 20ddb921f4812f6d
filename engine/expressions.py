"""``${name}`` placeholders in model attributes, resolved against task data without ``eval``."""

from __future__ import annotations

import re
from typing import Any

_PLACEHOLDER = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}")


def lookup(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def resolve(text: str | None, data: dict[str, Any]) -> str | None:
    """``"${department}"`` → the value of ``department`` in ``data``; plain text is returned as is.

    A missing value gives None for a whole-placeholder text, and an empty string inside a longer one.
    """
    if text is None:
        return None
    whole = _PLACEHOLDER.fullmatch(text.strip())
    if whole:
        value = lookup(data, whole.group(1))
        return None if value is None else str(value)
    return _PLACEHOLDER.sub(lambda m: str(lookup(data, m.group(1)) or ""), text)
