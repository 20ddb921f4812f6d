"""Webhook: signed requests are told from forged, stale and replayed ones; bodies map to events or bad records."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import HIDDEN, AuthFailed, BadConfig, BadRecord, masked
from connectors.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, Webhook, sign, verify
from engine.events import IncomingEvent

pytestmark = pytest.mark.no_database  # pure: no database, no Redis (runs once, in the SQLite pass)

SECRET = "bí-mật-webhook-0123456789"
NOW = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
TS = str(int(NOW.timestamp()))
MAPPING = {"type": "$.loai", "sector": "transport", "entity": "$.camera", "time": "$.luc",
           "values": {"vehicles": "$.dem.xe"}, "idempotency_key": "{entity}:{time}"}


def report(camera: str = "CAM-CAU-HIEN-LUONG", count: Any = 42, loai: str = "ùn_tắc") -> dict[str, Any]:
    return {"loai": loai, "camera": camera, "luc": "2026-03-01T08:00:00+07:00", "dem": {"xe": count}}


def body_of(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


BODY = body_of(report())
SIGNATURE = sign(SECRET, BODY, TS)


@pytest.mark.parametrize(("secret", "body", "signature", "timestamp", "now", "ok"), [
    (SECRET, BODY, SIGNATURE, TS, NOW, True),
    (SECRET, BODY, SIGNATURE.upper().replace("SHA256=", "sha256="), TS, NOW, True),
    (SECRET, BODY, f"  {SIGNATURE} ", f" {TS} ", NOW, True),
    (SECRET, BODY, SIGNATURE, TS, NOW + timedelta(seconds=300), True),           # at the edge of tolerance
    ("another-secret-0123456789", BODY, SIGNATURE, TS, NOW, False),
    (SECRET, BODY.replace(b"42", b"43"), SIGNATURE, TS, NOW, False),              # replayed, body changed
    (SECRET, BODY, SIGNATURE, str(int(TS) + 60), NOW, False),                     # replayed, timestamp moved on
    (SECRET, BODY, SIGNATURE, TS, NOW + timedelta(seconds=301), False),           # expired
    (SECRET, BODY, SIGNATURE, TS, NOW - timedelta(seconds=301), False),           # from the future
    (SECRET, BODY, SIGNATURE.removeprefix("sha256="), TS, NOW, False),
    (SECRET, BODY, None, TS, NOW, False),
    (SECRET, BODY, SIGNATURE, None, NOW, False),
    (SECRET, BODY, SIGNATURE, "", NOW, False),
    (SECRET, BODY, SIGNATURE, "1.7e9", NOW, False),
    (SECRET, BODY, "sha256=chữ-ký-giả", TS, NOW, False),
])
def test_verify(secret: str, body: bytes, signature: str | None, timestamp: str | None, now: datetime,
                ok: bool) -> None:
    assert verify(secret, body, signature, timestamp, now) is ok


def test_verify_signs_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert SIGNATURE == f"sha256={expected}"


def test_verify_tolerance_is_configurable_and_now_must_be_aware() -> None:
    assert not verify(SECRET, BODY, SIGNATURE, TS, NOW + timedelta(seconds=61), tolerance_s=60)
    with pytest.raises(ValueError, match="aware"):
        verify(SECRET, BODY, SIGNATURE, TS, NOW.replace(tzinfo=None))


def hook() -> Webhook:
    return Webhook({"secret": SECRET, "mapping": MAPPING}, source="cong-an-giao-thong")


def test_verify_request_reads_the_headers_in_any_case() -> None:
    assert hook().verify_request(BODY, {SIGNATURE_HEADER.lower(): SIGNATURE, TIMESTAMP_HEADER.upper(): TS}, NOW)
    assert not hook().verify_request(BODY, {TIMESTAMP_HEADER: TS}, NOW)


def test_parse_request_verifies_first() -> None:
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, BODY, ts), TIMESTAMP_HEADER: ts}
    [event] = hook().parse_request(BODY, "application/json", headers)
    assert event.entity == "CAM-CAU-HIEN-LUONG"
    with pytest.raises(AuthFailed):
        hook().parse_request(BODY.replace(b"42", b"43"), "application/json", headers)
    with pytest.raises(AuthFailed):
        hook().parse_request(BODY, "application/json", {**headers, TIMESTAMP_HEADER: TS})  # signed long ago


@pytest.mark.parametrize("data", [report(), [report()], {"events": [report()]}])
def test_parse_one_record_in_each_shape(data: Any) -> None:
    [event] = hook().parse(body_of(data), "application/json; charset=utf-8")
    assert event == IncomingEvent(source="cong-an-giao-thong", type="ùn_tắc", sector="transport",
                                  time=datetime(2026, 3, 1, 1, 0, tzinfo=UTC), values={"vehicles": 42},
                                  entity="CAM-CAU-HIEN-LUONG",
                                  idempotency_key="CAM-CAU-HIEN-LUONG:2026-03-01T01:00:00+00:00")


def test_parse_many_with_a_bad_record_among_them() -> None:
    items = list(hook().parse(body_of({"events": [report("CAM-1"), report("CAM-2", count="nhiều"),
                                                 report("CAM-3"), "text"]})))
    assert [getattr(i, "entity", None) for i in items] == ["CAM-1", None, "CAM-3", None]
    assert items[1] == BadRecord(1, "not a number: 'nhiều'", "values.vehicles", raw=report("CAM-2", count="nhiều"))
    assert isinstance(items[3], BadRecord) and items[3].index == 3 and "JSON object" in items[3].reason
    assert list(hook().parse(b'{"events": []}')) == []


@pytest.mark.parametrize(("payload", "content_type", "reason"), [
    ('{"loai": "ùn_tắc",'.encode(), "application/json", "the body is not JSON"),
    (b"\xff\xfe\xfa", "", "the body is not JSON"),
    (b"", "application/json", "the body is not JSON"),
    (b"loai=un_tac", "application/x-www-form-urlencoded", "the body is application/x-www-form-urlencoded, not JSON"),
    (b'{"events": {"loai": "x"}}', "application/json", "events must be a list"),
    (b"42", "application/json", "a record must be a JSON object, not int"),
])
def test_unreadable_bodies_are_one_bad_record(payload: bytes, content_type: str, reason: str) -> None:
    [bad] = hook().parse(payload, content_type)
    assert isinstance(bad, BadRecord)
    assert bad.index == 0
    assert bad.reason.startswith(reason)


@pytest.mark.parametrize(("config", "problem"), [
    ({"secret": SECRET, "mapping": MAPPING, "url": "http://x"}, "(config): Additional properties are not allowed "
                                                                "('url' was unexpected)"),
    ({"secret": "short", "mapping": MAPPING}, "secret: must be at least 16 characters"),
    ({"mapping": MAPPING}, "(config): 'secret' is a required property"),
    ({"secret": SECRET, "mapping": {**MAPPING, "values": {"v": 1}}}, "mapping.values.v: 1 is not of type 'string'"),
])
def test_config_is_checked(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(BadConfig) as caught:
        Webhook(config, source="x")
    assert problem in caught.value.problems
    assert not any("short" in p for p in caught.value.problems)  # a secret is never quoted back


def test_secret_is_masked() -> None:
    shown = masked(Webhook.config_schema, hook().config)
    assert shown == {"secret": HIDDEN, "mapping": MAPPING}
