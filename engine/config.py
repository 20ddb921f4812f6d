"""Settings, read from environment variables once per process.

| variable            | default                          | meaning                                   |
|---------------------|----------------------------------|-------------------------------------------|
| IOC_DATA_DIR        | ./var                            | SQLite file, embedded Redis, uploads      |
| IOC_DATABASE_URL    | sqlite:///$IOC_DATA_DIR/ioc.db   | SQLAlchemy URL (PostgreSQL in production) |
| IOC_REDIS_URL       | (embedded server)                | redis:// or unix:// URL                   |
| IOC_SECRET_KEY      | (generated, see below)           | session and CSRF signing key              |
| IOC_ENV             | development                      | ``production`` requires IOC_SECRET_KEY    |
| IOC_PROCESSES_DIR   | ./processes of the repository    | BPMN files deployed at start              |
| IOC_RULES_DIR       | ./rules of the repository        | rule files                                |
| IOC_TIMEZONE        | Asia/Ho_Chi_Minh                 | time zone of displayed times              |
| IOC_LIVE_WORKFLOWS  | 2000                             | workflows kept in memory between actions  |
| IOC_FRAME_ANCESTORS | (none: only this site)           | other origins that may frame the pages,   |
|                     |                                  | e.g. ``https://wall.thanhhoa.gov.vn``     |
| IOC_OIDC_*          | (none: local accounts only)      | OpenID Connect single sign-on: see        |
|                     |                                  | ``engine/identities.py``                  |
| IOC_SANDBOX_TIME_LIMIT_S | 1                           | wall-clock limit of one condition or      |
|                     |                                  | script (``engine/sandbox.py``); one engine|
|                     |                                  | step's together: 5 times this             |
| IOC_SANDBOX_MEMORY_MB | 256                            | memory (address space) of the sandbox's   |
|                     |                                  | worker processes                          |
| IOC_TIMER_MIN_CYCLE_S | 60                             | shortest timer cycle a model may deploy   |
|                     |                                  | (``R5/PT30S`` is refused by default)      |
| IOC_TIMER_MAX_REPETITIONS | 10000                      | most repetitions a timer cycle may name   |
|                     |                                  | (``R/…`` without a count is allowed)      |
| IOC_LIVE_MAX_STREAMS | 1200                            | live streams (``/api/v1/stream``) one web |
|                     |                                  | process serves at once; the next gets 503 |
|                     |                                  | (``web/server.py`` sizes its threads and  |
|                     |                                  | connections from it)                      |

Without IOC_SECRET_KEY, outside production, the first start generates a random key and keeps it in
``$IOC_DATA_DIR/secret_key`` (mode 600); later starts, and the worker beside the web server, reuse it. A key
written in the source would let anyone who has read the source sign an administrator's session cookie.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY_FILE = "secret_key"  # noqa: S105 - the name of the file that holds the key, not a key
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says which."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    env: str
    processes_dir: Path
    rules_dir: Path
    timezone: str
    frame_ancestors: tuple[str, ...] = ()  # origins besides this site's that may frame it
    sandbox_time_limit_s: float = 1.0
    sandbox_memory_mb: int = 256
    timer_min_cycle_s: float = 60.0
    timer_max_repetitions: int = 10_000
    live_max_streams: int = 1_200

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def check_production(self) -> None:
        """Refuse to run in production without a configured secret key of a safe length."""
        if self.env == "production" and not self.secret_key:
            raise ConfigError("IOC_SECRET_KEY must be set to a secret value when IOC_ENV=production")
        if self.env == "production" and len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError("IOC_SECRET_KEY must be at least 32 characters long when IOC_ENV=production")


def generated_secret_key(data_dir: Path) -> str:
    """The key kept in the data directory, made on first use: random, mode 600, never replaced. Two processes
    starting at once agree on one key (the file appears whole, by a hard link, or not at all)."""
    path = data_dir / SECRET_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"{path} holds a key shorter than {MIN_SECRET_KEY_LENGTH} characters; remove it to make "
                          "a new one")
    return key


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    data_dir = Path(env.get("IOC_DATA_DIR") or "var").resolve()
    database_url = env.get("IOC_DATABASE_URL") or f"sqlite:///{data_dir / 'ioc.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=env.get("IOC_REDIS_URL") or None,
        secret_key=_secret_key(env, data_dir),
        env=env.get("IOC_ENV", "development"),
        processes_dir=Path(env.get("IOC_PROCESSES_DIR") or REPO_ROOT / "processes"),
        rules_dir=Path(env.get("IOC_RULES_DIR") or REPO_ROOT / "rules"),
        timezone=env.get("IOC_TIMEZONE", "Asia/Ho_Chi_Minh"),
        frame_ancestors=_origins(env.get("IOC_FRAME_ANCESTORS", "")),
        sandbox_time_limit_s=_positive(env, "IOC_SANDBOX_TIME_LIMIT_S", 1.0),
        sandbox_memory_mb=int(_positive(env, "IOC_SANDBOX_MEMORY_MB", 256, whole=True)),
        timer_min_cycle_s=_positive(env, "IOC_TIMER_MIN_CYCLE_S", 60.0),
        timer_max_repetitions=int(_positive(env, "IOC_TIMER_MAX_REPETITIONS", 10_000, whole=True)),
        live_max_streams=int(_positive(env, "IOC_LIVE_MAX_STREAMS", 1_200, whole=True)),
    )


def _positive(env: dict[str, str], name: str, default: float, *, whole: bool = False) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf") or (whole and not value.is_integer()):
        raise ConfigError(f"{name} must be a positive {'whole ' if whole else ''}number, not {text!r}")
    return value


def _secret_key(env: dict[str, str], data_dir: Path) -> str:
    if env.get("IOC_SECRET_KEY"):
        return env["IOC_SECRET_KEY"]
    if env.get("IOC_ENV", "development") == "production":
        return ""  # check_production refuses to start
    return generated_secret_key(data_dir)


ORIGIN = re.compile(r"https?://(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?", re.IGNORECASE)


def _origins(value: str) -> tuple[str, ...]:
    """Origins separated by spaces or commas; anything else (a path, a quote, ``*``) is refused."""
    origins = tuple(v for v in re.split(r"[\s,]+", value) if v)
    bad = [o for o in origins if not ORIGIN.fullmatch(o)]
    if bad:
        raise ConfigError(f"IOC_FRAME_ANCESTORS: {bad[0]!r} is not an origin such as https://wall.example.gov.vn")
    return origins


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()
