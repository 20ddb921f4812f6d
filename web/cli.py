"""The ``ioc`` command. Every command exits non-zero with a one-line reason on error, never a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

USAGE_ERROR = 2


def _cmd_run(args: argparse.Namespace) -> int:
    from web.server import serve

    return serve(args.host, args.port, workers=args.workers)


def _cmd_demo(args: argparse.Namespace) -> int:
    from web.demo import run_demo

    return run_demo(args.host, args.port, simulate=not args.no_simulator)


def _cmd_worker(args: argparse.Namespace) -> int:
    from web.worker import run_worker

    return run_worker(burst=args.burst)


def _cmd_db_upgrade(_args: argparse.Namespace) -> int:
    from web.server import prepare

    prepare()
    print("database is up to date")
    return 0


def _read_password(args: argparse.Namespace, prompt: str = "Password: ") -> str:
    """The password from --password (kept for scripts; it shows in the process list and the shell's history),
    standard input (--password-stdin: its first line) or a prompt that does not echo."""
    if getattr(args, "password", None):
        return str(args.password)
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise SystemExit("error: give the password on standard input with --password-stdin, or run this at a "
                         "terminal to be asked for it")
    import getpass

    first = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != first:
        raise SystemExit("error: the two passwords differ")
    return first


def _cmd_user_add(args: argparse.Namespace) -> int:
    from engine.db import transaction
    from engine.org import add_user

    password = _read_password(args)
    with transaction() as session:
        user = add_user(session, args.name, args.role, password, department_code=args.department,
                        full_name=args.full_name or "", actor="cli", kiosk=args.kiosk, inactive_without_department=True)
    if not user.active:
        print(f"user {user.username} ({user.role_code}) added, deactivated: an officer belongs to a department; "
              "give one and reactivate them at /admin")
        return 0
    print(f"user {user.username} ({user.role_code}) added")
    return 0


def _user_named(session: Any, name: str) -> Any:
    from sqlalchemy import select

    from engine.errors import N_, NotFound
    from engine.models import User

    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        raise NotFound(N_("No user named %(name)s"), name=name)
    return user


def _cmd_user_password(args: argparse.Namespace) -> int:
    from engine.db import transaction
    from engine.org import reset_password

    password = _read_password(args, "New password: ")
    with transaction() as session:
        user = _user_named(session, args.name)
        reset_password(session, user, password, actor="cli")
        user.must_change_password = not args.no_change_required
    print(f"password of {args.name} set; every session of theirs has ended"
          + ("" if args.no_change_required else "; they choose a new one at their next login"))
    return 0


def _cmd_user_active(args: argparse.Namespace) -> int:
    from engine.db import transaction
    from engine.org import set_active

    active = args.user_command == "activate"
    with transaction() as session:
        set_active(session, _user_named(session, args.name), active, actor="cli")
    print(f"user {args.name} {'reactivated' if active else 'deactivated; every session of theirs has ended'}")
    return 0


def _cmd_user_sign_out(args: argparse.Namespace) -> int:
    from engine import sessions
    from engine.db import transaction

    with transaction() as session:
        count = sessions.end_all(session, _user_named(session, args.name).id, reason="signed_out_everywhere",
                                 actor="cli")
    print(f"{count} session(s) of {args.name} ended")
    return 0


def _cmd_token_create(args: argparse.Namespace) -> int:
    from engine.db import transaction
    from engine.tokens import create_token

    with transaction() as session:
        token = create_token(session, args.name, args.role, department_code=args.department, actor="cli",
                             scope_list=([s for part in args.scope for s in part.split(",") if s]
                                         if args.scope else None),
                             sources=args.source or None, days=None if args.no_expiry else args.days)
    print(token)
    return 0


def _cmd_token_scopes(_args: argparse.Namespace) -> int:
    from engine.scopes import SCOPES

    for name, meaning in SCOPES.items():
        print(f"{name:<18} {meaning}")
    return 0


def _cmd_token_revoke(args: argparse.Namespace) -> int:
    from engine.db import transaction
    from engine.tokens import revoke_tokens

    with transaction() as session:
        count = revoke_tokens(session, args.name, actor="cli")
    print(f"{count} token(s) named {args.name} revoked")
    return 0


def _cmd_process_deploy(args: argparse.Namespace) -> int:
    from engine import registry
    from engine.db import transaction

    paths = [Path(name) for name in args.files]
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"error: {path}: no such file")
    # JSON Schema form files: those named on the command line, and those beside each model
    schemas = {p.name: p.read_bytes() for folder in {p.parent for p in paths} for p in folder.glob("*.json")}
    schemas.update({p.name: p.read_bytes() for p in paths if p.suffix == ".json"})
    ordered = sorted((p for p in paths if p.suffix != ".json"), key=lambda p: p.suffix != ".dmn")  # decisions first
    with transaction() as session:
        for path in ordered:
            deployed = registry.deploy(session, path.read_bytes(), path.name, actor="cli", schemas=schemas)
            for d in deployed:
                print(f"{d.process_key} v{d.version} ({d.content_hash[:12]}) from {path.name}")
            if not deployed:
                print(f"decisions from {path.name} deployed")
    return 0


def _cmd_process_list(_args: argparse.Namespace) -> int:
    from engine import registry
    from engine.db import transaction

    with transaction() as session:
        for d in registry.all_latest(session):
            print(f"{d.process_key}\tv{d.version}\t{d.content_hash[:12]}\t{d.name}")
    return 0


def _cmd_audit_verify(_args: argparse.Namespace) -> int:
    from engine import audit
    from engine.db import session_factory

    with session_factory(write=False)() as session:
        report = audit.verify(session)
    print(report, file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def _cmd_export(args: argparse.Namespace) -> int:
    from engine import handover
    from web import progress

    folder, shown = Path(args.dir), progress.for_stream()  # a bar on a terminal, plain lines otherwise (stderr)
    manifest = handover.export(folder, with_password_hashes=args.with_password_hashes,
                               with_secrets_key=args.with_secrets_key, progress=shown.line, meter=shown.step)
    _size, digest = handover.sha256_of(folder / handover.MANIFEST)
    print(f"exported {sum(t['rows'] for t in manifest['tables'])} rows of {len(manifest['tables'])} tables and "
          f"{len(manifest['files'])} files to {folder} (schema {manifest['schema_revision']}); manifest.json SHA-256 "
          f"{digest}: keep it apart from the export")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from engine import handover
    from web import progress

    folder, shown = Path(args.dir), progress.for_stream()
    manifest = handover.import_(folder, progress=shown.line, meter=shown.step)
    print(f"imported {sum(t['rows'] for t in manifest['tables'])} rows of {len(manifest['tables'])} tables and "
          f"{len(manifest['files'])} files from {folder} (exported {manifest['exported_at']})")
    return 0


def _cmd_rules_check(args: argparse.Namespace) -> int:
    from engine import geo_check
    from engine.bpmn import executable_process_ids
    from engine.config import settings
    from engine.rules import area_files, check_area_files, check_directory, check_scenarios, check_text

    target = Path(args.path) if args.path else settings().rules_dir
    if target.suffix == ".geojson":
        rules, problems = [], check_area_files(target)
    elif target.is_file():
        rules, problems = check_text(target.read_text(encoding="utf-8"), str(target))
    else:
        rules, problems = check_directory(target)
        problems += check_area_files(target)
    problems += check_scenarios(rules, executable_process_ids(settings().processes_dir))
    for p in problems:
        print(p, file=sys.stderr)
    if args.repair:  # the invalid areas' make_valid shapes, beside each file that has some
        for path in area_files(target) if target.is_dir() else [target] if target.suffix == ".geojson" else []:
            if geo_check.check_file(path):
                print(f"wrote {geo_check.write_repaired(path)}", file=sys.stderr)
    if problems:
        return 1
    print(f"{len(rules)} rules OK in {target}")
    return 0


def _cmd_source_run(args: argparse.Namespace) -> int:
    from connectors import runtime

    outcome = runtime.run(args.name, trigger="manual")
    if outcome is None:
        from engine import sources
        from engine.db import session_factory

        with session_factory(write=False)() as session:
            print(f"error: {sources.get(session, args.name).last_error}", file=sys.stderr)
        return 1
    print(f"{outcome.items} stored, {outcome.duplicates} already there, {len(outcome.bad)} bad records")
    for bad in outcome.bad[:50]:
        print(f"  {bad['index']}: {bad['field'] or ''}: {bad['reason']}", file=sys.stderr)
    return 0


def _cmd_source_listen(args: argparse.Namespace) -> int:
    import signal
    import threading

    from connectors import runtime

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    total = runtime.listen(args.name, stop)
    print(f"{total} items received")
    return 0


def _cmd_environment_import(args: argparse.Namespace) -> int:
    """Load a folder of monitoring-station files (Circular 10/2021), evaluate them and compute the stations' AQI,
    in this process (for back-filling); a file that cannot be read is reported with its reason and skipped."""
    from sqlalchemy import select

    from connectors.station_file import StationFileError, event_for, import_directory
    from engine import jobs
    from engine.db import session_factory, transaction, utcnow
    from engine.events import ingest_events
    from engine.models import Event

    folder = Path(args.dir)
    if not folder.is_dir():
        print(f"error: no such folder {folder}", file=sys.stderr)
        return 1
    read = refused = stored = 0
    batch = []
    for path, parsed in import_directory(folder, utcnow()):
        if isinstance(parsed, StationFileError):
            refused += 1
            print(f"{path}: refused: {parsed.reason}", file=sys.stderr)
            continue
        read += 1
        for bad in parsed.bad_lines:
            print(f"{path}:{bad.index}: {bad.field}: {bad.reason}", file=sys.stderr)
        batch.append(event_for(parsed, args.source))
        if len(batch) >= 500:
            with transaction() as session:
                stored += len(ingest_events(session, batch, args.source).accepted)
            batch = []
    if batch:
        with transaction() as session:
            stored += len(ingest_events(session, batch, args.source).accepted)
    evaluated = 0
    for _ in range(4):  # the readings, then the AQI they lead to, then what that leads to
        with session_factory(write=False)() as session:
            ids = list(session.scalars(select(Event.id).where(Event.processed_at.is_(None)).order_by(Event.id)))
        if not ids:
            break
        evaluated += jobs.process_events(ids)
    print(f"{read} files read, {refused} refused, {stored} readings stored, {evaluated} events evaluated")
    return 1 if refused and not read else 0


def _cmd_environment_wqi(args: argparse.Namespace) -> int:
    """VN_WQI of the water samples in a spreadsheet (one row per sample: site, time, parameters). Headers are read
    by ``engine.water_samples``: an unknown column is a warning naming it; two headers that read alike, or a unit
    that is not the parameter's, refuse the file (nothing stored)."""
    from connectors.spreadsheet import FileProblem, read_table
    from connectors.spreadsheet_values import column_name, is_empty, moment, number
    from engine import environment, water_samples
    from engine.db import transaction
    from engine.indicators import tz

    path = Path(args.file)
    try:
        grid = read_table(path.read_bytes())
    except (OSError, FileProblem) as exc:
        print(f"error: {path.name}: {exc}", file=sys.stderr)
        return 1
    site_column, time_column = args.site_column, args.time_column
    headers = water_samples.read_headers(grid.headers, [site_column, time_column])

    def where(problem: water_samples.HeaderProblem) -> str:
        columns = ", ".join(column_name(c) for c in problem.columns)
        return f"{path.name}: row 1" + (f", column{'s' * (len(problem.columns) > 1)} {columns}" if columns else "")

    for problem in headers.unknown:
        print(f"{where(problem)}: warning: {problem}", file=sys.stderr)
    for problem in headers.errors:
        print(f"{where(problem)}: error: {problem}", file=sys.stderr)
    if headers.errors:
        print(f"error: {path.name}: {len(headers.errors)} header problem(s): nothing stored", file=sys.stderr)
        return 1
    rows, row_numbers = [], []
    for row_number, cells in grid.rows:
        values = {key: cells[i][0] if i < len(cells) else None for key, i in headers.columns.items()}
        if all(is_empty(v) for v in values.values()):
            continue
        site, when = values.pop(site_column), moment(values.pop(time_column))
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=tz())  # sampling times are local
        sample = {code: None if is_empty(v) else v if (n := number(v)) is None else n for code, v in values.items()}
        rows.append({"site": None if is_empty(site) else str(site).strip(), "time": when, **sample})
        row_numbers.append(row_number)
    with transaction() as session:
        stored, problems = environment.record_water_samples(session, rows, source=path.name, actor="cli")
    for p in problems:
        print(f"{path.name}: row {row_numbers[p['index']]}: {p['field'] or ''}: {p['reason']}", file=sys.stderr)
    print(f"{stored} samples stored with their VN_WQI, {len(problems)} refused, "
          f"{len(headers.unknown)} columns not read")
    return 0 if stored or not problems else 1


