"""The handover of all of an instance's data (``ioc export DIR``, ``ioc import DIR``; docs/guide-deployer.md).

An export folder holds, as open formats:

- ``tables/<table>.jsonl``: every table of the schema (engine.models), one JSON object per row, in primary-key order.
  Times are ISO 8601 in UTC to the microsecond (``2026-03-01T07:00:00.000000+00:00``), dates ISO 8601, JSON columns
  JSON, bytes base64; a number that is not finite (NaN, infinity) is written as null and counted. Left out: users'
  ``password_hash`` (unless asked for) and, always, user_sessions' ``sid_hash``. Stored secrets (a camera's
  ``credentials``, a source's passwords) stay encrypted with the instance's secret key (engine.secrets).
- ``files/<folder>/…``: the tasks' attachments (``attachments/ab/<sha256>``), the cameras' evidence and the rule files.
- ``secrets/``: only when asked (``--with-secrets-key``): the secret key and the web-push key.
- ``manifest.json``: the schema revision (Alembic), and per table its row count and per file its size and SHA-256.
  It is rewritten as each table is written (``complete`` false until the end), so that an export that was stopped
  goes on where it stopped: a table or file already written and still matching it is not written again.

An import checks the manifest and every file's SHA-256 first, then loads the rows into an instance that holds only
what ``ioc db upgrade`` seeds, keeping every primary key, in one transaction; PostgreSQL's sequences are moved past
the keys. On PostgreSQL both go faster by the same rules: the server makes each line (``COPY (SELECT …) TO``), the
rows go in by ``COPY … FROM``, and the plain indexes are built after the load. The pure parts (which tables, in
which order, a row to a line and back, the manifest) sit apart from the I/O (`export`, `import_`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from engine import audit, db, migrate, models  # noqa: F401 - models registers the tables
from engine.config import SECRET_KEY_FILE, settings
from engine.errors import N_, Conflict, Invalid
from engine.security import hash_password

FORMAT, FORMAT_VERSION, MANIFEST = "ioc-handover", 1, "manifest.json"
VAPID_KEY_FILENAME = "vapid_private.pem"  # engine.notify.webpush's (not imported: it loads an HTTP client)
BATCH = 1000  # rows per fetch and per INSERT
CHUNK = 1 << 20  # bytes per read when copying and hashing files
# Never exported: a session's id hash would let whoever reads the export use the session.
LEFT_OUT = {"users": ("password_hash",), "user_sessions": ("sid_hash",)}
# What `ioc db upgrade` writes (engine.org.seed_organisation, engine.indicators.seed_indicators,
# engine.registry.deploy_directory and their audit rows): an instance holding only these is fresh, and the import
# replaces them with the export's.
SEEDED = frozenset({"units", "departments", "roles", "indicators", "process_definitions", "decision_definitions",
                    "audit_log"})
SEED_ACTIONS = ("organisation.seeded", "process.deployed", "decision.deployed")
Progress = Callable[[str], None]  # a line: a table or folder done, a warning
Meter = Callable[[str, int, int, str], None]  # what, done, total (known up front), unit ("rows" or "bytes")


def _quiet(_line: str) -> None:
    pass


def _still(_what: str, _done: int, _total: int, _unit: str) -> None:
    pass


@dataclass(frozen=True)
class Instance:
    """Where an instance keeps its data."""

    database_url: str
    data_dir: Path
    rules_dir: Path
    secret_key: str
    key_file: Path | None  # where its secret key is kept (None: IOC_SECRET_KEY, set in its environment)

    @classmethod
    def configured(cls) -> Instance:
        s = settings()
        return cls(s.database_url, s.data_dir, s.rules_dir, s.secret_key,
                   None if os.environ.get("IOC_SECRET_KEY") else s.data_dir / SECRET_KEY_FILE)

    def folders(self) -> dict[str, Path]:
        """The files that travel, by the folder name they have in an export."""
        return {"attachments": self.data_dir / "attachments",  # engine.attachments.storage_dir()
                "evidence": self.data_dir / "evidence",  # engine.traffic.evidence_dir()
                "rules": self.rules_dir}


# -- pure: tables, rows, manifest -----------------------------------------------------------------------------------


def tables() -> list[sa.Table]:
    """Every table of the schema, each after those it refers to."""
    return list(db.Base.metadata.sorted_tables)


def _python_type(column: sa.Column[Any]) -> type | None:
    kind: sa.types.TypeEngine[Any] = column.type
    if isinstance(kind, sa.types.TypeDecorator):
        kind = kind.impl_instance  # UTCDateTime: a datetime
    try:
        found = kind.python_type
    except NotImplementedError:
        return None
    return found if isinstance(found, type) else None


_ENCODE: dict[type, Callable[[Any], Any]] = {
    datetime: lambda v: v.astimezone(UTC).isoformat(timespec="microseconds"),
    date: lambda v: v.isoformat(),
    bytes: lambda v: base64.b64encode(v).decode("ascii"),
}
_DECODE: dict[type, Callable[[Any], Any]] = {datetime: datetime.fromisoformat, date: date.fromisoformat,
                                             bytes: base64.b64decode}


def exported_columns(table: sa.Table, *, with_password_hashes: bool = False) -> list[str]:
    left_out = () if with_password_hashes and table.name == "users" else LEFT_OUT.get(table.name, ())
    return [c.name for c in table.columns if c.name not in left_out]


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class RowEncoder:
    """A row of ``table`` (as ``select(table)`` gives it) to one line of JSON."""

    def __init__(self, table: sa.Table, *, with_password_hashes: bool = False) -> None:
        self.columns = exported_columns(table, with_password_hashes=with_password_hashes)
        keep = set(self.columns)
        self._plan = [(i, c.name, _ENCODE.get(_python_type(c) or object)) for i, c in enumerate(table.columns)
                      if c.name in keep]
        self.nonfinite = 0  # rows where a number that is not finite was written as null

    def __call__(self, row: Any) -> str:
        obj = {name: (v if (v := row[i]) is None or enc is None else enc(v)) for i, name, enc in self._plan}
        try:
            return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError:
            self.nonfinite += 1
            return json.dumps(_finite(obj), ensure_ascii=False, separators=(",", ":"))


def _not_finite(token: str) -> None:
    raise ValueError(f"{token} is not a number JSON has (an export writes null)")


_LOAD_LINE = json.JSONDecoder(parse_constant=_not_finite).decode


class RowDecoder:
    """A line of an export's table file back to the values of a row; the columns left out get ``fill``."""

    def __init__(self, table: sa.Table, columns: list[str], fill: dict[str, Callable[[dict[str, Any]], None]]) -> None:
        self.table, self.columns = table.name, set(columns)
        known = {c.name for c in table.columns}
        if unknown := self.columns - known:
            raise Invalid(N_("%(table)s: the export has columns this instance does not: %(columns)s"),
                          table=table.name, columns=", ".join(sorted(unknown)))
        self.fill = {name: f for name, f in fill.items() if name not in self.columns}
        if missing := known - self.columns - set(self.fill):
            raise Invalid(N_("%(table)s: the export lacks the columns %(columns)s"), table=table.name,
                          columns=", ".join(sorted(missing)))
        self._decode = [(c.name, dec) for c in table.columns if (dec := _DECODE.get(_python_type(c) or object))]

    def __call__(self, line: str, number: int) -> dict[str, Any]:
        try:
            row = _LOAD_LINE(line)
            if not isinstance(row, dict) or row.keys() != self.columns:
                raise ValueError("not an object with the table's columns")
            for name, dec in self._decode:
                if row.get(name) is not None:
                    row[name] = dec(row[name])
        except (ValueError, TypeError) as exc:
            raise Invalid(N_("tables/%(table)s.jsonl, line %(line)s: %(reason)s"), table=self.table, line=number,
                          reason=str(exc)) from None
        for fill in self.fill.values():
            fill(row)
        return row


