"""Rules of every kind judged over a stream of events and the clock, with their states kept per entity."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import rule_engine
from engine.db import transaction, utcnow
from engine.evaluation import Observation
from engine.models import Alert
from engine.models import RuleState as RuleStateRow
from engine.rules import check_text

HEADER = "sector: environment\nentity_groups:\n  coast: [S-COAST-1, S-COAST-2]\nrules:\n"


def rules_from(body: str, tmp_path: Path | None = None):
    directory = tmp_path or Path(".")
    rules, problems = check_text(HEADER + body, str(directory / "test.yaml"))
    assert problems == [], problems
    return rules


def judge(rules, entity: str, values: dict, at: datetime | None = None, type_: str = "air_quality") -> None:
    obs = Observation(type=type_, sector="environment", entity=entity, unit_code=None, time=at or utcnow(),
                      values=values)
    with transaction() as s:
        rule_engine.judge_event(s, rules, obs, (at or utcnow()).astimezone(UTC))


def open_alerts(session) -> list[Alert]:
    session.rollback()
    return list(session.scalars(select(Alert).where(Alert.status != "closed").order_by(Alert.id)))


PENDING = """  - id: pm-high
    name: Bụi mịn cao kéo dài
    kind: threshold
    event_type: air_quality
    field: pm25
    op: ">"
    value: 50
    pending_minutes: 0.001
    keep_firing_minutes: 0
    severity: trung_binh
    dedupe_key: "pm-high:{entity}"
"""


def test_a_pending_period_needs_the_breach_to_hold_and_a_clear_value_resolves(session) -> None:
    rules = rules_from(PENDING)
    judge(rules, "S1", {"pm25": 80})
    assert open_alerts(session) == []  # pending: it has not held long enough
    state = session.scalar(select(RuleStateRow))
    assert state.status == "pending"
    import time
    time.sleep(0.1)
    judge(rules, "S1", {"pm25": 85})
    (alert,) = open_alerts(session)
    assert alert.title == "Bụi mịn cao kéo dài" and alert.value == 85
    judge(rules, "S1", {"pm25": 90})  # still firing: counted on the same alert
    assert open_alerts(session)[0].count == 2
    judge(rules, "S1", {"pm25": 20})
    assert open_alerts(session) == []  # resolved and closed (no process to wait for)
    assert session.get(Alert, alert.id).resolved_at is not None


RATE_COUNT_COMPOSITE = """  - id: aqi-jump
    name: AQI tăng nhanh
    kind: rate
    event_type: air_quality
    field: aqi
    window_minutes: 60
    op: ">="
    value: 50
    severity: cao
    dedupe_key: "aqi-jump:{entity}"
  - id: many-reports
    name: Nhiều phản ánh
    kind: count
    event_type: air_quality
    window_minutes: 10
    value: 3
    severity: thap
    dedupe_key: "many:{entity}"
    scope:
      entity_group: coast
  - id: hot-dry
    name: Nóng và khô
    kind: composite
    event_type: air_quality
    mode: all
    conditions:
      - {field: temp, op: ">", value: 38}
      - {field: humidity, op: "<", value: 30}
    severity: cao
    dedupe_key: "hot-dry:{entity}"
"""


def test_rate_count_and_composite_rules(session) -> None:
    rules = rules_from(RATE_COUNT_COMPOSITE)
    t0 = utcnow() - timedelta(minutes=30)
    judge(rules, "S1", {"aqi": 60, "temp": 39, "humidity": 40}, t0)
    judge(rules, "S1", {"aqi": 100, "temp": 39, "humidity": 40}, t0 + timedelta(minutes=20))
    assert [a.rule_id for a in open_alerts(session)] == []  # +40 in 20 min; not hot and dry
    judge(rules, "S1", {"aqi": 115, "temp": 40, "humidity": 25}, t0 + timedelta(minutes=25))
    assert sorted(a.rule_id for a in open_alerts(session)) == ["aqi-jump", "hot-dry"]  # +55; and hot+dry
    for i in range(3):  # three events at a coastal station in 10 minutes; the inland S1 had three too
        judge(rules, "S-COAST-1", {"aqi": 10}, t0 + timedelta(minutes=i))
    assert sorted(a.rule_id for a in open_alerts(session)) == ["aqi-jump", "hot-dry", "many-reports"]
    assert [a.entity for a in open_alerts(session) if a.rule_id == "many-reports"] == ["S-COAST-1"]


def test_absence_fires_for_a_silent_station_and_resolves_when_it_reports(session) -> None:
    rules = rules_from("""  - id: station-silent
    name: Trạm không gửi dữ liệu
    kind: absence
    event_type: air_quality
    minutes: 60
    entities: [S-NEVER]
    severity: trung_binh
    dedupe_key: "silent:{entity}"
    title: "Trạm {entity} im lặng {value} phút"
""")
    judge(rules, "S1", {"aqi": 50})
    with transaction() as s:
        assert rule_engine.tick(s, rules) == 0  # S1 just reported; S-NEVER is watched from now on
    with transaction() as s:
        assert rule_engine.tick(s, rules, utcnow() + timedelta(minutes=61)) == 2
    titles = sorted(a.title for a in open_alerts(session))
    assert titles[0].startswith("Trạm S-NEVER im lặng 6") and titles[1].startswith("Trạm S1 im lặng 6")
    with transaction() as s:
        assert rule_engine.tick(s, rules, utcnow() + timedelta(minutes=90)) == 0  # no second alert
    judge(rules, "S1", {"aqi": 40})
    assert [a.entity for a in open_alerts(session)] == ["S-NEVER"]


def test_geofence_exit_and_outside(session, tmp_path) -> None:
    zone = {"type": "Polygon", "coordinates": [[[105.8, 19.7], [106.2, 19.7], [106.2, 20.0], [105.8, 20.0],
                                                [105.8, 19.7]]]}
    (tmp_path / "zone.geojson").write_text(json.dumps(zone))
    rules = rules_from("""  - id: boat-outside
    name: Tàu ra ngoài vùng
    kind: geofence
    event_type: vessel_position
    geofence: {file: zone.geojson, mode: outside}
    severity: cao
    dedupe_key: "outside:{entity}"
