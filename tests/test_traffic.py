"""A violation reported by a camera becomes its own review task for the provincial police; confirmed ones are
counted per camera and kind."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from engine import jobs, tasks, traffic
from engine.db import transaction, utcnow
from engine.events import IncomingEvent, ingest_events
from engine.models import Alert, HumanTask
from tests import factories


def violation(kind: str, plate: str | None, track: int) -> IncomingEvent:
    return IncomingEvent(source="camera", type="traffic_violation", sector="traffic", time=utcnow(),
                         values={"kind": kind, "plate": plate, "plate_confidence": 0.93, "track": track,
                                 "evidence": f"CAM-NGA-TU-BA-DINH/{track}.jpg"}, entity="CAM-NGA-TU-BA-DINH")


def test_each_violation_is_a_review_task_and_confirmed_ones_are_counted(session) -> None:
    with transaction() as s:
        ids = ingest_events(s, [violation("red_light", "36A-123.45", 7), violation("red_light", "36B-456.78", 9),
                                violation("lane", None, 12)], "camera").accepted
    jobs.process_events(ids)
    session.rollback()
    reviews = list(session.scalars(select(HumanTask).where(HumanTask.bpmn_id == "review_violation")))
    assert len(reviews) == 3 and all(t.candidate_department.code == "CA-TINH" for t in reviews)
    titles = sorted(a.title for a in session.scalars(select(Alert)))
    assert titles[0].startswith("Vượt đèn đỏ — 36A-123.45") and "chưa đọc được biển số" in titles[2]
    police = factories.user("officer", "CA-TINH")
    for task in reviews:  # the police confirm two and reject the one read as 36B-456.78
        with transaction() as s:
            row = s.get(HumanTask, task.id)
            decision = "confirm" if row.instance.alert.details.get("plate") != "36B-456.78" else "reject"
            tasks.complete_task(s, task.id, police, {"decision": decision})
    session.rollback()
    assert traffic.confirmed_counts(session, utcnow() - timedelta(hours=1)) == {
        ("CAM-NGA-TU-BA-DINH", "red_light"): 1, ("CAM-NGA-TU-BA-DINH", "lane"): 1}


def test_a_watch_listed_plate_raises_an_alert_and_tracing_finds_its_sightings(session) -> None:
    from engine.db import transaction as tx

    seen = [IncomingEvent(source="camera", type="plate_sighting", sector="traffic",
                          time=utcnow() - timedelta(minutes=m), values={"plate": plate}, entity=camera,
                          location={"lat": 19.8, "lon": 105.78})
            for m, plate, camera in ((30, "36A-999.99", "CAM-01"), (20, "36A-999.98", "CAM-02"),
                                     (10, "36A 99999", "CAM-03"), (5, "29B-111.11", "CAM-01"))]
    with tx() as s:
        ids = ingest_events(s, seen, "camera").accepted
    jobs.process_events(ids)
    session.rollback()
    (alert,) = session.scalars(select(Alert).where(Alert.rule_id == "watchlist"))
    assert "36A-999.99" in alert.title and alert.count == 2 and alert.severity == "cao"  # seen twice: grouped
    exact = traffic.sightings(session, "36a-99999")
    assert [s["camera"] for s in exact] == ["CAM-03", "CAM-01"]
    near = traffic.sightings(session, "36A-999.99", approximate=True)
    assert [(s["camera"], s["exact"]) for s in near] == [("CAM-03", True), ("CAM-02", False), ("CAM-01", True)]


def test_tracing_over_the_api_is_for_people_with_a_reason(client) -> None:
    from tests.test_api import assert_error, bearer

    with transaction() as s:
        ids = ingest_events(s, [violation("red_light", "36A-123.45", 3)], "camera").accepted
    jobs.process_events(ids)
    found = client.get("/api/v1/traffic/sightings?plate=36A12345", headers=bearer(factories.token("operator")))
    assert [s["camera"] for s in found.get_json()] == ["CAM-NGA-TU-BA-DINH"]
    assert_error(client.get("/api/v1/traffic/sightings?plate=36A12345",
                            headers=bearer(factories.token("designer"))), 403)
    listed = client.get("/api/v1/traffic/violations", headers=bearer(factories.token("leader"))).get_json()
    assert listed["violations"][0]["plate"] == "36A-123.45" and listed["confirmed"] == []


def test_the_traffic_page_traces_a_plate_and_lists_violations(client) -> None:
    from tests.test_api import login

    with transaction() as s:
        ids = ingest_events(s, [violation("red_light", "36A-123.45", 3)], "camera").accepted
    jobs.process_events(ids)
    factories.user("operator", name="trucban-gt")
    login(client, "trucban-gt")
    html = client.get("/traffic?plate=36A-12345&approximate=on").get_data(as_text=True)
    assert "Vượt đèn đỏ" in html and 'id="sightings"' in html and "<b>36A-123.45</b>" in html


def test_tracing_draws_the_plates_route_through_the_cameras_in_time_order(client) -> None:
    from engine import cameras
    from tests.test_api import login

    with transaction() as s:
        for code, lon, lat in (("CAM-A", 105.770, 19.800), ("CAM-B", 105.790, 19.810), ("CAM-C", 105.780, 19.790)):
            cameras.register(s, code, name=code, source="synthetic:720p", actor="test",
                             location={"type": "Point", "coordinates": [lon, lat]})
        t0 = utcnow() - timedelta(minutes=30)
        seen = [IncomingEvent(source="camera", type="plate_sighting", sector="traffic", time=t0 + timedelta(minutes=m),
                              entity=cam, values={"plate": "36A-777.77"}) for m, cam in ((0, "CAM-B"), (9, "CAM-A"))]
        ids = ingest_events(s, seen, "camera").accepted
    jobs.process_events(ids)
    factories.user("operator", name="trucban-tv")
    login(client, "trucban-tv")
    html = client.get("/traffic?plate=36A-777.77").get_data(as_text=True)
    svg = html[html.index('<svg id="route-map"'):html.index("</svg>", html.index('<svg id="route-map"'))]
    assert svg.count('class="camera seen"') == 2 and svg.count('class="camera"') == 1  # CAM-C not on the route
    steps = re.findall(r'<text class="step" x="([\d.]+)"', svg)
    b_x = re.search(r'<circle cx="([\d.]+)"[^>]*/><text[^>]*>CAM-B<', svg).group(1)
    assert len(steps) == 2 and steps[0] == b_x  # first seen at CAM-B, then at CAM-A
    assert "<polyline" in svg


def test_a_plate_corrected_by_the_reviewing_officer_is_what_tracing_finds(session) -> None:
    with transaction() as s:
        ids = ingest_events(s, [violation("red_light", "36A-128.45", 21)], "camera").accepted  # misread 3 as 8
    jobs.process_events(ids)
    session.rollback()
    review = session.scalar(select(HumanTask).where(HumanTask.bpmn_id == "review_violation"))
    police = factories.user("officer", "CA-TINH")
    with transaction() as s:
        tasks.complete_task(s, review.id, police, {"decision": "confirm", "plate_checked": "36a 12345"})
    session.rollback()
    found = traffic.sightings(session, "36A-123.45")
    assert [(f["plate"], f["camera"]) for f in found] == [("36A-123.45", "CAM-NGA-TU-BA-DINH")]
    alert = session.scalar(select(Alert).where(Alert.rule_id == "camera:red_light"))
    assert alert.details["plate_confirmed"] == "36A-123.45" and alert.details["plate"] == "36A-128.45"