def fillers(now: datetime) -> dict[str, dict[str, Callable[[dict[str, Any]], None]]]:
    """What an import puts in the columns an export leaves out: a password nobody knows (an administrator sets a new
    one: ``ioc user password NAME``), and sessions ended, under an id hash no cookie has."""
    unknown = hash_password(secrets.token_urlsafe(32))  # one for all: nobody knows the password

    def password(row: dict[str, Any]) -> None:
        row["password_hash"] = unknown

    def session(row: dict[str, Any]) -> None:
        row["sid_hash"] = hashlib.sha256(secrets.token_bytes(32)).hexdigest()
        if row.get("revoked_at") is None:
            row["revoked_at"], row["revoked_reason"] = now, "handover"

    return {"users": {"password_hash": password}, "user_sessions": {"sid_hash": session}}


def secret_key_check(key: str) -> str:
    """Tells whether two instances have the same secret key, without showing it."""
    return hashlib.sha256(b"ioc-handover-secret-key\0" + key.encode()).hexdigest()


def new_manifest(revision: str, database: str, *, with_password_hashes: bool, secret_key: str) -> dict[str, Any]:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "schema_revision": revision, "database": database,
            "exported_at": db.utcnow().isoformat(timespec="seconds"), "with_password_hashes": with_password_hashes,
            "secret_key_check": secret_key_check(secret_key), "complete": False, "tables": [], "files": [],
            "secrets": [], "missing_files": []}