AIS_BATCH = 50_000  # AIS lines per transaction when a feed is busy (track fixes and vessels written in bulk)


def _cmd_ais_replay(args: argparse.Namespace) -> int:
    from connectors.ais import Stats, replay
    from connectors.runtime import consume

    stats = Stats()
    outcome = consume(replay(args.file, args.source, stats, reports=True), args.source, evaluate=True,
                      batch=AIS_BATCH)
    print(f"{stats.lines} lines: {stats.positions} positions, {stats.statics} static reports, "
          f"{stats.bad_checksum} bad checksums, {stats.incomplete} incomplete multi-part messages, "
          f"{stats.malformed} malformed, {stats.unsupported_type} other sentences; {outcome.positions} new track "
          f"positions and {outcome.events} events stored, {outcome.duplicates} already there (a vessel's position at "
          f"an instant is kept once; a log without times is read as arriving now, line after line)")
    return 0


def _cmd_ais_listen(args: argparse.Namespace) -> int:
    import signal
    import threading

    from connectors.ais_feeds import AisTcp, AisUdp
    from connectors.runtime import consume

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        connector: AisTcp | AisUdp = AisTcp(config={"host": host or "127.0.0.1", "port": int(port)},
                                            source=args.source)
    else:
        connector = AisUdp(config={"host": "0.0.0.0", "port": int(args.udp)}, source=args.source)  # noqa: S104
    outcome = consume(connector.stream(stop), args.source, batch=AIS_BATCH)
    print(f"{outcome.positions} new track positions and {outcome.events} events stored, {outcome.duplicates} "
          f"already there, {len(outcome.bad)} bad records")
    return 0


