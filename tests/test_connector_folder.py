"""File connectors: a real temporary folder, and a real FTP server (pyftpdlib) on loopback."""

from __future__ import annotations

import ipaddress
import json
import os
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

with warnings.catch_warnings():  # pyftpdlib on Python 3.11 is built on asyncore, deprecated there
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
    from pyftpdlib.servers import FTPServer
from connectors.base import AuthFailed, BadConfig, BadRecord, NotReady
from connectors.folder import PARSERS, Folder, Ftp, register
from connectors.plain_events import csv_events, json_events
from engine.events import IncomingEvent

USER, PASSWORD = "tram-quan-trac", "Mật-khẩu-2026"


def aq(entity: str, aqi: float, time: str = "2026-11-25T08:00:00+07:00") -> dict[str, Any]:
    return {"type": "air_quality", "sector": "environment", "entity": entity, "time": time, "values": {"aqi": aqi}}


def write(path: Path, content: str | bytes, age_s: float = 60) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    past = time.time() - age_s
    os.utime(path, (past, past))
    return path


def entities(items: list[Any]) -> list[str | None]:
    return [i.entity for i in items if isinstance(i, IncomingEvent)]


# --- parsers: tables of cases -------------------------------------------------------------------------------------

CSV_GOOD = ("entity,time,type,sector,aqi,pm25,note\n"
            "TH-AQ-NGHISON,2026-11-25T08:00:00+07:00,air_quality,environment,162,88.1,Bụi mịn cao\n"
            "\n"
            "TH-AQ-SAMSON,2026-11-25T08:00:00Z,air_quality,environment,48,,\n")


def test_csv_events_reads_numbers_text_and_skips_empty_cells() -> None:
    first, second = csv_events(("\ufeff" + CSV_GOOD).encode(), "aq.csv", "ftp-so-tnmt")
    assert isinstance(first, IncomingEvent) and isinstance(second, IncomingEvent)
    assert (first.source, first.entity, first.values) == ("ftp-so-tnmt", "TH-AQ-NGHISON",
                                                          {"aqi": 162, "pm25": 88.1, "note": "Bụi mịn cao"})
    assert second.values == {"aqi": 48}


@pytest.mark.parametrize(("row", "field", "reason"), [
    ("TH-AQ-1,2026-11-25T08:00:00,air_quality,environment,1", "time", "time zone"),
    ("TH-AQ-1,hôm nay,air_quality,environment,1", "time", "ISO 8601"),
    (",2026-11-25T08:00:00Z,air_quality,environment,1", "entity", "non-empty"),
    ("TH-AQ-1,2026-11-25T08:00:00Z,air_quality,environment,", "values", "no values"),
    ("TH-AQ-1,2026-11-25T08:00:00Z,air_quality,environment,NaN", "values", "no values"),
    ("TH-AQ-1,2026-11-25T08:00:00Z,air_quality", None, "cells"),
])
def test_csv_bad_rows_are_bad_records_at_their_line(row: str, field: str | None, reason: str) -> None:
    content = f"entity,time,type,sector,aqi\n{row}\nTH-AQ-2,2026-11-25T08:00:00Z,air_quality,environment,7\n"
    bad, good = csv_events(content.encode(), "f.csv", "s")
    assert isinstance(bad, BadRecord) and (bad.index, bad.field) == (2, field) and reason in bad.reason
    assert isinstance(good, IncomingEvent) and good.values == {"aqi": 7}


@pytest.mark.parametrize(("parser", "content"), [
    (csv_events, b"time,entity,type,sector,aqi\n"),
    (csv_events, b"entity,time,type,sector\n"),
    (csv_events, b""),
    (csv_events, "entity,time,type,sector,aqi\n".encode("utf-16")),
    (json_events, b"{not json"),
    (json_events, json.dumps(aq("x", 1)).encode()),
])
def test_files_that_cannot_be_read_at_all_raise(parser: Any, content: bytes) -> None:
    with pytest.raises(ValueError):
        list(parser(content, "f", "s"))


def test_json_events_bad_object_is_a_bad_record_at_its_index() -> None:
    items = list(json_events(json.dumps([aq("a", 1), {**aq("b", 2), "colour": "red"}, aq("c", 3)]).encode(), "f", "s"))
    assert entities(items) == ["a", "c"]
    assert isinstance(items[1], BadRecord) and items[1].index == 1 and "colour" in items[1].reason


# --- a watched folder -------------------------------------------------------------------------------------------

