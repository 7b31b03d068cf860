from __future__ import annotations

from argparse import ArgumentParser
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.rollups import rollup_usage


class Command(BaseCommand):
    help = "Recompute hourly and daily usage roll-ups from the usage records (a backfill)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--days", type=int, default=2, help="How many days back (default 2).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        end: datetime = timezone.now()
        start = end - timedelta(days=options["days"])
        for granularity in ("hour", "day"):
            rows = rollup_usage(granularity, start, end)
            self.stdout.write(f"{granularity}: {rows} roll-up row(s) since {start:%Y-%m-%d %H:%M}")