def resumable(previous: dict[str, Any] | None, manifest: dict[str, Any]) -> bool:
    """Whether an earlier, stopped export's manifest may be gone on from: same format, schema and options."""
    keys = ("format", "format_version", "schema_revision", "with_password_hashes", "secret_key_check")
    return previous is not None and all(previous.get(k) == manifest[k] for k in keys)


def safe_path(path: object) -> PurePosixPath:
    """A manifest's path, refused unless it stays inside the export folder."""
    p = PurePosixPath(str(path))
    if not isinstance(path, str) or p.is_absolute() or ".." in p.parts or not p.parts or "\\" in path:
        raise Invalid(N_("The manifest names a file outside the export folder: %(path)s"), path=str(path)[:200])
    return p


def check_manifest(manifest: Any, revision: str) -> None:
    """Refuse an export that is not one, did not finish, or is of another schema revision."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Invalid(N_("manifest.json is not an IOC export's manifest"))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise Invalid(N_("The export is in format version %(v)s; this IOC reads version %(mine)s"),
                      v=manifest.get("format_version"), mine=FORMAT_VERSION)
    if not manifest.get("complete"):
        raise Invalid(N_("The export did not finish: run ioc export into the same folder again to complete it"))
    if manifest.get("schema_revision") != revision:
        raise Conflict(N_("The export is of schema revision %(theirs)s, this IOC's is %(ours)s: import it with the "
                          "IOC version that made it, then upgrade"), theirs=manifest.get("schema_revision"),
                       ours=revision)
    names = [str(t.get("name")) for t in manifest.get("tables", []) if isinstance(t, dict)]
    if len(names) != len(manifest.get("tables", [])) or sorted(names) != sorted(t.name for t in tables()):
        raise Invalid(N_("The export's tables are not this schema's tables"))
    for t in manifest["tables"]:
        if t.get("file") != f"tables/{t['name']}.jsonl" or not isinstance(t.get("columns"), list):
            raise Invalid(N_("The manifest's entry for table %(table)s is not as an export writes it"), table=t["name"])
    for entry in (*manifest.get("files", []), *manifest.get("secrets", [])):
        safe_path(entry.get("path") if isinstance(entry, dict) else None)


# -- I/O: files ------------------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> tuple[int, str]:
    """The size and SHA-256 of a file."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _copy(src: Path, dst: Path, mode: int | None = None) -> tuple[int, str]:
    """Copy a file (whole or not at all), returning its size and SHA-256."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    digest, size = hashlib.sha256(), 0
    with src.open("rb") as inp, tmp.open("wb") as out:
        while block := inp.read(CHUNK):
            out.write(block)
            digest.update(block)
            size += len(block)
    if mode is not None:
        tmp.chmod(mode)
    tmp.replace(dst)
    return size, digest.hexdigest()


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def _files_under(folder: Path) -> Iterator[Path]:
    """The regular files of a folder, in a stable order, without hidden ones and unfinished copies."""
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(names):
            path = Path(root) / name
            if not name.startswith(".") and not name.endswith(".part") and path.is_file() and not path.is_symlink():
                yield path


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise Invalid(N_("%(path)s cannot be read as JSON"), path=str(path)) from None
    return value if isinstance(value, dict) else None


# -- export ----------------------------------------------------------------------------------------------------------


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One read-only transaction: every table as it was at one moment (SQLite: WAL's snapshot)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")  # the server writes times in UTC (_pg_line)
            yield conn


def export(out_dir: Path, source: Instance | None = None, *, with_password_hashes: bool = False,
           with_secrets_key: bool = False, actor: str = "cli", progress: Progress = _quiet,
           meter: Meter = _still) -> dict[str, Any]:
    """Write everything ``source`` (the configured instance by default) holds into ``out_dir``; returns the
    manifest. An export stopped half-way is gone on from where it stopped. ``progress`` gets a line per table and
    folder, ``meter`` how far the current one is."""
    source = source or Instance.configured()
    previous = read_manifest(out_dir) if out_dir.is_dir() else None
    if previous is None and out_dir.is_dir() and any(out_dir.iterdir()):
        raise Invalid(N_("%(dir)s is not empty and holds no export: give a new or empty folder"), dir=str(out_dir))
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    with _snapshot(db.get_engine(source.database_url, write=False)) as conn:
        revision, head = migrate.current(conn), migrate.head()
        if revision != head:
            raise Conflict(N_("The database is at schema revision %(rev)s, this IOC's is %(head)s: run ioc db upgrade "
                              "first"), rev=revision, head=head)
        manifest = new_manifest(head, conn.dialect.name, with_password_hashes=with_password_hashes,
                                secret_key=source.secret_key)
        if previous is not None and not resumable(previous, manifest):
            progress("the folder holds an export made differently: writing it again")
            previous = None
        done = {t["name"]: t for t in (previous or {}).get("tables", [])}
        for table in tables():
            manifest["tables"].append(_export_table(conn, table, out_dir, done.get(table.name),
                                                    with_password_hashes, progress, meter))
            _write_json(out_dir / MANIFEST, manifest)
        manifest["missing_files"] = _missing_attachments(conn, source)
    _export_files(source, out_dir, manifest, {f["path"]: f for f in (previous or {}).get("files", [])}, progress,
                  meter)
    if with_secrets_key:
        _export_secrets(source, out_dir, manifest)
    manifest["complete"] = True
    _write_json(out_dir / MANIFEST, manifest)
    with Session(db.get_engine(source.database_url)) as session, session.begin():
        audit.record(session, actor, "handover.exported", "instance", "all", tables=len(manifest["tables"]),
                     rows=sum(t["rows"] for t in manifest["tables"]), files=len(manifest["files"]),
                     with_password_hashes=with_password_hashes, with_secrets_key=with_secrets_key)
    return manifest


def _export_table(conn: Connection, table: sa.Table, out_dir: Path, done: dict[str, Any] | None,
                  with_password_hashes: bool, progress: Progress, meter: Meter, *, fast: bool = True
                  ) -> dict[str, Any]:
    rel = f"tables/{table.name}.jsonl"
    path = out_dir / rel
    total = conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0
    if done is not None and path.is_file() and sha256_of(path) == (done["bytes"], done["sha256"]) and \
            total == done["rows"]:
        progress(f"{table.name}: {done['rows']} rows, written before")
        return done
    meter(table.name, 0, total, "rows")
    columns = exported_columns(table, with_password_hashes=with_password_hashes)
    digest, size, rows = hashlib.sha256(), 0, 0
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as out:
        server_made = _pg_lines(conn, table, columns) if fast and conn.dialect.name == "postgresql" else None
        blocks, nonfinite = server_made or _python_lines(conn, table, with_password_hashes)
        for block, n in blocks:
            out.write(block)
            digest.update(block)
            size, rows = size + len(block), rows + n
            meter(table.name, rows, max(total, rows), "rows")
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
    entry: dict[str, Any] = {"name": table.name, "file": rel, "rows": rows, "bytes": size,
                             "sha256": digest.hexdigest(), "columns": columns}
    if nonfinite():
        entry["nonfinite_as_null"] = nonfinite()
    progress(f"{table.name}: {rows} rows, {size} bytes")
    return entry


Lines = Iterator[tuple[bytes, int]]  # blocks of a table file, each with its number of lines


def _python_lines(conn: Connection, table: sa.Table, with_password_hashes: bool) -> tuple[Lines, Callable[[], int]]:
    """The plain path (any database): rows read in batches, each written by `RowEncoder`."""
    encode = RowEncoder(table, with_password_hashes=with_password_hashes)
    stmt = sa.select(table).order_by(*table.primary_key.columns).execution_options(yield_per=BATCH)

    def blocks() -> Lines:
        for part in conn.execute(stmt).partitions():
            yield "".join([encode(row) + "\n" for row in part]).encode("utf-8"), len(part)

    return blocks(), lambda: encode.nonfinite


def _missing_attachments(conn: Connection, source: Instance) -> list[str]:
    folder = source.folders()["attachments"]
    digests = conn.scalars(sa.select(models.Attachment.sha256).distinct().order_by(models.Attachment.sha256))
    return [f"attachments/{d[:2]}/{d}" for d in digests if not (folder / d[:2] / d).is_file()]


def _export_files(source: Instance, out_dir: Path, manifest: dict[str, Any], done: dict[str, dict[str, Any]],
                  progress: Progress, meter: Meter) -> None:
    for name, folder in source.folders().items():
        count = size = 0
        total = sum(p.stat().st_size for p in _files_under(folder))  # a first walk: how much there is
        meter(f"files/{name}", 0, total, "bytes")
        for src in _files_under(folder):
            rel = f"files/{name}/{src.relative_to(folder).as_posix()}"
            dst, before = out_dir / rel, done.get(rel)
            if before is not None and dst.is_file() and src.stat().st_size == before["bytes"] and \
                    sha256_of(dst) == (before["bytes"], before["sha256"]):
                entry = before
            else:
                n, digest = _copy(src, dst)
                entry = {"path": rel, "bytes": n, "sha256": digest}
            manifest["files"].append(entry)
            count, size = count + 1, size + entry["bytes"]
            meter(f"files/{name}", size, max(total, size), "bytes")
            if count % 500 == 0:
                _write_json(out_dir / MANIFEST, manifest)
        progress(f"files/{name}: {count} files, {size} bytes")
    if manifest["missing_files"]:
        progress(f"warning: {len(manifest['missing_files'])} attachments have no file in {source.data_dir}: listed "
                 "as missing_files in the manifest")


def _export_secrets(source: Instance, out_dir: Path, manifest: dict[str, Any]) -> None:
    folder = out_dir / "secrets"
    folder.mkdir(mode=0o700, exist_ok=True)
    key = folder / SECRET_KEY_FILE
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(source.secret_key + "\n")
    written = [key]
    vapid = source.data_dir / VAPID_KEY_FILENAME
    if vapid.is_file():
        _copy(vapid, folder / VAPID_KEY_FILENAME, mode=0o600)
        written.append(folder / VAPID_KEY_FILENAME)
    for path in written:
        size, digest = sha256_of(path)
        manifest["secrets"].append({"path": f"secrets/{path.name}", "bytes": size, "sha256": digest})


# -- PostgreSQL: the same lines made by the server, the same rows loaded by COPY ---------------------------------------
# What makes a handover of a million events fit its goal (docs/benchmarks.md, "Handover");
# tests/test_handover_formats.py holds these paths to the plain paths' lines and rows.

_PG_TIME = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'  # datetime.isoformat(timespec="microseconds") of a UTC time
# CSV with a delimiter and a quote that JSON text never holds raw: each line comes out exactly as the server made it.
_PG_COPY_OUT = "COPY ({}) TO STDOUT (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"
_NONFINITE = ("NaN", "Infinity", "-Infinity")


def _pg_value(column: sa.Column[Any]) -> sa.ColumnElement[Any] | None:
    """SQL for ``column``'s value as JSON text, as `RowEncoder` writes it (None: a type this does not know)."""
    kind, text = _python_type(column), sa.cast(column, sa.Text)
    if isinstance(column.type, sa.JSON):
        # json keeps its input's layout: a line break between two tokens (never inside a string) would end the line
        value: sa.ColumnElement[Any] = sa.func.translate(text, "\n\r", "  ")
    elif kind is datetime:
        value = sa.literal('"', sa.Text) + sa.func.to_char(column, _PG_TIME) + sa.literal('"', sa.Text)
    elif kind is date:
        value = sa.literal('"', sa.Text) + sa.func.to_char(column, "YYYY-MM-DD") + sa.literal('"', sa.Text)
    elif kind is bytes:
        value = sa.literal('"', sa.Text) + sa.func.translate(sa.func.encode(column, "base64"), "\n", "") + \
            sa.literal('"', sa.Text)
    elif kind is float:
        value = sa.case((text.in_(_NONFINITE), "null"), else_=text)
    elif kind in (int, bool, str):
        value = sa.cast(sa.func.to_json(column), sa.Text)
    else:
        return None
    return sa.func.coalesce(value, "null")


