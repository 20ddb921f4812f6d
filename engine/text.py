"""Text as it comes in: one form of each name (Unicode NFC), and the NUL character that no text may hold.

Vietnamese has two spellings of the same letters in Unicode: composed (NFC: "ữ" is one code point) and decomposed
(NFD: "u" + horn + tilde, as macOS and some keyboards write it). Compared as code points they differ, so a station,
an entity or a user name written both ways would be two of them: identifiers are made NFC where they come in.
PostgreSQL refuses NUL (``\\x00``) in text and JSON: text holding it is refused where it comes in, named by its
field, rather than failing a whole request later. A text file (a CSV, a station file, a BPMN model) holding NUL or
another control character is refused named by its line: it is binary, or saved in an encoding it does not say."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

NUL = "\x00"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # tab, LF and CR are text


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


def line_of(text: str, index: int) -> int:
    """The line (from 1) that the character at ``index`` is on; a line ends at LF, CR LF or CR."""
    before = text[:index]
    return before.count("\n") + before.count("\r") - before.count("\r\n") + 1


def control_in_text(text: str) -> tuple[int, str] | None:
    """The first control character that no text holds (NUL among them; tab and line ends are text): its line (from
    1) and its name (``NUL``, ``U+001B``); None when there is none."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    char = found.group()
    return line_of(text, found.start()), "NUL" if char == NUL else f"U+{ord(char):04X}"


def control_in_file(data: bytes) -> tuple[int, str] | None:
    """:func:`control_in_text` for a text file's bytes, whatever its encoding: UTF-16 when it starts with its byte
    order mark; otherwise a byte below 0x20 is that control character in UTF-8 and in every single-byte code page
    (Windows-1258…), so the bytes are read one character each."""
    if data.startswith(UTF16_BOMS):
        return control_in_text(data.decode("utf-16", errors="replace"))
    return control_in_text(data.decode("latin-1"))
