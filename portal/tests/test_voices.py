"""The portal's voice pages: list, upload (file and consent), report, delete; roles, tenants,
CSRF and the CSP."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import soundfile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from conftest import TenantFixture
from portal.tests.conftest import MakeMember, assert_strict_page, signed_in
from tenants.db import tenant_schema
from tenants.models import AuditLog
from voices.consent import CURRENT
from voices.models import Voice, VoiceConsent

pytestmark = pytest.mark.django_db


def _clip(seconds: float = 6.0) -> SimpleUploadedFile:
    rate = 22050
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    out = io.BytesIO()
    soundfile.write(out, tone, rate, format="WAV", subtype="PCM_16")
    return SimpleUploadedFile("clip.wav", out.getvalue(), content_type="audio/wav")


def _upload(client: Client, **fields: object) -> object:
    data = {"name": "Ada", "language": "en", "consent": "on", "file": _clip(), **fields}
    return client.post("/portal/voices/upload/", data)


def _voices(tenant: TenantFixture) -> list[Voice]:
    with tenant_schema(tenant.tenant.schema_name):
        return list(Voice.objects.all())


def test_it_lists_stock_and_own_voices_to_every_member(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant, role="member"))
    html = assert_strict_page(client.get("/portal/voices/"))
    assert "<code>joe</code>" in html
    assert "Clone a voice" not in html  # members read; they do not upload


def test_it_shows_the_consent_statement_on_the_upload_form(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant, role="admin"))
    html = assert_strict_page(client.get("/portal/voices/upload/"))
    assert CURRENT.text in html
    assert 'enctype="multipart/form-data"' in html
    assert 'for="id_file"' in html
    assert 'for="id_consent"' in html


def test_it_uploads_a_clip_with_consent_and_queues_its_check(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    user = make_member(tenant_a.tenant)
    client = signed_in(user)
    response = _upload(client)
    assert response.status_code == 302  # type: ignore[attr-defined]
    (voice,) = _voices(tenant_a)
    assert response["Location"] == f"/portal/voices/{voice.pk}/"  # type: ignore[index]
    assert (voice.name, voice.kind, voice.status) == ("Ada", "cloned", "uploaded")
    with tenant_schema(tenant_a.tenant.schema_name):
        consent = VoiceConsent.objects.get(voice_id=voice.pk)
    assert consent.attested_by == f"user:{user.pk}"
    assert AuditLog.objects.filter(actor=f"user:{user.pk}", source="portal").exists()
    page = assert_strict_page(client.get(f"/portal/voices/{voice.pk}/"))
    assert "being checked" in page


def test_it_refuses_an_upload_without_consent(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant))
    response = _upload(client, consent="")
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "This field is required." in assert_strict_page(response)
    assert _voices(tenant_a) == []


def test_it_explains_a_clip_too_short(tenant_a: TenantFixture, make_member: MakeMember) -> None:
    client = signed_in(make_member(tenant_a.tenant))
    response = _upload(client, file=_clip(1.0))
    assert response.status_code == 400  # type: ignore[attr-defined]
    html = assert_strict_page(response)
    assert re.search(r'<p class="error">The audio is 1.0 s long; at least \d s is needed', html)
    assert _voices(tenant_a) == []


def test_it_shows_a_failed_voices_reasons_in_words(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant, role="member"))
    report = {
        "duration_seconds": 12.0,
        "speech_seconds": 3.1,
        "snr_db": 4.0,
        "loudness_lufs": -40.0,
        "multiple_speakers": False,
        "quality_score": 31,
        "reasons": [
            {"code": "noisy", "message": "The background is loud.", "points": 30, "blocking": True}
        ],
    }
    with tenant_schema(tenant_a.tenant.schema_name):
        voice = Voice.objects.create(
            name="Noisy",
            kind=Voice.Kind.CLONED,
            engine="xtts",
            status=Voice.Status.FAILED,
            error="The background is loud.",
            report=report,
            quality_score=31,
        )
    html = assert_strict_page(client.get(f"/portal/voices/{voice.pk}/"))
    assert "The background is loud." in html
    assert "31/100" in html
    assert "Delete voice" not in html  # a member cannot


def test_it_deletes_a_voice_after_confirming(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    user = make_member(tenant_a.tenant, role="admin")
    client = signed_in(user)
    _upload(client)
    (voice,) = _voices(tenant_a)
    assert "Delete voice" in assert_strict_page(client.get(f"/portal/voices/{voice.pk}/delete/"))
    assert len(_voices(tenant_a)) == 1
    response = client.post(f"/portal/voices/{voice.pk}/delete/", follow=True)
    assert "is deleted" in assert_strict_page(response)
    assert _voices(tenant_a) == []
    assert AuditLog.objects.filter(action="voice.delete", actor=f"user:{user.pk}").exists()


def test_a_member_cannot_upload_or_delete(tenant_a: TenantFixture, make_member: MakeMember) -> None:
    owner = signed_in(make_member(tenant_a.tenant))
    _upload(owner)
    (voice,) = _voices(tenant_a)
    member = signed_in(make_member(tenant_a.tenant, role="member"))
    assert member.get("/portal/voices/upload/").status_code == 403
    assert _upload(member, name="Bo").status_code == 403  # type: ignore[attr-defined]
    assert member.post(f"/portal/voices/{voice.pk}/delete/").status_code == 403
    assert len(_voices(tenant_a)) == 1


def test_an_outsider_cannot_see_or_delete_another_tenants_voice(
    tenant_a: TenantFixture, tenant_b: TenantFixture, make_member: MakeMember
) -> None:
    _upload(signed_in(make_member(tenant_a.tenant)))
    (voice,) = _voices(tenant_a)
    outsider = signed_in(make_member(tenant_b.tenant))
    assert "Ada" not in outsider.get("/portal/voices/").content.decode()
    assert outsider.get(f"/portal/voices/{voice.pk}/").status_code == 404
    assert outsider.post(f"/portal/voices/{voice.pk}/delete/").status_code == 404
    assert outsider.get("/portal/voices/not-a-uuid/").status_code == 404
    assert len(_voices(tenant_a)) == 1


def test_voice_forms_need_their_csrf_token(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    user = make_member(tenant_a.tenant)
    _upload(signed_in(user))
    (voice,) = _voices(tenant_a)
    client = signed_in(user, enforce_csrf_checks=True)
    assert _upload(client, name="Bo").status_code == 403  # type: ignore[attr-defined]
    assert client.post(f"/portal/voices/{voice.pk}/delete/").status_code == 403
    assert len(_voices(tenant_a)) == 1
