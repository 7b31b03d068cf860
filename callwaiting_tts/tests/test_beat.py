"""Celery beat keeps its schedule and each entry's last run in PostgreSQL (django-celery-beat's
DatabaseScheduler, public schema): a restart neither forgets a run nor resets a wait, and the
daily and monthly work runs at fixed times (crontab), so a beat that restarts every few hours
still closes the statements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from celery.beat import Scheduler
from celery.schedules import crontab
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry
from kombu.utils.imports import symbol_by_name

from callwaiting_tts.celery import app
from devstack.supervisor import service_commands


@pytest.fixture
def start_beat(transactional_db) -> Iterator[Callable[[], Scheduler]]:
    """Starts beat's scheduler as `celery beat` does (the class settings name, the settings'
    schedule), without its loop; each call is a fresh process's start. Transactional: the
    scheduler commits and closes connections as in production."""
    started: list[Scheduler] = []

    def start() -> Scheduler:
        scheduler = symbol_by_name(app.conf.beat_scheduler)(app=app)
        started.append(scheduler)
        return scheduler

    yield start
    for scheduler in started:
        scheduler.close()


def entry(name: str) -> ModelEntry:
    """The entry as beat would read it from the database now."""
    return ModelEntry(PeriodicTask.objects.get(name=name), app=app)


def test_daily_and_monthly_work_runs_on_crontabs():
    schedule = settings.CELERY_BEAT_SCHEDULE
    for name in ("rollup-usage-days", "close-statements"):
        assert isinstance(schedule[name]["schedule"], crontab), name
    assert issubclass(symbol_by_name(settings.CELERY_BEAT_SCHEDULER), DatabaseScheduler)


def test_the_schedule_is_written_to_the_database_at_start(start_beat):
    start_beat()

    statements = PeriodicTask.objects.get(name="close-statements")
    assert statements.task == "billing.tasks.close_statements"
    assert (statements.crontab.minute, statements.crontab.hour) == ("15", "0")
    assert str(statements.crontab.timezone) == "UTC"
    flush = PeriodicTask.objects.get(name="flush-api-key-last-used")
    assert (flush.interval.every, flush.interval.period) == (60, "seconds")
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == {
        *settings.CELERY_BEAT_SCHEDULE,
        "celery.backend_cleanup",
    }


def test_an_entry_no_longer_in_settings_is_removed_at_start(start_beat):
    start_beat()
    PeriodicTask.objects.filter(name="close-statements").update(name="close-statements-old")

    start_beat()

    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert "close-statements-old" not in names
    assert names == {*settings.CELERY_BEAT_SCHEDULE, "celery.backend_cleanup"}


def test_a_run_survives_a_restart(start_beat):
    first = start_beat()
    flush = first.schedule["flush-api-key-last-used"]
    ran = first.reserve(flush)  # what beat does as it sends the task
    first.close()  # a stop (or the next tick) writes the run down

    start_beat()  # the next process

    assert entry("flush-api-key-last-used").last_run_at == ran.last_run_at
    assert PeriodicTask.objects.get(name="flush-api-key-last-used").total_run_count == 1


def test_a_restart_before_an_entrys_first_run_keeps_its_wait(start_beat):
    start_beat()
    first_start = PeriodicTask.objects.get(name="purge-synthesis-logs").last_run_at
    assert first_start is not None  # its first hour counts from here, not from every restart

    start_beat()

    assert entry("purge-synthesis-logs").last_run_at == first_start


def test_a_restart_does_not_reset_an_intervals_wait(start_beat):
    start_beat()
    ran = timezone.now() - timedelta(minutes=50)
    PeriodicTask.objects.filter(name="purge-synthesis-logs").update(last_run_at=ran)

    start_beat()

    due, next_check = entry("purge-synthesis-logs").is_due()
    assert not due
    assert next_check <= 10 * 60  # the hourly task's remaining ten minutes, not a fresh hour


def test_a_crontab_run_missed_while_beat_was_down_runs_at_the_restart(start_beat):
    start_beat()
    ran = timezone.now() - timedelta(days=2)
    PeriodicTask.objects.filter(name="close-statements").update(last_run_at=ran)

    start_beat()

    statements = entry("close-statements")
    assert statements.last_run_at == ran
    assert statements.is_due().is_due


def test_a_crontab_that_ran_today_waits_for_tomorrow_after_a_restart(start_beat):
    start_beat()
    ran = timezone.now()
    PeriodicTask.objects.filter(name="close-statements").update(last_run_at=ran)

    start_beat()

    due, next_check = entry("close-statements").is_due()
    assert not due
    assert 0 < next_check <= 24 * 3600


def beat_tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = %s AND table_name LIKE 'django_celery_beat%%'",
            [schema],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_beats_tables_are_in_the_public_schema_only(tenant_a):
    assert "django_celery_beat_periodictask" in beat_tables("public")
    assert beat_tables(tenant_a.tenant.schema_name) == set()


@pytest.mark.django_db
def test_the_squashed_beat_migrations_match_its_models():
    # MIGRATION_MODULES replaces django-celery-beat's migrations with one: an upgrade that
    # changes its models must come with a new migration there.
    call_command("makemigrations", "django_celery_beat", "billing", check=True, dry_run=True)


def test_make_run_starts_beat_on_the_database_scheduler():
    (celery,) = [argv for name, argv in service_commands("127.0.0.1", 8000) if name == "celery"]
    assert "-B" in celery
    # A schedule file would be ignored by the database scheduler; none is passed.
    assert "-s" not in celery
    assert not any("celerybeat-schedule" in arg for arg in celery)