def _pg_line(table: sa.Table, columns: list[str]) -> sa.ColumnElement[Any] | None:
    """One row's line, made by PostgreSQL (None when a column's type has no such SQL: the plain path then)."""
    parts: list[sa.ColumnElement[Any]] = []
    for i, name in enumerate(columns):
        value = _pg_value(table.c[name])
        if value is None:
            return None
        parts += [sa.literal(("{" if i == 0 else ",") + json.dumps(name) + ":", sa.Text), value]
    line = parts[0]
    for part in [*parts[1:], sa.literal("}", sa.Text)]:
        line = line + part
    return line


def _pg_lines(conn: Connection, table: sa.Table, columns: list[str]) -> tuple[Lines, Callable[[], int]] | None:
    line = _pg_line(table, columns)
    if line is None:
        return None
    query = sa.select(line).select_from(table).order_by(*table.primary_key.columns)
    sql = _PG_COPY_OUT.format(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    floats = [sa.cast(c, sa.Text).in_(_NONFINITE) for c in table.columns
              if c.name in columns and _python_type(c) is float]
    nonfinite = conn.scalar(sa.select(sa.func.count()).select_from(table).where(sa.or_(*floats))) if floats else 0

    def blocks() -> Lines:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(sql) as copy:
            pending: list[bytes] = []
            for row in copy:  # libpq hands one row at a time: gathered into blocks of BATCH rows
                pending.append(bytes(row))
                if len(pending) >= BATCH:
                    yield b"".join(pending), len(pending)
                    pending.clear()
            if pending:
                yield b"".join(pending), len(pending)

    return blocks(), lambda: nonfinite or 0


def _pg_copy_in(conn: Connection, table: sa.Table, rows: Iterator[dict[str, Any]]) -> None:
    """The rows into ``table`` by one COPY; JSON as its text (None is SQL NULL where the column may be NULL)."""
    import psycopg  # the PostgreSQL driver: there when this runs

    quote = conn.dialect.identifier_preparer.quote
    names = [c.name for c in table.columns]
    as_json = [(i, c.nullable) for i, c in enumerate(table.columns) if isinstance(c.type, sa.JSON)]
    sql = f"COPY {quote(table.name)} ({', '.join(quote(name) for name in names)}) FROM STDIN"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                values = [row[name] for name in names]
                for i, nullable in as_json:
                    if values[i] is not None or not nullable:
                        values[i] = _JSON_TEXT(values[i])
                copy.write_row(values)
    except psycopg.Error as exc:
        raise _Refused.because(exc) from None


@contextmanager
def _indexes_set_aside(conn: Connection, progress: Progress) -> Iterator[None]:
    """PostgreSQL: the plain indexes dropped while the rows go in, and built again after (as pg_restore does: one
    sort each instead of an update per row), in the import's transaction. Those of keys and constraints stay."""
    if conn.dialect.name != "postgresql":
        yield
        return
    found = conn.execute(sa.text(
        "SELECT quote_ident(c.relname), pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
        "WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(:tables) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY 1"),
        {"tables": [t.name for t in tables()]}).all()
    for name, _definition in found:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    yield
    for _name, definition in found:
        conn.exec_driver_sql(definition)
    progress(f"{len(found)} indexes built")


_JSON_TEXT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


# -- import ----------------------------------------------------------------------------------------------------------


def import_(in_dir: Path, target: Instance | None = None, *, actor: str = "cli",
            progress: Progress = _quiet, meter: Meter = _still) -> dict[str, Any]:
    """Load a complete export into ``target`` (the configured instance by default), a fresh instance; returns the
    manifest. Nothing is changed unless everything checks. ``progress`` and ``meter`` as for `export`."""
    target = target or Instance.configured()
    manifest = read_manifest(in_dir)
    if manifest is None:
        raise Invalid(N_("%(dir)s holds no manifest.json: it is not an IOC export"), dir=str(in_dir))
    check_manifest(manifest, migrate.head())
    install_key = _secret_key_plan(manifest, in_dir, target, progress)
    _verify(in_dir, manifest, progress, meter)
    target.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.get_engine(target.database_url)
    migrate.upgrade(engine=engine)
    with Session(engine) as session, session.begin():
        conn = session.connection()
        _check_fresh(conn)
        audit.allow_maintenance(conn)  # the seeded audit rows make way for the export's chain
        for table in reversed(tables()):
            conn.execute(table.delete())
        fill = fillers(db.utcnow())
        order = [t.name for t in tables()]
        with _indexes_set_aside(conn, progress):
            for entry in sorted(manifest["tables"], key=lambda t: order.index(t["name"])):
                _load_table(conn, db.Base.metadata.tables[entry["name"]], in_dir, entry, fill.get(entry["name"], {}),
                            progress, meter)
        _reset_sequences(conn)
        _import_files(in_dir, manifest, target, progress, meter)
        audit.record(session, actor, "handover.imported", "instance", "all", exported_at=manifest["exported_at"],
                     rows=sum(t["rows"] for t in manifest["tables"]), files=len(manifest["files"]))
    if manifest["secrets"]:
        _install_secrets(in_dir, target, install_key)
    if not manifest["with_password_hashes"] and any(t["name"] == "users" and t["rows"] for t in manifest["tables"]):
        progress("the accounts have no password: set one for each person with ioc user password NAME (or use "
                 "single sign-on)")
    return manifest


def _secret_key_plan(manifest: dict[str, Any], in_dir: Path, target: Instance, progress: Progress) -> bool:
    """Whether the export's secret key is to be installed; refuses when it cannot be, warns when it did not come."""
    if manifest.get("secret_key_check") == secret_key_check(target.secret_key):
        return False
    if not any(s["path"] == f"secrets/{SECRET_KEY_FILE}" for s in manifest["secrets"]):
        progress("warning: this instance's secret key is not the exported instance's: the cameras' and sources' "
                 "stored credentials cannot be read until IOC_SECRET_KEY is set to the old key (or they are entered "
                 "again)")
        return False
    if target.key_file is None:
        raise Conflict(N_("IOC_SECRET_KEY is not the exported instance's key: set it to the key in %(path)s and "
                          "import again"), path=str(in_dir / "secrets" / SECRET_KEY_FILE))
    return True


def _verify(in_dir: Path, manifest: dict[str, Any], progress: Progress, meter: Meter) -> None:
    entries = [*manifest["tables"], *manifest["files"], *manifest["secrets"]]
    total, checked = sum(e["bytes"] for e in entries if isinstance(e.get("bytes"), int)), 0
    meter("checking the export", 0, total, "bytes")
    for entry in entries:
        rel = entry.get("file") or entry["path"]
        path = in_dir / safe_path(rel)
        if not path.is_file():
            raise Invalid(N_("%(path)s is missing from the export"), path=rel)
        if sha256_of(path) != (entry.get("bytes"), entry.get("sha256")):
            raise Invalid(N_("%(path)s does not match the manifest (size or SHA-256): the export was altered or "
                             "damaged"), path=rel)
        checked += entry["bytes"]
        meter("checking the export", checked, total, "bytes")
    progress(f"{len(entries)} files match the manifest")


def _check_fresh(conn: Connection) -> None:
    for table in tables():
        query = sa.select(sa.literal(1)).select_from(table).limit(1)
        if table.name == "audit_log":
            query = query.where(table.c.action.not_in(SEED_ACTIONS))
        elif table.name in SEEDED:
            continue
        if conn.scalar(query) is not None:
            raise Conflict(N_("This instance already holds data (table %(table)s): import into a fresh one, a new "
                              "empty database after ioc db upgrade"), table=table.name)


def _insertable(table: sa.Table) -> sa.TableClause:
    """The table for INSERTs: a JSON column that may be NULL gets NULL for None, not JSON's null."""
    return sa.table(table.name, *(sa.column(c.name, sa.JSON(none_as_null=True)
                                            if isinstance(c.type, sa.JSON) and c.nullable else c.type)
                                  for c in table.columns))


def _load_table(conn: Connection, table: sa.Table, in_dir: Path, entry: dict[str, Any],
                fill: dict[str, Callable[[dict[str, Any]], None]], progress: Progress, meter: Meter, *,
                fast: bool = True) -> None:
    decode = RowDecoder(table, entry["columns"], fill)
    (pk, *more) = table.primary_key.columns
    # A row referring to a row of its own table further on (a unit's parent) gets the reference once that is in.
    self_refs = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table] if not more else []
    later: list[tuple[Any, str, Any]] = []
    rows, total = 0, entry["rows"]
    meter(table.name, 0, total, "rows")

    def decoded() -> Iterator[dict[str, Any]]:
        nonlocal rows
        with (in_dir / entry["file"]).open(encoding="utf-8") as lines:
            for rows, line in enumerate(lines, 1):  # noqa: B007 - rows: how far it is, for a refusal's message
                row = decode(line, rows)
                for name in self_refs:
                    if row[name] is not None and row[name] >= row[pk.name]:
                        later.append((row[pk.name], name, row[name]))
                        row[name] = None
                yield row
                if rows % BATCH == 0:
                    meter(table.name, rows, max(total, rows), "rows")

    try:
        (_pg_copy_in if fast and conn.dialect.name == "postgresql" else _insert_in)(conn, table, decoded())
    except _Refused as exc:
        raise Invalid(N_("%(table)s, rows up to line %(line)s: the database refused them: %(reason)s"),
                      table=table.name, line=rows, reason=str(exc)) from None
    meter(table.name, rows, max(total, rows), "rows")
    for key, name, ref in later:
        conn.execute(table.update().where(pk == key).values({name: ref}))
    if rows != entry["rows"]:
        raise Invalid(N_("%(table)s: %(rows)s rows, the manifest says %(expected)s"), table=table.name, rows=rows,
                      expected=entry["rows"])
    progress(f"{table.name}: {rows} rows")