# The fisheries department's register, as its spreadsheets name the columns (Vietnamese or English).
VESSEL_COLUMNS = {"số đăng ký": "code", "so dang ky": "code", "registration": "code", "tên tàu": "name",
                  "ten tau": "name", "name": "name", "mmsi": "mmsi", "chiều dài": "length_m", "chieu dai": "length_m",
                  "chiều dài (m)": "length_m", "length_m": "length_m", "length": "length_m", "chủ tàu": "owner",
                  "chu tau": "owner", "owner": "owner", "cảng cá": "home_port", "cang ca": "home_port",
                  "cảng đăng ký": "home_port", "home_port": "home_port", "vùng khai thác": "licensed_zone",
                  "vung khai thac": "licensed_zone", "licensed_zone": "licensed_zone", "loại tàu": "kind",
                  "kind": "kind"}
ZONE_NAMES = {"khơi": "khoi", "vùng khơi": "khoi", "lộng": "long", "vùng lộng": "long", "ven bờ": "ven_bo",
              "vùng ven bờ": "ven_bo"}


def _cmd_vessels_import(args: argparse.Namespace) -> int:
    """The fisheries department's vessel register (.xlsx or .csv) into the entities' registry."""
    import unicodedata

    import pandas as pd

    from engine import entities
    from engine.db import transaction

    path = Path(args.file)
    excel = path.suffix.lower() in (".xlsx", ".xlsm")
    frame = pd.read_excel(path, dtype=str) if excel else pd.read_csv(path, dtype=str)
    columns = {c: VESSEL_COLUMNS.get(unicodedata.normalize("NFC", str(c)).strip().lower()) for c in frame.columns}
    unknown = [c for c, known in columns.items() if known is None]
    records = []
    for row in frame.to_dict(orient="records"):
        record = {columns[c]: (None if pd.isna(v) else str(v).strip()) for c, v in row.items() if columns[c]}
        if record.get("length_m"):
            try:
                record["length_m"] = float(str(record["length_m"]).replace(",", "."))
            except ValueError:
                pass  # kept as written: the length check will not use it
        if record.get("licensed_zone"):
            zone = unicodedata.normalize("NFC", record["licensed_zone"]).lower()
            record["licensed_zone"] = ZONE_NAMES.get(zone, zone)
        records.append(record)
    with transaction() as session:
        added, updated, problems = entities.register(session, "vessel", records, actor="cli")
    for p in problems:
        print(f"{path.name}: row {p['index'] + 2}: {p['field']}: {p['reason']}", file=sys.stderr)
    if unknown:
        print(f"{path.name}: columns not used: {', '.join(map(str, unknown))}", file=sys.stderr)
    print(f"{added} vessels added, {updated} updated, {len(problems)} rows refused")
    return 0 if added or updated or not problems else 1


