"""Reads of billing state for the service's metrics (callwaiting_tts.tts_metrics)."""

from __future__ import annotations

from django_tenants.utils import get_public_schema_name

from billing.admission import month_of, used_key
from billing.limits import effective_limits
from billing.models import Plan, TenantPlanOverride
from callwaiting_tts.redis import get_redis
from tenants.models import Tenant

# plan id → slug: plans are few and their slugs rarely change (a renamed plan's new slug shows
# after a restart), so one query per plan per process.
_plan_slugs: dict[int, str] = {}


def plan_slug(plan_id: int) -> str:
    """The plan's slug (the `plan` label of billed characters); "unknown" for a missing plan."""
    slug = _plan_slugs.get(plan_id)
    if slug is None:
        found = Plan.objects.filter(pk=plan_id).values_list("slug", flat=True).first()
        if found is None:
            return "unknown"
        slug = _plan_slugs[plan_id] = found
    return slug


def tenants_nearest_quota(limit: int) -> list[tuple[str, float]]:
    """The `limit` tenants with a monthly quota that have used the largest share of it this
    month, as (slug, used / quota), largest first. Used is Redis's month counter (what
    admission enforces); a tenant with no counter yet has admitted nothing since it was last
    rebuilt, and is left out rather than read from PostgreSQL for every tenant."""
    if limit <= 0:
        return []
    quotas: dict[int, tuple[str, int]] = {}
    tenants = Tenant.objects.exclude(schema_name=get_public_schema_name()).select_related(
        "plan", "plan_override"
    )
    for tenant in tenants:
        try:
            override: TenantPlanOverride | None = tenant.plan_override
        except TenantPlanOverride.DoesNotExist:
            override = None
        quota = effective_limits(tenant.plan, override).monthly_characters
        if quota:
            quotas[tenant.pk] = (tenant.slug, quota)
    if not quotas:
        return []
    month = month_of()
    ids = list(quotas)
    used = get_redis().mget([used_key(pk, month) for pk in ids])
    shares = [
        (quotas[pk][0], int(value) / quotas[pk][1])
        for pk, value in zip(ids, used, strict=True)
        if value is not None
    ]
    shares.sort(key=lambda share: (-share[1], share[0]))
    return shares[:limit]
