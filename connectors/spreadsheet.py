"""Statistics uploaded as a spreadsheet (CSV or Excel .xlsx): one row per commune/ward and period, one column
per indicator of an indicator set.

An upload is read whole and checked at two levels:

- the file: not a CSV/.xlsx, an unreadable encoding, a sheet or a required column that is not there. Then the
  only items are ``BadRecord``\\ s at ``index`` 0 (the file) or ``header_row`` (the header), and the caller
  stores nothing: the import is all-or-nothing at the file level (``Spreadsheet.rejects_file``);
- the header: a wanted column (unit code, period, an indicator's) that is missing, or that two headers read as
  (the same text but for case and diacritics: refused rather than chosen between, both named with their columns);
- a row: a bad unit code or period spoils its row, a bad value spoils its cell. The rest is imported; each bad
  cell is one ``BadRecord`` with the row number as the sheet shows it (1-based, header counted) and the header.

A header that no indicator reads (besides the unit's name) is not dropped silently: a ``Notice`` names it.

How values are read (numbers with a Vietnamese decimal comma, periods, unit codes) is in ``spreadsheet_values``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from connectors.base import BadConfig, BadRecord, Connector, Item, Notice, ObservationIn
from connectors.spreadsheet_values import (
    PERIODS,
    column_name,
    conversion_factor,
    exact_key,
    find_column,
    folded_key,
    is_empty,
    matching_columns,
    neutralised,
    number,
    period_start,
    unit_code,
)
from engine.errors import N_
from engine.text import control_in_text

UNIT_COLUMN = "Mã đơn vị"
PERIOD_COLUMN = "Kỳ"
NAME_COLUMN = "Tên đơn vị"
FILE = 0  # the index of a BadRecord about the whole file
XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Excel 97-2003 (OLE2)
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
FORMULA_WITHOUT_VALUE = N_("formula without a value")
MERGED_CELL = N_("merged cell")

Cell = tuple[Any, str | None]  # a value, and why it cannot be used (None when it can)


@dataclass
class Grid:
    """A sheet as read: the header row's texts and the data rows (sheet row number, cells)."""

    headers: list[str]
    rows: Iterable[tuple[int, list[Cell]]]


class FileProblem(Exception):
    """The file cannot be read as a table: a reason for the single file-level BadRecord."""


_TEXT = {"type": "string", "minLength": 1}