def _cmd_camera_run(args: argparse.Namespace) -> int:
    """Run one camera's pipeline (a process per camera): violations and counts stored and evaluated, the camera's
    health reported on its entity. With ``--api`` (or IOC_API_URL and IOC_API_TOKEN) it runs on any machine and
    reports through the API instead of the database."""
    api_url = args.api or os.environ.get("IOC_API_URL")
    if api_url:
        return _camera_run_over_api(args, api_url)
    import time as time_
    from datetime import UTC, datetime

    from connectors.camera import synthetic
    from connectors.camera.runner import calibration_from_dict, detect, frames_of
    from connectors.runtime import consume
    from engine import cameras, entities, traffic
    from engine.db import transaction

    def health(status: str, detail: str) -> None:
        with transaction() as session:
            cameras.report_health(session, args.camera, status, detail)
        print(f"camera {args.camera}: {status} — {detail}", file=sys.stderr)

    if args.synthetic:
        source, calibration = "synthetic:720p", synthetic.calibration(scale=2)
    else:
        with transaction() as session:
            row = entities.get(session, "camera", args.camera)
            attributes, stored = dict(row.attributes or {}), cameras.source_of(row)
        source = args.source or stored
        if not source or not attributes.get("calibration"):
            print(f"error: camera {args.camera} needs a source and a calibration (entities registry)", file=sys.stderr)
            return 1
        try:
            calibration = calibration_from_dict(attributes["calibration"])
        except (KeyError, TypeError, ValueError) as exc:
            print(f"error: camera {args.camera}: calibration: {exc}", file=sys.stderr)
            health("stopped", f"calibration cannot be used: {exc}")
            return 1
    frames = frames_of(source, on_health=health, size=(calibration.width, calibration.height), loop=args.loop)
    started = time_.perf_counter()
    try:
        events = detect(frames, calibration, args.camera, evidence_dir=traffic.evidence_dir() / args.camera,
                        started=datetime.now(UTC), settings=_camera_settings(args))
        outcome = consume(events, f"camera:{args.camera}", evaluate=True)
    except ConnectionError as exc:
        health("unreachable", str(exc))
        return 2
    health("stopped", f"the source ended after {time_.perf_counter() - started:.0f} s")
    print(f"{outcome.events} events stored (violations and counts)")
    return 0


