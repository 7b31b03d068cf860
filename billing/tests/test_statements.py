"""Monthly statements: the plan fee and any overage (per started 1,000 characters over the
quota), from the usage records of the calendar month (UTC), closed once, rendered as CSV and
printable HTML, visible to staff."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import Statement, TenantPlanOverride
from billing.statements import close_statement, format_minor, statement_csv, statement_html
from billing.tasks import close_previous_month
from billing.tests.conftest import record
from callwaiting_tts.errors import ApplicationError
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

NOVEMBER = date(2025, 11, 1)


def at(day: int, hour: int = 12, month: int = 11) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


@pytest.fixture
def on_plan(tenant_a, plan) -> Tenant:
    """Tenant A on a plan of 100,000 characters, 49.00 USD, 0.30 USD per 1,000 over."""
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(plan=plan)
    return Tenant.objects.select_related("plan").get(pk=tenant_a.tenant.pk)


def _created_long_ago(*tenants: Tenant) -> None:
    Tenant.objects.filter(pk__in=[t.pk for t in tenants]).update(
        created_at=datetime(2020, 1, 1, tzinfo=UTC)
    )


def test_under_the_quota_it_bills_the_plan_fee_only(on_plan):
    record(on_plan, at=at(3), characters=60_000)
    record(on_plan, at=at(30, 23), characters=40_000)  # exactly the quota

    statement = close_statement(on_plan, NOVEMBER)

    assert statement.period_end == date(2025, 11, 30)
    assert statement.characters == 100_000
    assert [
        (line.quantity, line.unit_price_minor, line.amount_minor) for line in statement.lines.all()
    ] == [(1, 4900, 4900)]
    assert statement.total_minor == 4900
    assert statement.currency == "USD"
    assert statement.plan_name == "Pro"


def test_overage_is_priced_per_started_thousand(on_plan):
    record(on_plan, at=at(10), characters=100_001)  # one over: one started block
    record(on_plan, at=at(11), characters=1_000)  # 1,001 over: two blocks

    statement = close_statement(on_plan, NOVEMBER)

    fee, overage = statement.lines.all()
    assert (overage.quantity, overage.unit_price_minor, overage.amount_minor) == (2, 30, 60)
    assert "1,001 characters over" in overage.description
    assert statement.total_minor == fee.amount_minor + 60 == 4960


def test_it_counts_only_the_calendar_month_in_utc_and_only_the_tenant(on_plan, tenant_b):
    record(on_plan, at=datetime(2025, 10, 31, 23, 59, 59, tzinfo=UTC), characters=500_000)
    record(on_plan, at=datetime(2025, 12, 1, 0, 0, 0, tzinfo=UTC), characters=500_000)
    record(tenant_b.tenant, at=at(15), characters=500_000)
    record(on_plan, at=datetime(2025, 11, 1, 0, 0, 0, tzinfo=UTC), characters=7)

    statement = close_statement(on_plan, NOVEMBER)

    assert statement.characters == 7
    assert statement.total_minor == 4900


def test_a_hard_stop_plan_bills_no_overage(on_plan, plan):
    plan.overage_allowed = False
    plan.save()
    record(on_plan, at=at(5), characters=100_050)

    statement = close_statement(on_plan, NOVEMBER)

    assert statement.lines.count() == 1
    assert statement.total_minor == 4900


def test_the_tenants_override_prices_and_quota_apply(on_plan):
    TenantPlanOverride.objects.create(
        tenant=on_plan,
        price_per_month_minor=1000,
        overage_per_1k_minor=5,
        monthly_character_quota=0,
    )
    record(on_plan, at=at(5), characters=2_500)

    statement = close_statement(on_plan, NOVEMBER)

    assert [line.amount_minor for line in statement.lines.all()] == [1000, 15]
    assert statement.monthly_character_quota == 0


def test_closing_twice_returns_the_same_statement_unchanged(on_plan):
    record(on_plan, at=at(5), characters=150_000)
    first = close_statement(on_plan, NOVEMBER)
    record(on_plan, at=at(6), characters=150_000)  # late: a closed statement never changes

    again = close_statement(on_plan, NOVEMBER)

    assert again.pk == first.pk
    assert again.total_minor == first.total_minor
    assert Statement.objects.filter(tenant=on_plan).count() == 1
    assert again.lines.count() == 2


def test_it_refuses_a_month_not_over_or_not_a_first_day(on_plan):
    with pytest.raises(ApplicationError) as error:
        close_statement(on_plan, date.today().replace(day=1))
    assert error.value.code == "period_open"
    with pytest.raises(ApplicationError) as error:
        close_statement(on_plan, date(2025, 11, 2))
    assert error.value.code == "invalid_period"


def test_the_command_closes_a_month_for_every_active_tenant(on_plan, tenant_b, capsys):
    _created_long_ago(on_plan, tenant_b.tenant)
    record(on_plan, at=at(5), characters=10)
    call_command("close_statements", "--month", "2025-11")
    first = set(Statement.objects.filter(period_start=NOVEMBER).values_list("tenant_id", "pk"))
    assert {on_plan.pk, tenant_b.tenant.pk} <= {t for t, _ in first}

    call_command("close_statements", "--month", "2025-11", "--json")  # idempotent
    assert (
        set(Statement.objects.filter(period_start=NOVEMBER).values_list("tenant_id", "pk")) == first
    )
    assert '"month": "2025-11"' in capsys.readouterr().out


def test_the_command_skips_suspended_tenants_and_tenants_created_later(tenant_a, tenant_b):
    Tenant.objects.filter(pk=tenant_b.tenant.pk).update(status=Tenant.Status.SUSPENDED)
    call_command("close_statements", "--month", "2025-11")
    assert not Statement.objects.filter(tenant=tenant_b.tenant).exists()
    # The session tenants were created today, after the month ended.
    assert not Statement.objects.filter(tenant=tenant_a.tenant).exists()


def test_the_task_closes_the_previous_month(tenant_a, tenant_b):
    close_previous_month()  # the session tenants were created this month: nothing to close
    assert not Statement.objects.filter(tenant__in=[tenant_a.tenant, tenant_b.tenant]).exists()
    _created_long_ago(tenant_a.tenant)
    assert close_previous_month() >= 1
    statement = Statement.objects.get(tenant=tenant_a.tenant)
    last_month = (timezone.now().date().replace(day=1) - timedelta(days=1)).replace(day=1)
    assert statement.period_start == last_month


def test_the_csv_has_each_line_and_the_total(on_plan):
    record(on_plan, at=at(5), characters=101_000)
    rows = list(csv.DictReader(io.StringIO(statement_csv(close_statement(on_plan, NOVEMBER)))))
    assert [(r["description"].split(",")[0], r["amount_minor"]) for r in rows] == [
        ("Pro plan", "4900"),
        ("Overage: 1", "30"),
        ("Total", "4930"),
    ]
    assert {r["currency"] for r in rows} == {"USD"}
    assert {r["tenant"] for r in rows} == {on_plan.slug}


def test_the_html_page_shows_lines_and_total_in_major_units(on_plan):
    record(on_plan, at=at(5), characters=101_000)
    html = statement_html(close_statement(on_plan, NOVEMBER))
    assert "49.00 USD" in html
    assert "0.30 USD" in html
    assert "49.30 USD" in html
    assert on_plan.name in html
    assert "November 2025" in html


def test_format_minor_knows_zero_decimal_currencies():
    assert format_minor(123456, "USD") == "1,234.56 USD"
    assert format_minor(5, "EUR") == "0.05 EUR"
    assert format_minor(1200, "JPY") == "1,200 JPY"


def test_staff_see_statements_read_only_with_their_lines(staff, on_plan):
    record(on_plan, at=at(5), characters=101_000)
    statement = close_statement(on_plan, NOVEMBER)
    assert staff.get("/admin/billing/statement/").status_code == 200
    response = staff.get(f"/admin/billing/statement/{statement.pk}/change/")
    assert response.status_code == 200
    assert "Overage" in response.content.decode()
    assert (
        staff.post(f"/admin/billing/statement/{statement.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
