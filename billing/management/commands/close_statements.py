from __future__ import annotations

from argparse import ArgumentParser
from datetime import date, datetime
from typing import Any

from django.core.management.base import CommandError

from billing.statements import close_ended_months, close_statements, format_minor
from tenants.management.base import TenantCommand


def _month(value: str) -> date:
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise CommandError(f"--month wants YYYY-MM, not {value!r}.") from None


class Command(TenantCommand):
    help = (
        "Close statements, for every tenant (suspended ones too): by default every month that "
        "has ended and is not closed (what beat runs daily); with --month, that month."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--month", help="YYYY-MM, a month that has ended (UTC).")

    def run(self, **options: Any) -> dict[str, Any]:
        month = options["month"]
        closed = close_statements(_month(month)) if month else close_ended_months()
        return {
            "month": month or "every ended month",
            "statements": [
                {
                    "tenant": s.tenant.slug,
                    "month": f"{s.period_start:%Y-%m}",
                    "statement": s.pk,
                    "characters": s.characters,
                    "carried_characters": s.carried_characters,
                    "total_minor": s.total_minor,
                    "currency": s.currency,
                }
                for s in closed
            ],
        }

    def render(self, result: dict[str, Any]) -> str:
        rows = [
            f"{s['month']}  {s['tenant']:<24} {s['characters']:>12,} chars  "
            f"{format_minor(s['total_minor'], s['currency'])}"
            for s in result["statements"]
        ]
        return f"{result['month']}: {len(rows)} statement(s)\n" + "\n".join(rows)
