"""The portal in a real browser: Debian's Chromium driven by Playwright against a real daphne.

Sign in, create a key (its secret shown once, copied to the clipboard), revoke it (and the API
refuses it), the refusals, the keyboard, labels, an axe-core check of every page (the CSP is
bypassed for that check only: axe is injected) and screenshots of every page at laptop and
phone sizes under var/test-artifacts/portal/ (look at them).

Chromium is /usr/bin/chromium from Debian (`make test` apt-installs it, devstack/sysdeps.py);
Playwright never downloads a browser. Without it these tests fail, saying so.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import subprocess
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from django.conf import settings

from conftest import TenantFixture, WorkerProcess
from portal.tests.conftest import PASSWORD, MakeMember
from tenants.db import tenant_schema
from tests.conftest import Service, _daphne, service  # noqa: F401  (the real service, daphne)
from voices.models import Voice

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts" / "portal"
AXE_CACHE = Path(settings.BASE_DIR) / "var" / "cache" / "axe"
SIZES = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


@contextlib.contextmanager
def chromium(*args: str) -> Iterator[Any]:
    """Debian's Chromium under Playwright, headless, with `args` (after the test database exists:
    Playwright's sync API keeps an event loop on this thread, which Django's async-safety check
    mistakes for async code, so the module's plain synchronous ORM set-up runs with that check
    off)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`; "
            "`make test` does it as root). The portal's browser tests need it."
        )
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(args)
        )
        yield launched
        launched.close()


# A page's script may start playback (a test's click is synthetic, not a user's gesture).
AUTOPLAY = "--autoplay-policy=no-user-gesture-required"


@pytest.fixture(scope="module")
def browser(django_db_setup: None) -> Iterator[Any]:
    """Chromium for this module's tests."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core from the npm registry, fetched once into var/cache/axe."""
    script = AXE_CACHE / "axe.min.js"
    if not script.exists():
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        packed = (
            subprocess.run(
                ["npm", "pack", "axe-core@4", "--silent"],
                cwd=AXE_CACHE,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        with tarfile.open(AXE_CACHE / packed) as archive:
            member = archive.extractfile("package/axe.min.js")
            assert member is not None
            script.write_bytes(member.read())
    return script.read_text()


@dataclass
class People:
    url: str  # the service's
    tenant: TenantFixture
    owner: str  # e-mail addresses; every password is PASSWORD
    member: str
    outsider: str  # an owner of another tenant
    voice_id: str  # a cloned voice that failed its check, with a report


@pytest.fixture
def people(
    service: Service,  # noqa: F811
    make_tenant: Callable[[str], TenantFixture],
    make_member: MakeMember,
) -> People:
    tenant, other = make_tenant("acme"), make_tenant("rival")
    with tenant_schema(tenant.tenant.schema_name):
        voice = Voice.objects.create(
            name="Front desk",
            kind=Voice.Kind.CLONED,
            engine="xtts",
            status=Voice.Status.FAILED,
            error="Two people speak in the clip.",
            quality_score=42,
            report=FAILED_REPORT,
        )
    return People(
        voice_id=str(voice.pk),
        url=service.url,
        tenant=tenant,
        owner=make_member(tenant.tenant, role="owner").email,
        member=make_member(tenant.tenant, role="member").email,
        outsider=make_member(other.tenant, role="owner").email,
    )


FAILED_REPORT = {
    "duration_seconds": 14.2,
    "speech_seconds": 11.0,
    "snr_db": 21.5,
    "loudness_lufs": -19.0,
    "multiple_speakers": True,
    "quality_score": 42,
    "reasons": [
        {"code": "speakers", "message": "Two people speak in the clip.", "blocking": True},
        {"code": "quiet", "message": "The voice is a little quiet.", "blocking": False},
    ],
}


def _me(url: str, key: str) -> int:
    request = urllib.request.Request(f"{url}/v1/me", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _sign_in(page: Any, url: str, email: str) -> None:
    page.goto(f"{url}/portal/sign-in/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/portal/")


def _strict_context(browser: Any, **options: Any) -> tuple[Any, list[str]]:
    """A context under the real CSP, collecting every console error (a CSP violation is one)."""
    context = browser.new_context(viewport=SIZES["laptop"], **options)
    errors: list[str] = []
    context.on(
        "console",
        lambda message: (
            errors.append(f"{message.text} {message.location}") if message.type == "error" else None
        ),
    )
    context.on("weberror", lambda error: errors.append(str(error.error)))
    return context, errors


def _shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{size}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name} scrolls sideways at {size} size ({width} px)"
    page.set_viewport_size(SIZES["laptop"])


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => !['hidden', 'submit', 'button'].includes(el.type))
  .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML)"""


def _axe_problems(page: Any, axe_source: str) -> list[dict[str, Any]]:
    page.add_script_tag(content=axe_source)
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
           .map(v => ({id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def test_an_owner_creates_copies_and_revokes_a_key(browser: Any, people: People) -> None:
    url = people.url
    context, errors = _strict_context(browser)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    _sign_in(page, url, people.owner)
    _shoot(page, "home")
    page.get_by_role("link", name="API keys").click()
    _shoot(page, "keys")
    page.get_by_label("Name").fill("browser agent")
    page.get_by_label("synthesize").check()
    page.get_by_role("button", name="Create key").click()
    secret_box = page.locator("#new-secret")
    secret_box.wait_for()
    secret = secret_box.input_value()
    assert secret.startswith("cw_")
    copy = page.get_by_role("button", name="Copy")
    copy.click()
    page.get_by_text("Copied to the clipboard.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    _shoot(page, "key-created")
    assert _me(url, secret) == 200

    page.get_by_role("link", name="Done, I have copied it").click()
    assert secret not in page.content()  # shown once
    page.get_by_role("link", name="Revoke browser agent").click()
    dialog = page.get_by_role("alertdialog")
    dialog.wait_for()
    _shoot(page, "key-revoke")
    dialog.get_by_role("button", name="Revoke key").click()
    page.get_by_text("is revoked").wait_for()
    _shoot(page, "key-revoked")
    assert _me(url, secret) == 401
    assert errors == []  # no CSP violation, no script error
    context.close()


def test_a_member_and_an_outsider_are_refused(browser: Any, people: People) -> None:
    url = people.url
    key_id = people.tenant.tenant.api_keys.get().prefix
    context, _ = _strict_context(browser)
    page = context.new_page()
    _sign_in(page, url, people.member)
    assert page.get_by_role("link", name="API keys").count() == 0
    response = page.goto(f"{url}/portal/keys/")
    assert response.status == 403
    page.get_by_role("heading", name="Not allowed").wait_for()
    _shoot(page, "forbidden")
    for path in ("/portal/members/", "/portal/voices/upload/"):  # owners' and admins' too
        assert page.goto(f"{url}{path}").status == 403, path
    for path in ("/portal/", "/portal/voices/", "/portal/playground/", "/portal/usage/"):
        assert page.goto(f"{url}{path}").status == 200, path  # what a member may use
    context.close()

    context, _ = _strict_context(browser)
    page = context.new_page()
    _sign_in(page, url, people.outsider)
    response = page.goto(f"{url}/portal/keys/{key_id}/revoke/")
    assert response.status == 404
    _shoot(page, "not-found")
    voice = f"/portal/voices/{people.voice_id}/"
    for path in (voice, f"{voice}clip/", f"{voice}waveform.svg", f"{voice}delete/"):
        assert page.goto(f"{url}{path}").status == 404, path  # another tenant's: not found
    context.close()


def test_the_keyboard_reaches_the_sign_in_fields_and_button(browser: Any, people: People) -> None:
    url = people.url
    context, _ = _strict_context(browser)
    page = context.new_page()
    page.goto(f"{url}/portal/sign-in/")
    focused = "document.activeElement.id || document.activeElement.textContent.trim()"
    reached = [page.evaluate(focused)]  # the e-mail field has autofocus
    while "id_username" not in reached and len(reached) < 6:
        page.keyboard.press("Tab")
        reached.append(page.evaluate(focused))
    assert reached[-1] == "id_username", reached
    page.keyboard.type(people.owner)
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "id_password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "Sign in"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/portal/")
    context.close()


DROP = """async (data) => {
  const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], "reception.wav", {type: "audio/wav"}));
  const zone = document.querySelector("[data-dropzone]");
  const drop = {dataTransfer: transfer, bubbles: true, cancelable: true};
  zone.dispatchEvent(new DragEvent("drop", drop));
  return document.querySelector("#id_file").files.length;
}"""


def _tone_wav(seconds: float = 6.0) -> bytes:
    rate = 22050
    t = np.arange(int(seconds * rate)) / rate
    out = io.BytesIO()
    soundfile.write(out, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV")
    return out.getvalue()


def test_an_owner_drops_a_clip_to_clone_a_voice_and_deletes_it(
    browser: Any, people: People
) -> None:
    url = people.url
    context, errors = _strict_context(browser)
    page = context.new_page()
    _sign_in(page, url, people.owner)
    page.get_by_role("link", name="Voices").click()
    page.get_by_role("link", name="Clone a voice").click()
    page.get_by_label("Name").fill("Reception")
    assert page.evaluate(DROP, base64.b64encode(_tone_wav()).decode()) == 1
    page.get_by_text("reception.wav").wait_for()  # the drop zone names the dropped file
    page.get_by_label("I confirm that the person speaking").check()
    page.get_by_role("button", name="Upload and check").click()
    page.get_by_role("heading", name="Reception").wait_for()
    assert page.get_by_text("being checked").count() >= 1
    _shoot(page, "voice-uploaded")
    page.get_by_role("link", name="Delete voice").click()
    page.get_by_role("button", name="Delete voice").click()
    page.get_by_text("“Reception” is deleted.").wait_for()
    assert errors == []
    context.close()


def test_a_member_hears_a_voice_in_the_playground(
    browser: Any, people: People, tts_worker: WorkerProcess
) -> None:
    context, errors = _strict_context(browser)
    page = context.new_page()
    _sign_in(page, people.url, people.member)
    page.get_by_role("link", name="Playground").click()
    page.get_by_label("Text").fill("Thanks for calling.")
    page.get_by_role("button", name="Speak").click()
    page.locator("audio[src*='/portal/playground/stream/']").wait_for(state="attached")
    _shoot(page, "playground-spoken")
    assert errors == []
    context.close()


ANONYMOUS_PAGES = {
    "sign-in": "/portal/sign-in/",
    "password-reset": "/portal/password-reset/",
    "password-reset-sent": "/portal/password-reset/sent/",
}
OWNER_PAGES = {
    "home": "/portal/",
    "keys": "/portal/keys/",
    "members": "/portal/members/",
    "playground": "/portal/playground/",
    "voices": "/portal/voices/",
    "voice-upload": "/portal/voices/upload/",
}


def test_every_page_is_labelled_accessible_and_photographed(
    browser: Any, people: People, axe_source: str
) -> None:
    url = people.url
    key_id = people.tenant.tenant.api_keys.get().prefix
    strict, errors = _strict_context(browser)
    checked = browser.new_context(viewport=SIZES["laptop"], bypass_csp=True)  # axe is injected
    problems: dict[str, Any] = {}
    for context in (strict, checked):
        page = context.new_page()
        for name, path in ANONYMOUS_PAGES.items():
            page.goto(url + path)
            if context is strict:
                _shoot(page, name)
            problems[f"{name} labels"] = page.evaluate(UNLABELLED)
            if context is checked:
                problems[f"{name} axe"] = _axe_problems(page, axe_source)
        _sign_in(page, url, people.owner)
        pages = {
            **OWNER_PAGES,
            "key-revoke-page": f"/portal/keys/{key_id}/revoke/",
            "voice-report": f"/portal/voices/{people.voice_id}/",
            "voice-delete": f"/portal/voices/{people.voice_id}/delete/",
        }
        for name, path in pages.items():
            page.goto(url + path)
            if context is strict:
                _shoot(page, name)
            problems[f"{name} labels"] = page.evaluate(UNLABELLED)
            if context is checked:
                problems[f"{name} axe"] = _axe_problems(page, axe_source)
        if context is checked:
            page.goto(f"{url}/portal/keys/")
            page.get_by_label("Name").fill("axe")
            page.get_by_role("button", name="Create key").click()
            page.locator("#new-secret").wait_for()
            problems["key-created axe"] = _axe_problems(page, axe_source)
            problems["key-created labels"] = page.evaluate(UNLABELLED)
    assert {where: found for where, found in problems.items() if found} == {}
    assert errors == []
    strict.close()
    checked.close()


def test_the_screenshots_folder_is_ignored_by_git() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(ARTIFACTS / "x.png")], cwd=settings.BASE_DIR, check=False
    )
    assert ignored.returncode == 0
