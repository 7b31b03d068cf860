"""Usage: characters and audio seconds per day for a chosen range (a bar chart with a table
alternative), this month against the quota and concurrency against the limit, totals by key and
by voice, and the closed monthly statements as CSV or a printable page. Every figure comes from
billing (`usage_report`, `tenant_stats`, the statements and their renderers), the same code the
API's `/v1/usage`, `/v1/tenant/stats` and `/v1/statements` answer with; any role holding
`usage:read` reads it."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from billing.api.stats import tenant_stats
from billing.api.usage import UsageQuerySerializer, usage_report
from billing.limits import limits_for
from billing.statements import (
    format_minor,
    month_start,
    previous_month,
    statement_csv_response,
    statement_html,
    tenant_statements,
)
from portal.access import member_view, page, seat
from portal.charts import bar_chart
from tenants.models import Scope

NONE = "'none'"
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


@member_view(scope=Scope.USAGE_READ)
@require_GET
def usage(request: HttpRequest) -> HttpResponse:
    principal = seat(request).principal
    today = datetime.now(UTC).date()
    this_month = month_start(today)
    asked = {
        "start": request.GET.get("start") or this_month.isoformat(),
        "end": request.GET.get("end") or today.isoformat(),
        "granularity": "day",
    }
    query = UsageQuerySerializer(data=asked)
    valid = query.is_valid()
    report = None
    if valid:
        values = query.validated_data
        report = usage_report(principal.tenant_id, values["start"], values["end"], "day")
    last_month = previous_month(today)
    statements = [
        {"statement": s, "total": format_minor(s.total_minor, s.currency)}
        for s in tenant_statements(principal.tenant_id)
    ]
    return page(
        request,
        "portal/usage.html",
        {
            "nav": "usage",
            "asked": asked,
            "errors": [str(e) for errors in query.errors.values() for e in errors],
            "report": report,
            "characters_chart": bar_chart(report["series"], "characters") if report else None,
            "seconds_chart": bar_chart(report["series"], "audio_seconds") if report else None,
            "stats": tenant_stats(principal, limits_for(principal.tenant_id)),
            "statements": statements,
            "presets": [
                ("This month", this_month, today),
                ("Last month", last_month, this_month - timedelta(days=1)),
                ("Last 30 days", today - timedelta(days=29), today),
            ],
        },
        status=200 if valid else 400,
    )


@member_view(scope=Scope.USAGE_READ)
@require_GET
def statement_download(request: HttpRequest, statement_id: int, kind: str) -> HttpResponse:
    """A closed statement as CSV (an attachment) or as billing's printable page; another
    tenant's is the portal's 404."""
    statement = tenant_statements(seat(request).principal.tenant_id).filter(pk=statement_id).first()
    if statement is None:
        raise Http404
    if kind == "csv":
        return statement_csv_response(statement)
    html = statement_html(statement)
    # Billing's printable page carries its own <style>: allow exactly that block by its hash,
    # and nothing else (no script at all) instead of the portal's policy.
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
        for block in _STYLE.findall(html)
    )
    policy = (
        f"default-src 'none'; style-src {hashes or NONE}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    return HttpResponse(
        html,
        content_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": policy},
    )