@dataclass
class Spreadsheet(Connector):
    kind: ClassVar[str] = "spreadsheet"
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["indicators", "period"],
        "properties": {
            "indicators": {"type": "array", "minItems": 1, "items": {
                "type": "object", "additionalProperties": False, "required": ["code", "column"],
                "properties": {"code": _TEXT, "column": _TEXT, "unit_conversion": {
                    "type": "object", "additionalProperties": False, "required": ["from", "to"],
                    "properties": {"from": _TEXT, "to": _TEXT}}}}},
            "period": {"enum": list(PERIODS)},
            "unit_column": {**_TEXT, "default": UNIT_COLUMN},
            "period_column": {**_TEXT, "default": PERIOD_COLUMN},
            "sheet": {"anyOf": [_TEXT, {"type": "integer", "minimum": 0}], "default": 0},
            "header_row": {"type": "integer", "minimum": 1, "default": 1},
        },
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        problems = [f"indicators.{i}.unit_conversion: cannot convert {c['from']} to {c['to']}"
                    for i, c in enumerate(ind.get("unit_conversion") for ind in self.config["indicators"])
                    if c and conversion_factor(c["from"], c["to"]) is None]
        if problems:
            raise BadConfig("the spreadsheet configuration is not valid", problems)

    @property
    def header_row(self) -> int:
        return int(self.config.get("header_row", 1))

    def rejects_file(self, items: Iterable[Item]) -> bool:
        """Whether the file as a whole is refused (nothing of it may be stored): a file- or header-level problem."""
        return any(isinstance(item, BadRecord) and item.index <= self.header_row for item in items)

    def parse(self, payload: bytes, content_type: str = "") -> Iterator[Item]:
        """Observations of the file's rows, and a BadRecord per cell that cannot be read (see the module doc).
        The format is told from the content, not from ``content_type``."""
        try:
            grid = self._grid(payload)
        except FileProblem as problem:
            yield BadRecord(index=FILE, reason=str(problem))
            return
        unit_column = self.config.get("unit_column", UNIT_COLUMN)
        period_column = self.config.get("period_column", PERIOD_COLUMN)
        wanted = [unit_column, period_column, *(ind["column"] for ind in self.config["indicators"])]
        found = {name: find_column(grid.headers, name) for name in wanted}
        missing = [self._header_problem(grid.headers, name, where) for name, where in found.items()
                   if isinstance(where, str)]
        if missing:
            yield from missing
            return
        yield from self._unknown_columns(grid.headers, [*wanted, NAME_COLUMN])
        columns = {name: where for name, where in found.items() if isinstance(where, int)}
        for row_number, cells in grid.rows:
            row = {name: cells[i] if i < len(cells) else (None, None) for name, i in columns.items()}
            yield from self._row(row_number, row, unit_column, period_column)

    def _header_problem(self, headers: list[str], name: str, reason: str) -> BadRecord:
        """A wanted column that is not there, or that several headers read as (each named, with its column)."""
        hits = matching_columns(headers, name)
        raw = ", ".join(f"{column_name(i)} «{headers[i]}»" for i in hits) or None
        if len(hits) > 1:
            reason = f"ambiguous column: {raw} read alike (row {self.header_row}): keep one of them"
        return BadRecord(index=self.header_row, field=name, reason=reason, raw=raw)

    def _unknown_columns(self, headers: list[str], known: list[str]) -> Iterator[Notice]:
        """A warning for each header that no indicator reads (once per text: a merged header spans columns)."""
        keys, seen = {folded_key(k) for k in known}, set()
        for i, header in enumerate(headers):
            key = folded_key(header)
            if header.strip() and key not in keys and key not in seen:
                seen.add(key)
                yield Notice(index=self.header_row, field=header,
                             reason=f"column {column_name(i)} «{header}» is not read: no indicator has this column")

    def _row(self, row_number: int, row: dict[str, Cell], unit_column: str, period_column: str) -> Iterator[Item]:
        if all(is_empty(value) and problem is None for value, problem in row.values()):
            return
        unit, period = row[unit_column], row[period_column]

        def bad(field: str, reason: str, raw: Any) -> BadRecord:
            return BadRecord(index=row_number, field=field, reason=reason, raw=raw)

        code = unit_code(unit[0])
        if unit[1] or code is None:
            yield bad(unit_column, unit[1] or N_("unknown unit code"), unit[0])
            return
        start = period_start(period[0], self.config["period"])
        if period[1] or start is None:
            yield bad(period_column, period[1] or N_("unknown period"), period[0])
            return
        for indicator in self.config["indicators"]:
            value, problem = row[indicator["column"]]
            if problem:
                yield bad(indicator["column"], problem, value)
            elif is_empty(value):
                continue
            elif (amount := number(value)) is None:
                yield bad(indicator["column"], N_("not a number"), value)
            else:
                conversion = indicator.get("unit_conversion")
                factor = conversion_factor(conversion["from"], conversion["to"]) if conversion else 1.0
                yield ObservationIn(indicator=indicator["code"], value=amount * (factor or 1.0), period_start=start,
                                    unit=code, source=self.source)

    def _grid(self, payload: bytes) -> Grid:
        return read_table(payload, self.config.get("sheet", 0), self.header_row)


def read_table(payload: bytes, sheet: str | int = 0, header_row: int = 1) -> Grid:
    """A CSV or .xlsx file as a header row and data rows (see the module doc: the format is told from the content);
    ``FileProblem`` when it cannot be read as a table. Other readers of sheets (water samples) use it too."""
    if payload.startswith(XLSX_MAGIC):
        return _xlsx_grid(payload, sheet, header_row)
    if payload.startswith(XLS_MAGIC):
        raise FileProblem(N_("a legacy Excel .xls file: save it as .xlsx or CSV"))
    return _csv_grid(_decoded(payload), header_row)


def _decoded(payload: bytes) -> str:
    """The text of a CSV file: UTF-16 when it has its BOM, else UTF-8 (BOM or not), else Windows-1258, else
    cp1252 — the first that decodes strictly to text without control characters (a binary file decodes to none)."""
    encodings = ("utf-16",) if payload.startswith(UTF16_BOMS) else ("utf-8-sig", "cp1258", "cp1252")
    control = None
    for encoding in encodings:
        try:
            text = payload.decode(encoding)
        except UnicodeDecodeError:
            continue
        if (control := control_in_text(text)) is None:
            return text
    reason = N_("not a CSV or .xlsx file, or an unknown text encoding")
    if control is not None:  # the same line in every encoding: a control character is one byte in each
        raise FileProblem(f"{reason} (line {control[0]} holds the control character {control[1]})")
    raise FileProblem(reason)


def decoded_text(payload: bytes) -> str:
    """:func:`_decoded`, for other CSV readers (Windows-1258's combining accents composed, NFC)."""
    import unicodedata

    return unicodedata.normalize("NFC", _decoded(payload))


