"""Typed helpers that read configuration from the environment.

Every value may also come from a file named by ``<NAME>_FILE`` (Docker/Kubernetes secrets).
Local runs get defaults that work on a developer machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
# Written by the dev supervisor (devstack), read by settings: path and reader live here, so
# settings never import the tool.
RUNTIME_FILE = BASE_DIR / "var" / "runtime.json"


def env_str(name: str, default: str = "") -> str:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = env_str(name, "")
    if not value:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env_str(name, "")
    return int(value) if value else default


def env_float_or_none(name: str) -> float | None:
    value = env_str(name, "")
    return float(value) if value else None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def s3_storage(
    *,
    bucket: str,
    endpoint_url: str = "",
    access_key: str = "",
    secret_key: str = "",
    region: str = "",
    addressing_style: str = "",
    signature_version: str = "",
) -> dict[str, object]:
    """The STORAGES entry of S3-compatible storage (settings build it from S3_*; tests from a
    moto server). An empty value leaves botocore's default: auto addressing (path style for an
    IP endpoint, virtual hosts otherwise) and SigV4. MinIO, Ceph and other self-hosted servers
    usually want `addressing_style="path"`."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            "region_name": region or None,
            "addressing_style": addressing_style or None,
            "signature_version": signature_version or None,
            "default_acl": None,
            # voices.storage.storage_write replaces a file at its exact path itself.
            "file_overwrite": False,
        },
    }


def checkout_id() -> str:
    """Short id of this checkout: a dev tree and a CI clone on one machine get distinct
    database names and Redis key prefixes without any configuration."""
    return hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:8]


def runtime_choice() -> dict[str, str]:
    """What the `make run` / `make test` supervisor chose (servers found or embedded ones it
    started), so `manage.py` beside a running service talks to the same servers.
    Ignored once the supervisor that wrote it has gone."""
    try:
        data = json.loads(RUNTIME_FILE.read_text())
    except (OSError, ValueError):
        return {}
    pid = int(data.get("pid", 0))
    if pid <= 0 or not process_alive(pid):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)}


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def default_database_url() -> str:
    return f"postgresql://postgres@127.0.0.1:5432/cwtts_{checkout_id()}"


def default_redis_url() -> str:
    return "redis://127.0.0.1:6379/0"


def database_url() -> str:
    return env_str("DATABASE_URL") or runtime_choice().get("DATABASE_URL") or default_database_url()


def redis_url() -> str:
    return env_str("REDIS_URL") or runtime_choice().get("REDIS_URL") or default_redis_url()


def parse_database_url(url: str) -> dict[str, object]:
    """`postgresql://user:password@host:port/name?host=/socket/dir&sslmode=...` → Django DATABASES
    entry fields. A `host` query parameter (a Unix socket directory) wins over the netloc."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got scheme {parts.scheme!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    host = query.pop("host", None) or parts.hostname or ""
    return {
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "OPTIONS": query,
    }
