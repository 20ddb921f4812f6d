"""What no request may carry, refused before any view reads it, and JSON answers that are always JSON.

- Path ids: the ``int`` converter of every route stops at 2³¹−1, the largest id a row can have (a bigger one is no
  row: 404, rather than an integer-overflow error from PostgreSQL).
- JSON bodies: nesting deeper than ``MAX_DEPTH`` and numbers of more than ``MAX_DIGITS`` digits are refused (400)
  before the body is parsed (Python's parser takes seconds over a number of many thousand digits, refuses one of
  more than 4,300 with a ValueError, and a deep nesting with a RecursionError); so are ``NaN`` and ``Infinity``,
  which Python reads but JSON does not have.
- NUL characters (which PostgreSQL refuses in text) in the query string, the path, form fields and JSON bodies are
  refused (422), each named by its field. So are NUL and the other control characters in uploaded text files (a
  multipart file named ``.csv``, ``.txt``, ``.json``, ``.bpmn``… or sent as ``text/*``, unless it is a workbook, a PDF
  or an image whatever its name) and in ``text/csv`` or ``text/plain`` bodies, named by the file and the line.
  A view that answers a batch item by item (``checks_items_itself``, the events) checks NUL and NaN per item
  itself, so that one bad item does not refuse the others.
- Answers: NaN and infinities (stored before intake refused them) go out as ``null``, never as the ``NaN`` that
  browsers refuse to parse.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter, Map

from engine.errors import N_, EngineError, Invalid
from engine.text import NUL, control_in_file, nul_paths

MAX_ID = 2**31 - 1  # PostgreSQL's integer: every id column
MAX_DEPTH = 64
MAX_DIGITS = 40

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * (MAX_DIGITS + 1)
_NOT_NUMBER = re.compile(rb"NaN|Infinity")
_BIG_EXPONENT = re.compile(rb"[eE]\+?0*([0-9]{3,})")
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1
CONTAINS_NUL = N_("contains a NUL character")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".geojson", ".xml", ".bpmn", ".dmn", ".yaml", ".yml")
TEXT_BODIES = ("text/csv", "text/plain")
BINARY_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF")


class BadBody(EngineError):
    status = 400
    code = "bad_request"


class BoundedInt(IntegerConverter):
    """``<int:…>`` in every route: at most 2³¹−1 unless the route says otherwise."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002 - werkzeug's names
                 max: int | None = MAX_ID, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def bounded_int(text: str) -> int:
    """A whole number from −(2³¹−1) to 2³¹−1, for a page's query (``request.args.get("page", type=bounded_int)``)
    and form fields: otherwise a ValueError, as ``int`` raises for a word (``get`` then gives its default)."""
    value = int(text)
    if not -MAX_ID <= value <= MAX_ID:
        raise ValueError(f"{text[:20]} is not a whole number from -{MAX_ID} to {MAX_ID}")
    return value


def _long_number(text: bytes) -> bool:
    """Whether more than ``MAX_DIGITS`` digits follow each other (a plain substring search: fast)."""
    return _LONG_RUN in text.translate(_DIGITS_AS_ZERO)


def outside_strings(body: bytes) -> bytes:
    """A JSON body with its strings emptied: what is left are its numbers, brackets and words. Split at the quotes
    when no quote is escaped (the usual case, fast), by a regular expression otherwise."""
    if b'\\"' not in body:
        return b'""'.join(body.split(b'"')[::2])
    return _STRING.sub(b'""', body)


def json_body_problem(body: bytes, bare: bytes | None = None) -> BadBody | None:
    """Why a JSON body cannot be read safely, or None. Looks at what lies outside its strings only (``bare``:
    ``outside_strings(body)``, when already made)."""
    if not _long_number(body) and body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return None  # nothing long nor deep, even counting inside the strings
    bare = outside_strings(body) if bare is None else bare
    if _long_number(bare):
        return BadBody(N_("A number in the body has more than %(limit)s digits"), code="number_too_long",
                       details={"limit": MAX_DIGITS}, limit=MAX_DIGITS)
    if bare.count(b"[") + bare.count(b"{") > MAX_DEPTH:
        brackets = _NOT_BRACKET.sub(b"", bare)
        if max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > MAX_DEPTH:
            return BadBody(N_("The body is nested more than %(limit)s levels deep"), code="too_deep",
                           details={"limit": MAX_DEPTH}, limit=MAX_DEPTH)
    return None


