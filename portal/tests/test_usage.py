"""The usage page through Django's test client: the chart (an SVG bar per day with usage), its
table alternative, the quota and concurrency meters, totals by key and voice, the range picker's
validation, and closed statements as CSV and a printable page, another tenant's being a 404."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from billing.limits import forget_limits
from billing.models import Statement, TenantPlanOverride
from billing.statements import close_statement, month_start, previous_month
from billing.tests.conftest import record
from conftest import TenantFixture
from portal.tests.conftest import MakeMember, assert_strict_page, signed_in
from tenants.models import ApiKey, Membership
from tenants.principal import ROLE_SCOPES

pytestmark = pytest.mark.django_db

BAR = re.compile(r'<rect class="bar bar-(\w+)"[^>]*data-day="([\d-]+)"[^>]*data-value="([\d.]+)"')


def _this_month_days() -> tuple[datetime, datetime]:
    today = datetime.now(UTC).date()
    first = datetime.combine(month_start(today), datetime.min.time(), UTC)
    return first, datetime.combine(today, datetime.min.time(), UTC)


def test_every_role_reads_usage_and_finds_it_in_the_navigation(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    # Every role holds usage:read (admin implies it), so no member of a tenant gets a 403 here.
    assert all("usage:read" in s or "admin" in s for s in ROLE_SCOPES.values())
    for role in Membership.Role.values:
        client = signed_in(make_member(tenant_a.tenant, role=role))
        html = assert_strict_page(client.get("/portal/usage/"))
        assert 'href="/portal/usage/" aria-current="page"' in html
        assert "Characters this month" in html


def test_it_refuses_people_without_a_tenant_or_a_session(make_member: MakeMember) -> None:
    assert signed_in(make_member()).get("/portal/usage/").status_code == 403
    response = Client().get("/portal/usage/")
    assert response.status_code == 302
    assert response["Location"].startswith("/portal/sign-in/")


@pytest.fixture
def quota(tenant_a: TenantFixture) -> Iterator[int]:
    """tenant_a with a monthly quota of 50,000 characters (its cached limits forgotten after)."""
    TenantPlanOverride.objects.create(tenant=tenant_a.tenant, monthly_character_quota=50_000)
    forget_limits(tenant_a.tenant.pk)
    yield 50_000
    forget_limits(tenant_a.tenant.pk)


def test_the_chart_has_a_bar_per_day_with_usage(
    tenant_a: TenantFixture, make_member: MakeMember, quota: int
) -> None:
    first, today = _this_month_days()
    key = ApiKey.objects.filter(tenant=tenant_a.tenant).first()
    record(tenant_a.tenant, at=first + timedelta(hours=3), characters=120, api_key=key)
    record(tenant_a.tenant, at=first + timedelta(hours=5), characters=80, voice="amy")
    if today > first:
        record(tenant_a.tenant, at=today + timedelta(hours=1), characters=40, delivered=2.5)
    client = signed_in(make_member(tenant_a.tenant, role="member"))
    html = assert_strict_page(client.get("/portal/usage/"))  # default: this month
    bars = BAR.findall(html)
    chars = {day: value for chart, day, value in bars if chart == "characters"}
    seconds = {day: value for chart, day, value in bars if chart == "seconds"}
    expected = {first.date().isoformat(): "200"}
    if today > first:
        expected[today.date().isoformat()] = "40"
    assert chars == expected
    assert set(seconds) == set(expected)
    assert '<title id="characters-title">Characters per day</title>' in html
    assert 'aria-labelledby="characters-title characters-desc"' in html
    # The table alternative lists every day of the range, empty ones included.
    rows = re.findall(r'<th scope="row" data-label="Day">([\d-]+)</th>', html)
    assert rows[0] == first.date().isoformat()
    assert rows[-1] == today.date().isoformat()
    assert len(rows) == (today - first).days + 1
    # Totals by key and by voice.
    assert key is not None
    assert key.prefix in html
    assert '<span class="chip">amy</span>' in html
    assert re.search(rf'<meter id="quota-meter" min="0" max="{quota}" value="\d+"', html)
    assert re.search(r'<meter id="streams-meter" min="0" max="\d+" value="0"', html)


def test_the_range_picker_shows_the_chosen_days_and_refuses_nonsense(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    record(tenant_a.tenant, at=datetime(2026, 3, 10, 12, tzinfo=UTC), characters=55)
    client = signed_in(make_member(tenant_a.tenant))
    html = assert_strict_page(client.get("/portal/usage/?start=2026-03-09&end=2026-03-11"))
    assert BAR.findall(html) == [("characters", "2026-03-10", "55"), ("seconds", "2026-03-10", "1")]
    assert len(re.findall(r'<th scope="row" data-label="Day">', html)) == 3
    for query in (
        "start=2026-03-12&end=2026-03-11",
        "start=nope",
        "start=2024-01-01&end=2026-01-01",
    ):
        response = client.get(f"/portal/usage/?{query}")
        assert response.status_code == 400, query
        assert 'role="alert"' in assert_strict_page(response)
        assert "<rect" not in response.content.decode()


def _closed_statement(tenant_fixture: TenantFixture) -> Statement:
    last = previous_month(datetime.now(UTC).date())
    record(
        tenant_fixture.tenant, at=datetime.combine(last, datetime.min.time(), UTC), characters=1234
    )
    return close_statement(tenant_fixture.tenant, last)


def test_it_lists_statements_with_csv_and_printable_downloads(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    statement = _closed_statement(tenant_a)
    client = signed_in(make_member(tenant_a.tenant, role="member"))
    html = assert_strict_page(client.get("/portal/usage/"))
    assert f'href="/portal/usage/statements/{statement.pk}/csv/"' in html
    assert f'href="/portal/usage/statements/{statement.pk}/print/"' in html

    response = client.get(f"/portal/usage/statements/{statement.pk}/csv/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["period_start", "period_end", "tenant", "description"]
    assert rows[-1][3] == "Total"
    assert rows[-1][6] == str(statement.total_minor)
    assert len(rows) == 2 + statement.lines.count()

    printable = client.get(f"/portal/usage/statements/{statement.pk}/print/")
    assert printable.status_code == 200
    assert printable["Content-Type"] == "text/html; charset=utf-8"
    policy = printable["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "style-src 'sha256-" in policy  # exactly billing's own <style> block, nothing else
    assert "script" not in policy
    assert tenant_a.tenant.name in printable.content.decode()


def test_another_tenants_statement_is_a_404(
    tenant_a: TenantFixture, tenant_b: TenantFixture, make_member: MakeMember
) -> None:
    statement = _closed_statement(tenant_a)
    outsider = signed_in(make_member(tenant_b.tenant))
    assert f"/statements/{statement.pk}/" not in outsider.get("/portal/usage/").content.decode()
    for kind in ("csv", "print"):
        response = outsider.get(f"/portal/usage/statements/{statement.pk}/{kind}/")
        assert response.status_code == 404
        assert_strict_page(response)
