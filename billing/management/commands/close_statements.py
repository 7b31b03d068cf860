from __future__ import annotations

from argparse import ArgumentParser
from datetime import date, datetime
from typing import Any

from django.core.management.base import CommandError
from django.utils import timezone

from billing.statements import close_statements, format_minor, previous_month
from tenants.management.base import TenantCommand


def _month(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise CommandError(f"--month wants YYYY-MM, not {value!r}.") from None


class Command(TenantCommand):
    help = "Close every active tenant's statement for a month (default: the previous one)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--month", help="YYYY-MM, a month that has ended (UTC).")

    def run(self, **options: Any) -> dict[str, Any]:
        month = options["month"]
        period = _month(month) if month else previous_month(timezone.now().date())
        closed = close_statements(period)
        return {
            "month": f"{period:%Y-%m}",
            "statements": [
                {
                    "tenant": s.tenant.slug,
                    "statement": s.pk,
                    "characters": s.characters,
                    "total_minor": s.total_minor,
                    "currency": s.currency,
                }
                for s in closed
            ],
        }

    def render(self, result: dict[str, Any]) -> str:
        rows = [
            f"{s['tenant']:<24} {s['characters']:>12,} chars  "
            f"{format_minor(s['total_minor'], s['currency'])}"
            for s in result["statements"]
        ]
        return f"{result['month']}: {len(rows)} statement(s)\n" + "\n".join(rows)
