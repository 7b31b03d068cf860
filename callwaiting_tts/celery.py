"""Celery app. Tasks carry the schema they were sent from (tenant-schemas-celery's `_schema_name`
header) and run in it; `send_to_tenant` names the schema explicitly."""

from __future__ import annotations

import os
from typing import Any

from celery import Task, signals
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callwaiting_tts.settings")

app = CeleryApp("callwaiting_tts")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.import_modules.connect
def _refuse_unsafe_settings(**kwargs: Any) -> None:
    """The worker and beat stop as they start, before they import a task or touch a database,
    on settings unsafe outside DEBUG (callwaiting_tts/deployment.py). SystemExit: the message
    alone, without a traceback."""
    from django.core.exceptions import ImproperlyConfigured

    from callwaiting_tts.deployment import refuse_unsafe_settings

    try:
        refuse_unsafe_settings()
    except ImproperlyConfigured as refused:
        raise SystemExit(str(refused)) from None


def send_to_tenant(task: Task | str, schema_name: str, *args: Any, **kwargs: Any) -> Any:
    """Queues `task` (or the task of that name, for a caller its module imports) to run in
    `schema_name`, whatever schema the caller is in."""
    headers = {"_schema_name": schema_name}
    if isinstance(task, str):
        return app.send_task(task, args=args, kwargs=kwargs, headers=headers)
    return task.apply_async(args=args, kwargs=kwargs, headers=headers)
