"""Listening in a real browser (Debian's Chromium, Playwright, daphne): a cloned voice's page
plays its stored clip (the audio element learns its duration and playing advances it) beside the
waveform picture, the stock list carries a preview player per voice, and the clone form's
progress bar reaches 100 % while the upload is sent, then lands on the new voice's page. axe-core
finds nothing serious; screenshots at laptop and phone sizes in var/test-artifacts/portal/.

Autoplay is allowed (`--autoplay-policy=no-user-gesture-required`) so a script may call play()."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import soundfile
from django.core.files.storage import default_storage

from portal.tests.test_browser import (
    AUTOPLAY,
    SIZES,
    People,
    _axe_problems,
    _shoot,
    _sign_in,
    _strict_context,
    _tone_wav,
    axe_source,  # noqa: F401  (fixtures)
    chromium,
    people,  # noqa: F401
)
from tenants.db import tenant_schema
from tests.conftest import _daphne, service  # noqa: F401  (the real service, daphne)
from voices.models import Voice
from voices.selectors import stock_preview
from voices.storage import (
    reference_path,
    stock_exists,
    stock_write,
    storage_delete_folder,
    storage_write,
)

CLIP = "document.querySelector('audio[data-voice-clip]')"


def _until(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Waits until `expression` is true in the page (polled with evaluate: the page's CSP
    refuses the string evaluation wait_for_function does)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        page.wait_for_timeout(100)


@pytest.fixture(scope="module")
def browser(django_db_setup: None) -> Iterator[Any]:
    """Chromium that lets a script start playback."""
    with chromium(AUTOPLAY) as launched:
        yield launched


def _spoken_wav(seconds: float = 8.0, rate: int = 24000) -> bytes:
    """A tone that swells and pauses like phrases of speech (the waveform shows the shape)."""
    t = np.arange(int(seconds * rate)) / rate
    phrases = np.clip(np.sin(2 * np.pi * 0.35 * t), 0, None) ** 0.5
    tone = 0.6 * phrases * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    out = io.BytesIO()
    soundfile.write(out, tone.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


SPEECH = [[0.05, 1.4], [2.9, 4.3], [5.75, 7.1]]


@pytest.fixture
def cleaned_voice(people: People) -> Iterator[str]:  # noqa: F811
    """A validated cloned voice of the people's tenant with a stored cleaned reference."""
    schema = people.tenant.tenant.schema_name
    with tenant_schema(schema):
        voice = Voice.objects.create(
            name="Reception desk",
            kind=Voice.Kind.CLONED,
            engine="xtts",
            status=Voice.Status.VALIDATED,
            version=1,
            quality_score=88,
            report={
                "duration_seconds": 8.0,
                "speech_seconds": 4.1,
                "snr_db": 38.0,
                "loudness_lufs": -20.0,
                "multiple_speakers": False,
                "quality_score": 88,
                "reasons": [],
                "speech_segments": SPEECH,
            },
        )
        path = reference_path(schema, str(voice.pk), 1)
        storage_write(path, _spoken_wav(), schema_name=schema)
        voice.reference_path = path
        voice.save(update_fields=["reference_path"])
    yield str(voice.pk)
    storage_delete_folder(schema, str(voice.pk))


@pytest.fixture
def joe_preview() -> Iterator[None]:
    """A stored preview for the stock voice `joe` (left alone if a worker already made one)."""
    path = stock_preview("joe")
    made = not stock_exists(path)
    if made:
        stock_write(path, _tone_wav(2.0))
    yield
    if made:
        default_storage.delete(path)


