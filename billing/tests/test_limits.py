"""A tenant's effective limits: its plan, each override field replacing the plan's, cached in
Redis (one GET on a hit) and forgotten when staff change a plan or an override."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.limits import Limits, effective_limits, forget_limits, limits_for
from billing.models import DEFAULT_PLAN_SLUG, Plan, TenantPlanOverride
from tenants.models import AuditLog, Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_cached_limits(tenant_a, tenant_b):
    forget_limits()
    yield
    forget_limits()


def _move(tenant: Tenant, plan: Plan) -> None:
    # Not through the session tenant's object, which outlives this test's rollback.
    Tenant.objects.filter(pk=tenant.pk).update(plan=plan)


def test_the_default_plan_has_sensible_defaults():
    plan = Plan.objects.get(slug=DEFAULT_PLAN_SLUG)
    assert plan.currency == "USD"
    assert plan.price_per_month_minor == 0
    assert plan.max_input_characters == 5000
    assert plan.key_requests_per_minute is None
    assert plan.allowed_engines == []
    assert plan.allowed_formats == []
    assert plan.monthly_character_quota is None


def test_it_reads_the_plan_when_there_is_no_override(tenant_a, plan):
    _move(tenant_a.tenant, plan)
    assert limits_for(tenant_a.tenant.pk) == Limits(
        requests_per_minute=600,
        key_requests_per_minute=300,
        max_concurrent_streams=10,
        monthly_characters=100_000,
        overage_allowed=True,
        max_input_characters=10_000,
        max_cloned_voices=20,
        allowed_engines=frozenset({"piper"}),
        allowed_formats=frozenset(),
    )


def test_a_key_limit_left_empty_is_the_tenants_limit(tenant_a):
    limits = limits_for(tenant_a.tenant.pk)
    assert limits.requests_per_minute == 120
    assert limits.key_requests_per_minute == 120
    assert limits.monthly_characters is None


def test_each_override_field_replaces_the_plans_and_empty_ones_inherit(plan):
    override = TenantPlanOverride(
        requests_per_minute=50,
        monthly_character_quota=0,
        overage_allowed=False,
        allowed_engines=[],
        allowed_formats=["mulaw"],
    )
    limits = effective_limits(plan, override)
    assert limits.requests_per_minute == 50
    assert limits.key_requests_per_minute == 300  # the plan's own key limit
    assert limits.monthly_characters == 0  # zero is a value, not "inherit"
    assert limits.overage_allowed is False
    assert limits.allowed_engines == frozenset()  # [] overrides the plan's list: every engine
    assert limits.allowed_formats == frozenset({"mulaw"})
    assert limits.max_concurrent_streams == 10
    assert limits.max_input_characters == 10_000


def test_an_override_of_the_tenant_limit_carries_to_keys_when_the_plan_has_no_key_limit(tenant_a):
    TenantPlanOverride.objects.create(tenant=tenant_a.tenant, requests_per_minute=7)
    limits = limits_for(tenant_a.tenant.pk)
    assert (limits.requests_per_minute, limits.key_requests_per_minute) == (7, 7)


def test_a_cached_read_is_one_cache_get_and_no_query(tenant_a, monkeypatch):
    limits_for(tenant_a.tenant.pk)
    gets: list[str] = []
    real_get = cache.get
    monkeypatch.setattr(cache, "get", lambda k, *a, **kw: gets.append(k) or real_get(k, *a, **kw))
    with CaptureQueriesContext(connection) as queries:
        limits_for(tenant_a.tenant.pk)
    assert len(queries) == 0
    assert len(gets) == 1


def test_the_cache_is_per_tenant(tenant_a, tenant_b):
    TenantPlanOverride.objects.create(tenant=tenant_a.tenant, max_concurrent_streams=1)
    assert limits_for(tenant_a.tenant.pk).max_concurrent_streams == 1
    assert limits_for(tenant_b.tenant.pk).max_concurrent_streams == 4


def test_forget_limits_drops_one_tenant_or_all(tenant_a, tenant_b):
    assert limits_for(tenant_a.tenant.pk).max_concurrent_streams == 4
    assert limits_for(tenant_b.tenant.pk).max_concurrent_streams == 4
    Plan.objects.filter(slug=DEFAULT_PLAN_SLUG).update(max_concurrent_streams=9)
    try:
        assert limits_for(tenant_a.tenant.pk).max_concurrent_streams == 4  # cached
        forget_limits(tenant_a.tenant.pk)
        assert limits_for(tenant_a.tenant.pk).max_concurrent_streams == 9
        assert limits_for(tenant_b.tenant.pk).max_concurrent_streams == 4
        forget_limits()
        assert limits_for(tenant_b.tenant.pk).max_concurrent_streams == 9
    finally:
        Plan.objects.filter(slug=DEFAULT_PLAN_SLUG).update(max_concurrent_streams=4)


# --- admin ---------------------------------------------------------------------------------------


def _plan_form(plan: Plan, **changes) -> dict:
    data = {
        "slug": plan.slug,
        "name": plan.name,
        "max_concurrent_streams": plan.max_concurrent_streams,
        "monthly_character_quota": plan.monthly_character_quota or "",
        "requests_per_minute": plan.requests_per_minute,
        "key_requests_per_minute": plan.key_requests_per_minute or "",
        "max_cloned_voices": plan.max_cloned_voices,
        "max_input_characters": plan.max_input_characters,
        "max_pronunciation_dictionaries": plan.max_pronunciation_dictionaries,
        "max_pronunciation_entries": plan.max_pronunciation_entries,
        "allowed_engines": '["piper"]',
        "allowed_formats": "[]",
        "overage_allowed": "on" if plan.overage_allowed else "",
        "price_per_month_minor": plan.price_per_month_minor,
        "overage_per_1k_minor": plan.overage_per_1k_minor,
        "currency": plan.currency,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != "" or k not in ("overage_allowed",)}


def test_a_plan_change_in_admin_is_audited_and_takes_effect_at_once(
    staff, superuser, tenant_a, plan
):
    _move(tenant_a.tenant, plan)
    assert limits_for(tenant_a.tenant.pk).requests_per_minute == 600

    response = staff.post(
        f"/admin/billing/plan/{plan.pk}/change/",
        _plan_form(plan, requests_per_minute=200, currency="EUR"),
    )
    assert response.status_code == 302, response.content.decode()[:3000]

    assert limits_for(tenant_a.tenant.pk).requests_per_minute == 200
    entry = AuditLog.objects.filter(action="plan.changed").latest("created_at")
    assert entry.actor == f"user:{superuser.pk}"
    assert entry.source == AuditLog.Source.ADMIN
    assert entry.target.startswith(f"plan:{plan.slug} ")
    assert "requests_per_minute 600→200" in entry.target
    assert "currency 'USD'→'EUR'" in entry.target


def test_the_plan_form_refuses_a_bad_currency_and_a_non_list(staff, plan):
    response = staff.post(
        f"/admin/billing/plan/{plan.pk}/change/",
        _plan_form(plan, currency="usd", allowed_engines='"piper"'),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "three-letter currency code" in html
    assert "must be a list of names" in html


def test_an_empty_engine_list_in_the_plan_form_means_every_engine(staff, plan):
    response = staff.post(
        f"/admin/billing/plan/{plan.pk}/change/", _plan_form(plan, allowed_engines="")
    )
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.allowed_engines == []


def _override_form(tenant, **fields) -> dict:
    data = {"tenant": tenant.pk, "note": "deal"}
    data.update(fields)
    return data


def test_an_override_added_changed_and_deleted_in_admin_is_audited_and_applied(
    staff, superuser, tenant_a
):
    tenant = tenant_a.tenant
    assert limits_for(tenant.pk).monthly_characters is None

    response = staff.post(
        "/admin/billing/tenantplanoverride/add/",
        _override_form(tenant, monthly_character_quota=1000, allowed_formats='["mulaw"]'),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    override = TenantPlanOverride.objects.get(tenant=tenant)
    assert override.allowed_engines is None  # empty: inherits
    limits = limits_for(tenant.pk)
    assert limits.monthly_characters == 1000
    assert limits.allowed_formats == frozenset({"mulaw"})

    response = staff.post(
        f"/admin/billing/tenantplanoverride/{override.pk}/change/",
        _override_form(tenant, monthly_character_quota=2000, allowed_formats='["mulaw"]'),
    )
    assert response.status_code == 302
    assert limits_for(tenant.pk).monthly_characters == 2000

    response = staff.post(
        f"/admin/billing/tenantplanoverride/{override.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert limits_for(tenant.pk).monthly_characters is None

    entries = list(
        AuditLog.objects.filter(action="plan_override.changed", tenant=tenant).order_by("id")
    )
    assert [e.target for e in entries] == [
        f"plan_override:{tenant.slug} created",
        f"plan_override:{tenant.slug} monthly_character_quota 1000→2000",
        f"plan_override:{tenant.slug} deleted",
    ]
    assert {e.actor for e in entries} == {f"user:{superuser.pk}"}


def test_moving_a_tenant_to_another_plan_in_admin_is_audited_and_applied(staff, tenant_a, plan):
    tenant = tenant_a.tenant
    assert limits_for(tenant.pk).requests_per_minute == 120
    response = staff.post(
        f"/admin/tenants/tenant/{tenant.pk}/change/",
        {
            "name": tenant.name,
            "slug": tenant.slug,
            "plan": plan.pk,
            "domains-TOTAL_FORMS": "0",
            "domains-INITIAL_FORMS": "0",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert limits_for(tenant.pk).requests_per_minute == 600
    entry = AuditLog.objects.filter(action="plan.changed", tenant=tenant).latest("id")
    assert entry.target == f"tenant:{tenant.slug} plan default→{plan.slug}"


def test_the_audit_log_filters_by_tenant_action_and_date(staff, tenant_a):
    response = staff.get(
        "/admin/tenants/auditlog/",
        {"tenant__id__exact": tenant_a.tenant.pk, "action": "tenant.create"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f"tenant:{tenant_a.tenant.slug}" in html
    assert staff.get("/admin/tenants/auditlog/", {"created_at__year": 2020}).status_code == 200