def test_folder_reads_each_file_once_and_again_when_it_changes(tmp_path: Path) -> None:
    folder = Folder({"path": str(tmp_path), "pattern": "*.json", "parser": "json_events"}, source="share")
    state: dict[str, Any] = {}
    write(tmp_path / "a.json", json.dumps([aq("a1", 1), aq("a2", 2)]))
    write(tmp_path / "notes.txt", "không phải dữ liệu")
    assert entities(list(folder.poll(state))) == ["a1", "a2"]
    assert list(folder.poll(state)) == []

    write(tmp_path / "b.json", json.dumps([aq("b1", 3)]))
    assert entities(list(folder.poll(state))) == ["b1"]

    write(tmp_path / "a.json", json.dumps([aq("a1", 1), aq("a2", 2), aq("a3", 4)]))  # new size
    assert entities(list(folder.poll(state))) == ["a1", "a2", "a3"]
    write(tmp_path / "b.json", json.dumps([aq("b9", 3)]), age_s=30)  # same size, new time
    assert entities(list(folder.poll(state))) == ["b9"]
    assert list(folder.poll(state)) == []
    assert set(state["files"]) == {"a.json", "b.json"} and json.loads(json.dumps(state)) == state

    (tmp_path / "a.json").unlink()
    assert list(folder.poll(state)) == [] and set(state["files"]) == {"b.json"}


def test_folder_leaves_files_that_may_still_be_written(tmp_path: Path) -> None:
    folder = Folder({"path": str(tmp_path), "parser": "json_events", "min_age_s": 10}, source="share")
    state: dict[str, Any] = {}
    write(tmp_path / "new.json", json.dumps([aq("n", 1)]), age_s=1)
    assert list(folder.poll(state)) == []
    write(tmp_path / "new.json", json.dumps([aq("n", 1)]), age_s=11)
    assert entities(list(folder.poll(state))) == ["n"]


def test_a_bad_file_is_reported_once_and_quarantined(tmp_path: Path) -> None:
    folder = Folder({"path": str(tmp_path), "parser": "csv_events", "quarantine": True}, source="share")
    state: dict[str, Any] = {}
    write(tmp_path / "1-bad.csv", "ngày,giờ,trạm\n")
    write(tmp_path / "2-good.csv", CSV_GOOD)
    bad, *good = folder.poll(state)
    assert isinstance(bad, BadRecord) and (bad.index, bad.field) == (0, "1-bad.csv") and "header" in bad.reason
    assert entities(good) == ["TH-AQ-NGHISON", "TH-AQ-SAMSON"]
    assert (tmp_path / "quarantine" / "1-bad.csv").read_text() == "ngày,giờ,trạm\n"
    assert not (tmp_path / "1-bad.csv").exists()
    assert list(folder.poll(state)) == []

    write(tmp_path / "1-bad.csv", "ngày,giờ,trạm,khác\n")  # the same name again: kept beside the first
    assert [type(i) for i in folder.poll(state)] == [BadRecord]
    assert len(list((tmp_path / "quarantine").iterdir())) == 2


def test_without_quarantine_a_bad_file_stays_and_is_not_retried(tmp_path: Path) -> None:
    folder = Folder({"path": str(tmp_path), "parser": "json_events"}, source="share")
    state: dict[str, Any] = {}
    write(tmp_path / "x.json", "[1, 2")
    assert [type(i) for i in folder.poll(state)] == [BadRecord]
    assert list(folder.poll(state)) == [] and state["files"]["x.json"]["status"] == "failed"
    write(tmp_path / "x.json", json.dumps([aq("fixed", 1)]))
    assert entities(list(folder.poll(state))) == ["fixed"]


def test_registered_parsers_and_a_parser_that_crashes(tmp_path: Path) -> None:
    @register("test_crashing")
    def crashing(content: bytes, filename: str, source: str) -> Iterator[Any]:
        yield from json_events(content, filename, source)
        raise KeyError("station")

    try:
        folder = Folder({"path": str(tmp_path), "parser": "test_crashing"}, source="share")
        write(tmp_path / "s.json", json.dumps([aq("s", 1)]))
        (bad,) = folder.poll({})  # all or nothing: the event before the crash is not handed over
        assert isinstance(bad, BadRecord) and "KeyError" in bad.reason
    finally:
        del PARSERS["test_crashing"]


def test_a_missing_folder_is_not_ready_and_an_unknown_parser_is_bad_config(tmp_path: Path) -> None:
    with pytest.raises(NotReady, match="missing"):
        list(Folder({"path": str(tmp_path / "missing"), "parser": "json_events"}, source="s").poll({}))
    with pytest.raises(BadConfig) as refused:
        Folder({"path": str(tmp_path), "parser": "excel"}, source="s")
    assert "csv_events" in refused.value.problems[0]


# --- FTP --------------------------------------------------------------------------------------------------------