def _camera_settings(args: argparse.Namespace) -> object:
    """The pipeline's settings: the deployment's ONNX detector when one is configured (--detector or
    IOC_CAMERA_DETECTOR); a model that cannot be loaded stops the runner with its reason."""
    from connectors.camera.detector import configured
    from connectors.camera.pipeline import Settings

    return Settings(detector=configured(args.detector))


def _camera_run_over_api(args: argparse.Namespace, api_url: str) -> int:
    import tempfile
    import time as time_
    from datetime import UTC, datetime
    from pathlib import Path as Path_

    from connectors.camera import synthetic
    from connectors.camera.reporter import ApiError, ApiReporter
    from connectors.camera.runner import calibration_from_dict, detect, frames_of

    token = args.token or os.environ.get("IOC_API_TOKEN")
    if not token:
        print("error: --api needs a token (--token or IOC_API_TOKEN), made with `ioc token create`", file=sys.stderr)
        return 1
    reporter = ApiReporter(api_url, token, args.camera)

    def health(status: str, detail: str) -> None:
        reporter.health(status, detail)
        print(f"camera {args.camera}: {status} — {detail}", file=sys.stderr)

    try:
        if args.synthetic:
            source, calibration = args.source or "synthetic:720p", synthetic.calibration(scale=2)
        else:
            source = args.source
            if not source:
                print("error: a runner on another machine is given its source with --source", file=sys.stderr)
                return 1
            calibration = calibration_from_dict(reporter.calibration())
    except (ApiError, KeyError, TypeError, ValueError) as exc:
        print(f"error: camera {args.camera}: calibration: {exc}", file=sys.stderr)
        return 1
    outbox = Path_(tempfile.mkdtemp(prefix=f"ioc-{args.camera}-"))
    sent = uploaded = 0

    def clip_done(path: Path_) -> None:
        nonlocal uploaded
        reporter.upload(path)
        path.unlink(missing_ok=True)
        uploaded += 1

    frames = frames_of(source, on_health=health, size=(calibration.width, calibration.height), loop=args.loop)
    started = time_.perf_counter()
    try:
        for event in detect(frames, calibration, args.camera, evidence_dir=outbox, started=datetime.now(UTC),
                            on_clip=clip_done, settings=_camera_settings(args)):
            snapshot = (event.values or {}).get("evidence")
            if snapshot:
                path = outbox / str(snapshot).split("/", 1)[1]
                reporter.upload(path)
                path.unlink(missing_ok=True)
                uploaded += 1
            sent += reporter.send([event])
    except ConnectionError as exc:
        health("unreachable", str(exc))
        return 2
    except ApiError as exc:
        print(f"error: camera {args.camera}: {exc}", file=sys.stderr)
        return 2
    health("stopped", f"the source ended after {time_.perf_counter() - started:.0f} s")
    print(f"{sent} events sent, {uploaded} evidence files uploaded to {api_url}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ioc", description="IOC — Trung tâm giám sát, điều hành thông minh")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str, parent: Any = sub) -> Any:
        p = parent.add_parser(name, help=help_)
        p.set_defaults(func=func)
        return p

    for name, func, help_ in (("run", _cmd_run, "serve the web and API, with a worker beside it"),
                              ("demo", _cmd_demo, "seed demo users and data, simulate live events, and serve")):
        p = add(name, func, help_)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        if name == "run":
            p.add_argument("--workers", type=int, default=1, help="RQ workers to start beside the web server")
        else:
            p.add_argument("--no-simulator", action="store_true", help="do not post simulated events")
    p = add("worker", _cmd_worker, "run an RQ worker (with its scheduler and sweeper)")
    p.add_argument("--burst", action="store_true", help="stop when the queue is empty")

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True, metavar="ACTION")
    add("upgrade", _cmd_db_upgrade, "apply migrations, seed units and departments, deploy processes", db)

    user = sub.add_parser("user", help="users").add_subparsers(dest="user_command", required=True, metavar="ACTION")
    p = add("add", _cmd_user_add, "add a user (the password from standard input, a prompt or --password)", user)
    p.add_argument("name")
    p.add_argument("--role", required=True)
    p.add_argument("--department")
    p.add_argument("--password", help="visible to other users of this machine: prefer --password-stdin")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--full-name")
    p.add_argument("--kiosk", action="store_true", help="the wall's screen: reads only, longer idle timeout")
    p = add("password", _cmd_user_password, "set a user's password (to change at their next login)", user)
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--no-change-required", action="store_true", help="do not ask for a new one at next login")
    for name, help_ in (("deactivate", "deactivate a user (their sessions end)"), ("activate", "reactivate a user")):
        p = add(name, _cmd_user_active, help_, user)
        p.add_argument("name")
    p = add("sign-out", _cmd_user_sign_out, "end every session of a user", user)
    p.add_argument("name")

    token = sub.add_parser("token", help="machine tokens").add_subparsers(dest="token_command", required=True,
                                                                          metavar="ACTION")
    p = add("create", _cmd_token_create, "create a bearer token; prints only the token", token)
    p.add_argument("name")
    p.add_argument("--role", required=True)
    p.add_argument("--department")
    p.add_argument("--scope", action="append",
                   help="what it may do, e.g. events:write or tasks:read (repeat, or separate by commas; default "
                        "events:write,alerts:read); `ioc token scopes` lists them")
    p.add_argument("--source", action="append", help="events:write for this source only (repeat for more)")
    p.add_argument("--days", type=int, default=365, help="it expires after this many days (default 365)")
    p.add_argument("--no-expiry", action="store_true", help="it does not expire")
    add("scopes", _cmd_token_scopes, "list the scopes a token may have", token)
    p = add("revoke", _cmd_token_revoke, "revoke the tokens of that name", token)
    p.add_argument("name")

    proc = sub.add_parser("process", help="BPMN processes").add_subparsers(dest="process_command", required=True,
                                                                           metavar="ACTION")
    p = add("deploy", _cmd_process_deploy, "deploy BPMN files", proc)
    p.add_argument("files", nargs="+", metavar="FILE")
    add("list", _cmd_process_list, "list the latest version of each process", proc)

    rules = sub.add_parser("rules", help="rule files").add_subparsers(dest="rules_command", required=True,
                                                                      metavar="ACTION")
    p = add("check", _cmd_rules_check, "check rule files and area files; errors name file:line", rules)
    p.add_argument("path", nargs="?", metavar="DIR")
    p.add_argument("--repair", action="store_true",
                   help="write NAME.repaired.geojson beside each area file with invalid shapes (make_valid)")

    p = add("sectors", _cmd_sectors, "list the registered monitoring sectors (code, names, event types, rules files, "
            "processes, pages), one per line")
    p.add_argument("--json", action="store_true", help="the same as JSON")

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(dest="audit_command", required=True,
                                                                         metavar="ACTION")
    add("verify", _cmd_audit_verify, "check the audit log's hash chain; names the first row that does not fit", audit)
    p = add("export", _cmd_export, "write all of the data (tables as JSON Lines, files, manifest.json) into DIR; "
            "an export stopped half-way goes on when run again")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--with-password-hashes", action="store_true", help="keep the accounts' password hashes")
    p.add_argument("--with-secrets-key", action="store_true",
                   help="add the secret key that stored credentials are encrypted with (keep DIR safe)")
    p = add("import", _cmd_import, "load an export into a fresh instance (checks the manifest and every SHA-256)")
    p.add_argument("dir", metavar="DIR")

    source = sub.add_parser("source", help="data sources").add_subparsers(dest="source_command", required=True,
                                                                          metavar="ACTION")
    p = add("run", _cmd_source_run, "poll a source once now; prints what came in and the bad records", source)
    p.add_argument("name")
    p = add("listen", _cmd_source_listen, "run a streaming source (MQTT) until stopped (SIGTERM, Ctrl-C)", source)
    p.add_argument("name")

    env = sub.add_parser("environment", help="environment monitoring").add_subparsers(
        dest="environment_command", required=True, metavar="ACTION")
    p = add("import", _cmd_environment_import, "load a folder of station files (Circular 10/2021) and compute AQI", env)
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--source", default="station-files", help="the source name recorded on the events")
    camera = sub.add_parser("camera", help="AI traffic cameras").add_subparsers(dest="camera_command", required=True,
                                                                              metavar="ACTION")
    p = add("run", _cmd_camera_run, "run a camera's pipeline until its source ends or it is stopped", camera)
    p.add_argument("camera", metavar="CAMERA")
    p.add_argument("--source", help="a video file or an RTSP URL (instead of the camera's own)")
    p.add_argument("--synthetic", action="store_true", help="the project's synthetic traffic video and calibration")
    p.add_argument("--loop", action="store_true", help="start a file again when it ends (demonstrations)")
    p.add_argument("--detector", help="an ONNX object detector (YOLOv8 export) instead of motion; or "
                   "IOC_CAMERA_DETECTOR")
    p.add_argument("--api", help="report through this IOC's API (a runner on another machine); or IOC_API_URL")
    p.add_argument("--token", help="the API token for --api (ioc token create); or IOC_API_TOKEN")
    vessels = sub.add_parser("vessels", help="the fishing-vessel register").add_subparsers(
        dest="vessels_command", required=True, metavar="ACTION")
    p = add("import", _cmd_vessels_import, "import the fisheries department's vessel register (.xlsx or .csv)",
            vessels)
    p.add_argument("file", metavar="FILE")
    ais = sub.add_parser("ais", help="AIS vessel reports").add_subparsers(dest="ais_command", required=True,
                                                                          metavar="ACTION")
    p = add("replay", _cmd_ais_replay, "decode an AIS log (NMEA 0183) and store and evaluate its reports", ais)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--source", default="ais-replay")
    p = add("listen", _cmd_ais_listen, "receive AIS over TCP (client) or UDP until stopped", ais)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--tcp", metavar="HOST:PORT")
    group.add_argument("--udp", metavar="PORT")
    p.add_argument("--source", default="ais")
    p = add("wqi", _cmd_environment_wqi, "VN_WQI of the water samples in a spreadsheet (.xlsx or .csv)", env)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--site-column", default="site")
    p.add_argument("--time-column", default="time")
    return parser


