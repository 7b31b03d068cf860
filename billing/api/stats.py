"""`GET /v1/tenant/stats`: the current period against the plan, as admission sees it now: the
month's characters (settled and in flight) against the quota, streams open against the
concurrency limit, and the rate-limit windows of the tenant and of the calling key."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from drf_spectacular.utils import extend_schema
from redis import Redis
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import admission, leases
from billing.limits import Limits, limits_for
from billing.statements import month_start, next_month
from callwaiting_tts.redis import get_redis
from tenants.principal import Principal, principal_of


class RateWindowSerializer(serializers.Serializer[Any]):
    limit = serializers.IntegerField(allow_null=True, help_text="Requests per minute; null: none.")
    used = serializers.IntegerField(help_text="Requests in the last 60 s.")
    remaining = serializers.IntegerField(allow_null=True)


class StatsSerializer(serializers.Serializer[Any]):
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    characters_used = serializers.IntegerField(help_text="Billed this month (settled).")
    characters_in_flight = serializers.IntegerField(help_text="Reserved by running syntheses.")
    monthly_character_quota = serializers.IntegerField(allow_null=True)
    characters_remaining = serializers.IntegerField(allow_null=True)
    overage_allowed = serializers.BooleanField()
    streams_open = serializers.IntegerField()
    max_concurrent_streams = serializers.IntegerField()
    rate_limit = serializers.DictField(child=RateWindowSerializer())


def _window(client: Redis, key: str, limit: int | None) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    used = int(client.zcount(key, now_ms - admission.WINDOW_MS, "+inf"))
    remaining = None if limit is None else max(0, limit - used)
    return {"limit": limit, "used": used, "remaining": remaining}


def tenant_stats(principal: Principal, limits: Limits) -> dict[str, Any]:
    """Read-only: the same keys admission writes, and PostgreSQL when the month's counter is
    gone (as admission itself rebuilds it)."""
    client = get_redis()
    tenant_id = principal.tenant_id
    month = admission.month_of()
    raw = client.get(admission.used_key(tenant_id, month))
    used = int(raw) if raw is not None else admission.billed_in_month(tenant_id, month)
    now_ms = int(time.time() * 1000)
    live = set(client.zrangebyscore(leases.synthesis_key(tenant_id), now_ms, "+inf"))
    held = client.hgetall(admission.held_key(tenant_id, month))
    reserved = sum(int(value) for lease, value in held.items() if lease in live)
    quota = limits.monthly_characters
    start = month_start(datetime.now(UTC).date())
    return {
        "period_start": start.isoformat(),
        "period_end": (next_month(start) - timedelta(days=1)).isoformat(),
        "characters_used": used,
        "characters_in_flight": reserved,
        "monthly_character_quota": quota,
        "characters_remaining": None if quota is None else max(0, quota - used - reserved),
        "overage_allowed": limits.overage_allowed,
        "streams_open": len(live),
        "max_concurrent_streams": admission.concurrency_limit(limits),
        "rate_limit": {
            "tenant": _window(
                client, admission.rate_key("tenant", tenant_id), limits.requests_per_minute
            ),
            "api_key": _window(
                client, admission.rate_key(*principal.rate_subject), limits.key_requests_per_minute
            ),
        },
    }


class TenantStatsView(APIView):
    """This month's usage against the plan, streams open now and the rate-limit state."""

    parser_classes: list[type] = []
    required_scopes = {"GET": "usage:read"}

    @extend_schema(operation_id="tenant_stats", responses=StatsSerializer)
    def get(self, request: Request) -> Response:
        principal = principal_of(request)
        limits = limits_for(principal.tenant_id)
        return Response(tenant_stats(principal, limits))
