"""The spreadsheet connector: statistics uploaded as CSV or .xlsx become observations and a per-cell report."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from connectors.base import BadConfig, BadRecord, Notice, ObservationIn
from connectors.spreadsheet import Spreadsheet, export_csv, template, validation_report
from connectors.spreadsheet_values import conversion_factor, find_column, number, period_start, unit_code

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

BUDGET = "Thu ngân sách (tỷ đồng)"
RETAIL = "Bán lẻ hàng hóa (tỷ đồng)"
SEPT_2026 = datetime(2026, 8, 31, 17, tzinfo=UTC)  # 1 September 2026, 00:00 in Hà Nội time
CONFIG: dict[str, Any] = {"period": "month", "indicators": [{"code": "budget_revenue", "column": BUDGET},
                                                            {"code": "retail_sales", "column": RETAIL}]}


def connector(**overrides: Any) -> Spreadsheet:
    return Spreadsheet({**CONFIG, **overrides}, source="thong-ke-tinh")


def xlsx(rows: list[list[Any]], edit: Callable[[Any], None] | None = None) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    if edit:
        edit(workbook.active)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def with_cached_value(payload: bytes, ref: str, value: str) -> bytes:
    """What Excel does on save and openpyxl does not: store the formula's computed value beside it."""
    source, out = zipfile.ZipFile(io.BytesIO(payload)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rf'(<c r="{ref}"[^>]*><f>[^<]*</f>)<v\s*/?>(?:</v>)?', rf"\g<1><v>{value}</v>",
                              data.decode()).encode()
            target.writestr(item, data)
    return out.getvalue()


