"""Tables of cases for the pure functions: durations, placeholders, forms, rule evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import Invalid
from engine.evaluation import Observation, Rule, compare, evaluate
from engine.expressions import resolve
from engine.forms import validate
from engine.isotime import due_from, parse_duration

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("PT4H", timedelta(hours=4)),
    ("P1D", timedelta(days=1)),
    ("P3DT2H30M", timedelta(days=3, hours=2, minutes=30)),
    ("PT0.5S", timedelta(seconds=0.5)),
    ("P2W", timedelta(weeks=2)),
    ("PT", None),
    ("P", None),
    ("4 hours", None),
    ("P1M", None),  # months have no fixed length: refused rather than guessed
])
def test_parse_duration(text: str, expected: timedelta | None) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("PT30M", T0 + timedelta(minutes=30)),
    ("2026-12-01T08:00:00+07:00", datetime(2026, 12, 1, 1, 0, tzinfo=UTC)),
    ("2026-12-01T08:00:00Z", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
    ("tomorrow", None),
])
def test_due_from(text: str, expected: datetime | None) -> None:
    assert due_from(text, T0) == expected


@pytest.mark.parametrize("text, data, expected", [
    ("${department}", {"department": "SO-YT"}, "SO-YT"),
    ("${alert.entity}", {"alert": {"entity": "S1"}}, "S1"),
    ("${missing}", {}, None),
    ("role:leader", {}, "role:leader"),
    ("department:${d}", {"d": "SO-XD"}, "department:SO-XD"),
    ("${__class__}", {}, None),  # no attribute access, no eval
    (None, {}, None),
])
def test_resolve(text: str | None, data: dict[str, object], expected: str | None) -> None:
    assert resolve(text, data) == expected


FIELDS = [
    {"id": "department", "type": "string", "properties": {"choices": "departments"}, "validation": {"required": None}},
    {"id": "due_in", "type": "enum", "options": [{"id": "PT4H"}, {"id": "P3D"}], "validation": {}},
    {"id": "note", "type": "string", "validation": {"maxlength": "5"}},
    {"id": "ok", "type": "boolean"},
    {"id": "n", "type": "long"},
]
CHOICES = {"departments": ["SO-YT", "SO-XD"]}


@pytest.mark.parametrize("submitted, expected", [
    ({"department": "SO-YT"}, {"department": "SO-YT", "ok": False, "due_in": None, "note": None, "n": None}),
    ({"department": " SO-XD ", "due_in": "P3D", "ok": "true", "n": "12"},
     {"department": "SO-XD", "due_in": "P3D", "ok": True, "n": 12, "note": None}),
    ({"department": "SO-YT", "ok": True, "note": "abc"},
     {"department": "SO-YT", "ok": True, "note": "abc", "due_in": None, "n": None}),
])
def test_form_accepts(submitted: dict[str, object], expected: dict[str, object]) -> None:
    assert validate(FIELDS, submitted, CHOICES) == expected


@pytest.mark.parametrize("submitted, bad", [
    ({}, {"department"}),
    ({"department": "   "}, {"department"}),
    ({"department": "SO-NOPE"}, {"department"}),
    ({"department": "SO-YT", "due_in": "PT1H"}, {"due_in"}),
    ({"department": "SO-YT", "note": "too long"}, {"note"}),
    ({"department": "SO-YT", "n": "1.5"}, {"n"}),
    ({"department": "SO-YT", "ok": "maybe"}, {"ok"}),
    ({"department": "SO-YT", "is_admin": True}, {"is_admin"}),  # no writing of arbitrary variables
    ({"department": ["SO-YT"]}, {"department"}),
])
def test_form_refuses(submitted: dict[str, object], bad: set[str]) -> None:
    with pytest.raises(Invalid) as err:
        validate(FIELDS, submitted, CHOICES)
    assert set(err.value.details["fields"]) == bad


def rule(**kw: object) -> Rule:
    base: dict[str, object] = dict(id="aqi", name="AQI", sector="environment", kind="threshold",
                                   event_type="air_quality", field="aqi", op=">", value=150.0, severity="cao",
                                   dedupe_key="aqi:{entity}", title="AQI {value} at {entity}", scenario={})
    base.update(kw)
    return Rule(**base)  # type: ignore[arg-type]


def obs(values: dict[str, object], type_: str = "air_quality", entity: str = "S1") -> Observation:
    return Observation(type=type_, sector="environment", entity=entity, unit_code="14797", time=T0, values=values)


@pytest.mark.parametrize("op, limit, x, fires", [
    (">", 150, 150, False), (">", 150, 150.1, True), (">=", 150, 150, True), ("<", 5, 4.9, True),
    ("<=", 5, 5.1, False), ("between", (1, 2), 1, True), ("between", (1, 2), 2.5, False),
    ("outside", (1, 2), 0.5, True), ("outside", (1, 2), 2, False),
])
def test_compare(op: str, limit: object, x: float, fires: bool) -> None:
    assert compare(op, x, limit) is fires  # type: ignore[arg-type]


@pytest.mark.parametrize("r, o, expected_key", [
    (rule(), obs({"aqi": 180}), "aqi:S1"),
    (rule(), obs({"aqi": 150}), None),
    (rule(), obs({"aqi": "n/a"}), None),  # not a number: no verdict, not a crash
    (rule(), obs({"aqi": True}), None),
    (rule(), obs({}), None),
    (rule(), obs({"aqi": 180}, type_="water_level"), None),
    (rule(enabled=False), obs({"aqi": 180}), None),
    (rule(dedupe_key="{rule}:{unit}:{nope}"), obs({"aqi": 200}), "aqi:14797:"),
])
def test_evaluate(r: Rule, o: Observation, expected_key: str | None) -> None:
    firing = evaluate(r, o)
    assert (firing.dedupe_key if firing else None) == expected_key


def test_firing_title_shows_the_value() -> None:
    firing = evaluate(rule(), obs({"aqi": 181}))
    assert firing is not None and firing.title == "AQI 181 at S1" and firing.value == 181


def test_shown_values_use_labels_and_option_names() -> None:
    from engine.forms import shown

    fields = [{"id": "due_in", "label": "Thời hạn", "options": [{"id": "PT4H", "name": "4 giờ"}]},
              {"id": "note", "label": "Ghi chú"}, {"id": "unused", "label": "x"}]
    assert shown(fields, {"due_in": "PT4H", "note": "abc"}) == [
        {"id": "due_in", "label": "Thời hạn", "value": "4 giờ"}, {"id": "note", "label": "Ghi chú", "value": "abc"}]


@pytest.mark.parametrize("raw, problems", [
    ({"source": "s", "type": "t", "sector": "x", "time": "2026-11-25T10:00:00+07:00", "values": {"a": 1}}, []),
    ({"source": "s", "type": "t", "sector": "x", "time": "2026-11-25T03:00:00Z", "values": {}}, []),
    ({"source": "s", "type": "t", "sector": "x", "time": "2026-11-25T10:00:00", "values": {}}, ["time"]),
    ({"source": "s", "type": "t", "sector": "x", "time": "hôm qua", "values": {}}, ["time"]),
    ({"source": "", "type": "t", "sector": "x", "time": "2026-11-25T10:00:00Z", "values": []}, ["source", "values"]),
    ({"type": "t", "sector": "x", "time": "2026-11-25T10:00:00Z", "values": {}, "extra": 1}, ["extra", "source"]),
    ({"source": "s", "type": "t", "sector": "x", "time": "2026-11-25T10:00:00Z", "values": {},
      "location": {"lat": 95, "lon": "105"}}, ["location.lat", "location.lon"]),
    ({"source": "s", "type": "t", "sector": "x" * 41, "time": "2026-11-25T10:00:00Z", "values": {}, "unit": 14758},
     ["sector", "unit"]),
    ("not an object", [None]),
])
def test_check_event(raw: object, problems: list) -> None:
    from engine.event_check import check_event

    event, found = check_event(raw)
    assert sorted((f for f, _ in found), key=str) == sorted(problems, key=str)
    assert (event is None) == bool(problems)
    if event is not None:
        assert event.time.tzinfo is not None


def test_check_event_usual_case_agrees_with_the_complete_check() -> None:
    """``check_event`` accepts the usual event in one pass; whatever it accepts or refuses, the complete check
    (``problems_of``) must say the same, for every field given every kind of value."""
    import itertools

    from engine.event_check import FIELDS, check_event, problems_of

    class Text(str):
        pass

    good = {"source": "s", "type": "t", "sector": "x", "entity": "e", "unit": "14758", "idempotency_key": "k",
            "time": "2026-11-25T10:00:00+07:00", "values": {"a": 1}, "location": {"lat": 19.8, "lon": 105.7}}
    candidates = [None, "", "a", "x" * 16, "x" * 17, "x" * 40, "x" * 41, "x" * 100, "x" * 101, "x" * 200, "x" * 201,
                  0, 1.5, True, [], ["a"], {}, {"a": 1}, Text("txt"), "2026-11-25T03:00:00Z", "2026-11-25T10:00:00",
                  {"lat": 95, "lon": 1}, {"lat": 1, "lon": 2, "alt": 3}, {"lat": 1.0, "lon": float("nan")}]
    checked = 0
    for field, value in itertools.product(sorted(FIELDS | {"extra"}), candidates):
        raw = {**good, field: value}
        for variant in (raw, {k: v for k, v in raw.items() if v is not None}):
            event, problems = check_event(variant)
            assert (event is None) == bool(problems_of(variant)), variant
            assert problems == problems_of(variant), variant
            if event is not None:
                assert (event.source, event.values, event.entity, event.location) == (
                    variant["source"], variant["values"], variant.get("entity"), variant.get("location"))
            checked += 1
    assert checked == 2 * (len(FIELDS) + 1) * len(candidates)
    assert check_event(dict(good))[0] is not None