def test_a_member_hears_a_voices_clip_and_sees_its_waveform(
    browser: Any,
    people: People,  # noqa: F811
    cleaned_voice: str,
    joe_preview: None,
    axe_source: str,  # noqa: F811
) -> None:
    url = people.url
    context, errors = _strict_context(browser)
    page = context.new_page()
    _sign_in(page, url, people.member)
    page.goto(f"{url}/portal/voices/{cleaned_voice}/")
    page.get_by_role("heading", name="Cleaned reference clip").wait_for()
    _until(page, f"{CLIP}.readyState >= 1 && {CLIP}.duration > 0")
    assert 7.5 < page.evaluate(f"{CLIP}.duration") < 8.5
    image = page.get_by_role("img", name="Waveform of the cleaned reference clip")
    image.wait_for()
    _until(page, "document.querySelector('img.waveform').complete")
    assert page.evaluate("document.querySelector('img.waveform').naturalWidth") == 600
    _shoot(page, "voice-clip")

    page.evaluate(f"{CLIP}.play()")
    _until(page, f"{CLIP}.currentTime > 0.3")
    assert page.evaluate(f"{CLIP}.paused") is False
    page.evaluate(f"{CLIP}.pause()")

    page.goto(f"{url}/portal/voices/")
    player = page.get_by_label("Preview of Joe")
    assert player.count() == 1
    player.evaluate("audio => audio.play()")
    _until(page, "document.querySelector('audio[aria-label=\"Preview of Joe\"]').currentTime > 0.2")
    _shoot(page, "voices-previews")
    assert errors == []  # no CSP violation (the SVG, the audio), no script error
    context.close()

    checked = browser.new_context(viewport=SIZES["laptop"], bypass_csp=True)  # axe is injected
    page = checked.new_page()
    _sign_in(page, url, people.member)
    problems = {}
    for name, path in {
        "voice-clip": f"/portal/voices/{cleaned_voice}/",
        "voices": "/portal/voices/",
    }.items():
        page.goto(url + path)
        problems[name] = _axe_problems(page, axe_source)
    assert {where: found for where, found in problems.items() if found} == {}
    checked.close()


WATCH_PROGRESS = """() => {
  window.progressSeen = [];
  const bar = document.querySelector("progress");
  new MutationObserver(() => window.progressSeen.push(Number(bar.value)))
    .observe(bar, {attributes: true, attributeFilter: ["value"]});
}"""


def test_the_upload_shows_its_progress_and_lands_on_the_voice(
    browser: Any,
    people: People,  # noqa: F811
    axe_source: str,  # noqa: F811
) -> None:
    url = people.url
    context, errors = _strict_context(browser)
    page = context.new_page()
    _sign_in(page, url, people.owner)
    page.goto(f"{url}/portal/voices/upload/")
    progress = page.locator("[data-upload-bar]")
    assert progress.is_hidden()  # shown only once an upload starts
    page.get_by_label("Name").fill("Night line")
    page.locator("#id_file").set_input_files(
        {"name": "night.wav", "mimeType": "audio/wav", "buffer": _spoken_wav(20.0, 44100)}
    )
    page.get_by_label("I confirm that the person speaking").check()
    page.evaluate(WATCH_PROGRESS)
    page.get_by_role("button", name="Upload and check").click()
    page.get_by_role("heading", name="Night line").wait_for()
    assert page.evaluate("window.progressSeen")[-1] == 100  # the bar filled before the swap
    assert page.url.startswith(f"{url}/portal/voices/")
    assert page.url != f"{url}/portal/voices/upload/"
    page.get_by_text("“Night line” is uploaded").wait_for()  # the redirect's message, once
    page.get_by_role("heading", name="Uploaded clip").wait_for()
    _until(page, f"{CLIP}.duration > 19")
    _shoot(page, "voice-uploaded-progress")
    assert errors == []
    voice_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    context.close()

    # The form mid-upload, for the screenshots and axe: the bar shown (a slow request).
    checked = browser.new_context(viewport=SIZES["laptop"], bypass_csp=True)
    page = checked.new_page()
    _sign_in(page, url, people.owner)
    page.goto(f"{url}/portal/voices/upload/")
    page.evaluate(
        """() => { const bar = document.querySelector("[data-upload-bar]"); bar.hidden = false;
                   bar.querySelector("progress").value = 60; }"""
    )
    _shoot(page, "voice-upload-progress")
    assert _axe_problems(page, axe_source) == []
    checked.close()
    storage_delete_folder(people.tenant.tenant.schema_name, voice_id)