def _insert_in(conn: Connection, table: sa.Table, rows: Iterator[dict[str, Any]]) -> None:
    """The plain path (any database): INSERTs of BATCH rows."""
    insert = _insertable(table).insert()
    batch: list[dict[str, Any]] = []
    try:
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                conn.execute(insert, batch)
                batch.clear()
        if batch:
            conn.execute(insert, batch)
    except sa.exc.DBAPIError as exc:
        raise _Refused.because(exc.orig or exc) from None


class _Refused(Exception):
    """The database refused rows (a constraint, a value of the wrong type): the reason, in its first line."""

    @classmethod
    def because(cls, exc: BaseException) -> _Refused:
        return cls((str(exc).strip().splitlines() or ["refused"])[0])


def _reset_sequences(conn: Connection) -> None:
    """PostgreSQL: each table's id sequence goes on after the ids the export brought."""
    if conn.dialect.name != "postgresql":
        return  # SQLite gives the next id after the largest
    for table in tables():
        (pk, *more) = table.primary_key.columns
        if more or _python_type(pk) is not int:
            continue
        sequence = conn.scalar(sa.select(sa.func.pg_get_serial_sequence(table.name, pk.name)))
        if sequence:
            highest = sa.select(sa.func.coalesce(sa.func.max(pk), 0)).scalar_subquery()
            conn.execute(sa.select(sa.func.setval(sequence, highest + 1, False)))


