"""The figures computed at scrape (`tts_metrics.on_scrape`): dependencies, quota shares, and a
hook that fails."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from billing.admission import month_of, used_key
from billing.models import TenantPlanOverride
from callwaiting_tts import health, tts_metrics
from callwaiting_tts.redis import get_redis
from synthesis import metrics as synthesis_metrics
from tests.conftest import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def gauge(metric, **labels: str) -> float:
    return metric.labels(**labels)._value.get()


def test_it_reports_a_dependency_down_while_the_other_is_up():
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        health.dependency_figures()
    assert gauge(tts_metrics.DEPENDENCY_UP, dependency="redis") == 0
    assert gauge(tts_metrics.DEPENDENCY_UP, dependency="postgres") == 1
    health.dependency_figures()
    assert gauge(tts_metrics.DEPENDENCY_UP, dependency="redis") == 1


def named_shares() -> dict[str, float]:
    return {
        sample.labels["tenant"]: sample.value
        for family in tts_metrics.TENANT_QUOTA_USED.collect()
        for sample in family.samples
    }


def test_it_names_only_the_tenants_nearest_their_quota(make_tenant):
    month = month_of()
    near, far, unlimited = make_tenant("near"), make_tenant("far"), make_tenant("unlimited")
    for fixture, quota, used in ((near, 1000, 900), (far, 1000, 100), (unlimited, None, 5000)):
        TenantPlanOverride.objects.create(tenant=fixture.tenant, monthly_character_quota=quota)
        get_redis().set(used_key(fixture.tenant.pk, month), used)
    with override_settings(METRICS_TOP_TENANTS=1):
        synthesis_metrics.quota_figures()
    assert named_shares() == {near.tenant.slug: 0.9}
    with override_settings(METRICS_TOP_TENANTS=10):
        synthesis_metrics.quota_figures()
    shares = named_shares()
    assert shares[near.tenant.slug] == 0.9
    assert shares[far.tenant.slug] == 0.1
    assert unlimited.tenant.slug not in shares  # no quota: no share to near


def test_a_failing_hook_leaves_the_others_running(caplog):
    caplog.set_level(logging.WARNING, logger="callwaiting_tts.tts_metrics")
    ran = []

    def broken() -> None:
        raise ConnectionError("redis is away")

    def working() -> None:
        ran.append(True)

    try:
        tts_metrics.on_scrape(broken)
        tts_metrics.on_scrape(working)
        tts_metrics.on_scrape(working)  # once, however often registered
        tts_metrics.refresh()
    finally:
        tts_metrics._scrape_hooks.remove(broken)
        tts_metrics._scrape_hooks.remove(working)
    assert ran == [True]
    (line,) = [r for r in caplog.records if r.getMessage() == "a metrics scrape hook failed"]
    assert "redis is away" in line.error
