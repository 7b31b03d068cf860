"""A tenant's effective limits: its plan, with the per-tenant overrides staff set in admin.

Read on every admission, so cached in Redis (`LIMITS_CACHE_SECONDS`) and forgotten when a plan
or an override is saved or deleted (`billing.admin`) or a tenant changes plan. `None` means
unlimited. A change made outside admin (a shell) takes effect within `LIMITS_CACHE_SECONDS`,
or at once after `forget_limits()`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from billing.models import Plan, TenantPlanOverride
from callwaiting_tts.errors import ApplicationError
from tenants.models import Tenant


@dataclass(frozen=True)
class Limits:
    requests_per_minute: int | None  # per tenant
    key_requests_per_minute: int | None  # per API key
    max_concurrent_streams: int  # HTTP streams and WebSocket contexts together
    monthly_characters: int | None  # calendar month, UTC
    overage_allowed: bool  # False: the quota is a hard stop
    max_input_characters: int
    max_cloned_voices: int
    allowed_engines: frozenset[str]  # empty: every engine
    allowed_formats: frozenset[str]  # empty: every format
    max_pronunciation_dictionaries: int = 10
    max_pronunciation_entries: int = 1000  # per dictionary


# Bump when Limits or its derivation changes, so no process reads a record of the old shape.
# 2: cached as its fields (the cache holds JSON, not pickles). 3: pronunciation limits.
_CACHE_VERSION = 3
LIMITS_CACHE_SECONDS = 60


def _cache_key(tenant_id: int) -> str:
    return f"limits:v{_CACHE_VERSION}:{tenant_id}"


def limits_cache_key(tenant_id: int) -> str:
    """The cache key of the tenant's limits (for a caller that reads several at once)."""
    return _cache_key(tenant_id)


def cached_limits(tenant_id: int, prefetched: Mapping[str, Any] | None = None) -> Limits | None:
    """The tenant's effective limits if the cache has them (one GET, or none when the caller
    `prefetched` them: a key it lacks is a miss), else None."""
    key = _cache_key(tenant_id)
    cached = prefetched.get(key) if prefetched is not None else cache.get(key)
    return Limits(**cached) if isinstance(cached, dict) else None


def limits_for(tenant_id: int) -> Limits:
    """The tenant's effective limits: one cache GET on a hit, one query on a miss.
    Raises Tenant.DoesNotExist for an unknown tenant."""
    cached = cached_limits(tenant_id)
    if cached is not None:
        return cached
    cache_key = _cache_key(tenant_id)
    limits = _load(tenant_id)
    cache.set(cache_key, dataclasses.asdict(limits), LIMITS_CACHE_SECONDS)
    return limits


def forget_limits(tenant_id: int | None = None) -> None:
    """Drops the cached limits of one tenant, or of every tenant (a plan changed)."""
    if tenant_id is not None:
        cache.delete(_cache_key(tenant_id))
        return
    ids = list(Tenant.objects.values_list("pk", flat=True))
    if ids:
        cache.delete_many([_cache_key(pk) for pk in ids])


def _load(tenant_id: int) -> Limits:
    tenant = Tenant.objects.select_related("plan", "plan_override").get(pk=tenant_id)
    try:
        override: TenantPlanOverride | None = tenant.plan_override
    except TenantPlanOverride.DoesNotExist:
        override = None
    return effective_limits(tenant.plan, override)


def effective_limits(plan: Plan, override: TenantPlanOverride | None) -> Limits:
    def pick(name: str) -> Any:
        value = getattr(override, name, None) if override is not None else None
        return getattr(plan, name) if value is None else value

    requests_per_minute = pick("requests_per_minute")
    key_requests_per_minute = pick("key_requests_per_minute")
    return Limits(
        requests_per_minute=requests_per_minute,
        key_requests_per_minute=(
            requests_per_minute if key_requests_per_minute is None else key_requests_per_minute
        ),
        max_concurrent_streams=pick("max_concurrent_streams"),
        monthly_characters=pick("monthly_character_quota"),
        overage_allowed=pick("overage_allowed"),
        max_input_characters=pick("max_input_characters"),
        max_cloned_voices=pick("max_cloned_voices"),
        max_pronunciation_dictionaries=pick("max_pronunciation_dictionaries"),
        max_pronunciation_entries=pick("max_pronunciation_entries"),
        allowed_engines=frozenset(pick("allowed_engines") or ()),
        allowed_formats=frozenset(pick("allowed_formats") or ()),
    )


def check_plan(
    limits: Limits, *, engine: str, output_format: str, characters: int, param: str = "text"
) -> None:
    """Refuses what the tenant's plan does not include: another engine or format (403), or an
    input longer than the plan's maximum (400, like the service-wide limit)."""
    if limits.allowed_engines and engine not in limits.allowed_engines:
        raise ApplicationError(
            f"Your plan does not include the {engine} engine; it includes "
            f"{', '.join(sorted(limits.allowed_engines))}.",
            code="engine_not_in_plan",
            param="voice",
            status=403,
        )
    if limits.allowed_formats and output_format not in limits.allowed_formats:
        raise ApplicationError(
            f"Your plan does not include the {output_format} format; it includes "
            f"{', '.join(sorted(limits.allowed_formats))}.",
            code="format_not_in_plan",
            param="format",
            status=403,
        )
    if characters > limits.max_input_characters:
        raise ApplicationError(
            f"The input is {characters} characters; your plan allows "
            f"{limits.max_input_characters}.",
            code="input_too_long",
            param=param,
        )
