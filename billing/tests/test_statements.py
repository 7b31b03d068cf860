"""Monthly statements: the plan fee and any overage (per started 1,000 characters over the
quota), from the usage records of the calendar month (UTC), closed once, rendered as CSV and
printable HTML, visible to staff."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from importlib import import_module

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from billing.models import Statement, TenantPlanOverride, UsageRecord
from billing.statements import close_statement, format_minor, statement_csv, statement_html
from billing.tasks import close_statements as close_statements_task
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
    record(on_plan, at=at(6), characters=150_000)  # late: the next statement bills it

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


def test_the_command_closes_a_month_for_every_tenant(on_plan, tenant_b, capsys):
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


def test_the_command_closes_suspended_tenants_but_not_tenants_created_later(tenant_a, tenant_b):
    _created_long_ago(tenant_b.tenant)
    Tenant.objects.filter(pk=tenant_b.tenant.pk).update(status=Tenant.Status.SUSPENDED)
    call_command("close_statements", "--month", "2025-11")
    assert Statement.objects.filter(tenant=tenant_b.tenant, period_start=NOVEMBER).exists()
    # The session tenants were created today, after the month ended, and have no usage in it.
    assert not Statement.objects.filter(tenant=tenant_a.tenant).exists()


# --- the daily task: every ended month, every tenant -------------------------------------------


def months_back(count: int) -> date:
    """The first day of the month `count` months before this one (UTC)."""
    month = timezone.now().date().replace(day=1)
    for _ in range(count):
        month = (month - timedelta(days=1)).replace(day=1)
    return month


def created_in(tenant: Tenant, month: date) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(
        created_at=datetime.combine(month, datetime.min.time(), tzinfo=UTC) + timedelta(days=3)
    )


def on(month: date, day: int = 10) -> datetime:
    return datetime(month.year, month.month, day, 12, tzinfo=UTC)


def characters_by_month(tenant: Tenant) -> dict[date, int]:
    return dict(Statement.objects.filter(tenant=tenant).values_list("period_start", "characters"))


def test_the_task_closes_every_ended_month_not_closed_oldest_first(on_plan):
    created_in(on_plan, months_back(3))
    record(on_plan, at=on(months_back(3)), characters=10)
    record(on_plan, at=on(months_back(1)), characters=20)
    record(on_plan, at=on(months_back(0)), characters=40)  # this month: not closed yet
    close_statement(on_plan, months_back(1))  # all the old daily task ever closed

    closed = close_statements_task()

    assert characters_by_month(on_plan) == {
        months_back(3): 10,
        months_back(2): 0,  # the plan fee is billed for a month with no usage
        months_back(1): 20,
    }
    assert closed >= 2
    before = set(Statement.objects.values_list("pk", "total_minor"))
    assert close_statements_task() == 0  # idempotent
    assert set(Statement.objects.values_list("pk", "total_minor")) == before


def test_the_task_closes_suspended_tenants_too(tenant_b):
    suspended = tenant_b.tenant
    created_in(suspended, months_back(2))
    Tenant.objects.filter(pk=suspended.pk).update(status=Tenant.Status.SUSPENDED)
    record(suspended, at=on(months_back(2)), characters=300)

    close_statements_task()

    assert characters_by_month(suspended) == {months_back(2): 300, months_back(1): 0}


def test_usage_of_a_month_with_no_statement_gets_one(tenant_a):
    # Usage older than the tenant's creation date (an imported tenant): still billed, once.
    record(tenant_a.tenant, at=on(months_back(2)), characters=70)

    close_statements_task()

    assert characters_by_month(tenant_a.tenant) == {months_back(2): 70, months_back(1): 0}


def test_a_late_record_is_carried_into_the_next_statement_exactly_once(on_plan):
    created_in(on_plan, months_back(3))
    record(on_plan, at=on(months_back(3)), characters=1_000)
    closed = close_statement(on_plan, months_back(3))
    # Written after its month closed: a late settle, or a record the reaper closed.
    late = record(on_plan, at=on(months_back(3), day=28), characters=500)
    record(on_plan, at=on(months_back(2)), characters=100)

    following = close_statement(on_plan, months_back(2))
    close_statements_task()

    billed = Statement.objects.filter(tenant=on_plan).values_list("characters", flat=True)
    assert sum(billed) == 1_600
    assert following.characters == 600
    assert following.carried_characters == 500
    late.refresh_from_db()
    assert late.statement == following
    closed.refresh_from_db()
    assert closed.characters == 1_000
    assert characters_by_month(on_plan)[months_back(1)] == 0


def test_an_earlier_months_records_wait_for_their_own_statement(on_plan):
    created_in(on_plan, months_back(3))
    record(on_plan, at=on(months_back(3)), characters=5)
    record(on_plan, at=on(months_back(2)), characters=7)

    later = close_statement(on_plan, months_back(2))  # closed out of order, by hand
    earlier = close_statement(on_plan, months_back(3))

    assert (later.characters, later.carried_characters) == (7, 0)
    assert earlier.characters == 5


def test_open_records_are_billed_once_closed(on_plan):
    created_in(on_plan, months_back(3))
    running = record(on_plan, at=on(months_back(3)), characters=2_000, status="open")
    record(on_plan, at=on(months_back(3)), characters=3)

    first = close_statement(on_plan, months_back(3))
    assert first.characters == 3
    UsageRecord.objects.filter(pk=running.pk).update(status=UsageRecord.Status.COMPLETED)
    second = close_statement(on_plan, months_back(2))

    assert second.characters == 2_000
    assert second.carried_characters == 2_000


def test_the_migration_marks_what_statements_closed_before_it_counted(on_plan, tenant_b):
    migration = import_module("billing.migrations.0007_usage_billed_by_statement")
    closed_at = datetime(2025, 12, 1, 0, 15, tzinfo=UTC)
    statement = Statement.objects.create(
        tenant=on_plan,
        period_start=NOVEMBER,
        period_end=date(2025, 11, 30),
        plan_name="Pro",
        plan_slug="pro",
        currency="USD",
        characters=10,
        total_minor=4900,
        closed_at=closed_at,
    )
    counted = record(on_plan, at=at(5), characters=10)
    late = record(on_plan, at=at(30, 23), ended_at=closed_at + timedelta(minutes=5))
    next_month = record(on_plan, at=at(2, month=12))
    other_tenant = record(tenant_b.tenant, at=at(5))

    with connection.schema_editor() as editor:
        migration.mark_billed_records(None, editor)

    marked = dict(
        UsageRecord.objects.filter(
            pk__in=[counted.pk, late.pk, next_month.pk, other_tenant.pk]
        ).values_list("pk", "statement_id")
    )
    assert marked == {
        counted.pk: statement.pk,
        late.pk: None,
        next_month.pk: None,
        other_tenant.pk: None,
    }


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
