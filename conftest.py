"""Fixtures shared by every test module: real PostgreSQL (one schema per tenant) and Redis.

Two tenants, A and B, are created once per session (each schema migration costs ~0.5 s).
Transactional tests flush the public schema after themselves, which removes those rows; they
use `make_tenant`, which creates a tenant for the test and drops its schema afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client, override_settings

from billing.services import plan_default
from callwaiting_tts.env import s3_storage as s3_storage_entry
from callwaiting_tts.redis import get_redis, key
from synthesis.plan_cache import plans
from tenants.audit import Actor
from tenants.db import tenant_connection
from tenants.models import ALL_SCOPES, Tenant
from tenants.services import api_key_create, tenant_create


@dataclass
class TenantFixture:
    tenant: Tenant
    api_key: str  # the full key, every scope

    def key_with(self, *scopes: str, expires_at: datetime | None = None) -> str:
        return api_key_create(
            tenant=self.tenant,
            name="test",
            scopes=list(scopes),
            by=Actor.system(),
            expires_at=expires_at,
        ).secret


def _create(name: str) -> TenantFixture:
    slug = f"{name}-{uuid.uuid4().hex[:8]}"
    created = tenant_create(name=name, slug=slug, by=Actor.system(), plan_id=plan_default().pk)
    return TenantFixture(tenant=created.tenant, api_key=created.api_key.secret)


def _drop(tenant: Tenant) -> None:
    connection = tenant_connection()
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')


@pytest.fixture(scope="session")
def _session_tenants(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> tuple[TenantFixture, TenantFixture]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        return _create("alpha"), _create("beta")


@pytest.fixture
def tenant_a(_session_tenants: tuple[TenantFixture, TenantFixture], db: None) -> TenantFixture:
    return _session_tenants[0]


@pytest.fixture
def tenant_b(_session_tenants: tuple[TenantFixture, TenantFixture], db: None) -> TenantFixture:
    return _session_tenants[1]


@pytest.fixture
def make_tenant(transactional_db: None) -> Iterator[Callable[[str], TenantFixture]]:
    made: list[Tenant] = []

    def make(name: str = "trx") -> TenantFixture:
        fixture = _create(name)
        made.append(fixture.tenant)
        return fixture

    yield make
    for tenant in made:
        _drop(tenant)


@pytest.fixture(autouse=True)
def _fresh_auth_failure_budget(request: pytest.FixtureRequest) -> None:
    """Failed-auth counters are per client address and minute; tests share 127.0.0.1. Rate
    windows and quota counters are per tenant id, and ids restart with each test database.
    Only tests with a database can have made any: pure tests never touch Redis."""
    uses_database = request.node.get_closest_marker("django_db") is not None or any(
        name in request.fixturenames for name in ("db", "transactional_db")
    )
    if not uses_database:
        return
    client = get_redis()
    stale = [
        found
        for pattern in ("authfail", "rate", "quota", "admission", "idem", "phrase")
        for found in client.scan_iter(match=key(pattern, "*"), count=500)
    ]
    if stale:
        client.delete(*stale)


@pytest.fixture(autouse=True)
def _no_plans_from_another_test() -> None:
    """Each test plans its inputs afresh (the process keeps repeated inputs' plans)."""
    plans().clear()


@pytest.fixture
def superuser(db: None) -> User:
    return get_user_model().objects.create_superuser(
        username=f"root-{uuid.uuid4().hex[:8]}", email="root@example.com", password="x" * 20
    )


@pytest.fixture
def staff(superuser: User) -> Client:
    """A test client logged in to the admin as a superuser."""
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def api() -> Callable[[str], Client]:
    """A test client that presents `key` as a Bearer token on every request."""

    def client_for(key: str) -> Client:
        return Client(headers={"Authorization": f"Bearer {key}"})

    return client_for


ALL = ALL_SCOPES


# --- TTS workers ------------------------------------------------------------------------------


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    worker_id: str


def _worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        REDIS_URL=settings.REDIS_URL,
        REDIS_PREFIX=settings.REDIS_PREFIX,
        # Repeatable audio: streamed and whole answers, and references, compare byte for byte.
        PIPER_NOISE_SCALE="0",
        PIPER_NOISE_W_SCALE="0",
        **extra,
    )
    return env


def _heartbeats() -> set[bytes]:
    return set(get_redis().scan_iter(match=f"{settings.REDIS_PREFIX}:tts:worker:*", count=100))


def start_worker(engine: str = "piper", **env: str) -> WorkerProcess:
    """A real `manage.py run_tts_worker` subprocess; returns once its heartbeat is up."""
    before = _heartbeats()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_tts_worker", "--engine", engine],
        cwd=settings.BASE_DIR,
        env=_worker_env(MEDIA_ROOT=str(settings.MEDIA_ROOT), **env),
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = _heartbeats() - before
        if new:
            key = new.pop().decode()
            return WorkerProcess(process=process, worker_id=key.rsplit(":", 1)[1])
        if process.poll() is not None:
            raise RuntimeError(f"run_tts_worker exited with {process.returncode}")
        time.sleep(0.1)
    process.kill()
    raise TimeoutError("the TTS worker did not start within 60 s")


