"""Liveness and readiness. Readiness names the failing part; it never shows a URL or secret."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callwaiting_tts import tts_metrics
from callwaiting_tts.redis import sync_client
from synthesis.contract.keys import Keys
from synthesis.contract.messages import as_text

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    client = sync_client(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


def check_tts_workers() -> None:
    """A live worker of every engine the deployment runs (`TTS_ENGINES`): a request for a voice
    of an engine without one could only fail."""
    client = sync_client(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    missing = []
    try:
        keys = Keys(settings.REDIS_PREFIX)
        for engine in settings.TTS_ENGINES:
            ids = client.smembers(keys.workers(engine))
            beats = client.mget([keys.heartbeat(as_text(i)) for i in ids]) if ids else []
            if not any(beats):
                missing.append(engine)
    finally:
        client.close()
    if missing:
        raise NoWorkers(f"no live {' or '.join(missing)} worker")


class NoWorkers(Exception):
    pass


@tts_metrics.on_scrape
def dependency_figures() -> None:
    """`cwtts_dependency_up` for PostgreSQL and Redis, by the readiness checks' own pings."""
    for name, check in (("postgres", check_database), ("redis", check_redis)):
        try:
            check()
        except Exception:  # any failure to answer is "down" here; readiness says why
            up = 0
        else:
            up = 1
        tts_metrics.DEPENDENCY_UP.labels(dependency=name).set(up)


CHECKS = {"database": check_database, "redis": check_redis, "tts_workers": check_tts_workers}

_CheckSerializer = inline_serializer(
    "HealthCheck",
    {"status": serializers.CharField(), "error": serializers.CharField(required=False)},
)
_HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "unavailable"]),
        "checks": serializers.DictField(child=_CheckSerializer),
    },
)


class HealthView(APIView):
    """Readiness: 200 when PostgreSQL and Redis answer, else 503 naming the part that failed."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    parser_classes: list[type] = []

    @extend_schema(
        operation_id="health_ready",
        auth=[],
        responses={200: _HealthSerializer, 503: _HealthSerializer},
    )
    def get(self, request: Request) -> Response:
        checks: dict[str, dict[str, Any]] = {}
        for name, check in CHECKS.items():
            if name == "tts_workers" and not settings.HEALTH_REQUIRE_WORKERS:
                continue
            try:
                check()
                checks[name] = {"status": "ok"}
            except Exception as error:  # any failure of a dependency means "not ready"
                logger.warning(
                    "health check failed", extra={"check": name, "error": type(error).__name__}
                )
                checks[name] = {"status": "unavailable", "error": type(error).__name__}
        ready = all(c["status"] == "ok" for c in checks.values())
        body = {"status": "ok" if ready else "unavailable", "checks": checks}
        return Response(body, status=200 if ready else 503)


class LivenessView(APIView):
    """Liveness: the process answers. Touches nothing else."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    parser_classes: list[type] = []

    @extend_schema(
        operation_id="health_live",
        auth=[],
        responses=inline_serializer("Liveness", {"status": serializers.CharField()}),
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})
