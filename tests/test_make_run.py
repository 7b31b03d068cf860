"""`make run`'s supervisor as a user meets it: migrates, ensures the demo tenant, prints a key,
serves it, and Ctrl-C stops everything. Runs twice on one scratch database (idempotence)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis
from django.conf import settings
from psycopg import sql

from tests.conftest import ROOT, database_url_of_this_test_run, free_port

FRESH_LAPTOP_UNSET = {"SECRET_KEY", "API_KEY_PEPPER", "ALLOWED_HOSTS", "CWTTS_DEV_STACK", "DEBUG"}
KEY_LINE = re.compile(r"API key: (cw_[a-z0-9]{12}_[A-Za-z0-9_\-]+)")


@pytest.fixture
def scratch_database_url(django_db_blocker) -> Iterator[str]:
    name = f"cwtts_runtest_{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        base = database_url_of_this_test_run()
    server = base.rsplit("/", 1)[0] + "/postgres" if "?host=" not in base else base
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield base.replace(base.split("/")[-1].split("?")[0], name, 1)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


class Supervisor:
    def __init__(self, database_url: str, port: int) -> None:
        # A fresh laptop: nothing of the test run's own dev secrets or flags (the supervisor
        # makes its own; processes refuse to start without them).
        bare = {k: v for k, v in os.environ.items() if k not in FRESH_LAPTOP_UNSET}
        self.redis_prefix = f"cwtts:runtest:{uuid.uuid4().hex[:6]}"
        env = dict(
            bare,
            DATABASE_URL=database_url,
            REDIS_URL=settings.REDIS_URL,
            REDIS_PREFIX=self.redis_prefix,
            HOST="127.0.0.1",
            PORT=str(port),
            TTS_WORKERS="1",
        )
        self.port = port
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := pattern.search(line):
                    return match
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("not seen: " + pattern.pattern + "\n" + "".join(self.lines[-40:]))

    def started(self, name: str) -> list[int]:
        """The PIDs the supervisor started under this name, in order."""
        pattern = re.compile(rf"stack: {re.escape(name)} started \(pid (\d+)\)")
        return [int(m[1]) for line in list(self.lines) if (m := pattern.search(line))]

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(60)


def me(port: int, key: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/me", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def ready(port: int, timeout: float = 60) -> dict:
    """/v1/health once it says ready (the workers load their engine after daphne listens)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError:
            assert time.monotonic() < deadline, "not ready before the deadline"
            time.sleep(0.2)


def speak(port: int, key: str) -> bytes:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/synthesize",
        data=json.dumps({"text": "Hello from make run.", "format": "wav"}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def port_closed(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.timeout(300)
def test_make_run_serves_the_demo_tenant_and_stops_on_ctrl_c(scratch_database_url):
    keys = []
    for _ in range(2):  # the second run reuses the migrated database and the demo tenant
        port = free_port()
        supervisor = Supervisor(scratch_database_url, port)
        try:
            keys.append(supervisor.wait_for(KEY_LINE).group(1))
            supervisor.wait_for(re.compile(r"CallWaiting TTS is running at"))
            for key in keys:  # the first run's key still works in the second
                body = me(port, key)
                assert body["tenant"]["slug"] == "demo"
                assert "synthesize" in body["api_key"]["scopes"]
            # make run started the TTS workers: readiness counts them and speech comes back.
            assert ready(port)["checks"]["tts_workers"] == {"status": "ok"}
            assert len(speak(port, keys[-1])) > 10_000
        finally:
            code = supervisor.interrupt()
        assert code == 0, "".join(supervisor.lines[-40:])
        assert port_closed(port)
    assert keys[0] != keys[1]
    with psycopg.connect(scratch_database_url) as conn:
        plans = conn.execute(
            "SELECT p.max_concurrent_streams FROM tenants_tenant t "
            "JOIN billing_plan p ON p.id = t.plan_id WHERE t.slug = 'demo'"
        ).fetchall()
    assert plans == [(100,)]


def heartbeat_pids(redis_prefix: str) -> set[int]:
    """The PIDs of the TTS workers with a live heartbeat (a worker id is host-pid-random)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = client.scan_iter(match=f"{redis_prefix}:tts:worker:*")
    return {int(key.decode().rsplit(":", 1)[1].split("-")[-2]) for key in keys}


def eventually(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not before the deadline"
        time.sleep(0.2)


@pytest.mark.timeout(180)
def test_make_run_restarts_a_killed_tts_worker_and_daphne_each_alone(scratch_database_url):
    port = free_port()
    supervisor = Supervisor(scratch_database_url, port)
    try:
        key = supervisor.wait_for(KEY_LINE).group(1)
        supervisor.wait_for(re.compile(r"CallWaiting TTS is running at"))
        assert ready(port)["checks"]["tts_workers"] == {"status": "ok"}
        (worker,) = supervisor.started("tts-piper-1")
        (daphne,) = supervisor.started("daphne")
        eventually(lambda: heartbeat_pids(supervisor.redis_prefix) == {worker})
        os.kill(worker, signal.SIGKILL)
        supervisor.wait_for(re.compile(r"tts-piper-1 exited with code -9; restarting it in 0\.5 s"))
        eventually(lambda: len(supervisor.started("tts-piper-1")) == 2)
        restarted = supervisor.started("tts-piper-1")[1]
        # The old heartbeat expires and the new worker's appears: web processes route to it.
        eventually(lambda: heartbeat_pids(supervisor.redis_prefix) == {restarted})
        assert len(speak(port, key)) > 10_000
        assert supervisor.started("daphne") == [daphne]  # the same daphne throughout
        # daphne too: the new one binds the same port and serves the same key.
        os.kill(daphne, signal.SIGKILL)
        eventually(lambda: len(supervisor.started("daphne")) == 2)
        eventually(lambda: not port_closed(port))
        assert me(port, key)["tenant"]["slug"] == "demo"
        assert supervisor.started("tts-piper-1") == [worker, restarted]
        assert supervisor.process.poll() is None
    finally:
        code = supervisor.interrupt()
    assert code == 0, "".join(supervisor.lines[-40:])
    assert port_closed(port)
