"""The stack the fault suite breaks: its own PostgreSQL and Redis (chaos.servers), two daphne
web processes, two Piper TTS workers, and Celery (worker with beat), all on loopback.

Settings are shortened so faults resolve within the run (each is named in README, "Fault suite"):
a lease lives 3 s, the reaper runs every 2 s, a worker drops a job without credit after 3 s, a
worker runs 3 jobs and 2 more may wait, the phrase cache is off (every call reaches a worker).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from callwaiting_tts import env
from chaos.servers import SENTINEL_MASTER, OwnPostgres, OwnRedis, OwnSentinels
from devstack.common import die_with_parent
from devstack.redis_server import free_port
from devstack.secrets import dev_settings

ROOT = env.BASE_DIR
DATABASE = "chaos"
PREFIX = "cwtts:chaos"
SETTINGS = {
    "TTS_PHRASE_CACHE_BYTES": "0",
    "TTS_WORKER_MAX_JOBS": "3",
    "TTS_QUEUE_DEPTH": "2",
    "TTS_QUEUE_TIMEOUT_SECONDS": "10",
    "LEASE_TTL_MS": "3000",
    "USAGE_REAP_SECONDS": "2",
    "TTS_WORKER_STALL_SECONDS": "3",
    "TTS_SLOW_READER_SECONDS": "2",
    "PIPER_THREADS": "1",
    "DATABASE_POOL_TIMEOUT": "3",
    "LOG_LEVEL": "INFO",
}
# Creates the two tenants (a plan of their own: room for every call the suite makes) and
# prints their ids, schemas and keys as one JSON line.
TENANTS_SCRIPT = """
import json
from billing.models import Plan
from tenants.audit import Actor
from tenants.services import tenant_create
plan, _ = Plan.objects.get_or_create(slug="chaos", defaults={"name": "Chaos",
    "max_concurrent_streams": 50, "requests_per_minute": 6000, "key_requests_per_minute": 6000})
out = []
for name in ("alpha", "beta"):
    made = tenant_create(name=name, slug=f"chaos-{name}", by=Actor.cli(), plan_id=plan.pk)
    out.append({"id": made.tenant.pk, "schema": made.tenant.schema_name,
                "api_key": made.api_key.secret})
