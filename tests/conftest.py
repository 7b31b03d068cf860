"""End-to-end fixtures: the real service (daphne) in a subprocess on the test database."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url_of_this_test_run() -> str:
    db = connection.settings_dict
    host = db["HOST"] or "127.0.0.1"
    if host.startswith("/"):  # an embedded server's Unix socket
        return f"postgresql://{db['USER']}@/{db['NAME']}?host={host}"
    return f"postgresql://{db['USER']}:{db['PASSWORD']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def service_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url_of_this_test_run(),
        REDIS_URL=settings.REDIS_URL,
        REDIS_PREFIX=settings.REDIS_PREFIX,
        SECRET_KEY=settings.SECRET_KEY,
        API_KEY_PEPPER=settings.API_KEY_PEPPER,
        **extra,
    )
    return env


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port} after {timeout} s")


@dataclass
class Service:
    url: str
    ws_url: str


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_daphne(**env: str) -> Iterator[Service]:
    """daphne serving callwaiting_tts.asgi on a free port, as `make run` starts it, with the test
    database and Redis and `env` on top."""
    port = free_port()
    argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
            "callwaiting_tts.asgi:application"]  # fmt: skip
    process = subprocess.Popen(argv, cwd=ROOT, env=service_env(**env), stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield Service(url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}")
    finally:
        stop(process)


def wait_until_sockets_are_done(timeout: float = 15) -> None:
    """Waits until daphne has finished with every socket: a synthesis's lease is released last,
    after its usage record is written."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            keys = list(client.scan_iter(f"{settings.REDIS_PREFIX}:lease:*"))
            if not any(client.zcard(key) for key in keys):
                return
            time.sleep(0.05)
    finally:
        client.close()


@pytest.fixture(scope="session")
def _daphne(django_db_setup: None, django_db_blocker: Any) -> Iterator[Service]:
    """The service once per session (it keeps no state; tests that use it commit their data,
    see `service`). Room for the 100-connection test on one tenant, and a queue wait as long as
    its own patience (on a slow day its last sentences wait more than the default 30 s for one
    of two workers); the limits themselves are tested in-process with lower settings
    (synthesis/tests/test_realtime_limits.py)."""
    with (
        django_db_blocker.unblock(),
        running_daphne(
            TTS_MAX_CONCURRENT_PER_TENANT="200",
            WS_MAX_CONNECTIONS_PER_TENANT="200",
            TTS_QUEUE_TIMEOUT_SECONDS="180",
        ) as service,
    ):
        yield service


@pytest.fixture
def service(_daphne: Service, transactional_db: None) -> Service:
    """The real service; the test's data is committed, so daphne's own connections see it."""
    return _daphne
