"""The bench's own stack: a scratch database and Redis prefix, daphne and TTS workers.

PostgreSQL and Redis are found the way `make run` finds them (`DATABASE_URL` / `REDIS_URL`, else
the local servers, else embedded ones under `var/`), but the bench never uses the checkout's
database: it creates `cwtts_bench_<random>` on that server, migrates it, and drops it at the end.
Every Redis key it causes carries `cwtts:bench:<random>`, and those keys (and only those) are
deleted at the end. Children run in their own sessions, so Ctrl-C reaches only the bench, which
then stops them in order; if the bench is killed outright, the kernel sends them SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from psycopg import sql

from callwaiting_tts import env
from devstack.common import VAR_DIR, Embedded, die_with_parent, redact
from devstack.postgres import (
    probe_database,
    start_embedded_postgres,
    with_dbname,
)
from devstack.redis_server import find_redis, free_port
from devstack.secrets import dev_settings

ROOT = env.BASE_DIR
STOP_DEADLINE_S = 20.0


class SetupError(RuntimeError):
    """The stack could not be set up: the bench exits non-zero."""


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _preexec() -> Callable[[], None] | None:
    # die_with_parent runs between fork and exec, which is only safe without other threads.
    return die_with_parent if threading.active_count() == 1 else None


def spawn(
    argv: Sequence[str],
    child_env: dict[str, str],
    log_file: Path,
    cwd: Path = ROOT,
) -> subprocess.Popen[bytes]:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as output:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_preexec(),
        )


def stop_process(process: subprocess.Popen[bytes], deadline_s: float = STOP_DEADLINE_S) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(deadline_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SetupError(f"process {process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise SetupError(f"nothing listens on port {port} after {timeout:.0f} s")


def _tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (threads included, children not)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass
class WorkerHandle:
    process: subprocess.Popen[bytes]
    worker_id: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kib(self) -> int:
        """VmRSS of the worker process, in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for process {self.pid}")


