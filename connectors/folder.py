"""Files dropped by a source: a watched local folder (``folder``) or a directory on an FTP server (``ftp``).

Each new file's bytes go to the parser named by ``config["parser"]``, looked up in ``PARSERS``; other modules
register their own (a station-file format) with ``register``. A parser is ``(content, filename, source)`` →
items; it raises ``ValueError`` (or anything) when it cannot read the file at all, and yields ``BadRecord``
for single bad records.

``state["files"]`` maps each file name seen to ``{"size", "mtime", "status": "read" | "failed"}``: a file
is read once, again only when its size or modification time changes. A file that cannot be read at all is
reported as ``BadRecord(index=0, field=filename)`` and remembered as failed, so it is not retried on every
poll; the ``folder`` kind moves it to ``quarantine/`` when asked to. Names that are gone are forgotten.
"""

from __future__ import annotations

import ftplib
import io
import logging
import posixpath
import shutil
import ssl
import time
from collections.abc import Callable, Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, ClassVar

from connectors import plain_events
from connectors.base import AuthFailed, BadConfig, BadRecord, Connector, Item, NotReady

Parser = Callable[[bytes, str, str], Iterator[Item]]
PARSERS: dict[str, Parser] = {
    "json_events": plain_events.json_events,
    "csv_events": plain_events.csv_events,
}
log = logging.getLogger("ioc.connectors.folder")


def register(name: str) -> Callable[[Parser], Parser]:
    """Decorator: make a parser available to file connectors as ``config["parser"] = name``."""
    def add(parser: Parser) -> Parser:
        PARSERS[name] = parser
        return parser
    return add


_PARSER = {"type": "string", "minLength": 1, "description": "a name in connectors.folder.PARSERS"}
_PATTERN = {"type": "string", "minLength": 1, "default": "*", "description": "glob of the file names to read"}


class _FileSource(Connector):
    """What both kinds share: the parser, the state of the files seen, reading one file."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.config["parser"] not in PARSERS:
            raise BadConfig(f"the {self.kind} configuration is not valid",
                            [f"parser: unknown parser {self.config['parser']!r} (known: {', '.join(sorted(PARSERS))})"])

    def _new_files(self, state: dict[str, Any], listing: dict[str, tuple[int, str]]) -> list[str]:
        """Names listed whose size and time differ from what ``state`` remembers (sorted); forget the rest."""
        seen = state.setdefault("files", {})
        for gone in set(seen) - set(listing):
            del seen[gone]

        def changed(name: str) -> bool:
            known = seen.get(name) or {}
            return (known.get("size"), known.get("mtime")) != listing[name]
        return sorted(filter(changed, listing))

    def _read(self, state: dict[str, Any], name: str, stamp: tuple[int, str], content: bytes) -> Iterator[Item]:
        """The file's items, all or nothing; the file is remembered once they have been handed over."""
        try:
            items = list(PARSERS[self.config["parser"]](content, name, self.source))
        except Exception as exc:  # noqa: BLE001 - one unreadable file (or a parser's bug) must not stop the others
            yield BadRecord(index=0, field=name, reason=f"{type(exc).__name__}: {exc}")
            self._failed(name)
            state["files"][name] = {"size": stamp[0], "mtime": stamp[1], "status": "failed"}
            return
        yield from items
        state["files"][name] = {"size": stamp[0], "mtime": stamp[1], "status": "read"}

    def _failed(self, name: str) -> None:
        """What to do with a file that cannot be read, besides reporting it."""


class Folder(_FileSource):
    """A local directory a source writes files into (a share, an rsync target, an upload folder)."""

    kind: ClassVar[str] = "folder"
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["path", "parser"],
        "properties": {
            "path": {"type": "string", "minLength": 1},
            "pattern": _PATTERN,
            "parser": _PARSER,
            "quarantine": {"type": "boolean", "default": False,
                           "description": "move files that cannot be read to quarantine/ inside the folder"},
            "min_age_s": {"type": "number", "minimum": 0, "default": 5,
                          "description": "leave files younger than this alone: they may still be being written"},
        },
    }

    def poll(self, state: dict[str, Any]) -> Iterator[Item]:
        folder = Path(self.config["path"])
        listing: dict[str, tuple[int, str]] = {}
        settled_before = time.time() - self.config.get("min_age_s", 5)
        try:
            paths = list(folder.glob(self.config.get("pattern", "*")))
            if not folder.is_dir():
                raise NotADirectoryError(f"no folder {folder}")
        except OSError as exc:
            raise NotReady(f"cannot list the folder {folder}: {exc}") from exc
        for path in paths:
            try:
                info = path.stat()
            except FileNotFoundError:
                continue  # taken away since the listing
            if path.is_file() and info.st_mtime <= settled_before:
                listing[path.name] = (info.st_size, str(info.st_mtime_ns))
        for name in self._new_files(state, listing):
            try:
                content = (folder / name).read_bytes()
            except FileNotFoundError:
                continue  # taken away between listing and reading
            except OSError as exc:
                raise NotReady(f"cannot read {folder / name}: {exc}") from exc
            yield from self._read(state, name, listing[name], content)

    def _failed(self, name: str) -> None:
        if not self.config.get("quarantine"):
            return
        folder = Path(self.config["path"])
        target = folder / "quarantine" / name
        if target.exists():
            target = target.with_name(f"{time.strftime('%Y%m%dT%H%M%S')}-{name}")
        try:
            target.parent.mkdir(exist_ok=True)
            shutil.move(folder / name, target)
        except OSError as exc:
            log.warning("%s: cannot move %s to quarantine: %s", self.source, name, exc)


