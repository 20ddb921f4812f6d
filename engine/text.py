"""Text as it comes in: one form of each name (Unicode NFC), and the NUL character that no text may hold.

Vietnamese has two spellings of the same letters in Unicode: composed (NFC: "ữ" is one code point) and decomposed
(NFD: "u" + horn + tilde, as macOS and some keyboards write it). Compared as code points they differ, so a station,
an entity or a user name written both ways would be two of them: identifiers are made NFC where they come in.
PostgreSQL refuses NUL (``\\x00``) in text and JSON: text holding it is refused where it comes in, named by its
field, rather than failing a whole request later."""

from __future__ import annotations

import unicodedata
from typing import Any

NUL = "\x00"


def nfc(text: str) -> str:
    """``text`` in Unicode's composed form (NFC); ASCII text, the usual case, is returned as it is."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def nfc_or_none(text: str | None) -> str | None:
    return None if text is None else nfc(text)


def nul_paths(value: Any, path: str = "") -> list[str]:
    """Where a NUL character sits in a tree of JSON values (in a text or in an object's key), as dotted paths:
    ``events.3.values.note``; an empty list when there is none."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                found.append(where or "-")
        elif isinstance(item, dict):
            for key, inner in item.items():
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and NUL in key:
                    found.append(name.replace(NUL, "\\u0000"))
                stack.append((name.replace(NUL, "\\u0000"), inner))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}.{i}" if where else str(i), inner) for i, inner in enumerate(item))
    return sorted(found)