class FtpServer:
    """pyftpdlib on 127.0.0.1:0 in a thread, one user with a temporary home; FTPS when given a certificate."""

    def __init__(self, home: Path, mlsd: bool = True, cert: Path | None = None) -> None:
        authorizer = DummyAuthorizer()
        authorizer.add_user(USER, PASSWORD, str(home), perm="elr")
        base = TLS_FTPHandler if cert else FTPHandler
        commands = dict(base.proto_cmds)
        if not mlsd:  # an older server, as vsftpd: NLST + SIZE + MDTM
            del commands["MLSD"]
        settings: dict[str, Any] = {"authorizer": authorizer, "auth_failed_timeout": 0.01, "proto_cmds": commands}
        if cert is not None:
            settings.update(certfile=str(cert), tls_control_required=True, tls_data_required=True)
        handler = type("Handler", (base,), settings)
        self.server = FTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.address[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            self.server.ioloop.loop(timeout=0.05, blocking=False)
        self.server.close_all()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)


@pytest.fixture(params=[True, False], ids=["mlsd", "nlst"])
def ftp_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[FtpServer, Path]]:
    home = tmp_path / "ftp"
    (home / "uploads" / "old").mkdir(parents=True)
    server = FtpServer(home, mlsd=request.param)
    yield server, home / "uploads"
    server.stop()


def ftp_config(port: int, **extra: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "user": USER, "password": PASSWORD, "directory": "/uploads",
            "pattern": "*.csv", "parser": "csv_events", "timeout_s": 5, **extra}


def test_ftp_reads_new_and_changed_files_once(ftp_server: tuple[FtpServer, Path]) -> None:
    server, uploads = ftp_server
    ftp = Ftp(ftp_config(server.port), source="ftp-so-tnmt")
    state: dict[str, Any] = {}
    write(uploads / "2026-11-25T08.csv", CSV_GOOD)
    write(uploads / "readme.txt", "bỏ qua")
    assert entities(list(ftp.poll(state))) == ["TH-AQ-NGHISON", "TH-AQ-SAMSON"]
    assert list(ftp.poll(state)) == []

    write(uploads / "2026-11-25T09.csv", "entity,time,type,sector,aqi\nTH-AQ-BIMSON,2026-11-25T09:00:00Z,aq,env,9\n")
    write(uploads / "2026-11-25T10.csv", "tệp hỏng\n")
    new, bad_file = ftp.poll(state)
    assert entities([new]) == ["TH-AQ-BIMSON"]
    assert isinstance(bad_file, BadRecord) and bad_file.field == "2026-11-25T10.csv"
    assert list(ftp.poll(state)) == []

    write(uploads / "2026-11-25T09.csv", "entity,time,type,sector,aqi\nTH-AQ-BIMSON,2026-11-25T09:00:00Z,aq,env,10\n")
    assert [i.values for i in ftp.poll(state)] == [{"aqi": 10}]
    assert json.loads(json.dumps(state)) == state


def test_ftp_wrong_password_is_auth_failed_and_a_stopped_server_not_ready(ftp_server: tuple[FtpServer, Path]) -> None:
    server, _ = ftp_server
    with pytest.raises(AuthFailed, match=USER):
        list(Ftp(ftp_config(server.port, password="sai-mật-khẩu"), source="s").poll({}))
    with pytest.raises(NotReady, match="550"):
        list(Ftp(ftp_config(server.port, directory="/khong-co"), source="s").poll({}))
    server.stop()
    with pytest.raises(NotReady, match="127.0.0.1"):
        list(Ftp(ftp_config(server.port), source="s").poll({}))


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (key and certificate in one PEM for the server) and the same as a CA file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ftp.ioc.test")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    (directory / "server.pem").write_bytes(key_pem + cert_pem)
    (directory / "ca.pem").write_bytes(cert_pem)
    return directory / "server.pem", directory / "ca.pem"


def test_ftps_checks_the_server_certificate(tmp_path: Path) -> None:
    server_pem, ca = self_signed(tmp_path)
    (tmp_path / "ftp" / "uploads").mkdir(parents=True)
    write(tmp_path / "ftp" / "uploads" / "a.csv", CSV_GOOD)
    server = FtpServer(tmp_path / "ftp", cert=server_pem)
    try:
        with pytest.raises(NotReady, match="CERTIFICATE_VERIFY_FAILED"):
            list(Ftp(ftp_config(server.port, tls=True), source="s").poll({}))
        items = list(Ftp(ftp_config(server.port, tls=True, ca_file=str(ca)), source="s").poll({}))
        assert entities(items) == ["TH-AQ-NGHISON", "TH-AQ-SAMSON"]
        with pytest.raises(NotReady):  # the server requires TLS: plain FTP is turned away
            list(Ftp(ftp_config(server.port), source="s").poll({}))
    finally:
        server.stop()


def test_ftp_configuration_hides_and_refuses() -> None:
    from connectors.base import masked

    assert masked(Ftp.config_schema, ftp_config(21))["password"] == "••••••"
    with pytest.raises(BadConfig):
        Ftp({**ftp_config(21), "delete_after": True}, source="s")