def cp1258(text: str) -> bytes:
    """Vietnamese in Windows-1258: base letters (â, ơ, đ …) with separate tone marks, as the code page has them."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = b""
    for ch in unicodedata.normalize("NFC", text):
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(p for p in parts if p not in tones))
        out += (base + "".join(p for p in parts if p in tones)).encode("cp1258")
    return out


def observations(items: list[Any]) -> list[tuple[str, str, float]]:
    return [(o.unit, o.indicator, o.value) for o in items if isinstance(o, ObservationIn)]


def bad(items: list[Any]) -> list[tuple[int, str | None, str]]:
    return [(b.index, b.field, b.reason) for b in items if isinstance(b, BadRecord)]


@pytest.mark.parametrize(("text", "expected"), [
    ("1234", 1234.0), ("12,5", 12.5), ("12.5", 12.5), ("1.234,5", 1234.5), ("1,234.5", 1234.5),
    ("1.234", 1234.0), ("1.234.567", 1234567.0), ("1,234,567", 1234567.0), ("1,234", 1.234), ("0.123", 0.123),
    ("1234.567", 1234.567), ("-1.234,5", -1234.5), ("\u22123,5", -3.5), ("+7", 7.0), (" 42 ", 42.0),
    (7, 7.0), (2.5, 2.5), ("1.2,3.4", None), ("1.23.4", None), ("12,", None), ("abc", None), ("12%", None),
    ("1 234", None), ("#DIV/0!", None), (True, None), (float("nan"), None),
])
def test_number_reads_vietnamese_and_english_separators(text: Any, expected: float | None) -> None:
    assert number(text) == expected


@pytest.mark.parametrize(("value", "period", "expected"), [
    ("2026-09", "month", SEPT_2026), ("09/2026", "month", SEPT_2026), ("9/2026", "month", SEPT_2026),
    ("Tháng 9/2026", "month", SEPT_2026), (datetime(2026, 9, 1), "month", SEPT_2026),
    ("Q3/2026", "quarter", datetime(2026, 6, 30, 17, tzinfo=UTC)), ("2026-Q3", "quarter", datetime(2026, 6, 30, 17,
                                                                                                    tzinfo=UTC)),
    ("Quý III/2026", "quarter", datetime(2026, 6, 30, 17, tzinfo=UTC)),
    ("2026", "year", datetime(2025, 12, 31, 17, tzinfo=UTC)), (2026, "year", datetime(2025, 12, 31, 17, tzinfo=UTC)),
    ("2026-13", "month", None), ("Q5/2026", "quarter", None), ("2026-09", "quarter", None),
    ("Q3/2026", "month", None), ("2026", "month", None), ("tháng chín", "month", None), (None, "month", None),
])
def test_period_start_is_local_midnight_of_the_first_day_in_utc(value: Any, period: str,
                                                                expected: datetime | None) -> None:
    assert period_start(value, period) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("14797", "14797"), (14797, "14797"), (14797.0, "14797"), (" 16654 ", "16654"), ("38", "38"),
    ("1479", None), ("147970", None), ("Tổng cộng", None), ("", None), (None, None), (True, None),
])
def test_unit_code(value: Any, expected: str | None) -> None:
    assert unit_code(value) == expected


@pytest.mark.parametrize(("headers", "wanted", "expected"), [
    (["Mã đơn vị", BUDGET], "Thu ngân sách (tỷ đồng)", 1),
    (["Mã đơn vị", "THU NGAN SACH  (TY DONG)"], BUDGET, 1),
    (["Mã đơn vị", unicodedata.normalize("NFD", BUDGET)], BUDGET, 1),
    (["Thu ngân sách (tỷ đồng)", "THU NGÂN SÁCH (TỶ ĐỒNG)"], BUDGET, "ambiguous column"),  # refused, not chosen
    (["Thu ngan sach (ty dong)", "THU NGÂN SÁCH (TỶ ĐỒNG)"], BUDGET, "ambiguous column"),
    (["Mã đơn vị"], BUDGET, "missing column"),
])
def test_find_column(headers: list[str], wanted: str, expected: int | str) -> None:
    assert find_column(headers, wanted) == expected


@pytest.mark.parametrize(("source", "target", "factor"), [
    ("mg/m3", "ug/m3", 1000.0), ("mg/m³", "µg/m³", 1000.0), ("tỷ đồng", "triệu đồng", 1000.0),
    ("mg/m3", "tấn", None), ("mg/m3", "furlong", None),
])
def test_conversion_factor(source: str, target: str, factor: float | None) -> None:
    assert conversion_factor(source, target) == factor


def test_xlsx_good_rows_are_imported_and_the_bad_cells_reported() -> None:
    payload = xlsx([["Mã đơn vị", "Tên đơn vị", "Kỳ", BUDGET, RETAIL],
                    ["14797", "Phường Hạc Thành", "2026-09", 120.5, "1.234,5"],
                    ["16654", "Phường Nghi Sơn", "2026-09", "mười", 88],
                    [14812, "Phường Bỉm Sơn", "2026-09", None, "-"],
                    ["38", "Tỉnh Thanh Hóa", "09/2026", 2500, 31000]])
    items = list(connector().parse(payload))

    assert observations(items) == [("14797", "budget_revenue", 120.5), ("14797", "retail_sales", 1234.5),
                                   ("16654", "retail_sales", 88.0), ("38", "budget_revenue", 2500.0),
                                   ("38", "retail_sales", 31000.0)]
    assert all(o.period_start == SEPT_2026 and o.source == "thong-ke-tinh"
               for o in items if isinstance(o, ObservationIn))
    assert validation_report(items) == [{"row": 3, "column": BUDGET, "reason": "not a number", "value": "mười"}]


def test_a_bad_unit_code_or_period_spoils_its_row_only() -> None:
    payload = xlsx([["Mã đơn vị", "Kỳ", BUDGET, RETAIL], ["Tổng cộng", "2026-09", 1, 2], ["14797", "Q3/2026", 3, 4],
                    [None, None, None, None], ["14797", "2026-09", 5, 6]])
    items = list(connector().parse(payload))
    assert bad(items) == [(2, "Mã đơn vị", "unknown unit code"), (3, "Kỳ", "unknown period")]
    assert observations(items) == [("14797", "budget_revenue", 5.0), ("14797", "retail_sales", 6.0)]


def test_formulas_give_their_cached_value_and_a_formula_without_one_is_reported() -> None:
    payload = xlsx([["Mã đơn vị", "Kỳ", "Quý trước", BUDGET, RETAIL],
                    ["14797", "2026-09", 40, "=C2*3", "=C2+1"]])
    payload = with_cached_value(payload, "D2", "120")
    items = list(connector().parse(payload))
    assert observations(items) == [("14797", "budget_revenue", 120.0)]
    assert bad(items) == [(2, RETAIL, "formula without a value")]


def test_a_merged_header_gives_its_text_to_its_range_and_merged_data_cells_are_not_guessed() -> None:
    def merge(ws: Any) -> None:
        ws.merge_cells("A1:A2")  # "Mã đơn vị" written once over the two header rows
        ws.merge_cells("B1:B2")
        ws.merge_cells("C4:C5")  # one value over two communes: which one's?

    payload = xlsx([["Mã đơn vị", "Kỳ", "Số liệu tháng", None],
                    [None, None, BUDGET, RETAIL],
                    ["14797", "2026-09", 10, 11],
                    ["16654", "2026-09", 20, 21],
                    ["14812", "2026-09", None, 31]], merge)
    items = list(connector(header_row=2).parse(payload))
    assert observations(items) == [("14797", "budget_revenue", 10.0), ("14797", "retail_sales", 11.0),
                                   ("16654", "retail_sales", 21.0), ("14812", "retail_sales", 31.0)]
    assert bad(items) == [(4, BUDGET, "merged cell"), (5, BUDGET, "merged cell")]


def test_the_sheet_and_header_row_are_chosen_by_configuration() -> None:
    def second_sheet(ws: Any) -> None:
        other = ws.parent.create_sheet("Quý 3")
        for row in (["BÁO CÁO THU NGÂN SÁCH"], [], ["mã đơn vị", "KỲ", BUDGET, RETAIL], ["14797", "Q3/2026", 7, 8]):
            other.append(row)

    payload = xlsx([["nothing here"]], second_sheet)
    items = list(connector(period="quarter", sheet="Quý 3", header_row=3).parse(payload))
    assert observations(items) == [("14797", "budget_revenue", 7.0), ("14797", "retail_sales", 8.0)]
    assert items[0].period_start == datetime(2026, 6, 30, 17, tzinfo=UTC)
    assert bad(list(connector(sheet="Năm").parse(payload))) == [(0, None, "the sheet is not in the workbook")]


VIETNAMESE_CSV = ("Mã đơn vị;Tên đơn vị;Kỳ;Thu ngân sách (tỷ đồng);Bán lẻ hàng hóa (tỷ đồng)\r\n"
                  "14797;Phường Hạc Thành;Q3/2026;1.234,5;12,75\r\n"
                  "16654;Phường Nghi Sơn;2026-Q3;;3\r\n")


@pytest.mark.parametrize("encode", [
    lambda text: text.encode("utf-8-sig"),
    lambda text: text.encode("utf-8"),
    lambda text: text.encode("utf-16"),
    cp1258,
], ids=["utf-8-bom", "utf-8", "utf-16", "windows-1258"])
def test_csv_in_each_encoding_with_decimal_commas_and_quarters(encode: Callable[[str], bytes]) -> None:
    items = list(connector(period="quarter").parse(encode(VIETNAMESE_CSV), "text/csv"))
    assert observations(items) == [("14797", "budget_revenue", 1234.5), ("14797", "retail_sales", 12.75),
                                   ("16654", "retail_sales", 3.0)]
    assert {o.period_start for o in items} == {datetime(2026, 6, 30, 17, tzinfo=UTC)}


def test_comma_separated_csv_with_quoted_decimal_commas() -> None:
    text = f'"Mã đơn vị","Kỳ","{BUDGET}","{RETAIL}"\n14797,2026-09,"12,5",7\n'
    assert observations(list(connector().parse(text.encode()))) == [("14797", "budget_revenue", 12.5),
                                                                     ("14797", "retail_sales", 7.0)]


def test_unit_conversion_and_an_unknown_unit_refused_with_the_configuration() -> None:
    config = {"period": "month", "indicators": [
        {"code": "pm25", "column": "PM2.5 (mg/m3)", "unit_conversion": {"from": "mg/m3", "to": "ug/m3"}}]}
    payload = "Mã đơn vị,Kỳ,PM2.5 (mg/m3)\n16654,2026-09,\"0,035\"\n".encode()
    items = list(Spreadsheet(config, source="quan-trac").parse(payload))
    assert observations(items) == [("16654", "pm25", pytest.approx(35.0))]

    config["indicators"][0]["unit_conversion"] = {"from": "mg/m3", "to": "ppm"}
    with pytest.raises(BadConfig) as refused:
        Spreadsheet(config, source="quan-trac")
    assert refused.value.problems == ["indicators.0.unit_conversion: cannot convert mg/m3 to ppm"]


def test_a_missing_column_refuses_the_whole_file() -> None:
    sheet = connector()
    items = list(sheet.parse(xlsx([["Mã đơn vị", "Kỳ", BUDGET], ["14797", "2026-09", 1]])))
    assert bad(items) == [(1, RETAIL, "missing column")]
    assert len(items) == 1 and sheet.rejects_file(items)
    good = list(sheet.parse(xlsx([["Mã đơn vị", "Kỳ", BUDGET, RETAIL], ["14797", "2026-09", "x", 1]])))
    assert not sheet.rejects_file(good)


def test_headers_that_read_alike_refuse_the_file_naming_both_and_an_unread_column_is_reported() -> None:
    sheet = connector()
    items = list(sheet.parse(xlsx([["Mã đơn vị", "Kỳ", BUDGET, RETAIL, "THU NGÂN SÁCH (TỶ ĐỒNG)"],
                                   ["14797", "2026-09", 1, 2, 3]])))
    (refused,) = [i for i in items if isinstance(i, BadRecord)]
    assert (refused.index, refused.field) == (1, BUDGET) and sheet.rejects_file(items)
    assert "C «Thu ngân sách (tỷ đồng)», E «THU NGÂN SÁCH (TỶ ĐỒNG)»" in refused.reason
    items = list(sheet.parse(xlsx([["Mã đơn vị", "Tên đơn vị", "Kỳ", BUDGET, RETAIL, "Ghi chú"],
                                   ["14797", "Phường Hạc Thành", "2026-09", 1, 2, "ước tính"]])))
    assert [(n.index, n.field, n.reason) for n in items if isinstance(n, Notice)] == [
        (1, "Ghi chú", "column F «Ghi chú» is not read: no indicator has this column")]
    assert len(observations(items)) == 2 and not sheet.rejects_file(items)


@pytest.mark.parametrize(("payload", "reason"), [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "a legacy Excel .xls file: save it as .xlsx or CSV"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
     "not a CSV or .xlsx file, or an unknown text encoding (line 2 holds the control character U+001A)"),
    (b"PK\x03\x04 not really a zip", "not an Excel .xlsx workbook"),
])
def test_a_file_that_is_not_a_table_is_one_file_level_bad_record(payload: bytes, reason: str) -> None:
    items = list(connector().parse(payload))
    assert bad(items) == [(0, None, reason)]


def test_configuration_refuses_unknown_keys_and_periods() -> None:
    with pytest.raises(BadConfig) as refused:
        Spreadsheet({**CONFIG, "period": "week", "delimiter": ";"}, source="x")
    assert len(refused.value.problems) == 2


def test_the_template_is_a_frozen_bold_header_with_a_row_per_unit_and_reads_back_once_filled() -> None:
    units = [("14797", "Phường Hạc Thành"), ("16654", "Phường Nghi Sơn")]
    workbook = load_workbook(io.BytesIO(template([BUDGET, RETAIL], "2026-09", units)))
    ws = workbook.active
    assert [c.value for c in ws[1]] == ["Mã đơn vị", "Tên đơn vị", "Kỳ", BUDGET, RETAIL]
    assert all(c.font.bold for c in ws[1]) and ws.freeze_panes == "D2"
    assert [(r[0].value, r[1].value, r[2].value) for r in ws.iter_rows(min_row=2)] == [
        ("14797", "Phường Hạc Thành", "2026-09"), ("16654", "Phường Nghi Sơn", "2026-09")]

    ws["D2"], ws["E2"], ws["D3"] = 120.5, "1.234,5", 98
    filled = io.BytesIO()
    workbook.save(filled)
    items = list(connector().parse(filled.getvalue()))
    assert observations(items) == [("14797", "budget_revenue", 120.5), ("14797", "retail_sales", 1234.5),
                                   ("16654", "budget_revenue", 98.0)]
    assert not bad(items)


def test_export_csv_neutralises_formulas_and_keeps_vietnamese_and_negative_numbers() -> None:
    rows = [{"Đơn vị": "Phường Hạc Thành", "Ghi chú": '=HYPERLINK("http://x.example","bấm")', "Giá trị": "-12.5"},
            {"Đơn vị": "+1", "Ghi chú": "@SUM(A1:A2)", "Giá trị": -3},
            {"Đơn vị": "\tcmd", "Ghi chú": "-2+3+cmd|' /C calc'!A0", "Giá trị": None}]
    payload = export_csv(rows)
    assert payload.startswith(b"\xef\xbb\xbf")
    read = list(csv.reader(io.StringIO(payload.decode("utf-8-sig"))))
    assert read == [["Đơn vị", "Ghi chú", "Giá trị"],
                    ["Phường Hạc Thành", "'=HYPERLINK(\"http://x.example\",\"bấm\")", "-12.5"],
                    ["'+1", "'@SUM(A1:A2)", "-3"],
                    ["'\tcmd", "'-2+3+cmd|' /C calc'!A0", ""]]