class Ftp(_FileSource):
    """A directory on an FTP (or FTPS) server that a source uploads files to."""

    kind: ClassVar[str] = "ftp"
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["host", "parser"],
        "properties": {
            "host": {"type": "string", "minLength": 1},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 21},
            "user": {"type": "string", "default": "anonymous"},
            "password": {"type": "string", "x-secret": True, "default": ""},
            "directory": {"type": "string", "default": "/"},
            "pattern": _PATTERN,
            "parser": _PARSER,
            "passive": {"type": "boolean", "default": True},
            "tls": {"type": "boolean", "default": False, "description": "explicit FTPS (AUTH TLS), data channel too"},
            "ca_file": {"type": "string", "description": "CA certificates (PEM) of a private FTPS server; with tls"},
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 30},
        },
    }

    def poll(self, state: dict[str, Any]) -> Iterator[Item]:
        ftp = self._connect()
        try:
            listing = {name: stamp for name, stamp in self._list(ftp).items()
                       if fnmatch(name, self.config.get("pattern", "*"))}
            for name in self._new_files(state, listing):
                buffer = io.BytesIO()
                try:
                    ftp.retrbinary(f"RETR {name}", buffer.write)
                except ftplib.error_perm as exc:  # this file only: not ours to read
                    yield BadRecord(index=0, field=name, reason=f"the server refused the file: {exc}")
                    state["files"][name] = {"size": listing[name][0], "mtime": listing[name][1], "status": "failed"}
                    continue
                yield from self._read(state, name, listing[name], buffer.getvalue())
        except ftplib.all_errors as exc:
            raise NotReady(f"FTP {self.config['host']}: {exc}") from exc
        finally:
            ftp.close()

    def _connect(self) -> ftplib.FTP:
        c = self.config
        # S321: the stations' loggers speak FTP; "tls": true gives FTPS (certificate checked) where offered
        ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=c.get("ca_file"))) if c.get("tls") \
            else ftplib.FTP()  # noqa: S321
        try:
            ftp.connect(c["host"], c.get("port", 21), timeout=c.get("timeout_s", 30))
            ftp.login(c.get("user", "anonymous"), c.get("password", ""))
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            ftp.set_pasv(c.get("passive", True))
            ftp.cwd(c.get("directory", "/"))
        except ftplib.error_perm as exc:
            ftp.close()
            if str(exc).startswith("530"):
                raise AuthFailed(f"FTP {c['host']} refused the login of {c.get('user', 'anonymous')!r}") from exc
            raise NotReady(f"FTP {c['host']}: {exc}") from exc
        except ftplib.all_errors as exc:
            ftp.close()
            raise NotReady(f"FTP {c['host']}:{c.get('port', 21)}: {exc}") from exc
        return ftp

    @staticmethod
    def _list(ftp: ftplib.FTP) -> dict[str, tuple[int, str]]:
        """Plain files as name → (size, modification time): MLSD, or NLST + SIZE + MDTM on older servers."""
        try:
            return {name: (int(facts["size"]), facts.get("modify", "")) for name, facts
                    in ftp.mlsd(facts=["type", "size", "modify"]) if facts.get("type") == "file" and "size" in facts}
        except ftplib.error_perm as exc:
            if str(exc)[:3] not in ("500", "501", "502", "504"):
                raise
        names = [posixpath.basename(n) for n in ftp.nlst()]
        ftp.voidcmd("TYPE I")  # SIZE counts bytes only in binary mode (NLST has just set ASCII)
        listing = {}
        for name in names:
            try:
                size = ftp.size(name)
                mtime = ftp.sendcmd(f"MDTM {name}").split()[-1]
            except ftplib.error_perm:
                continue  # a directory, or a file we may not see
            if size is not None:
                listing[name] = (size, mtime)
        return listing
