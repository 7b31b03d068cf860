"""`GET /v1/usage`: a tenant's usage for a date range, from its usage records (the authoritative
rows, one per synthesis): totals, a time series in hour or day buckets (empty buckets included),
and breakdowns by API key and by voice; JSON or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, FloatField, Sum, Value
from django.db.models.functions import Coalesce, TruncDay, TruncHour
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import UsageRecord
from tenants.principal import principal_of

MAX_DAYS = {"hour": 31, "day": 366}
DEFAULT_DAYS = 30


class UsageQuerySerializer(serializers.Serializer[Any]):
    start = serializers.DateField(
        required=False, help_text="First day (UTC), inclusive. Default: 30 days before `end`."
    )
    end = serializers.DateField(
        required=False, help_text="Last day (UTC), inclusive. Default: today."
    )
    granularity = serializers.ChoiceField(choices=["hour", "day"], default="day")
    format = serializers.ChoiceField(choices=["json", "csv"], default="json")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end: date = attrs.get("end") or datetime.now(UTC).date()
        start: date = attrs.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise serializers.ValidationError({"start": "start is after end."})
        limit = MAX_DAYS[attrs["granularity"]]
        if (end - start).days + 1 > limit:
            raise serializers.ValidationError(
                {"end": f"At most {limit} days with {attrs['granularity']} buckets."}
            )
        attrs["start"], attrs["end"] = start, end
        return attrs


class UsageTotalsSerializer(serializers.Serializer[Any]):
    requests = serializers.IntegerField()
    characters = serializers.IntegerField()
    audio_seconds = serializers.FloatField()


class UsageBucketSerializer(UsageTotalsSerializer):
    start = serializers.DateTimeField()


class UsageByKeySerializer(UsageTotalsSerializer):
    api_key = serializers.CharField(allow_null=True, help_text="The key's public prefix.")
    name = serializers.CharField(allow_null=True)


class UsageByVoiceSerializer(UsageTotalsSerializer):
    voice = serializers.CharField()


class UsageSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    granularity = serializers.CharField()
    totals = UsageTotalsSerializer()
    series = UsageBucketSerializer(many=True)
    by_key = UsageByKeySerializer(many=True)
    by_voice = UsageByVoiceSerializer(many=True)


_SUMS = {
    "requests": Count("id"),
    "characters": Coalesce(Sum("characters_billed"), Value(0)),
    "audio_seconds": Coalesce(
        Sum("audio_seconds_delivered"), Value(0.0), output_field=FloatField()
    ),
}


def _numbers(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "requests": int(row["requests"]),
        "characters": int(row["characters"]),
        "audio_seconds": round(float(row["audio_seconds"]), 3),
    }


def usage_report(tenant_id: int, start: date, end: date, granularity: str) -> dict[str, Any]:
    since = datetime.combine(start, time.min, UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, UTC)
    records = UsageRecord.objects.closed().filter(
        tenant_id=tenant_id, started_at__gte=since, started_at__lt=until
    )
    trunc = TruncHour if granularity == "hour" else TruncDay
    buckets = {
        row["bucket"]: _numbers(row)
        for row in records.annotate(bucket=trunc("started_at", tzinfo=UTC))
        .values("bucket")
        .annotate(**_SUMS)
    }
    step = timedelta(hours=1) if granularity == "hour" else timedelta(days=1)
    series = []
    cursor = since
    empty = {"requests": 0, "characters": 0, "audio_seconds": 0.0}
    while cursor < until:
        series.append({"start": cursor.isoformat(), **buckets.get(cursor, empty)})
        cursor += step
    by_key = [
        {"api_key": row["prefix"], "name": row["key_name"], **_numbers(row)}
        for row in records.values(prefix=F("api_key__prefix"), key_name=F("api_key__name"))
        .annotate(**_SUMS)
        .order_by(F("characters").desc())
    ]
    by_voice = [
        {"voice": row["voice"], **_numbers(row)}
        for row in records.values("voice").annotate(**_SUMS).order_by(F("characters").desc())
    ]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "granularity": granularity,
        "totals": _numbers(records.aggregate(**_SUMS)),
        "series": series,
        "by_key": by_key,
        "by_voice": by_voice,
    }


def usage_csv(report: dict[str, Any]) -> str:
    """One row per bucket, then one per key and per voice (a `section` column tells them apart)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "bucket_start", "api_key", "voice", "requests", "characters",
                     "audio_seconds"])  # fmt: skip
    rows: Iterable[list[Any]] = (
        *(["series", b["start"], "", "", b["requests"], b["characters"], b["audio_seconds"]]
          for b in report["series"]),
        *(["key", "", k["api_key"] or "", "", k["requests"], k["characters"], k["audio_seconds"]]
          for k in report["by_key"]),
        *(["voice", "", "", v["voice"], v["requests"], v["characters"], v["audio_seconds"]]
          for v in report["by_voice"]),
    )  # fmt: skip
    writer.writerows(rows)
    totals = report["totals"]
    writer.writerow(
        ["total", "", "", "", totals["requests"], totals["characters"], totals["audio_seconds"]]
    )
    return out.getvalue()


class CSVRenderer(BaseRenderer):
    """Lets `?format=csv` through DRF's format negotiation (the view writes the CSV itself)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, str):
            return data.encode()
        # Errors on a CSV request are still the one JSON error shape.
        return JSONRenderer().render(data)


class FormatIsAQueryField(DefaultContentNegotiation):
    """`?format=` is the view's own query field, validated there (400 for an unknown one).
    DRF reads it first to pick a renderer and answers 404 for a format that none has (found by
    the API fuzzing, tests/test_fuzz.py): here the first renderer takes it instead."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        choices = list(renderers)
        try:
            return super().select_renderer(request, choices, format_suffix)
        except Http404:
            return choices[0], choices[0].media_type or "application/json"


class UsageView(APIView):
    """The caller's tenant's usage: what it was billed for, per bucket, key and voice."""

    parser_classes: list[type] = []
    renderer_classes = [JSONRenderer, CSVRenderer]
    content_negotiation_class = FormatIsAQueryField
    required_scopes = {"GET": "usage:read"}

    @extend_schema(
        operation_id="usage_retrieve",
        parameters=[UsageQuerySerializer],
        responses={
            200: UsageSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="format=csv"),
        },
    )
    def get(self, request: Request) -> HttpResponse | Response:
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        principal = principal_of(request)
        report = usage_report(
            principal.tenant_id, values["start"], values["end"], values["granularity"]
        )
        if values["format"] == "csv":
            name = f"usage-{values['start']}-{values['end']}.csv"
            return HttpResponse(
                usage_csv(report),
                content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return Response(report)
