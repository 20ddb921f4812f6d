"""The data pages: an indicator against its target (chart by month, table by commune), and a source's page
where an officer uploads a department's spreadsheet and sees the bad row."""

from __future__ import annotations

import html as html_lib
import io
import re

from engine import indicators
from engine.db import transaction
from tests import factories
from tests.test_api import login
from tests.test_indicators import HAC_THANH, HAM_RONG, month, put
from tests.test_sources import xlsx


def test_an_indicator_page_shows_actual_against_target_by_commune_with_a_chart(client) -> None:
    with transaction() as s:
        indicators.set_targets(s, factories.user("leader"), indicators.get(s, "budget_revenue"), {"2026": 1000})
    put("budget_revenue", [{"unit": u, "period_start": month(2026, m), "value": v}
                           for m in range(1, 10) for u, v in ((HAM_RONG, 50), (HAC_THANH, 25))])
    factories.user("leader", name="lanhdao1")
    login(client, "lanhdao1")
    html = client.get("/indicators/budget_revenue?year=2026").get_data(as_text=True)
    assert "67,5% kế hoạch năm sau 9 tháng" in html and "chậm tiến độ" in html  # 675 of 1000, pace 75 %
    assert "tiến độ kế hoạch: 75%" in html and "<td>450,00</td>" in html  # numbers written the Vietnamese way
    assert len(re.findall(r"<polyline points=", html)) == 2  # the actual and the plan
    assert html.index("Phường Hàm Rồng") < html.index("Phường Hạc Thành")  # by commune, largest first
    listing = client.get("/indicators").get_data(as_text=True)
    assert "Thu ngân sách nhà nước trên địa bàn" in listing and "67,5%" in listing
    english = client.get("/indicators/budget_revenue?year=2026&lang=en").get_data(as_text=True)
    assert "67.5% of the year" in english and "<td>450.00</td>" in english


def test_an_officer_uploads_a_spreadsheet_and_sees_the_bad_row(client) -> None:
    admin = factories.token("admin")
    client.post("/api/v1/sources", headers={"Authorization": f"Bearer {admin}"}, json={
        "name": "thu-ngan-sach", "kind": "spreadsheet", "title": "Thu ngân sách",
        "config": {"period": "month", "indicators": [{"code": "budget_revenue", "column": "Thu ngân sách (tỷ đồng)"}]}})
    factories.user("officer", "SO-TC", name="canbo-tc")
    token = login(client, "canbo-tc")
    page = client.get("/sources/thu-ngan-sach")
    assert page.status_code == 200 and "Tải mẫu" in page.get_data(as_text=True)
    template = client.get("/sources/thu-ngan-sach/template.xlsx")
    assert template.status_code == 200 and template.data[:2] == b"PK"
    content = xlsx([["Mã đơn vị", "Kỳ", "Thu ngân sách (tỷ đồng)"], ["14758", "2026-09", "12,5"],
                    ["147", "2026-09", 3]])
    resp = client.post("/sources/thu-ngan-sach", data={"csrf_token": token, "file": (io.BytesIO(content), "t9.xlsx")},
                       content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "1 giá trị đã lưu" in html.replace("1 giá trị đã được lưu", "1 giá trị đã lưu")
    assert re.search(r"<td>3</td><td>Mã đơn vị</td>", html), html[html.find('id="report"'):][:800]


def test_an_administrator_adds_tests_and_switches_off_a_source_in_the_web(client, session) -> None:
    from sqlalchemy import select

    from engine.models import Source

    factories.user("admin", name="quantri-nguon")
    token = login(client, "quantri-nguon")
    bad = client.post("/sources", data={"csrf_token": token, "name": "so-xd", "kind": "http_pull",
                                        "config": '{"url": "http://127.0.0.1:9/x", "colour": 1}'})
    assert bad.status_code == 422 and "colour" in bad.get_data(as_text=True)
    config = ('{"url": "http://127.0.0.1:9/x", "auth": {"type": "bearer", "token": "tok-123456"}, "mapping": '
              '{"type": "t", "sector": "s", "time": "$.t", "values": {"v": "$.v"}}}')
    ok = client.post("/sources", data={"csrf_token": token, "name": "so-xd", "kind": "http_pull",
                                       "title": "Sở Xây dựng", "config": config, "enabled": "on"})
    assert ok.status_code == 302
    page = client.get("/sources/so-xd").get_data(as_text=True)
    assert "tok-123456" not in page and "••••••" in page  # the secret is never shown
    tested = client.post("/sources/so-xd/settings", data={"csrf_token": token, "action": "test", "config": config},
                         follow_redirects=True)
    assert "Kiểm tra" in tested.get_data(as_text=True)  # port 9 answers nothing: the test says so
    page = client.get("/sources/so-xd").get_data(as_text=True)
    shown = re.search(r'<textarea id="config" name="config"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    client.post("/sources/so-xd/settings", data={"csrf_token": token, "action": "save", "title": "Sở Xây dựng",
                                                 "config": html_lib.unescape(shown), "interval_s": "600",
                                                 "stale_after_s": "7200"})  # "enabled" unticked: switched off
    session.rollback()
    source = session.scalar(select(Source).where(Source.name == "so-xd"))
    assert not source.enabled and source.interval_s == 600
    assert "tok-123456" not in str(source.config)  # kept, still encrypted
    from engine import sources

    assert sources.unsealed(source.config)["auth"]["token"] == "tok-123456"