@dataclass
class BenchStack:
    """Everything the bench started; `close()` undoes all of it, whatever state it is in."""

    logs: Path
    token: str = field(default_factory=lambda: secrets.token_hex(4))
    server_url: str = ""  # the PostgreSQL server's maintenance database
    redis_url: str = ""
    api_key: str = ""
    port: int = 0
    daphne: subprocess.Popen[bytes] | None = None
    workers: list[WorkerHandle] = field(default_factory=list)
    handles: list[Embedded] = field(default_factory=list)
    database_created: bool = False
    _worker_count: int = 0

    @property
    def database(self) -> str:
        return f"cwtts_bench_{self.token}"

    @property
    def prefix(self) -> str:
        return f"cwtts:bench:{self.token}"

    @property
    def daphne_pid(self) -> int:
        assert self.daphne is not None, "daphne runs"
        return self.daphne.pid

    @property
    def database_url(self) -> str:
        return with_dbname(self.server_url, self.database)

    def child_env(self, **extra: str) -> dict[str, str]:
        child = dict(os.environ)
        # The bench's own stack only: nothing of a `make run` beside it (runtime.json is read
        # only when DATABASE_URL/REDIS_URL are unset) and no test settings. The dev stack's
        # secrets and flag, as `make run` passes them (settings refuse to start without).
        child.update(dev_settings())
        child.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            REDIS_PREFIX=self.prefix,
            PYTHONUNBUFFERED="1",
            **extra,
        )
        # The phrase cache off unless a section turns it on (`phrases`): the others repeat one
        # text and measure the engine, not the cache.
        if "TTS_PHRASE_CACHE_BYTES" not in extra:
            child["TTS_PHRASE_CACHE_BYTES"] = "0"
        for name in ("PIPER_NOISE_SCALE", "PIPER_NOISE_W_SCALE", "PIPER_THREADS"):
            if name not in extra:
                child.pop(name, None)  # the defaults: realistic, varied audio
        return child

    # --- servers and the scratch database -------------------------------------------------

    def find_servers(self) -> None:
        configured = env.env_str("DATABASE_URL")
        if configured:
            self.server_url = with_dbname(configured, "postgres")
            log(f"database server: DATABASE_URL ({redact(self.server_url)})")
        else:
            probe = env.env_str(
                "CWTTS_PG_PROBE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
            )
            if probe_database(probe):
                self.server_url = probe
                log(f"database server: local PostgreSQL ({redact(probe)})")
            else:
                embedded = start_embedded_postgres(VAR_DIR)
                self.handles.append(embedded)
                self.server_url = embedded.url("postgres")
                log("database server: embedded PostgreSQL")
        redis_url, embedded_redis = find_redis(var_dir=VAR_DIR)
        if embedded_redis is not None:
            self.handles.append(embedded_redis)
        self.redis_url = redis_url

    def create_database(self) -> None:
        with psycopg.connect(self.server_url, connect_timeout=5, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        self.database_created = True
        log(f"created scratch database {self.database}; Redis prefix {self.prefix}")

    def drop_database(self) -> None:
        if not self.database_created:
            return
        with psycopg.connect(self.server_url, connect_timeout=5, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.database)
                )
            )
        self.database_created = False
        log(f"dropped {self.database}")

    def redis_client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, socket_connect_timeout=5)

    def delete_redis_keys(self) -> None:
        if not self.redis_url:
            return
        client = self.redis_client()
        try:
            batch: list[bytes] = []
            removed = 0
            for key in client.scan_iter(match=f"{self.prefix}:*", count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    removed += int(client.delete(*batch))
                    batch.clear()
            if batch:
                removed += int(client.delete(*batch))
            log(f"deleted {removed} Redis keys under {self.prefix}")
        finally:
            client.close()

    # --- Django: migrate, demo tenant, daphne ----------------------------------------------

    def manage(self, *args: str, timeout: float = 600.0, env: dict[str, str] | None = None) -> str:
        argv = [sys.executable, "manage.py", *args]
        log(f"manage.py {' '.join(args)}")
        done = subprocess.run(
            argv,
            cwd=ROOT,
            env=self.child_env(**(env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise SetupError(
                f"manage.py {' '.join(args)} failed with {done.returncode}:\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def prepare(self) -> None:
        self.manage("migrate", "--noinput")
        result = json.loads(self.manage("ensure_demo_tenant", "--json").strip().splitlines()[-1])
        self.api_key = str(result["api_key"])

    def start_daphne(self, **extra: str) -> None:
        """daphne on a free port; `extra` are settings for it (environment variables)."""
        for _attempt in range(3):  # the free port may be taken before daphne binds it
            self.port = free_port()
            argv = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                    "callwaiting_tts.asgi:application"]  # fmt: skip
            settings = "".join(f", {k}={v}" for k, v in extra.items())
            log(f"starting daphne on port {self.port}{settings}")
            self.daphne = spawn(argv, self.child_env(**extra), self.logs / "daphne.log")
            try:
                wait_for_port(self.port, self.daphne)
                return
            except SetupError:
                stop_process(self.daphne)
                self.daphne = None
        raise SetupError(f"daphne did not start:\n{_tail(self.logs / 'daphne.log')}")

    # --- TTS workers ---------------------------------------------------------------------

    def _heartbeats(self, client: redis.Redis) -> dict[int, str]:
        """pid → worker id of the live workers under this prefix."""
        found: dict[int, str] = {}
        keys = list(client.scan_iter(match=f"{self.prefix}:tts:worker:*", count=1000))
        for raw in client.mget(keys) if keys else []:
            if raw:
                status = json.loads(raw)
                found[int(status["pid"])] = str(status["worker_id"])
        return found

    def start_workers(
        self,
        count: int,
        timeout: float = 120.0,
        *,
        engine: str = "piper",
        env: dict[str, str] | None = None,
    ) -> list[WorkerHandle]:
        """Starts `count` run_tts_worker processes of `engine` (default options, `env` on top)
        and waits for each one's heartbeat."""
        started: list[subprocess.Popen[bytes]] = []
        for _ in range(count):
            self._worker_count += 1
            name = f"tts-worker-{self._worker_count}"
            argv = [sys.executable, "manage.py", "run_tts_worker", "--engine", engine]
            child = self.child_env(**(env or {}))
            started.append(spawn(argv, child, self.logs / f"{name}.log"))
        self.workers.extend(WorkerHandle(p, "") for p in started)
        client = self.redis_client()
        try:
            deadline = time.monotonic() + timeout
            pending = {p.pid: p for p in started}
            while pending:
                beats = self._heartbeats(client)
                for worker in self.workers:
                    if worker.pid in pending and worker.pid in beats:
                        worker.worker_id = beats[worker.pid]
                        del pending[worker.pid]
                for pid, process in pending.items():
                    if process.poll() is not None:
                        raise SetupError(f"TTS worker {pid} exited with {process.returncode}")
                if time.monotonic() > deadline:
                    raise SetupError(f"TTS workers {sorted(pending)} did not start in time")
                time.sleep(0.1)
        finally:
            client.close()
        log(f"{len(self.workers)} TTS worker(s) ready: pids {[w.pid for w in self.workers]}")
        return list(self.workers)

    def stop_workers(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            stop_process(worker.process)
        self.workers.clear()

    def restart_workers(self, count: int) -> list[WorkerHandle]:
        self.stop_workers()
        return self.start_workers(count)

    # --- all of it -----------------------------------------------------------------------

    def open(self) -> None:
        self.find_servers()
        self.create_database()
        self.prepare()
        self.start_daphne()

    def close(self) -> None:
        """Stops and removes everything; each step runs even if an earlier one failed."""
        steps: list[tuple[str, Callable[[], None]]] = [
            ("stop workers", self.stop_workers),
            ("stop daphne", self._stop_daphne),
            ("drop database", self.drop_database),
            ("delete Redis keys", self.delete_redis_keys),
            ("stop embedded servers", self._stop_handles),
        ]
        for name, step in steps:
            started = time.monotonic()
            try:
                step()
            except Exception as error:
                log(f"teardown step '{name}' failed: {error}")
            elapsed = time.monotonic() - started
            if elapsed > 2:
                log(f"teardown step '{name}' took {elapsed:.0f} s")

    def restart_daphne(self, **extra: str) -> None:
        """A fresh daphne (on a new port) with these settings, the defaults for the rest."""
        self._stop_daphne()
        self.start_daphne(**extra)

    def _stop_daphne(self) -> None:
        if self.daphne is not None:
            stop_process(self.daphne)
            self.daphne = None

    def _stop_handles(self) -> None:
        for handle in reversed(self.handles):
            handle.stop()
        self.handles.clear()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def bench_stack(logs: Path) -> Iterator[BenchStack]:
    """The stack, torn down on the way out: normal end, failure, Ctrl-C, SIGTERM or SIGHUP."""
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in signals}
    stack = BenchStack(logs=logs)
    try:
        stack.open()
        yield stack
    finally:
        # Teardown must finish: a second Ctrl-C would leave servers and the database behind.
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)
        log("tearing down")
        stack.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