def _csv_grid(text: str, header_row: int) -> Grid:
    """The rows of a CSV text; the delimiter (``,`` ``;`` or tab) is the one the header line uses most outside
    quotes (a comma on a tie)."""
    lines = re.split(r"\r\n|\r|\n", text)
    header_line = re.sub(r'"[^"]*"', "", lines[header_row - 1] if len(lines) >= header_row else "")
    delimiter = max(",;\t", key=header_line.count)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if len(records) < header_row:
        raise FileProblem(N_("the file has no header row"))
    headers = [exact_key(h) for h in records[header_row - 1]]
    rows: list[tuple[int, list[Cell]]] = [(n, [(exact_key(v), None) for v in record])
                                          for n, record in enumerate(records, 1) if n > header_row]
    return Grid(headers, rows)


def _xlsx_grid(payload: bytes, sheet: str | int, header_row: int) -> Grid:
    """The rows of a workbook's sheet: cached values of formulas (a formula without one is a problem), the
    top-left value across a merged header, and a problem for each cell of a merged range below the header."""
    from openpyxl import load_workbook

    try:
        formulas = load_workbook(io.BytesIO(payload), data_only=False)
        values = load_workbook(io.BytesIO(payload), data_only=True)
    except Exception as exc:  # noqa: BLE001 - whatever the reader trips on, the upload is not a workbook we can read
        raise FileProblem(N_("not an Excel .xlsx workbook")) from exc
    names = values.sheetnames
    name = sheet if isinstance(sheet, str) else names[sheet] if sheet < len(names) else None
    if name not in names:
        raise FileProblem(N_("the sheet is not in the workbook"))
    ws_f, ws_v = formulas[name], values[name]
    merged = [(r.min_row, r.max_row, r.min_col, r.max_col) for r in ws_f.merged_cells.ranges]
    width = ws_v.max_column

    def header(col: int) -> str:
        top, left = next(((r0, c0) for r0, r1, c0, c1 in merged if r0 <= header_row <= r1 and c0 <= col <= c1),
                         (header_row, col))
        value = ws_v.cell(row=top, column=left).value
        return "" if value is None else exact_key(str(value))

    def cell(f_cell: Any, v_cell: Any) -> Cell:
        r, c, value = v_cell.row, v_cell.column, v_cell.value
        if any(r0 <= r <= r1 and c0 <= c <= c1 for r0, r1, c0, c1 in merged):
            return value, MERGED_CELL
        if f_cell.data_type == "f" and value is None:
            return f_cell.value, FORMULA_WITHOUT_VALUE
        return (exact_key(value) if isinstance(value, str) else value), None

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        pairs = zip(ws_f.iter_rows(min_row=header_row + 1, max_col=width),
                    ws_v.iter_rows(min_row=header_row + 1, max_col=width), strict=True)
        for number_, (f_row, v_row) in enumerate(pairs, header_row + 1):
            yield number_, [cell(f, v) for f, v in zip(f_row, v_row, strict=True)]

    return Grid([header(col) for col in range(1, width + 1)], rows())


def validation_report(items: Iterable[Item]) -> list[dict[str, Any]]:
    """The bad records of an upload as the web shows them: row (0: the file), column, reason, value."""
    return [{"row": item.index, "column": item.field, "reason": item.reason,
             "value": None if item.raw is None else str(item.raw)}
            for item in items if isinstance(item, BadRecord)]


def template(indicator_columns: list[str], period: str, units: list[tuple[str, str]], *,
             unit_column: str = UNIT_COLUMN, period_column: str = PERIOD_COLUMN) -> bytes:
    """An .xlsx to fill in: a bold, frozen header (unit code, unit name, period, the indicators) and one row per
    unit with its code, its name and ``period`` (``2026-09``, ``Q3/2026``, ``2026``) already written as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    ws = workbook.active
    ws.title = "Số liệu"
    ws.append([unit_column, NAME_COLUMN, period_column, *indicator_columns])
    for header_cell in ws[1]:
        header_cell.font = Font(bold=True)
    for code, name in units:
        ws.append([code, name, period])
    for column in ("A", "C"):  # typed-in codes and periods stay text (no lost leading zero, no date)
        for text_cell in ws[column][1:]:
            text_cell.number_format = "@"
    for letter, width in (("A", 12), ("B", 32), ("C", 12)):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "D2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_csv(rows: list[dict[str, Any]]) -> bytes:
    """Rows as CSV for Excel: UTF-8 with a BOM (Vietnamese shows right), a header of every key in order of first
    appearance, and text cells that a spreadsheet would run as a formula neutralised (``'=HYPERLINK(…)``)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralised(str(c)) for c in columns])
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _csv_text(row[c]) for c in columns])
    return out.getvalue().encode("utf-8-sig")


def _csv_text(value: Any) -> str:
    return str(value) if isinstance(value, int | float) else neutralised(str(value))
