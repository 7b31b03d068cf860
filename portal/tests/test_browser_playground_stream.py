"""The playground streams, in Debian's Chromium against a real daphne and a real Piper worker:
the audio element plays the MP3 as it arrives (its currentTime advances), the page shows the
time to first audio, the text preview and the snippets; axe finds nothing serious; screenshots
at laptop and phone sizes under var/test-artifacts/portal/ (look at them)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import WorkerProcess
from portal.tests.test_browser import (
    AUTOPLAY,
    People,
    _axe_problems,
    _shoot,
    _sign_in,
    _strict_context,
    axe_source,  # noqa: F401  (fixtures)
    chromium,
    people,  # noqa: F401
)
from tests.conftest import _daphne, service  # noqa: F401  (the real service, daphne)


@pytest.fixture(scope="module")
def browser(django_db_setup: None) -> Iterator[Any]:
    """Chromium that lets a script start playback."""
    with chromium(AUTOPLAY) as launched:
        yield launched


TEXT = (
    "Thanks for calling CallWaiting. Your appointment is on the 3rd of May at 2:30 pm. "
    "Is there anything else I can help you with today?"
)


def test_the_playground_streams_and_shows_time_to_first_audio(
    browser: Any,
    people: People,  # noqa: F811
    tts_worker: WorkerProcess,
    axe_source: str,  # noqa: F811
) -> None:
    context, errors = _strict_context(browser)
    page = context.new_page()
    _sign_in(page, people.url, people.member)
    page.get_by_role("link", name="Playground").click()
    page.get_by_label("Text").fill(TEXT)
    page.get_by_role("button", name="Speak").click()
    page.get_by_text("Time to first audio:").wait_for()
    figure = page.locator("[data-playground-ttfa]").inner_text()
    assert figure.endswith(" ms"), figure
    assert int(figure.split()[0]) > 0, figure
    src = page.evaluate("document.querySelector('audio').currentSrc")
    assert "/portal/playground/stream/" in src
    played = 0.0
    deadline = time.monotonic() + 20
    while played <= 0.5 and time.monotonic() < deadline:  # no wait_for_function: CSP bars eval
        page.wait_for_timeout(100)
        played = page.evaluate("document.querySelector('audio').currentTime")
    assert played > 0.5, played
    page.get_by_role("heading", name="What the engine will say").wait_for()
    assert page.locator("[data-playground-preview] li").count() >= 1
    assert "third of May" in page.locator("[data-playground-preview]").inner_text()
    curl = page.locator("#snippet-curl").inner_text()
    assert "$CALLWAITING_API_KEY" in curl
    assert "/v1/synthesize" in curl
    assert "/v1" in page.locator("#snippet-openai").inner_text()
    _shoot(page, "playground-streaming")
    assert errors == []  # no CSP violation, no script error
    context.close()

    checked = browser.new_context(bypass_csp=True)  # axe is injected
    page = checked.new_page()
    _sign_in(page, people.url, people.member)
    page.goto(f"{people.url}/portal/playground/")
    page.get_by_role("button", name="Speak").click()
    page.get_by_text("Time to first audio:").wait_for()
    assert _axe_problems(page, axe_source) == []
    checked.close()