def not_finite(body: bytes, bare: bytes | None = None) -> bool:
    """Whether a JSON body holds NaN or an infinity (``Infinity``, or a number too big for a float: 1e400)."""
    if b"NaN" not in body and b"Infinity" not in body and not _BIG_EXPONENT.search(body):
        return False
    bare = outside_strings(body) if bare is None else bare
    return bool(_NOT_NUMBER.search(bare)) or any(int(m.group(1)) > 308 for m in _BIG_EXPONENT.finditer(bare))


def _refuse_nul(where: dict[str, list[str]]) -> None:
    if where:
        raise Invalid(N_("Text must not contain NUL characters"), code="invalid",
                      details={"fields": {name: [CONTAINS_NUL] for names in where.values() for name in names}})


def _texts(items: Any) -> list[str]:
    """The names of a multi-dict's entries whose name or value holds a NUL."""
    return sorted({str(k).replace(NUL, "\\u0000") for k, v in items
                   if NUL in str(k) or (isinstance(v, str) and NUL in v)})


def meant_as_text(filename: str, mimetype: str, head: bytes) -> bool:
    """Whether an uploaded file is meant to be text: so named or so typed, and not a known binary kind (a workbook
    named ``.csv`` is read as a workbook)."""
    said = filename.lower().endswith(TEXT_SUFFIXES) or mimetype.startswith("text/")
    return said and not head.startswith(BINARY_MAGIC)


def refuse_control(data: bytes, filename: str | None, field: str) -> None:
    """A text file or body refused (422) when it holds NUL or another control character, named by its line."""
    found = control_in_file(data)
    if found is None:
        return
    line, char = found
    details = {"file": filename, "line": line, "character": char, "field": field}
    if filename is None:
        raise Invalid(N_("Line %(line)s of the body holds the control character %(char)s, which text cannot hold; "
                         "send it as UTF-8 text"), code="control_character", details=details, line=line, char=char)
    raise Invalid(N_("%(file)s, line %(line)s: the file holds the control character %(char)s, which a text file "
                     "cannot hold; save it again as UTF-8 text (a NUL often means UTF-16 without its byte order "
                     "mark)"), code="control_character", details=details, file=filename, line=line, char=char)


def _check_files() -> None:
    for field, upload in request.files.items(multi=True):
        head = upload.stream.read(8)
        upload.stream.seek(0)
        if upload.filename and meant_as_text(upload.filename, upload.mimetype or "", head):
            data = upload.stream.read()
            upload.stream.seek(0)
            refuse_control(data, upload.filename, field)


def check_request() -> None:
    where: dict[str, list[str]] = {}
    where["query"] = _texts(request.args.items(multi=True))
    where["path"] = [k for k, v in (request.view_args or {}).items() if isinstance(v, str) and NUL in v]
    if request.mimetype == "multipart/form-data" or request.mimetype == "application/x-www-form-urlencoded":
        if request.mimetype != "multipart/form-data":
            request.get_data(cache=True)  # a signed webhook still reads the body it was sent
        where["form"] = _texts(request.form.items(multi=True))
        where["files"] = [k for k, f in request.files.items(multi=True) if f.filename and NUL in f.filename]
    _refuse_nul({k: v for k, v in where.items() if v})
    if request.mimetype == "multipart/form-data":
        _check_files()
    elif request.mimetype in TEXT_BODIES and request.content_length != 0:
        refuse_control(request.get_data(cache=True), None, "body")
    if request.is_json and request.content_length != 0:
        body = request.get_data(cache=True)
        if not body:
            return
        problem = json_body_problem(body)
        if problem is not None:
            raise problem
        if _checks_items_itself():
            return
        if not_finite(body):
            raise BadBody(N_("NaN and Infinity are not JSON numbers"), code="not_finite")
        if b"\\u0000" in body:
            try:
                tree = json.loads(body)
            except ValueError:
                return  # the view says the body is not valid JSON
            _refuse_nul({"body": nul_paths(tree)})


def _checks_items_itself() -> bool:
    from flask import current_app

    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(getattr(view, "view_class", None), "checks_items_itself", False))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class FiniteJSON(DefaultJSONProvider):
    """Flask's JSON, always valid JSON: NaN and infinities, which JSON has no word for, are written ``null``."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        try:
            return super().dumps(obj, **kwargs)
        except ValueError as exc:
            if not str(exc).startswith("Out of range float values"):
                raise
            return super().dumps(_finite(obj), **kwargs)


def init_app(app: Flask) -> None:
    """Call before any route is added: the routes take the converter when they are made."""
    app.url_map.converters["int"] = BoundedInt
    app.json = FiniteJSON(app)
    app.before_request(check_request)
