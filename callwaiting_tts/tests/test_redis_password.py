"""A Redis that wants a password (compose and Kubernetes run one): the password in REDIS_URL
reaches every client the app makes. Settings build the cache, the channel layer and Celery from
REDIS_URL at import, so the clients are exercised in a fresh process, as a deployment starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import redis

from devstack.common import stop_processes
from devstack.redis_server import free_port, redis_server_binary
from tests.conftest import ROOT

PASSWORD = "s3cret/p@ss:wörd"  # characters a URL must escape

_CLIENTS = r"""
import asyncio, json, django
django.setup()
from django.core.cache import cache
from channels.layers import get_channel_layer
from billing import admission
from callwaiting_tts.celery import app
from callwaiting_tts.health import check_redis
from callwaiting_tts.redis import get_redis

done = {}
get_redis().set("cwtts-auth-test", "ok")
done["factory"] = get_redis().get("cwtts-auth-test") == b"ok"
cache.set("auth-test", {"n": 1}, 30)
done["cache"] = cache.get("auth-test") == {"n": 1}
done["health"] = check_redis() is None

async def layer_and_admission():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "hello"})
    message = await layer.receive(channel)
    done["channel_layer"] = message == {"type": "hello"}
    done["admission"] = await admission._client().ping()

asyncio.run(layer_and_admission())
with app.connection_for_write() as connection:
    connection.ensure_connection(max_retries=1)
    done["celery_broker"] = connection.connected
print(json.dumps(done))
"""


@pytest.fixture(scope="module")
def redis_with_password() -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [str(redis_server_binary()), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--requirepass", PASSWORD],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port, password=PASSWORD, socket_connect_timeout=1)
    try:
        deadline = time.monotonic() + 10
        while not _answers(client):
            assert process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.1)
        yield port
    finally:
        client.close()
        stop_processes([("redis-server", process)])


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def run_clients(redis_url: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, REDIS_URL=redis_url, REDIS_PREFIX="cwtts:auth-test")
    env.pop("CELERY_BROKER_URL", None)
    env.pop("CELERY_RESULT_BACKEND", None)
    return subprocess.run(
        [sys.executable, "-c", _CLIENTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_redis_client_authenticates_with_the_password_in_redis_url(redis_with_password):
    url = f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:{redis_with_password}/0"
    done = run_clients(url)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results == {
        "factory": True,
        "cache": True,
        "health": True,
        "channel_layer": True,
        "admission": True,
        "celery_broker": True,
    }


def test_the_server_does_want_the_password(redis_with_password):
    done = run_clients(f"redis://127.0.0.1:{redis_with_password}/0")
    assert done.returncode != 0
    assert "redis.exceptions.AuthenticationError" in done.stderr