def _import_files(in_dir: Path, manifest: dict[str, Any], target: Instance, progress: Progress,
                  meter: Meter) -> None:
    folders = target.folders()
    counts: dict[str, int] = {}
    total, copied = sum(e["bytes"] for e in manifest["files"]), 0
    meter("files", 0, total, "bytes")
    for entry in manifest["files"]:
        top, name, *rest = safe_path(entry["path"]).parts
        if top != "files" or name not in folders or not rest:
            raise Invalid(N_("The manifest names a file outside the export's folders: %(path)s"), path=entry["path"])
        if _copy(in_dir / entry["path"], folders[name].joinpath(*rest)) != (entry["bytes"], entry["sha256"]):
            raise Invalid(N_("%(path)s changed while it was imported"), path=entry["path"])
        counts[name] = counts.get(name, 0) + 1
        copied += entry["bytes"]
        meter("files", copied, total, "bytes")
    for name, folder in folders.items():
        progress(f"files/{name}: {counts.get(name, 0)} files into {folder}")


def _install_secrets(in_dir: Path, target: Instance, install_key: bool) -> None:
    vapid = in_dir / "secrets" / VAPID_KEY_FILENAME
    if vapid.is_file():
        _copy(vapid, target.data_dir / VAPID_KEY_FILENAME, mode=0o600)
    if install_key and target.key_file is not None:
        _copy(in_dir / "secrets" / SECRET_KEY_FILE, target.key_file, mode=0o600)
