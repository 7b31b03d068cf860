"""Monthly statements: a tenant's plan fee and overage for one calendar month (UTC), closed once
from the usage records and never recomputed, with CSV and printable HTML renderings.

Each record is billed by exactly one statement (`UsageRecord.statement`, set as it closes): its
month's, or, when it was written after that statement closed (a late settle, a record the reaper
closed), the next statement to close. Open records wait until they are closed."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import DateField, Exists, Min, OuterRef, Q, Sum
from django.db.models.functions import Cast, TruncMonth
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from billing.models import Plan, Statement, StatementLine, TenantPlanOverride, UsageRecord
from callwaiting_tts.errors import ApplicationError
from tenants.models import Tenant

OVERAGE_BLOCK = 1000  # characters: overage is priced per started block
_ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})


@dataclass(frozen=True)
class Prices:
    plan_name: str
    plan_slug: str
    currency: str
    price_per_month_minor: int
    overage_per_1k_minor: int
    monthly_character_quota: int | None
    overage_allowed: bool


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def previous_month(today: date) -> date:
    return month_start(month_start(today) - timedelta(days=1))


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def prices_for(tenant: Tenant) -> Prices:
    """The plan's prices and quota with the tenant's overrides, as they are now."""
    plan = Plan.objects.get(pk=tenant.plan_id)  # as it is now, whatever `tenant` has cached
    override = TenantPlanOverride.objects.filter(tenant=tenant).first()

    def pick(name: str) -> Any:
        value = getattr(override, name) if override is not None else None
        return getattr(plan, name) if value is None else value

    return Prices(
        plan_name=plan.name,
        plan_slug=plan.slug,
        currency=plan.currency,
        price_per_month_minor=pick("price_per_month_minor"),
        overage_per_1k_minor=pick("overage_per_1k_minor"),
        monthly_character_quota=pick("monthly_character_quota"),
        overage_allowed=pick("overage_allowed"),
    )


def _unbilled(tenant: Tenant, period_start: date) -> Any:
    """The records a statement for the month starting `period_start` bills: the tenant's closed
    records not yet on a statement that started in the month, or earlier in a month whose
    statement closed before they were written (late: carried here). A record of an earlier
    month with no statement yet waits for that month's own statement."""
    start, end = _utc_midnight(period_start), _utc_midnight(next_month(period_start))
    own_month_closed = Exists(
        Statement.objects.filter(tenant_id=OuterRef("tenant_id"), period_start=OuterRef("month"))
    )
    return (
        UsageRecord.objects.closed()
        .filter(tenant=tenant, statement__isnull=True, started_at__lt=end)
        .annotate(month=Cast(TruncMonth("started_at", tzinfo=UTC), DateField()))
        .filter(Q(started_at__gte=start) | Q(own_month_closed))
    )


