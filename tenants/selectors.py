"""Reads of tenants and their API keys, for the entry points above tenants (the API, the
portal).

API keys, as a principal sees them.

Keys live in the public schema beside every other tenant's, so the tenant filter here is the
whole of the isolation: every query names `principal.tenant_id`, and another tenant's key is
simply not found (404, never 403). A key is addressed by its public prefix (the part of
`cw_<prefix>_<secret>` that `/v1/me`, logs and `revoke_api_key` show), not by its row id: the
prefix is random, so ids neither leak how many keys the platform holds nor can be walked.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from redis.exceptions import RedisError

from callwaiting_tts.errors import ApplicationError
from callwaiting_tts.redis import get_redis, key
from tenants.hosts import host_from_header
from tenants.keys import PREFIX_LENGTH
from tenants.models import ApiKey, Domain, Tenant
from tenants.principal import Principal

logger = logging.getLogger(__name__)

_PREFIX_RE = re.compile(rf"^[a-z0-9]{{{PREFIX_LENGTH}}}$")


class ApiKeyNotFound(ApplicationError):
    """Missing, or another tenant's: the same answer (404)."""

    def __init__(self) -> None:
        super().__init__("Not found.", code="not_found", status=404)


def tenant_of(principal: Principal) -> Tenant:
    """The principal's tenant row (what writes such as `api_key_create` take)."""
    return Tenant.objects.get(pk=principal.tenant_id)


def api_key_list(*, principal: Principal) -> list[ApiKey]:
    """The tenant's keys, newest first, revoked and expired ones included."""
    keys = list(ApiKey.objects.filter(tenant_id=principal.tenant_id).order_by("-created_at"))
    return _with_buffered_last_use(keys)


def api_key_get(*, principal: Principal, key_id: str) -> ApiKey:
    """The tenant's key whose prefix is `key_id`; ApiKeyNotFound otherwise."""
    if not _PREFIX_RE.match(key_id):
        raise ApiKeyNotFound()
    api_key = ApiKey.objects.filter(tenant_id=principal.tenant_id, prefix=key_id).first()
    if api_key is None:
        raise ApiKeyNotFound()
    return _with_buffered_last_use([api_key])[0]


def _with_buffered_last_use(keys: list[ApiKey]) -> list[ApiKey]:
    """Authentication buffers last-used times in Redis and a Celery task writes them every
    minute; the later of the two is shown (on the instances only, nothing is saved). Without
    Redis the stored time is shown: a read never fails for this. A buffered time before the
    key was created belongs to an earlier row with the same id (the database was recreated,
    as tests do, while Redis kept the buffer) and is ignored."""
    if not keys:
        return keys
    try:
        stamps = get_redis().hmget(key("apikey", "last_used"), [str(k.pk) for k in keys])
    except RedisError:
        logger.warning("buffered API key last-used times unavailable", exc_info=True)
        return keys
    for api_key, stamp in zip(keys, stamps, strict=True):
        if stamp is None:
            continue
        buffered = datetime.fromtimestamp(float(stamp), UTC)
        if buffered < api_key.created_at:
            continue  # another row's under a reused id (a recreated database): not this key's
        if api_key.last_used_at is None or api_key.last_used_at < buffered:
            api_key.last_used_at = buffered
    return keys


def tenant_for_host(host: str) -> Tenant | None:
    """The tenant whose domain (`Domain`, managed by staff in Django admin) is `host`: a Host
    header as the request carries it (`request.get_host()`; case, port and a trailing dot do not
    matter). None for a host that is no tenant's domain. A domain only pre-selects the tenant a
    page is about, e.g. on the portal's sign-in page; it grants nothing: the signed-in user must
    still be a member. The tenant is returned whatever its status: the caller decides what a
    suspended tenant's page shows."""
    name = host_from_header(host)
    if not name:
        return None
    domain = Domain.objects.select_related("tenant").filter(domain=name).first()
    return domain.tenant if domain is not None else None
