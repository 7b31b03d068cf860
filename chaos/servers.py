"""The fault suite's own PostgreSQL and Redis: new servers on free loopback ports, in a scratch
folder, that the suite may stop and start at will. The machine's shared servers (5432, 6379) are
never touched: nothing here connects to them.

PostgreSQL is a fresh cluster (`initdb`, Debian's PostgreSQL 15), run as the `postgres` user
when the suite runs as root (initdb and postgres refuse root). Redis is the redis-server binary
`make run` embeds (devstack.redis_server), with RDB snapshots on: a restart is a restart, not a
flush, so quota counters and leases come back as a real Redis restart brings them back.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from devstack.postgres import probe_database
from devstack.redis_server import free_port, probe_redis, redis_server_binary

PG_BIN = Path(os.environ.get("CHAOS_PG_BIN", "/usr/lib/postgresql/15/bin"))


class ServerError(RuntimeError):
    """A server of the suite's own did not start or stop."""


def _as_postgres(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _give_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class OwnPostgres:
    """A PostgreSQL cluster of the suite's own on 127.0.0.1:`port` (trust, loopback only)."""

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.folder / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.folder / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise ServerError(f"no initdb under {PG_BIN} (set CHAOS_PG_BIN)")
        self.folder.mkdir(parents=True, exist_ok=True)
        _give_to_postgres(self.folder)
        argv = [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                "--auth=trust", "--encoding=UTF8", "--no-sync"]  # fmt: skip
        self._run(argv, "initdb")
        self.start()

    def start(self) -> None:
        # The socket in the cluster's own folder: the system's /var/run/postgresql is not ours.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.folder} -c fsync=off -c max_connections=200"
        )
        argv = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_file),
                "-o", options, "-w", "-t", "30", "start"]  # fmt: skip
        self._run(argv, "pg_ctl start")
        if not probe_database(self.url()):
            raise ServerError(f"PostgreSQL on port {self.port} does not answer")

    def stop(self, mode: str = "fast") -> None:
        argv = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"]
        self._run(argv, "pg_ctl stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, argv: list[str], what: str) -> None:
        done = subprocess.run(
            _as_postgres(argv), capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise ServerError(f"{what} failed ({done.returncode}): {done.stderr[-2000:]}")


@dataclass
class OwnRedis:
    """A redis-server of the suite's own on 127.0.0.1:`port`; `stop` saves, `start` reloads."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    replica_of: int = 0  # a replica of the Redis on this port (0: a primary)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = [str(redis_server_binary()), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "3600 1", "--appendonly", "no", "--dir", str(self.folder),
                "--logfile", str(self.folder / "redis.log")]  # fmt: skip
        if self.replica_of:
            argv += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if probe_redis(self.url):
                return
            time.sleep(0.05)
        raise ServerError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        """SIGKILL: the server is lost, with whatever it had not written or replicated."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM: redis-server writes its snapshot and exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


SENTINEL_MASTER = "chaos-primary"
SENTINEL_DOWN_AFTER_MS = 1000  # a primary silent this long is down (30 s is Redis's default)
# A failover whose election split the votes is tried again after twice this (3 min by default).
SENTINEL_FAILOVER_TIMEOUT_MS = 4000


@dataclass
class OwnSentinels:
    """Redis Sentinel over the suite's Redis (`primary`): one replica of it and three sentinels
    (quorum 2), each on a free loopback port. The sentinels are redis-server in sentinel mode
    (`--sentinel`: the same program as Debian's redis-sentinel), run from the binary the
    suite's Redis comes from, so nothing more need be installed."""

    folder: Path
    primary: OwnRedis
    replica: OwnRedis = field(init=False)
    ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.replica = OwnRedis(self.folder / "replica", replica_of=self.primary.port)

    @property
    def hosts(self) -> str:
        """REDIS_SENTINELS."""
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self, timeout: float = 20.0) -> None:
        self.replica.start()
        for number, port in enumerate(self.ports, 1):
            folder = self.folder / f"sentinel-{number}"
            folder.mkdir(parents=True, exist_ok=True)
            conf = folder / "sentinel.conf"  # a sentinel rewrites its file: one each
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\nlogfile {folder / 'sentinel.log'}\n"
                f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {SENTINEL_MASTER} {SENTINEL_DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {SENTINEL_MASTER} {SENTINEL_FAILOVER_TIMEOUT_MS}\n"
            )
            self.processes.append(
                subprocess.Popen(
                    [str(redis_server_binary()), str(conf), "--sentinel"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        # Ready once every sentinel sees the replica in sync and the two other sentinels.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._ready(port) for port in self.ports):
                return
            time.sleep(0.1)
        raise ServerError("the sentinels never saw the replica in sync and each other")

    def _ready(self, port: int) -> bool:
        try:
            with redis.Redis(port=port, socket_timeout=2) as sentinel:
                master = sentinel.sentinel_master(SENTINEL_MASTER)
                replicas = sentinel.sentinel_slaves(SENTINEL_MASTER)
        except redis.RedisError:
            return False
        synced = any(r["port"] == self.replica.port and r["master-link-status"] == "ok"
                     for r in replicas)  # fmt: skip
        return synced and int(master.get("num-other-sentinels", 0)) == len(self.ports) - 1

    def primary_port(self) -> int | None:
        """The port of the primary the sentinels name once a failover has ended (SENTINEL
        MASTER, which clients read; None while none answers)."""
        for port in self.ports:
            try:
                with redis.Redis(port=port, socket_timeout=1) as sentinel:
                    return int(sentinel.sentinel_master(SENTINEL_MASTER)["port"])
            except redis.RedisError:
                continue
        return None

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.replica.remove()
