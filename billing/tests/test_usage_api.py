"""`GET /v1/usage`: totals, buckets, breakdowns and CSV from the usage records; another tenant's
usage is invisible; bad ranges are 400s."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from billing.models import UsageRecord
from tenants.models import ApiKey

pytestmark = pytest.mark.django_db

URL = "/v1/usage"


def record(tenant, *, at: datetime, characters: int, voice: str = "joe", key=None, seconds=1.0):
    return UsageRecord.objects.create(
        synthesis_id=uuid.uuid4(),
        tenant=tenant,
        api_key=key,
        source="http",
        characters_billed=characters,
        audio_seconds_synthesized=seconds,
        audio_seconds_delivered=seconds,
        voice=voice,
        engine="piper",
        output_format="mp3",
        sample_rate=24000,
        status=UsageRecord.Status.COMPLETED,
        started_at=at,
        ended_at=at + timedelta(seconds=2),
    )


@pytest.fixture
def usage(tenant_a, tenant_b):
    key = ApiKey.objects.filter(tenant=tenant_a.tenant).first()
    day = datetime(2026, 3, 10, tzinfo=UTC)
    record(tenant_a.tenant, at=day + timedelta(hours=9), characters=100, key=key)
    record(tenant_a.tenant, at=day + timedelta(hours=9, minutes=30), characters=50, voice="7")
    record(tenant_a.tenant, at=day + timedelta(days=1, hours=1), characters=25, key=key)
    record(tenant_a.tenant, at=day + timedelta(days=40), characters=999, key=key)  # out of range
    record(tenant_b.tenant, at=day + timedelta(hours=9), characters=7000)  # someone else's
    return key


def test_totals_series_and_breakdowns_by_day(api, tenant_a, usage):
    answer = api(tenant_a.api_key).get(URL, {"start": "2026-03-09", "end": "2026-03-12"})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["totals"] == {"requests": 3, "characters": 175, "audio_seconds": 3.0}
    assert [b["characters"] for b in body["series"]] == [0, 150, 25, 0]  # empty days included
    assert body["series"][1]["start"] == "2026-03-10T00:00:00+00:00"
    by_key = {k["api_key"]: k["characters"] for k in body["by_key"]}
    assert by_key == {usage.prefix: 125, None: 50}
    assert {v["voice"]: v["characters"] for v in body["by_voice"]} == {"joe": 125, "7": 50}


def test_hour_buckets(api, tenant_a, usage):
    body = (
        api(tenant_a.api_key)
        .get(URL, {"start": "2026-03-10", "end": "2026-03-10", "granularity": "hour"})
        .json()
    )
    assert len(body["series"]) == 24
    assert body["series"][9]["characters"] == 150
    assert body["series"][9]["requests"] == 2
    assert sum(b["characters"] for b in body["series"]) == body["totals"]["characters"] == 150


def test_csv(api, tenant_a, usage):
    answer = api(tenant_a.api_key).get(
        URL, {"start": "2026-03-10", "end": "2026-03-11", "format": "csv"}
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    series = [r for r in rows if r["section"] == "series"]
    assert [int(r["characters"]) for r in series] == [150, 25]
    [total] = [r for r in rows if r["section"] == "total"]
    assert int(total["characters"]) == 175


def test_another_tenants_usage_is_invisible(api, tenant_b, usage):
    body = api(tenant_b.api_key).get(URL, {"start": "2026-03-09", "end": "2026-03-12"}).json()
    assert body["totals"]["characters"] == 7000
    assert body["totals"]["requests"] == 1


def test_it_needs_the_usage_read_scope(api, tenant_a, client):
    assert client.get(URL).status_code == 401
    answer = api(tenant_a.key_with("synthesize")).get(URL)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "insufficient_scope"
    assert api(tenant_a.key_with("usage:read")).get(URL).status_code == 200


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"start": "2026-03-12", "end": "2026-03-10"}, "start"),
        ({"start": "2025-01-01", "end": "2026-03-10"}, "end"),
        ({"start": "2026-01-01", "end": "2026-03-10", "granularity": "hour"}, "end"),
        ({"start": "yesterday"}, "start"),
        ({"granularity": "minute"}, "granularity"),
        ({"format": "xml"}, "format"),  # DRF's renderer choice answered 404 (API fuzzing)
    ],
)
def test_bad_ranges_are_400s_naming_the_field(api, tenant_a, query, param):
    answer = api(tenant_a.api_key).get(URL, query)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["param"] == param


def test_a_bad_csv_request_still_gets_the_json_error(api, tenant_a):
    answer = api(tenant_a.api_key).get(URL, {"format": "csv", "granularity": "minute"})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "granularity"


# --- statements -----------------------------------------------------------------------------


@pytest.fixture
def statement(tenant_a, usage):
    from datetime import date

    from billing.statements import close_statement

    return close_statement(tenant_a.tenant, date(2026, 3, 1))


def test_statements_list_and_detail(api, tenant_a, statement):
    client = api(tenant_a.api_key)
    listed = client.get("/v1/statements").json()["statements"]
    assert [s["id"] for s in listed] == [statement.pk]
    detail = client.get(f"/v1/statements/{statement.pk}").json()
    assert detail["characters"] == 175
    assert detail["period_start"] == "2026-03-01"
    assert detail["lines"]
    assert sum(line["amount_minor"] for line in detail["lines"]) == detail["total_minor"]


def test_a_statement_as_csv_and_as_a_printable_page(api, tenant_a, statement):
    client = api(tenant_a.api_key)
    as_csv = client.get(f"/v1/statements/{statement.pk}", {"format": "csv"})
    assert as_csv.status_code == 200
    assert as_csv["Content-Type"].startswith("text/csv")
    assert "2026-03" in as_csv["Content-Disposition"]
    page = client.get(f"/v1/statements/{statement.pk}", {"format": "html"})
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert b"<html" in page.content.lower()


def test_an_unknown_statement_format_is_a_400_naming_it(api, tenant_a, statement):
    answer = api(tenant_a.api_key).get(f"/v1/statements/{statement.pk}", {"format": "xml"})
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["param"] == "format"


def test_another_tenants_statement_is_not_found(api, tenant_b, statement):
    client = api(tenant_b.api_key)
    answer = client.get(f"/v1/statements/{statement.pk}")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert client.get("/v1/statements").json()["statements"] == []
    assert api(tenant_b.key_with("synthesize")).get("/v1/statements").status_code == 403


# --- tenant stats ---------------------------------------------------------------------------


def test_tenant_stats_show_the_month_against_the_plan(api, tenant_a, tenant_b):
    from billing.limits import forget_limits
    from billing.models import TenantPlanOverride

    TenantPlanOverride.objects.create(tenant=tenant_a.tenant, monthly_character_quota=1000)
    forget_limits(tenant_a.tenant.pk)
    now = datetime.now(UTC)
    record(tenant_a.tenant, at=now - timedelta(seconds=30), characters=120)
    record(tenant_b.tenant, at=now - timedelta(seconds=30), characters=5000)  # not ours
    answer = api(tenant_a.api_key).get("/v1/tenant/stats")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["characters_used"] == 120
    assert body["monthly_character_quota"] == 1000
    assert body["characters_remaining"] == 880
    assert body["streams_open"] == 0
    assert body["period_start"] == now.date().replace(day=1).isoformat()
    assert body["rate_limit"]["tenant"]["limit"] >= 1
    assert body["rate_limit"]["api_key"]["used"] == 0
    forget_limits(tenant_a.tenant.pk)


def test_tenant_stats_need_usage_read(api, tenant_a):
    assert api(tenant_a.key_with("synthesize")).get("/v1/tenant/stats").status_code == 403