def _cmd_sectors(args: argparse.Namespace) -> int:
    from engine import sectors

    described = [s.describe() for s in sectors.all_sectors()]
    if args.json:
        print(json.dumps(described, ensure_ascii=False, indent=2))
        return 0
    for d in described:
        print(f"{d['code']}\t{d['name_vi']} / {d['name_en']}\tevents: {', '.join(d['event_types']) or '-'}\t"
              f"rules: {', '.join(d['rules_files']) or '-'}\tprocesses: {', '.join(d['processes']) or '-'}\t"
              f"pages: {', '.join(d['pages']) or '-'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    # Without a running server there is no Redis to publish live updates to; that is expected here.
    logging.getLogger("engine.bus").setLevel(logging.ERROR)
    parser = build_parser()
    args = parser.parse_args(argv)
    needs_db = (args.command in ("user", "token", "process", "source", "environment", "ais", "vessels", "camera")
                or args.command == "db")
    if args.command == "camera" and (getattr(args, "api", None) or os.environ.get("IOC_API_URL")):
        needs_db = False  # a runner on another machine speaks to the API only
    try:
        if needs_db and args.command != "db":
            from web.server import prepare

            # Users and tokens need the schema and the departments, not the processes folder deployed again: a
            # designer's newer upload of a process would be replaced by the folder's file, credited to "system".
            prepare(deploy=args.command not in ("user", "token"))
        return int(args.func(args) or 0)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns any failure into one line
        if os.environ.get("IOC_DEBUG"):
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    from engine.errors import EngineError

    if isinstance(exc, EngineError):
        where = exc.details
        loc = f"{where['file']}:{where.get('line', '?')}: " if "file" in where else ""
        elem = f" (element {where['element']})" if where.get("element") else ""
        return f"{loc}{exc}{elem}"
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0] if text else ''}".rstrip(": ")


if __name__ == "__main__":
    sys.exit(main())
