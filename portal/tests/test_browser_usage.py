"""The usage page in Chromium (see test_browser.py for the set-up): after usage has been
recorded the chart has its bars, the page passes axe-core (nothing serious or critical) and the
strict CSP (no console error), and screenshots at laptop and phone sizes go to
var/test-artifacts/portal/usage-*.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from billing.statements import close_statement, month_start, previous_month
from billing.tests.conftest import record
from portal.tests.test_browser import (  # noqa: F401  (fixtures)
    UNLABELLED,
    People,
    _axe_problems,
    _shoot,
    _sign_in,
    _strict_context,
    axe_source,
    browser,
    people,
)
from tests.conftest import _daphne, service  # noqa: F401  (the real service, daphne)


def _record_usage(cast: People) -> None:
    """Usage as the synthesis service records it: a few days this month, and last month's closed
    statement."""
    tenant = cast.tenant.tenant
    today = datetime.now(UTC).date()
    first = datetime.combine(month_start(today), datetime.min.time(), UTC)
    key = tenant.api_keys.first()
    for offset, characters in enumerate((420, 1350, 80, 910, 2200)):
        day = first + timedelta(days=offset, hours=9)
        if day.date() > today:
            break
        record(tenant, at=day, characters=characters, api_key=key, delivered=characters / 15)
        record(tenant, at=day + timedelta(hours=2), characters=characters // 3, voice="amy")
    last = previous_month(today)
    record(tenant, at=datetime.combine(last, datetime.min.time(), UTC), characters=5000)
    close_statement(tenant, last)


def test_a_member_reads_usage_as_a_chart_with_statements(
    browser: Any,  # noqa: F811
    people: People,  # noqa: F811
    axe_source: str,  # noqa: F811
) -> None:
    _record_usage(people)
    url = people.url
    context, errors = _strict_context(browser)
    page = context.new_page()
    _sign_in(page, url, people.member)
    page.get_by_role("link", name="Usage").click()
    page.get_by_role("heading", name="Usage", exact=True).wait_for()
    bars = page.locator("svg[data-chart=characters] rect.bar")
    assert bars.count() >= 1
    assert page.locator("svg[data-chart=seconds] rect.bar").count() == bars.count()
    assert page.get_by_role("img", name="Characters per day").count() == 1
    assert page.get_by_role("link", name="CSV of").count() == 1
    assert page.evaluate(UNLABELLED) == []
    _shoot(page, "usage")
    page.get_by_text("The figures per day as a table").click()
    _shoot(page, "usage-table")
    page.get_by_role("link", name="Printable statement of").click()
    page.get_by_role("heading", name="Statement").wait_for()
    # billing's own <style> applies (allowed by its hash), so the page prints as designed.
    assert page.evaluate("getComputedStyle(document.body).maxWidth") == "768px"
    _shoot(page, "usage-statement")
    assert errors == []  # no CSP violation (the bars' sizes are SVG attributes)
    context.close()

    checked = browser.new_context(bypass_csp=True)  # axe is injected
    page = checked.new_page()
    _sign_in(page, url, people.member)
    page.goto(f"{url}/portal/usage/")
    assert _axe_problems(page, axe_source) == []
    checked.close()