print(json.dumps(out))
"""


class StackError(RuntimeError):
    """The stack could not be started."""


def log(message: str) -> None:
    print(f"chaos: {message}", file=sys.stderr, flush=True)


@dataclass
class Tenant:
    id: int
    schema: str
    api_key: str


@dataclass
class Child:
    name: str
    argv: list[str]
    port: int = 0  # a web process's; 0 for the others
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} runs"
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class ChaosStack:
    folder: Path
    postgres: OwnPostgres = field(init=False)
    redis_server: OwnRedis = field(init=False)
    children: dict[str, Child] = field(default_factory=dict)
    tenants: list[Tenant] = field(default_factory=list)
    sentinels: OwnSentinels | None = None  # once `use_sentinels` ran: Redis behind Sentinel

    def __post_init__(self) -> None:
        self.postgres = OwnPostgres(self.folder / "postgres")
        self.redis_server = OwnRedis(self.folder / "redis")

    @property
    def logs(self) -> Path:
        return self.folder / "logs"

    @property
    def database_url(self) -> str:
        return self.postgres.url(DATABASE)

    def child_env(self) -> dict[str, str]:
        child = dict(os.environ)
        child.update(dev_settings())
        child.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_server.url,
            REDIS_PREFIX=PREFIX,
            PYTHONUNBUFFERED="1",
            **SETTINGS,
        )
        for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST", "TTS_ENGINES", "TTS_ENGINE",
                     "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "REDIS_SENTINELS"):  # fmt: skip
            child.pop(name, None)
        if self.sentinels is not None:
            # Every client asks the sentinels where the primary is; REDIS_URL's host and port
            # are then not used (callwaiting_tts.redis).
            child["REDIS_SENTINELS"] = self.sentinels.hosts
            child["REDIS_SENTINEL_MASTER"] = SENTINEL_MASTER
        return child

    def redis(self) -> redis.Redis:
        """A client of the primary: the suite's Redis, or the one the sentinels name."""
        port = self.redis_server.port
        if self.sentinels is not None:
            port = self.sentinels.primary_port() or port
        return redis.Redis(port=port, socket_connect_timeout=2, socket_timeout=5)

    def use_sentinels(self) -> None:
        """Puts the suite's Redis behind Sentinel (a replica and three sentinels) and restarts
        every process with REDIS_SENTINELS, as a deployment that turns Sentinel on does."""
        self.sentinels = OwnSentinels(self.folder / "sentinel", self.redis_server)
        self.sentinels.start()
        log(f"Sentinel on ports {self.sentinels.hosts}; replica on {self.sentinels.replica.port}")
        for child in self.children.values():
            self.stop(child.name)
        for child in self.children.values():
            self.start(child.name, wait=False)
        for child in self.children.values():
            self.wait_ready(child.name)

    # --- bring-up -----------------------------------------------------------------------

    def open(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log(f"own PostgreSQL on 127.0.0.1:{self.postgres.port}, folder {self.folder}")
        self.postgres.init()
        self._create_database()
        self.redis_server.start()
        log(f"own Redis on 127.0.0.1:{self.redis_server.port}")
        self.manage("migrate", "--noinput")
        self.tenants = [Tenant(**t) for t in json.loads(self.manage("shell", "-c", TENANTS_SCRIPT))]
        python = sys.executable
        for n in (1, 2):
            port = free_port()
            web = [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                   "callwaiting_tts.asgi:application"]  # fmt: skip
            self.children[f"web-{n}"] = Child(f"web-{n}", web, port)
            worker = [python, "manage.py", "run_tts_worker", "--engine", "piper",
                      "--metrics-port", "0"]  # fmt: skip
            self.children[f"worker-{n}"] = Child(f"worker-{n}", worker)
        celery = [python, "-m", "celery", "-A", "callwaiting_tts", "worker", "-B",
                  "-l", "INFO", "--concurrency", "1"]  # fmt: skip
        self.children["celery"] = Child("celery", celery)
        for child in self.children.values():
            self.start(child.name, wait=False)
        for child in self.children.values():
            self.wait_ready(child.name)

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.postgres.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.child_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(f"manage.py {args[0]} failed: {done.stderr[-3000:]}")
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    # --- children -----------------------------------------------------------------------

    def start(self, name: str, *, wait: bool = True) -> None:
        child = self.children[name]
        with (self.logs / f"{name}.log").open("ab") as output:
            child.process = subprocess.Popen(
                child.argv,
                cwd=ROOT,
                env=self.child_env(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,  # the suite runs no threads while it starts children
            )
        if wait:
            self.wait_ready(name)

    def wait_ready(self, name: str, timeout: float = 90.0) -> None:
        child = self.children[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.alive:
                raise StackError(f"{name} exited; see {self.logs / (name + '.log')}")
            if self._ready(child):
                return
            time.sleep(0.1)
        raise StackError(f"{name} not ready after {timeout:.0f} s")

    def _ready(self, child: Child) -> bool:
        if child.port:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", child.port), 0.5),
            ):
                return True
            return False
        if child.name.startswith("worker"):
            return self.worker_status(child.name) is not None
        return True  # celery: its work is checked by what it does (the reaper's rows)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        child = self.children[name]
        assert child.process is not None, f"{name} runs"
        with contextlib.suppress(ProcessLookupError):
            # SIGKILL to the group: Celery's pool goes with it; SIGSTOP/SIGCONT to the process.
            if sig == signal.SIGKILL:
                os.killpg(child.pid, sig)
            else:
                child.process.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            child.process.wait(30)

    def stop(self, name: str) -> None:
        """SIGTERM, as a deployment stops a process (SIGKILL after 30 s)."""
        child = self.children[name]
        if not child.alive:
            return
        assert child.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        try:
            child.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill(name)

    def worker_status(self, name: str) -> dict[str, object] | None:
        """The heartbeat of worker `name` (by pid), or None while it has none."""
        client = self.redis()
        try:
            for key in client.scan_iter(match=f"{PREFIX}:tts:worker:*", count=1000):
                raw = client.get(key)
                if raw:
                    status = json.loads(raw)
                    if status["pid"] == self.children[name].pid:
                        return dict(status)
        except redis.RedisError:
            return None
        finally:
            client.close()
        return None

    def web_url(self, name: str = "web-1") -> str:
        return f"http://127.0.0.1:{self.children[name].port}"

    def close(self) -> None:
        for child in reversed(list(self.children.values())):
            if child.alive:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGTERM)
        for child in self.children.values():
            if child.process is not None:
                try:
                    child.process.wait(15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.pid, signal.SIGKILL)
                    child.process.wait()
        if self.sentinels is not None:
            self.sentinels.stop()
        self.redis_server.remove()
        self.postgres.remove()


@contextlib.contextmanager
def chaos_stack() -> Iterator[ChaosStack]:
    folder = Path(tempfile.mkdtemp(prefix="cwtts-chaos-"))
    os.chmod(folder, 0o755)  # noqa: S103  # the postgres user walks through it to its cluster
    stack = ChaosStack(folder)
    try:
        stack.open()
        yield stack
    finally:
        log("tearing down")
        stack.close()
        shutil.rmtree(folder, ignore_errors=True)