""", tmp_path)
    judge(rules, "MMSI-1", {"lat": 19.8, "lon": 106.0}, type_="vessel_position")
    assert open_alerts(session) == []
    judge(rules, "MMSI-1", {"lat": 19.5, "lon": 106.5}, type_="vessel_position")
    assert [a.entity for a in open_alerts(session)] == ["MMSI-1"]
    judge(rules, "MMSI-1", {"lat": 19.9, "lon": 106.1}, type_="vessel_position")
    assert open_alerts(session) == []


@pytest.mark.parametrize("body, line, words", [
    ("  - id: x\n    name: X\n    kind: sometimes\n    event_type: a\n    severity: cao\n    dedupe_key: k\n", 7,
     "sometimes"),
    ("  - id: x\n    name: X\n    kind: rate\n    event_type: a\n    field: f\n    op: '>'\n    value: 1\n"
     "    severity: cao\n    dedupe_key: k\n", 5, "window_minutes"),
    ("  - id: x\n    name: X\n    kind: geofence\n    event_type: a\n    geofence: {file: nope.geojson, mode: exit}\n"
     "    severity: cao\n    dedupe_key: k\n", 9, "nope.geojson"),
    ("  - id: x\n    name: X\n    kind: threshold\n    event_type: a\n    field: f\n    op: '>'\n    value: 1\n"
     "    severity: cao\n    dedupe_key: k\n    scope: {entity_group: inland}\n", 14, "inland"),
])
def test_bad_rules_are_refused_with_their_line(body: str, line: int, words: str, tmp_path) -> None:
    _rules, problems = check_text(HEADER + body, str(tmp_path / "bad.yaml"))
    assert problems and problems[0].line == line and words in problems[0].message, problems


def test_a_threshold_rule_marks_a_silent_entity_as_no_data_without_alerting(session) -> None:
    rules = rules_from(PENDING.replace("    pending_minutes: 0.001\n", "    no_data_minutes: 30\n"))
    judge(rules, "S1", {"pm25": 10})
    assert session.scalar(select(RuleStateRow)).status == "normal"  # watched for silence: it has a state
    with transaction() as s:
        assert rule_engine.tick(s, rules, utcnow() + timedelta(minutes=20)) == 0
    with transaction() as s:
        assert rule_engine.tick(s, rules, utcnow() + timedelta(minutes=31)) == 1
    session.rollback()
    assert session.scalar(select(RuleStateRow)).status == "no_data" and open_alerts(session) == []
    judge(rules, "S1", {"pm25": 12})  # data again
    session.rollback()
    assert session.scalar(select(RuleStateRow)).status == "normal"


def test_a_pending_period_is_judged_on_the_datas_clock_so_a_replay_fires_too(session) -> None:
    rules = rules_from(PENDING.replace("pending_minutes: 0.001", "pending_minutes: 120"))
    t0 = utcnow() - timedelta(days=30)  # a month-old file replayed now
    judge(rules, "S1", {"pm25": 80}, t0)
    judge(rules, "S1", {"pm25": 85}, t0 + timedelta(minutes=60))
    assert open_alerts(session) == []  # an hour of readings above: still pending
    judge(rules, "S1", {"pm25": 20}, t0 - timedelta(minutes=30))  # a late, older reading does not turn the clock back
    judge(rules, "S1", {"pm25": 90}, t0 + timedelta(minutes=120))
    assert [a.rule_id for a in open_alerts(session)] == []  # the late clear value reset the pending breach
    judge(rules, "S1", {"pm25": 90}, t0 + timedelta(minutes=240))
    (alert,) = open_alerts(session)
    assert alert.rule_id == "pm-high"


def test_a_rule_that_raises_goes_to_error_and_the_others_judge_the_same_event(session, client) -> None:
    from dataclasses import replace

    from engine import wall
    from engine.config import settings
    from engine.models import AuditEntry
    from engine.rules import check_directory
    from tests import factories
    from tests.test_api import login

    shipped = {r.id: r for r in check_directory(settings().rules_dir)[0]}
    broken = replace(shipped["aqi-poor"], scope={"hours": "25:99-01:00"})  # its scope raises when judged
    other = replace(shipped["qcvn-so2-1h"], pending_s=0)
    for _ in range(2):
        judge([broken, other], "S-ERR", {"aqi": 300, "so2": 400})
    assert [a.rule_id for a in open_alerts(session)] == ["qcvn-so2-1h"]  # the other rule judged the event
    state = session.scalar(select(RuleStateRow).where(RuleStateRow.rule_id == "aqi-poor"))
    assert state.status == "error" and "bad hours" in state.state["error"]
    assert len(list(session.scalars(select(AuditEntry).where(AuditEntry.action == "rule.error")))) == 1  # once
    assert wall.summary(session)["rules_in_error"] == 1
    factories.user("admin", name="rules_admin")
    login(client, "rules_admin")
    page = client.get("/rules").get_data(as_text=True)
    assert "S-ERR: ValueError: bad hours" in page
    judge([replace(broken, scope={})], "S-ERR", {"aqi": 300})  # mended: it judges again, and fires
    session.rollback()
    assert session.scalar(select(RuleStateRow.status).where(RuleStateRow.rule_id == "aqi-poor")) == "firing"