def _lines(prices: Prices, characters: int, period: str) -> list[StatementLine]:
    lines = [
        StatementLine(
            position=1,
            description=f"{prices.plan_name} plan, {period}",
            quantity=1,
            unit_price_minor=prices.price_per_month_minor,
            amount_minor=prices.price_per_month_minor,
        )
    ]
    quota = prices.monthly_character_quota
    over = 0 if quota is None else max(0, characters - quota)
    # A hard-stop plan promised a ceiling: the few characters in flight when it was reached
    # are not billed as overage.
    if over and prices.overage_allowed:
        blocks = -(-over // OVERAGE_BLOCK)
        lines.append(
            StatementLine(
                position=2,
                description=(
                    f"Overage: {over:,} characters over the {quota:,}-character quota, "
                    f"{blocks:,} started block(s) of {OVERAGE_BLOCK:,}"
                ),
                quantity=blocks,
                unit_price_minor=prices.overage_per_1k_minor,
                amount_minor=blocks * prices.overage_per_1k_minor,
            )
        )
    return lines


def close_statement(tenant: Tenant, period_start: date) -> Statement:
    """Closes `tenant`'s statement for the month starting `period_start` (its first day), once:
    a second call, or a concurrent one, returns the statement the first one closed. The records
    it bills (`_unbilled`) are marked with it in the same transaction, so none is billed twice."""
    if period_start.day != 1:
        raise ApplicationError(
            f"A statement period starts on a month's first day, not {period_start}.",
            code="invalid_period",
            param="period_start",
        )
    end = next_month(period_start)
    if _utc_midnight(end) > timezone.now():
        raise ApplicationError(
            f"The period {period_start:%Y-%m} has not ended.", code="period_open", param="month"
        )
    existing = Statement.objects.filter(tenant=tenant, period_start=period_start).first()
    if existing is not None:
        return existing
    prices = prices_for(tenant)
    try:
        with transaction.atomic():
            # The row first: a concurrent close waits on its unique key, then fails, before it
            # marks any record.
            statement = Statement.objects.create(
                tenant=tenant,
                period_start=period_start,
                period_end=end - timedelta(days=1),
                plan_name=prices.plan_name,
                plan_slug=prices.plan_slug,
                currency=prices.currency,
                characters=0,
                monthly_character_quota=prices.monthly_character_quota,
                total_minor=0,
                closed_at=timezone.now(),
            )
            _bill(statement, prices)
    except IntegrityError:  # closed concurrently by another process
        return Statement.objects.get(tenant=tenant, period_start=period_start)
    return statement


def _bill(statement: Statement, prices: Prices) -> None:
    # `statement__isnull` again on the row itself: a record another statement marked meanwhile
    # is re-checked after its lock and left to that statement.
    UsageRecord.objects.filter(
        statement__isnull=True,
        pk__in=_unbilled(statement.tenant, statement.period_start).values("pk"),
    ).update(statement=statement)
    sums = statement.records.aggregate(
        characters=Sum("characters_billed"),
        carried=Sum(
            "characters_billed",
            filter=Q(started_at__lt=_utc_midnight(statement.period_start)),
        ),
    )
    characters = int(sums["characters"] or 0)
    lines = _lines(prices, characters, f"{statement.period_start:%B %Y}")
    statement.characters = characters
    statement.carried_characters = int(sums["carried"] or 0)
    statement.total_minor = sum(line.amount_minor for line in lines)
    statement.save(update_fields=["characters", "carried_characters", "total_minor"])
    for line in lines:
        line.statement = statement
    StatementLine.objects.bulk_create(lines)


def _tenants() -> Any:
    return Tenant.objects.exclude(schema_name=get_public_schema_name())


def close_statements(period_start: date) -> list[Statement]:
    """Closes the month for every tenant, suspended ones too, that existed before it ended or
    has records of it (or earlier) not yet billed."""
    end = _utc_midnight(next_month(period_start))
    unbilled = UsageRecord.objects.closed().filter(
        tenant_id=OuterRef("pk"), statement__isnull=True, started_at__lt=end
    )
    tenants = _tenants().filter(Q(created_at__lt=end) | Q(Exists(unbilled)))
    return [close_statement(tenant, period_start) for tenant in tenants]


def ended_months_to_close(tenant: Tenant, today: date) -> list[date]:
    """Every month that has ended and has no statement, oldest first, from the month the tenant
    was created, or of its oldest record not yet billed if that is earlier."""
    last = previous_month(today)
    first = month_start(tenant.created_at.astimezone(UTC).date())
    oldest = (
        UsageRecord.objects.closed()
        .filter(tenant=tenant, statement__isnull=True)
        .aggregate(oldest=Min("started_at"))["oldest"]
    )
    if oldest is not None:
        first = min(first, month_start(oldest.astimezone(UTC).date()))
    closed = set(
        Statement.objects.filter(tenant=tenant, period_start__gte=first).values_list(
            "period_start", flat=True
        )
    )
    months: list[date] = []
    month = first
    while month <= last:
        if month not in closed:
            months.append(month)
        month = next_month(month)
    return months


def close_ended_months() -> list[Statement]:
    """Closes every ended month not yet closed, for every tenant (suspended ones too), oldest
    first; what beat runs daily. Cheap when all are closed (two queries per tenant), so a run
    missed, or a month never closed, is made up by the next run. Returns the statements it
    closed."""
    today = timezone.now().date()
    closed: list[Statement] = []
    for tenant in _tenants().order_by("pk"):
        months = ended_months_to_close(tenant, today)
        closed.extend(close_statement(tenant, month) for month in months)
    return closed


# --- rendering -----------------------------------------------------------------------------------


def tenant_statements(tenant_id: int) -> Any:
    """A tenant's closed statements, newest first, lines prefetched (another tenant's are simply
    not there): what `/v1/statements` and the portal's usage page list and render."""
    return (
        Statement.objects.filter(tenant_id=tenant_id)
        .select_related("tenant")
        .prefetch_related("lines")
        .order_by("-period_start")
    )


def format_minor(amount_minor: int, currency: str) -> str:
    """12345 USD → "123.45 USD"; zero-decimal currencies (JPY) have no minor unit."""
    if currency in _ZERO_DECIMAL_CURRENCIES:
        return f"{amount_minor:,} {currency}"
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(amount_minor), 100)
    return f"{sign}{major:,}.{minor:02d} {currency}"


def statement_csv_response(statement: Statement) -> HttpResponse:
    """The statement as a CSV attachment named after its month (the API's and the portal's)."""
    name = f"statement-{statement.period_start:%Y-%m}"
    return HttpResponse(
        statement_csv(statement),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def statement_csv(statement: Statement) -> str:
    """One row per line, then a total row; amounts in minor units (integers, exact)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["period_start", "period_end", "tenant", "description", "quantity", "unit_price_minor",
         "amount_minor", "currency"]
    )  # fmt: skip
    head = [statement.period_start, statement.period_end, statement.tenant.slug]
    for line in statement.lines.all():
        writer.writerow(
            [*head, line.description, line.quantity, line.unit_price_minor, line.amount_minor,
             statement.currency]
        )  # fmt: skip
    writer.writerow([*head, "Total", "", "", statement.total_minor, statement.currency])
    return out.getvalue()


def statement_html(statement: Statement) -> str:
    lines = [
        {
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": format_minor(line.unit_price_minor, statement.currency),
            "amount": format_minor(line.amount_minor, statement.currency),
        }
        for line in statement.lines.all()
    ]
    return render_to_string(
        "billing/statement.html",
        {
            "statement": statement,
            "tenant": statement.tenant,
            "lines": lines,
            "total": format_minor(statement.total_minor, statement.currency),
        },
    )
