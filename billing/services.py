from __future__ import annotations

from billing.models import DEFAULT_PLAN_SLUG, Plan


def plan_default() -> Plan:
    """The plan new tenants get unless told otherwise (created by billing's data migration;
    recreated here if an operator or a database flush removed it)."""
    plan, _ = Plan.objects.get_or_create(
        slug=DEFAULT_PLAN_SLUG,
        defaults={"name": "Default", "max_concurrent_streams": 4, "requests_per_minute": 120},
    )
    return plan
