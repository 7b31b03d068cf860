"""PostgreSQL: the configured or local server, else an embedded one (pgserver)."""

from __future__ import annotations

import atexit
import contextlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import errors, sql

from callwaiting_tts import env

if TYPE_CHECKING:
    from pgserver import PostgresServer

from callwaiting_tts.env import process_alive
from devstack.common import DEFAULT_PG_PROBE_URL, VAR_DIR, log, redact

# --- PostgreSQL -------------------------------------------------------------------------------


def probe_database(url: str) -> bool:
    """A real login and `SELECT 1`: an open port alone says nothing about credentials."""
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def ensure_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, connect_timeout=3, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if found:
            return
        with contextlib.suppress(errors.DuplicateDatabase):  # another supervisor won the race
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        log(f"created database {name}")


def with_dbname(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_name() -> str:
    return str(env.parse_database_url(env.default_database_url())["NAME"])


@dataclass
class EmbeddedPostgres:
    server: PostgresServer

    @property
    def socket_dir(self) -> Path:
        info = self.server.get_postmaster_info()
        assert info.socket_dir is not None, "pgserver listens on a Unix socket on this platform"
        return Path(info.socket_dir)

    def url(self, name: str) -> str:
        return f"postgresql://postgres@/{name}?host={quote(str(self.socket_dir), safe='/')}"

    def stop(self) -> None:
        # Stops the server only if no other live process (another supervisor) still holds it.
        self.server.cleanup()
        # Released already; pgserver's own exit hook would only log, possibly to a closed stream.
        atexit.unregister(self.server._cleanup)
        log("released embedded PostgreSQL")


def _prune_dead_handles(pgdata: Path) -> None:
    """pgserver stops the server when the last process in `.handle_pids.json` lets go, and never
    forgets a process that was killed outright, which would keep the server up forever."""
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    handles.write_text(json.dumps([pid for pid in pids if process_alive(int(pid))]))


def start_embedded_postgres(var_dir: Path) -> EmbeddedPostgres:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); its /tmp fallback,
        # where pgserver keeps its lock file, is fine.
        warnings.simplefilter("ignore")
        import pgserver  # only here: importing it creates that lock file

    pgdata = var_dir / "pgdata"
    var_dir.mkdir(parents=True, exist_ok=True)
    _prune_dead_handles(pgdata)
    log(f"starting embedded PostgreSQL (pgserver) in {pgdata}")
    # Reuses a server already running on this data folder; initdb only the first time.
    return EmbeddedPostgres(pgserver.get_server(pgdata, cleanup_mode="stop"))


def find_database(
    probe_url: str | None = None, var_dir: Path = VAR_DIR
) -> tuple[str, EmbeddedPostgres | None]:
    configured = env.env_str("DATABASE_URL")
    if configured:
        log("database: DATABASE_URL")
        return configured, None
    probe_url = probe_url or env.env_str("CWTTS_PG_PROBE_URL", DEFAULT_PG_PROBE_URL)
    name = database_name()
    if probe_database(probe_url):
        ensure_database(probe_url, name)
        url = with_dbname(probe_url, name)
        log(f"database: local PostgreSQL, {redact(url)}")
        return url, None
    log(f"no PostgreSQL answers at {redact(probe_url)}")
    embedded = start_embedded_postgres(var_dir)
    try:
        ensure_database(embedded.url("postgres"), name)
    except BaseException:
        embedded.stop()
        raise
    url = embedded.url(name)
    log(f"database: embedded PostgreSQL, {url}")
    return url, embedded