def stop_worker(worker: WorkerProcess) -> None:
    if worker.process.poll() is None:
        worker.process.terminate()
        try:
            worker.process.wait(20)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


class WorkerPool:
    """The session's real TTS workers; a test that kills one gets a fresh one next time."""

    def __init__(self) -> None:
        self.workers: list[WorkerProcess] = []

    def ensure(self, count: int = 1) -> list[WorkerProcess]:
        self.workers = [w for w in self.workers if w.process.poll() is None]
        while len(self.workers) < count:
            self.workers.append(start_worker())
        return self.workers

    def stop_all(self) -> None:
        for worker in self.workers:
            stop_worker(worker)


@pytest.fixture(scope="session")
def worker_pool() -> Iterator[WorkerPool]:
    pool = WorkerPool()
    yield pool
    pool.stop_all()


@pytest.fixture
def tts_worker(worker_pool: WorkerPool) -> WorkerProcess:
    """A live real Piper worker (it needs Redis only, no database)."""
    return worker_pool.ensure(1)[0]


@pytest.fixture
def tts_workers(worker_pool: WorkerPool) -> list[WorkerProcess]:
    """Two live real Piper workers: a job goes to the one with more free slots."""
    return worker_pool.ensure(2)


# --- XTTS on CPU: a tiny random-weight model in the official layout ---------------------------


@pytest.fixture(scope="session")
def tiny_xtts(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random-weight XTTS v2 checkpoint directory (2 GPT layers, 256 channels), built
    once per session and loaded through the real `load_checkpoint`."""
    from synthesis.engines.xtts_random import build_random_xtts

    return str(build_random_xtts(tmp_path_factory.mktemp("xtts"), size="tiny"))


def xtts_env(model_path: str) -> dict[str, str]:
    """A worker's environment for the tiny model: the licence confirmed, CPU, greedy decoding
    (repeatable audio, compared byte for byte with the raw engine's)."""
    return {
        "TTS_MODEL_PATH": model_path,
        "COQUI_TOS_AGREED": "1",
        "XTTS_DEVICE": "cpu",
        "XTTS_DO_SAMPLE": "0",
        "XTTS_THREADS": "1",  # two cores shared with daphne and the tests
    }


@pytest.fixture(scope="module")
def xtts_worker(tiny_xtts: str) -> Iterator[WorkerProcess]:
    """A live real XTTS worker process on the tiny model, for one test module."""
    worker = start_worker("xtts", **xtts_env(tiny_xtts))
    yield worker
    stop_worker(worker)


# --- Celery ---------------------------------------------------------------------------------


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[None]:
    """A real Celery worker (solo pool) in this process, on the test run's Redis broker. Tasks
    other tests queued without a worker (uploads queue their validation) are purged first:
    their tenants are gone."""
    from celery.contrib.testing.worker import start_worker as start_celery

    from callwaiting_tts.celery import app

    app.control.purge()
    with start_celery(
        app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10
    ):
        yield


# --- S3-compatible storage: a real moto server over HTTP ------------------------------------

S3_ACCESS_KEY = "testing"
S3_SECRET_KEY = "testing"  # noqa: S105 - moto accepts any credentials
S3_REGION = "us-east-1"


def _s3_client(endpoint_url: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        region_name=S3_REGION,
    )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A `moto.server` subprocess on a free 127.0.0.1 port for the session; yields its endpoint
    URL once it answers, and stops it afterwards."""
    from tests.conftest import free_port, stop

    port = free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = _s3_client(endpoint_url)
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto.server exited with {process.returncode}")
            with contextlib.suppress(Exception):
                client.list_buckets()
                break
            if time.monotonic() > deadline:
                raise TimeoutError("moto.server did not answer within 30 s")
            time.sleep(0.1)
        yield endpoint_url
    finally:
        stop(process)


@dataclass
class S3Bucket:
    client: Any  # a boto3 S3 client on the moto server
    bucket: str
    endpoint_url: str

    def keys(self, prefix: str = "") -> list[str]:
        """Every key in the bucket (under `prefix`), sorted."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)


@pytest.fixture
def s3_storage(moto_server: str) -> Iterator[S3Bucket]:
    """Django's default storage is `S3Storage` (the options settings build for STORAGE_BACKEND=s3)
    on a fresh, empty bucket of the session's moto server for this test; the bucket is emptied
    and removed afterwards. `default_storage` follows: Django's `setting_changed` handler resets
    it when STORAGES changes, on entry and on exit."""
    client = _s3_client(moto_server)
    bucket = f"cwtts-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    entry = s3_storage_entry(
        bucket=bucket,
        endpoint_url=moto_server,
        access_key=S3_ACCESS_KEY,
        secret_key=S3_SECRET_KEY,
        region=S3_REGION,
        addressing_style="path",
    )
    storages = {**settings.STORAGES, "default": entry}
    handle = S3Bucket(client=client, bucket=bucket, endpoint_url=moto_server)
    try:
        with override_settings(STORAGES=storages):
            yield handle
    finally:
        keys = handle.keys()
        for start in range(0, len(keys), 1000):
            client.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]},
            )
        client.delete_bucket(Bucket=bucket)
