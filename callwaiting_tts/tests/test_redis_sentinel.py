"""Redis Sentinel (docs/scaling.md): with REDIS_SENTINELS set, every kind of Redis client the
service makes reaches the primary through a real sentinel, and follows it when the sentinel
fails it over (admission's scripts are loaded again on the new primary).

A primary, a replica and one sentinel of their own run on free loopback ports, all with
passwords; the machine's shared Redis is never touched. REDIS_URL names a closed port, so a
client that went around Sentinel could reach nothing; writes succeed only on a primary (a
replica answers READONLY). The clients run in a fresh process (`sentinel_clients.py`): settings
build the cache, channel layer and Celery from the environment at import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from hashlib import sha1
from pathlib import Path
from urllib.parse import quote

import pytest
import redis

from billing import admission
from callwaiting_tts.redis import (
    SentinelConfig,
    celery_url,
    channel_layer_host,
    primary_options,
    sentinel_config,
)
from devstack.common import stop_processes
from devstack.redis_server import free_port, redis_server_binary
from tests.conftest import ROOT

PASSWORD = "s3cret/p@ss"  # the primary's and the replica's; characters a URL must escape
SENTINEL_PASSWORD = "sentinel-only"
MASTER = "cwtts-primary"
CLIENTS = (
    "factory", "health", "cache", "channel_layer", "admission_scripts", "dispatch_script",
    "worker_heartbeat", "celery_broker", "celery_results",
)  # fmt: skip


@dataclass
class SentinelSet:
    """A primary, its replica and one sentinel watching them."""

    folder: Path
    primary: int = field(default_factory=free_port)
    replica: int = field(default_factory=free_port)
    sentinel: int = field(default_factory=free_port)
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self) -> None:
        self._server("primary", self.primary)
        self._server("replica", self.replica, "--replicaof", "127.0.0.1", str(self.primary))
        conf = self.folder / "sentinel.conf"  # the sentinel rewrites it: a file of its own
        conf.write_text(
            f"port {self.sentinel}\nbind 127.0.0.1\nrequirepass {SENTINEL_PASSWORD}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary} 1\n"
            f"sentinel auth-pass {MASTER} {PASSWORD}\n"
            f"sentinel down-after-milliseconds {MASTER} 2000\n"
            f"sentinel failover-timeout {MASTER} 10000\n"
        )
        self._start("sentinel", [str(redis_server_binary()), str(conf), "--sentinel"])
        until(self._replica_known, "the sentinel never saw the replica in sync")

    def _server(self, name: str, port: int, *extra: str) -> None:
        self._start(name, [
            str(redis_server_binary()), "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.folder),
            "--requirepass", PASSWORD, "--masterauth", PASSWORD, *extra,
        ])  # fmt: skip

    def _start(self, name: str, command: list[str]) -> None:
        self.processes.append((name, subprocess.Popen(command, stdout=subprocess.DEVNULL)))

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=PASSWORD, socket_timeout=2)

    def sentinel_client(self) -> redis.Redis:
        return redis.Redis(port=self.sentinel, password=SENTINEL_PASSWORD, socket_timeout=2)

    def _replica_known(self) -> bool:
        with self.sentinel_client() as sentinel:
            replicas = sentinel.sentinel_slaves(MASTER)
        return any(r["port"] == self.replica and r["master-link-status"] == "ok" for r in replicas)

    def _named_primary(self, sentinel: redis.Redis) -> int:
        # SENTINEL MASTERS, which clients read, names the new primary only once the failover
        # ended (GET-MASTER-ADDR-BY-NAME does earlier): the sentinel demotes the old after that.
        return int(sentinel.execute_command("SENTINEL MASTER", MASTER)["port"])

    def role(self, port: int) -> str:
        with self.client(port) as client:
            return str(client.execute_command("ROLE")[0], "ascii")

    def fail_over(self) -> None:
        """The sentinel promotes the replica. It demotes the old primary (MULTI, REPLICAOF the
        new one, CLIENT KILL of its clients, EXEC) only at its next INFO of it, up to 10 s
        later (11 s measured here): the same transaction is sent now instead."""
        with self.sentinel_client() as sentinel:
            sentinel.execute_command("SENTINEL FAILOVER", MASTER)
            until(lambda: self._named_primary(sentinel) == self.replica, "no failover")
        assert self.role(self.replica) == "master"
        with self.client(self.primary) as old_primary, old_primary.pipeline() as demote:
            demote.replicaof("127.0.0.1", self.replica)  # in one MULTI, as the sentinel sends it
            demote.client_kill_filter(_type="normal", skipme=True)
            demote.execute()

    def stop(self) -> None:
        stop_processes(self.processes)


def until(condition: Callable[[], bool], message: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (redis.ConnectionError, redis.ResponseError):
            pass  # not up yet
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSet]:
    servers = SentinelSet(tmp_path)
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


def clients_process(servers: SentinelSet, signals: Path | None = None) -> subprocess.Popen[str]:
    closed = free_port()  # nothing listens there: only the sentinel can say where Redis is
    env = dict(
        os.environ,
        REDIS_URL=f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:{closed}/0",
        REDIS_SENTINELS=f"127.0.0.1:{servers.sentinel}",
        REDIS_SENTINEL_MASTER=MASTER,
        REDIS_SENTINEL_PASSWORD=SENTINEL_PASSWORD,
        REDIS_PREFIX="cwtts:sentinel-test",
        TTS_PHRASE_CACHE_BYTES="0",
    )
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CWTTS_SENTINEL_SIGNALS"):
        env.pop(name, None)
    if signals is not None:
        env["CWTTS_SENTINEL_SIGNALS"] = str(signals)
    return subprocess.Popen(
        [sys.executable, "-m", "callwaiting_tts.tests.sentinel_clients"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def results_of(process: subprocess.Popen[str]) -> dict[str, dict[str, object]]:
    try:
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err[-3000:]
    results = dict(json.loads(out.strip().splitlines()[-1]))
    if any(outcome is not True for phase in results.values() for outcome in phase.values()):
        print(err[-6000:])  # the clients' logs, shown with the failure
    return results


def test_every_redis_client_reaches_the_primary_through_the_sentinel(sentinels: SentinelSet):
    results = results_of(clients_process(sentinels))
    assert results["before"] == dict.fromkeys(CLIENTS, True)
    with sentinels.client(sentinels.primary) as primary:
        assert primary.get("sentinel-test:factory:before") == b"ok"  # written there, not around


def test_the_clients_follow_a_failover_and_load_the_scripts_again(
    sentinels: SentinelSet, tmp_path: Path
):
    signals = tmp_path / "signals"
    signals.mkdir()
    process = clients_process(sentinels, signals)
    try:
        until(lambda: (signals / "ready").exists() or process.poll() is not None, "never ready", 90)
        assert process.poll() is None, process.communicate()[1][-3000:]
        sentinels.fail_over()
        with sentinels.client(sentinels.replica) as new_primary:
            new_primary.script_flush()  # whatever was replicated: the scripts must load again
        (signals / "go").touch()
    finally:
        results = results_of(process)
    assert results["before"] == dict.fromkeys(CLIENTS, True)
    assert results["after"] == dict.fromkeys(CLIENTS, True)
    with sentinels.client(sentinels.replica) as new_primary:
        assert new_primary.get("sentinel-test:factory:after") == b"ok"
        # Flushed above, so only EVALSHA's NOSCRIPT path can have loaded it there.
        assert new_primary.script_exists(
            sha1(admission._ADMIT.encode(), usedforsecurity=False).hexdigest()
        ) == [True]


def test_no_sentinels_is_no_sentinel():
    assert sentinel_config([], master="mymaster") is None


def test_sentinel_hosts_are_parsed_and_refused_when_malformed():
    config = sentinel_config(["10.0.0.1:26379", "[::1]:26380"], master="m", password="p")
    assert config == SentinelConfig((("10.0.0.1", 26379), ("::1", 26380)), "m", "p")
    for wrong in ("10.0.0.1", "10.0.0.1:port", ":26379"):
        with pytest.raises(ValueError, match="host:port"):
            sentinel_config([wrong], master="m")
    with pytest.raises(ValueError, match="REDIS_SENTINEL_MASTER"):
        sentinel_config(["10.0.0.1:26379"], master="")


def test_the_primary_takes_redis_urls_credentials_and_database_not_its_address():
    options = primary_options("redis://user:p%40ss@ignored.example:6390/3?socket_timeout=4")
    assert options == {"username": "user", "password": "p@ss", "db": 3, "socket_timeout": 4.0}
    with pytest.raises(ValueError, match="redis://"):
        primary_options("rediss://:p@host:6380/0")


def test_celery_and_the_channel_layer_are_given_the_sentinels():
    config = SentinelConfig((("s1", 26379), ("s2", 26380)), "prim", "sp")
    url = "redis://:a%2Fb@unused:6379/2"
    assert celery_url(url, config) == "sentinel://:a%2Fb@s1:26379/2;sentinel://:a%2Fb@s2:26380/2"
    assert celery_url(url, None) == url
    host = channel_layer_host(url, config, socket_timeout=30)
    assert host["master_name"] == "prim"
    assert host["sentinels"] == [("s1", 26379), ("s2", 26380)]
    assert host["sentinel_kwargs"]["password"] == "sp"
    assert (host["password"], host["db"], host["socket_timeout"]) == ("a/b", 2, 30)
    assert channel_layer_host(url, None, socket_timeout=30) == {
        "address": url,
        "socket_timeout": 30,
    }
