"""Celery beat's scheduler: django-celery-beat's DatabaseScheduler (each entry's schedule and
last run in PostgreSQL's public schema), with settings.CELERY_BEAT_SCHEDULE as the one source
of the entries. Its migrations, squashed, are in `migrations/` (settings.MIGRATION_MODULES)."""

from __future__ import annotations

from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

# Celery's own entry (expired results), which the database scheduler installs itself.
_CELERY_ENTRIES = frozenset({"celery.backend_cleanup"})


class Scheduler(DatabaseScheduler):
    """DatabaseScheduler writes the settings' entries into its tables at start, keeping each
    one's last run (and whether staff disabled it). Two gaps are closed here:

    - an entry renamed or removed in settings would stay in the tables and keep running: it is
      deleted first;
    - an entry that never ran counts its first wait from the row's last change, which every
      start makes "now": an hourly task in a beat restarted every 50 minutes would never run.
      Its first start is written down as its last run instead.
    """

    def setup_schedule(self) -> None:
        keep = set(self.app.conf.beat_schedule) | _CELERY_ENTRIES
        PeriodicTask.objects.exclude(name__in=keep).delete()
        super().setup_schedule()
        PeriodicTask.objects.filter(
            enabled=True, last_run_at__isnull=True, start_time__isnull=True
        ).update(last_run_at=timezone.now())
