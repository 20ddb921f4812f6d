"""HttpPull against a real JSON API on 127.0.0.1: each paging kind, auth, errors, bad records, incremental polls."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from connectors.base import HIDDEN, AuthFailed, BadConfig, BadRecord, NotReady, masked
from connectors.http_pull import HttpPull
from engine.events import IncomingEvent

NAMES = ["Hạc Thành", "Nghi Sơn (KKT)", "Bỉm Sơn", "Sầm Sơn", "Giàng (sông Mã)"]
MAPPING = {"type": "air_quality", "sector": "environment", "entity": "$.station.code", "time": "$.observed_at",
           "values": {"aqi": "$.readings.0.aqi"}, "idempotency_key": "{$.station.name}/{time}"}


def reading(i: int, hour: int | None = None, aqi: Any = None) -> dict[str, Any]:
    return {"station": {"code": f"TH-AQ-{i:02d}", "name": NAMES[i % len(NAMES)]},
            "observed_at": f"2026-03-01T{8 + (i if hour is None else hour):02d}:00:00+07:00",
            "readings": [{"aqi": 100 + i if aqi is None else aqi}]}


class Api(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.records = [reading(i) for i in range(5)]
        self.auth: tuple[str, str] | None = None  # (header, expected value)
        self.status_on_page: dict[int, int] = {}
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class Handler(BaseHTTPRequestHandler):
    server: Api

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        api, parts = self.server, urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        api.requests.append((parts.path, query, dict(self.headers)))
        if api.auth and self.headers.get(api.auth[0]) != api.auth[1]:
            return self.reply(401, {"error": "unauthorised"})
        records = api.records
        if "since" in query:
            records = [r for r in records if datetime.fromisoformat(r["observed_at"]) > datetime.fromisoformat(
                query["since"])]
        if parts.path == "/page":
            page, size = int(query["page"]), int(query.get("size", 2))
            status = api.status_on_page.get(page, 200)
            return self.reply(status, {"data": {"items": records[(page - 1) * size:page * size]}})
        if parts.path == "/linked":
            offset = int(query.get("offset", 0))
            more = offset + 2 < len(records)
            return self.reply(200, {"data": records[offset:offset + 2],
                                    "links": {"next": f"/linked?offset={offset + 2}" if more else None}})
        if parts.path == "/cursor":
            at = int(query.get("cursor", "c0")[1:])
            nxt = f"c{at + 2}" if at + 2 < len(records) else None
            return self.reply(200, {"items": records[at:at + 2], "meta": {"next_cursor": nxt}})
        if parts.path == "/escape":
            return self.reply(200, {"data": records[:1], "links": {"next": "http://127.0.0.2:9/steal"}})
        if parts.path == "/slow":
            time.sleep(1.0)
        if parts.path.startswith("/status/"):
            return self.reply(int(parts.path.rsplit("/", 1)[1]), {"error": "x"})
        if parts.path == "/html":
            return self.reply(200, b"<html>b\xe1\xba\xa3o tr\xc3\xac</html>")
        return self.reply(200, records)

    def reply(self, status: int, body: Any) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if status == 302:
            self.send_header("Location", "http://127.0.0.1:9/moved")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def connector(url: str, **config: Any) -> HttpPull:
    return HttpPull({"url": url, "mapping": MAPPING, **config}, source="so-tnmt-api")


def poll(conn: HttpPull, state: dict[str, Any] | None = None) -> list[Any]:
    return list(conn.poll({} if state is None else state))


def test_page_paging_reads_every_page_until_an_empty_one(api: Api) -> None:
    conn = connector(api.url("/page"), records="data.items", params={"tinh": "Thanh Hóa"},
                     paging={"type": "page", "size_param": "size", "size": 2})
    events = poll(conn)
    assert [q for path, q, _ in api.requests] == [{"tinh": "Thanh Hóa", "page": str(p), "size": "2"}
                                                  for p in (1, 2, 3, 4)]
    assert all(isinstance(e, IncomingEvent) for e in events)
    assert [e.entity for e in events] == [f"TH-AQ-{i:02d}" for i in range(5)]
    assert [e.values for e in events] == [{"aqi": 100 + i} for i in range(5)]
    first = events[0]
    assert (first.source, first.type, first.sector) == ("so-tnmt-api", "air_quality", "environment")
    assert first.time == datetime(2026, 3, 1, 1, 0, tzinfo=UTC) and first.time.tzinfo is UTC
    assert [e.idempotency_key for e in events[:2]] == ["Hạc Thành/2026-03-01T01:00:00+00:00",
                                                       "Nghi Sơn (KKT)/2026-03-01T02:00:00+00:00"]


def test_page_paging_stops_at_max_pages(api: Api) -> None:
    conn = connector(api.url("/page"), records="data.items", paging={"type": "page", "max_pages": 2})
    assert len(poll(conn)) == 4
    assert len(api.requests) == 2


def test_next_link_paging_follows_relative_links(api: Api) -> None:
    conn = connector(api.url("/linked"), records="data", params={"a": "1"}, paging={"type": "next_link"})
    assert [e.entity for e in poll(conn)] == [f"TH-AQ-{i:02d}" for i in range(5)]
    assert [q for _, q, _ in api.requests] == [{"a": "1"}, {"offset": "2"}, {"offset": "4"}]


def test_next_link_to_another_host_is_refused(api: Api) -> None:
    conn = connector(api.url("/escape"), records="data", paging={"type": "next_link"},
                     auth={"type": "bearer", "token": "tok"})
    with pytest.raises(BadConfig, match="leaves the configured host"):
        poll(conn)


def test_cursor_paging(api: Api) -> None:
    conn = connector(api.url("/cursor"), records="items", paging={"type": "cursor"})
    assert len(poll(conn)) == 5
    assert [q.get("cursor") for _, q, _ in api.requests] == [None, "c2", "c4"]


@pytest.mark.parametrize(("auth", "header", "value"), [
    ({"type": "basic", "username": "cán-bộ", "password": "mật-khẩu"}, "Authorization",
     "Basic " + base64.b64encode("cán-bộ:mật-khẩu".encode()).decode()),
    ({"type": "bearer", "token": "tok-123"}, "Authorization", "Bearer tok-123"),
    ({"type": "api_key", "key": "k-456"}, "X-API-Key", "k-456"),
    ({"type": "api_key", "header": "X-Ma-Khoa", "key": "k-789"}, "X-Ma-Khoa", "k-789"),
])
def test_auth_is_sent_and_refusal_is_auth_failed(api: Api, auth: dict[str, str], header: str, value: str) -> None:
    api.auth = (header, value)
    assert len(poll(connector(api.url("/all"), auth=auth))) == 5
    wrong = {**auth, **{k: "sai" for k in ("password", "token", "key") if k in auth}}
    with pytest.raises(AuthFailed, match="401"):
        poll(connector(api.url("/all"), auth=wrong))
    with pytest.raises(AuthFailed):
        poll(connector(api.url("/all")))


@pytest.mark.parametrize(("path", "error", "message"), [
    ("/status/500", NotReady, "500"),
    ("/status/503", NotReady, "503"),
    ("/status/429", NotReady, "429"),
    ("/status/403", AuthFailed, "403"),
    ("/status/404", BadConfig, "404"),
    ("/status/302", BadConfig, "redirects to http://127.0.0.1:9/moved"),
    ("/html", BadConfig, "did not answer JSON"),
    ("/slow", NotReady, "Timeout"),
])
def test_http_failures(api: Api, path: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        poll(connector(api.url(path), timeout_s=0.3))


def test_connection_refused_is_not_ready() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NotReady, match="ConnectionError"):
        poll(connector(f"http://127.0.0.1:{port}/all"))


def test_wrong_records_path_is_bad_config(api: Api) -> None:
    with pytest.raises(BadConfig, match="records: data.rows is not in the response"):
        poll(connector(api.url("/page"), records="data.rows", paging={"type": "page"}))


def test_bad_records_are_reported_and_the_rest_goes_on(api: Api) -> None:
    api.records[2] = reading(2, aqi="n/a")
    del api.records[3]["observed_at"]
    items = poll(connector(api.url("/page"), records="data.items", paging={"type": "page"}))
    assert [type(i).__name__ for i in items] == ["IncomingEvent", "IncomingEvent", "BadRecord", "BadRecord",
                                                 "IncomingEvent"]
    bad = [i for i in items if isinstance(i, BadRecord)]
    assert [(b.index, b.field) for b in bad] == [(2, "values.aqi"), (3, "time")]
    assert "not a number: 'n/a'" in bad[0].reason and "missing: $.observed_at" in bad[1].reason
    assert bad[0].raw == api.records[2]


def test_incremental_polls_skip_what_was_seen(api: Api) -> None:
    conn = connector(api.url("/all"))
    state: dict[str, Any] = {}
    assert len(poll(conn, state)) == 5
    assert state == {"last_time": "2026-03-01T05:00:00+00:00"}
    assert poll(conn, state) == []
    api.records += [reading(5), reading(6, hour=2)]  # a newer reading, and a late one older than the newest
    assert [e.entity for e in poll(conn, state)] == ["TH-AQ-05"]
    assert state == {"last_time": "2026-03-01T06:00:00+00:00"}


def test_since_param_sends_the_last_time(api: Api) -> None:
    conn = connector(api.url("/all"), since_param="since")
    state = {"last_time": "2026-03-01T03:00:00+00:00"}
    assert [e.entity for e in poll(conn, state)] == ["TH-AQ-03", "TH-AQ-04"]
    assert api.requests[0][1] == {"since": "2026-03-01T03:00:00+00:00"}
    assert state == {"last_time": "2026-03-01T05:00:00+00:00"}


def test_a_poll_cut_short_leaves_the_state(api: Api) -> None:
    api.status_on_page[2] = 500
    state: dict[str, Any] = {"last_time": "2026-02-28T00:00:00+00:00"}
    seen: list[Any] = []
    with pytest.raises(NotReady):
        seen.extend(connector(api.url("/page"), records="data.items", paging={"type": "page"}).poll(state))
    assert len(seen) == 2
    assert state == {"last_time": "2026-02-28T00:00:00+00:00"}


@pytest.mark.parametrize(("config", "problem"), [
    ({"colour": "red"}, "(config): Additional properties are not allowed ('colour' was unexpected)"),
    ({"auth": {"type": "bearer", "token": "t", "password": "p"}}, "auth: 'password' is not one of"),
    ({"auth": {"type": "basic", "username": "u"}}, "auth: 'password' is a required property"),
    ({"paging": {"type": "cursor", "size": 5}}, "paging: 'size' is not one of"),
    ({"url": "ftp://example.org/x"}, "url: 'ftp://example.org/x' does not match"),
    ({"mapping": {**MAPPING, "idempotency_key": "{unit}"}}, "mapping.idempotency_key: {unit} names no mapped"),
])
def test_config_is_checked(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(BadConfig) as caught:
        HttpPull({"url": "http://127.0.0.1:9/all", "mapping": MAPPING, **config}, source="so-tnmt-api")
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_secrets_are_masked() -> None:
    for auth, secret in [({"type": "basic", "username": "u", "password": "p"}, "password"),
                         ({"type": "bearer", "token": "t"}, "token"), ({"type": "api_key", "key": "k"}, "key")]:
        conn = connector("http://127.0.0.1:9/all", auth=auth)
        shown = masked(conn.config_schema, conn.config)
        assert shown["auth"][secret] == HIDDEN
        assert conn.config["auth"][secret] != HIDDEN
    assert masked(HttpPull.config_schema, {"auth": {"type": "basic", "username": "u", "password": "p"}})[
        "auth"]["username"] == "u"
