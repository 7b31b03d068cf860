"""Listening in the portal: a cloned voice's stored clip (the cleaned reference, or the upload
until there is one), its waveform picture (cached per voice and version), and stock voices'
previews (the same stored clip as `GET /v1/voices/{id}/preview`); tenants and roles."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conftest import TenantFixture
from portal.tests.conftest import MakeMember, assert_strict_page, signed_in
from tenants.db import tenant_schema
from voices import selectors
from voices.models import Voice
from voices.selectors import stock_preview
from voices.storage import reference_path, stock_read, stock_write, storage_read, storage_write
from voices.waveform import COLUMNS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    """Storage in a folder of this test's own."""
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _wav(seconds: float = 6.0, rate: int = 22050) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    out = io.BytesIO()
    soundfile.write(out, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV")
    return out.getvalue()


def _uploaded(tenant: TenantFixture, make_member: MakeMember) -> Voice:
    owner = signed_in(make_member(tenant.tenant))
    data = {"name": "Ada", "language": "en", "consent": "on"}
    clip = SimpleUploadedFile("clip.wav", _wav(), content_type="audio/wav")
    assert owner.post("/portal/voices/upload/", {**data, "file": clip}).status_code == 302
    with tenant_schema(tenant.tenant.schema_name):
        return Voice.objects.get()


def _cleaned(tenant: TenantFixture, voice: Voice) -> bytes:
    """Gives `voice` a cleaned reference (what validation would write), shorter than the upload."""
    schema = tenant.tenant.schema_name
    data = _wav(3.0, 24000)
    path = reference_path(schema, str(voice.pk), voice.version)
    storage_write(path, data, schema_name=schema)
    with tenant_schema(schema):
        Voice.objects.filter(pk=voice.pk).update(reference_path=path, status=Voice.Status.VALIDATED)
    voice.reference_path = path
    return data


def test_a_member_hears_the_upload_then_the_cleaned_reference(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    voice = _uploaded(tenant_a, make_member)
    member = signed_in(make_member(tenant_a.tenant, role="member"))
    response = member.get(f"/portal/voices/{voice.pk}/clip/")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    original = storage_read(voice.original_path, schema_name=tenant_a.tenant.schema_name)
    assert response.content == original
    assert response["Content-Length"] == str(len(original))

    cleaned = _cleaned(tenant_a, voice)
    response = member.get(f"/portal/voices/{voice.pk}/clip/")
    assert response.content == cleaned != original

    html = assert_strict_page(member.get(f"/portal/voices/{voice.pk}/"))
    assert f'preload="metadata" src="/portal/voices/{voice.pk}/clip/"' in html
    assert f'src="/portal/voices/{voice.pk}/waveform.svg?' in html
    assert 'alt="Waveform of the cleaned reference clip of Ada"' in html


def test_a_preset_has_no_clip_to_hear(tenant_a: TenantFixture, make_member: MakeMember) -> None:
    with tenant_schema(tenant_a.tenant.schema_name):
        preset = Voice.objects.create(name="Desk", base_voice="joe")
    client = signed_in(make_member(tenant_a.tenant, role="member"))
    assert client.get(f"/portal/voices/{preset.pk}/clip/").status_code == 404
    assert client.get(f"/portal/voices/{preset.pk}/waveform.svg").status_code == 404
    assert "<audio" not in assert_strict_page(client.get(f"/portal/voices/{preset.pk}/"))


def test_another_tenants_clip_and_waveform_are_not_found(
    tenant_a: TenantFixture, tenant_b: TenantFixture, make_member: MakeMember
) -> None:
    voice = _uploaded(tenant_a, make_member)
    outsider = signed_in(make_member(tenant_b.tenant))
    assert outsider.get(f"/portal/voices/{voice.pk}/clip/").status_code == 404
    assert outsider.get(f"/portal/voices/{voice.pk}/waveform.svg").status_code == 404
    assert outsider.get("/portal/voices/not-a-uuid/clip/").status_code == 404


def test_signed_out_the_audio_redirects_to_sign_in(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    voice = _uploaded(tenant_a, make_member)
    anonymous = Client()
    for path in (
        f"/portal/voices/{voice.pk}/clip/",
        f"/portal/voices/{voice.pk}/waveform.svg",
        "/portal/voices/stock/joe/preview/",
    ):
        response = anonymous.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/sign-in/?next=")


def test_the_waveform_has_a_column_per_pixel_and_is_cached_per_version(
    tenant_a: TenantFixture, make_member: MakeMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    voice = _uploaded(tenant_a, make_member)
    decoded: list[int] = []
    real = selectors.decode_audio

    def counting(data: bytes, **kwargs: Any) -> Any:
        decoded.append(len(data))
        return real(data, **kwargs)

    monkeypatch.setattr(selectors, "decode_audio", counting)
    client = signed_in(make_member(tenant_a.tenant, role="member"))
    try:
        response = client.get(f"/portal/voices/{voice.pk}/waveform.svg")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/svg+xml"
        svg = response.content.decode()
        assert svg.startswith("<svg ")
        assert f'data-columns="{COLUMNS}"' in svg
        assert len(re.findall(r"M[\d.]+ [\d.]+V[\d.]+", svg)) == COLUMNS == 600
        assert "<style" not in svg
        assert "<script" not in svg
        assert 'class="speech"' not in svg  # the report keeps no speech regions
        # A tone at 0.3 of full scale: every column reaches 0.3 of the way from the middle
        # line (60) to the top (2).
        tops = [float(top) for top in re.findall(r"M[\d.]+ ([\d.]+)V", svg)]
        assert all(abs(top - (60 - 0.3 * 58)) < 1 for top in tops)
        assert client.get(f"/portal/voices/{voice.pk}/waveform.svg").content == response.content
        assert len(decoded) == 1  # the second came from the cache

        _cleaned(tenant_a, voice)  # a new clip: a new picture
        client.get(f"/portal/voices/{voice.pk}/waveform.svg")
        assert len(decoded) == 2
    finally:
        for which in ("original", "reference"):
            cache.delete(
                f"voices:waveform:{tenant_a.tenant.schema_name}:{voice.pk}:v{voice.version}:{which}"
            )


def test_the_waveform_shades_speech_when_the_report_lists_it(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    voice = _uploaded(tenant_a, make_member)
    with tenant_schema(tenant_a.tenant.schema_name):
        Voice.objects.filter(pk=voice.pk).update(
            report={"speech_segments": [[0.5, 2.0], [3.0, 5.5]], "reasons": []}, version=2
        )
    client = signed_in(make_member(tenant_a.tenant))
    svg = client.get(f"/portal/voices/{voice.pk}/waveform.svg").content.decode()
    cache.delete(f"voices:waveform:{tenant_a.tenant.schema_name}:{voice.pk}:v2:original")
    assert svg.count('class="speech"') == 2
    assert 'x="50.0" y="0" width="150.0"' in svg  # 0.5-2.0 s of 6 s, on 600 columns


def test_stock_previews_play_from_the_stored_clip(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant, role="member"))
    html = assert_strict_page(client.get("/portal/voices/"))
    assert 'src="/portal/voices/stock/joe/preview/" aria-label="Preview of' in html

    response = client.get("/portal/voices/stock/joe/preview/")
    assert response.status_code == 503  # no worker has made it yet
    assert "not made yet" in response.content.decode()

    stock_write(stock_preview("joe"), _wav(2.0))
    response = client.get("/portal/voices/stock/joe/preview/")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert response.content == stock_read(stock_preview("joe"))
    assert client.get("/portal/voices/stock/no-such-voice/preview/").status_code == 404
