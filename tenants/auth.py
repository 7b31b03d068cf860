"""API key → principal, the one function behind HTTP and WebSocket authentication.

The key record (with its tenant's schema and status) is cached in Redis, so an authenticated
request touches no database. Revocation, suspension and reactivation write a tombstone for the
key's prefix (`forget_key`): a new generation, stored apart from the record. A cached record is
used only while it carries the current generation, so the change takes effect on the next
request, and a load that read the database before the change and writes the cache after it
cannot bring the old record back (it is written under the old generation, so it is stale at
once). Last-used times are buffered in a Redis hash that a Celery task flushes
(`tenants.tasks.flush_api_key_last_used`).

Failed authentications are counted per client address and per key prefix and minute: past
`AUTH_FAILURE_LIMIT_PER_MINUTE` on either, a key that does not verify gets 429 instead of 401.
The key is verified first (one cache read and an HMAC), so a key that verifies is never braked,
whoever else fails from its address.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from callwaiting_tts.redis import get_redis, key
from tenants.audit import Actor, audit_record
from tenants.keys import parse_key, secret_matches
from tenants.models import ApiKey, AuditLog, Tenant
from tenants.principal import Principal

logger = logging.getLogger(__name__)

# A negative entry (no such prefix) lives this long: garbage keys cannot hammer the database.
_MISSING_SECONDS = 30
# A tombstone outlives by far any cached record written under the generation it replaces.
TOMBSTONE_SECONDS = 24 * 3600


class ApiKeyError(Exception):
    """Authentication failed. `status` is 401 (bad key), 403 (suspended tenant) or 429."""

    def __init__(
        self, code: str, message: str, *, status: int = 401, retry_after: int | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after


def _cache_key(prefix: str) -> str:
    # Not `apikey:<prefix>`, which held the record without a generation: during a rolling
    # deploy, processes of either version leave the other's entries alone.
    return f"apikey:record:{prefix}"


def _generation_key(prefix: str) -> str:
    return f"apikey:generation:{prefix}"


def _read_record(prefix: str) -> dict[str, Any] | None:
    api_key = ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
    if api_key is None:
        return None
    return {
        "key_id": api_key.pk,
        "prefix": api_key.prefix,
        "name": api_key.name,
        "secret_hash": api_key.secret_hash,
        "scopes": list(api_key.scopes),
        "revoked": api_key.revoked_at is not None,
        "expires_at": api_key.expires_at.timestamp() if api_key.expires_at else None,
        "tenant_id": api_key.tenant_id,
        "tenant_slug": api_key.tenant.slug,
        "tenant_name": api_key.tenant.name,
        "tenant_status": api_key.tenant.status,
        "schema_name": api_key.tenant.schema_name,
        "plan_id": api_key.tenant.plan_id,
    }


def _load_record(prefix: str) -> dict[str, Any] | None:
    """The key's record (None: no such key), from the cache when the cached entry carries the
    prefix's current generation, else from the database. The generation is read (with the
    entry, one MGET) before the database is, and the entry is written under it."""
    entry_key, generation_key = _cache_key(prefix), _generation_key(prefix)
    found = cache.get_many([entry_key, generation_key])
    generation = found.get(generation_key)
    entry = found.get(entry_key)
    if isinstance(entry, dict) and "record" in entry and entry.get("generation") == generation:
        return dict(entry["record"]) if entry["record"] is not None else None
    record = _read_record(prefix)
    timeout = settings.API_KEY_CACHE_SECONDS if record is not None else _MISSING_SECONDS
    cache.set(entry_key, {"generation": generation, "record": record}, timeout)
    return record


def _write_tombstones(prefixes: list[str]) -> None:
    generation = uuid.uuid4().hex
    cache.set_many({_generation_key(p): generation for p in prefixes}, TOMBSTONE_SECONDS)


def forget_keys(prefixes: list[str]) -> None:
    """Makes the cached records of these keys stale (a tombstone each), now and, when called
    inside a transaction, again once it commits: a load between the two reads the database as
    it was before the commit."""
    if not prefixes:
        return
    _write_tombstones(prefixes)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _write_tombstones(prefixes))


def forget_key(prefix: str) -> None:
    forget_keys([prefix])


def _minute() -> int:
    """The brake's window: failures are counted per clock minute."""
    return int(time.time() // 60)


def _retry_after() -> int:
    return 60 - int(time.time() % 60)


def _count_failure(
    code: str,
    *,
    client: str | None,
    prefix: str | None,
    tenant_id: int | None = None,
    against_client: bool = True,
) -> ApiKeyError | None:
    """Counts one failed authentication against the client's address (unless told not to)
    and the key's prefix (None: no key of that prefix), and returns the 429 to answer instead
    of the failure when either is past its budget this minute."""
    minute = _minute()
    counted = [
        (scope, who)
        for scope, who in (("addr", client if against_client else None), ("key", prefix))
        if who
    ]
    if not counted:
        return None
    pipe = get_redis().pipeline()
    for scope, who in counted:
        name = key("authfail", scope, who, minute)
        pipe.incr(name)
        pipe.expire(name, 120)
    counts = pipe.execute()[::2]
    if min(counts) <= 3:  # the log itself is rate-limited: the first few per address or key
        logger.info(
            "api key authentication failed",
            extra={"client": client, "prefix": prefix, "code": code},
        )
    limit = settings.AUTH_FAILURE_LIMIT_PER_MINUTE
    for (scope, who), count in zip(counted, counts, strict=True):
        if count == limit:  # once per burst: the budget just ran out
            what = f"api_key:{who}" if scope == "key" else f"ip:{who}"
            audit_record(
                by=Actor(actor=f"ip:{client}", source=AuditLog.Source.API, ip=client),
                action="auth.failure_burst",
                tenant_id=tenant_id if scope == "key" else None,
                target=f"{count} failed authentications for {what} in a minute (last: {code})",
            )
    if max(counts) <= limit:
        return None
    return ApiKeyError(
        "too_many_failed_attempts",
        "Too many failed authentication attempts; try again shortly.",
        status=429,
        retry_after=_retry_after(),
    )


def _note_use(key_id: int) -> None:
    get_redis().hset(key("apikey", "last_used"), str(key_id), str(time.time()))


def _record_problem(record: dict[str, Any]) -> ApiKeyError | None:
    """Why a known key may not be used now, if it may not."""
    if record["revoked"]:
        return ApiKeyError("api_key_revoked", "This API key has been revoked.")
    if record["expires_at"] is not None and record["expires_at"] <= time.time():
        return ApiKeyError("api_key_expired", "This API key has expired.")
    if record["tenant_status"] != Tenant.Status.ACTIVE:
        return ApiKeyError("tenant_suspended", "This account is suspended.", status=403)
    return None


def key_problem(prefix: str) -> ApiKeyError | None:
    """For connections that outlive one request (the realtime socket): whether the key they
    authenticated with is still usable now, by the same rules as `authenticate_api_key` (one
    cache MGET; a tombstone makes the record stale when a key is revoked or a tenant
    suspended)."""
    record = _load_record(prefix)
    if record is None:
        return ApiKeyError("api_key_revoked", "This API key has been revoked.")
    return _record_problem(record)


def authenticate_api_key(raw: str, *, client: str | None = None) -> Principal:
    """Resolves a presented key. Raises ApiKeyError; never touches the tenant's schema.

    The key is verified before the failure brake is consulted: a bad key counts against the
    client's address (and, when its prefix names a key, that key), a revoked or expired key
    with its right secret only against its own prefix (a forgotten script does not lock out
    its neighbours), a suspended tenant's key against nothing."""
    parsed = parse_key(raw.strip())
    record = _load_record(parsed.prefix) if parsed else None
    if (
        parsed is None
        or record is None
        or not secret_matches(parsed.secret, record["secret_hash"], settings.API_KEY_PEPPER)
    ):
        code = "invalid_api_key"
        braked = _count_failure(
            code,
            client=client,
            prefix=record["prefix"] if record is not None else None,
            tenant_id=record["tenant_id"] if record is not None else None,
        )
        raise braked or ApiKeyError(
            code, "Incorrect API key provided." if parsed else "Malformed API key."
        )
    problem = _record_problem(record)
    if problem is not None:
        if problem.code != "tenant_suspended":
            braked = _count_failure(
                problem.code,
                client=client,
                prefix=record["prefix"],
                tenant_id=record["tenant_id"],
                against_client=False,
            )
            raise braked or problem
        raise problem
    _note_use(record["key_id"])
    return Principal(
        key_id=record["key_id"],
        prefix=record["prefix"],
        name=record["name"],
        scopes=frozenset(record["scopes"]),
        tenant_id=record["tenant_id"],
        tenant_slug=record["tenant_slug"],
        tenant_name=record["tenant_name"],
        schema_name=record["schema_name"],
        plan_id=record["plan_id"],
        expires_at=record["expires_at"],
    )


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer`, `X-API-Key` or `xi-api-key` (lower-case names).
    Returns None when no header is present; raises ApiKeyError for a garbled Authorization."""
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiKeyError(
                "invalid_authorization_header",
                "The Authorization header must be 'Bearer <API key>'.",
            )
        return value.strip()
    for name in ("x-api-key", "xi-api-key"):
        if name in headers:
            return headers[name].strip()
    return None
