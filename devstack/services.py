"""Both servers found or started, and the choice recorded in var/runtime.json."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callwaiting_tts import env
from callwaiting_tts.env import process_alive
from devstack.common import VAR_DIR, Embedded, log
from devstack.postgres import find_database
from devstack.redis_server import find_redis
from devstack.secrets import dev_settings

# --- runtime.json -----------------------------------------------------------------------------


def write_runtime(choice: dict[str, Any], path: Path | None = None) -> bool:
    """Writes this supervisor's choice unless another live supervisor's file is there (it keeps
    serving `manage.py` beside it). Returns whether the file is now ours."""
    path = path or env.RUNTIME_FILE
    with contextlib.suppress(OSError, ValueError):
        owner = int(json.loads(path.read_text()).get("pid", 0))
        if owner > 0 and owner != os.getpid() and process_alive(owner):
            log(f"{path} belongs to live supervisor {owner}; leaving it")
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    # Owner only: it carries the dev secrets.
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(json.dumps({"pid": os.getpid(), **choice}, indent=2) + "\n")
    partial.replace(path)  # atomic: settings never read half a file
    return True


def remove_runtime(path: Path | None = None) -> None:
    path = path or env.RUNTIME_FILE
    with contextlib.suppress(OSError, ValueError):
        if int(json.loads(path.read_text()).get("pid", 0)) == os.getpid():
            path.unlink()


def _source(variable: str, handle: Embedded | None) -> str:
    if env.env_str(variable):
        return "env"
    return "embedded" if handle is not None else "local"


@dataclass
class Services:
    child_env: dict[str, str]
    choice: dict[str, str]
    handles: list[Embedded] = field(default_factory=list)


@contextlib.contextmanager
def services(var_dir: Path = VAR_DIR) -> Iterator[Services]:
    """Finds or starts both servers; stops what it started on the way out."""
    found = Services(child_env=dict(os.environ), choice={})
    wrote = False
    try:
        db_url, db = find_database(var_dir=var_dir)
        if db is not None:
            found.handles.append(db)
        redis_url, rd = find_redis(var_dir=var_dir)
        if rd is not None:
            found.handles.append(rd)
        found.choice = {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "database": _source("DATABASE_URL", db),
            "redis": _source("REDIS_URL", rd),
        }
        found.child_env.update(DATABASE_URL=db_url, REDIS_URL=redis_url)
        # Generated dev secrets and the dev flag (devstack/secrets.py); `manage.py` beside the
        # stack reads the same values from runtime.json.
        dev = dev_settings(var_dir)
        found.child_env.update(dev)
        found.choice.update({k: v for k, v in dev.items() if k != "ALLOWED_HOSTS"})
        wrote = write_runtime(found.choice)
        yield found
    finally:
        if wrote:
            remove_runtime()
        for handle in reversed(found.handles):
            handle.stop()
