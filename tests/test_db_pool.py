"""The web process's PostgreSQL pool (settings: DATABASE_POOL_SIZE, on under daphne): requests
take a warm connection instead of opening one, and a connection one tenant's request used
serves another tenant's next request in that tenant's schema."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from django.db import connection

from tests.synth import post


def _get(url: str, path: str, key: str) -> tuple[int, Any]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    return response.status, body


def _sessions_opened() -> int:
    """Connections ever opened to this test database (PostgreSQL 14+)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        (sessions,) = cursor.fetchone()
    connection.close()  # ours must not count, nor hold a connection the statistics wait on
    return int(sessions)


def _dictionary_names(service, key: str) -> list[str]:
    status, body = _get(service.url, "/v1/pronunciations", key)
    assert status == 200, body
    return [d["name"] for d in body["pronunciation_dictionaries"]]


def test_tenants_alternating_on_pooled_connections_each_see_their_own_schema(
    service, make_tenant
) -> None:
    a, b = make_tenant("pool-a"), make_tenant("pool-b")
    entries = [{"word": "Ngozi", "alias": "en GOH zee"}]
    for tenant, name in ((a, "names of a"), (b, "names of b")):
        created = post(
            service.url,
            "/v1/pronunciations",
            tenant.api_key,
            {"name": name, "language": "en", "entries": entries},
        )
        assert created.status == 201, created.body
    for _ in range(6):  # each request's connection is the one the other tenant just gave back
        assert _dictionary_names(service, a.api_key) == ["names of a"]
        assert _dictionary_names(service, b.api_key) == ["names of b"]


def test_requests_reuse_the_pools_connections(service, make_tenant) -> None:
    tenant = make_tenant("pool-reuse")
    _dictionary_names(service, tenant.api_key)  # the pool's connection is open
    before = _sessions_opened()
    for _ in range(10):
        _dictionary_names(service, tenant.api_key)
    # Without the pool each of these requests opens a connection of its own (10 or more).
    assert _sessions_opened() - before <= 2
