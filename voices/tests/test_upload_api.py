"""`POST /v1/voices/upload`: what is accepted, what is refused (with nothing left behind), the
consent record, the plan's limit and tenant isolation. Validation itself runs in Celery
(tests/test_voice_lifecycle.py); here the upload stops at `uploaded`."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.limits import forget_limits
from billing.models import TenantPlanOverride
from tenants.db import tenant_schema
from tenants.models import AuditLog
from tests.speech import CONTAINERS, encode, joe_seconds, wav
from voices import storage
from voices.audio import decode_audio
from voices.consent import CURRENT
from voices.models import Voice, VoiceConsent
from voices.tests.test_voices_api import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    return joe_seconds(12.0)


def upload(client, audio: bytes, *, filename="clip.wav", content_type="audio/wav", **fields):
    data = {"name": "Ada", "language": "en", "consent": "true", **fields}
    data["file"] = SimpleUploadedFile(filename, audio, content_type=content_type)
    return client.post("/v1/voices/upload", data)


def stored_files(tenant) -> list[str]:
    """Every file under the tenant's voices folder."""
    found: list[str] = []

    def walk(folder: str) -> None:
        try:
            dirs, files = default_storage.listdir(folder)
        except FileNotFoundError:
            return
        found.extend(folder + name for name in files)
        for name in dirs:
            walk(f"{folder}{name}/")

    walk(storage.tenant_prefix(tenant.tenant.schema_name) + "voices/")
    return found


def assert_nothing_left(tenant) -> None:
    with tenant_schema(tenant.tenant.schema_name):
        assert not Voice.objects.filter(kind=Voice.Kind.CLONED).exists()
        assert not VoiceConsent.objects.exists()
    assert stored_files(tenant) == []


@pytest.fixture(autouse=True)
def _clean_storage(tenant_a, tenant_b):
    yield
    for tenant in (tenant_a, tenant_b):
        for path in stored_files(tenant):
            default_storage.delete(path)


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_every_accepted_format_is_stored_as_sent_and_the_voice_is_uploaded(
    api, tenant_a, speech, container
):
    audio = encode(*speech, container)
    response = upload(api(tenant_a.api_key), audio, filename=f"reference.{container}")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["type"], body["status"], body["usable"]) == ("cloned", "uploaded", False)
    assert body["engine"] == "xtts"
    assert response["Location"] == f"/v1/voices/{body['id']}"
    with tenant_schema(tenant_a.tenant.schema_name):
        voice = Voice.objects.get(pk=body["id"])
    expected = storage.original_path(tenant_a.tenant.schema_name, body["id"], 1, container)
    assert voice.original_path == expected
    with default_storage.open(expected, "rb") as handle:
        assert handle.read() == audio
    assert decode_audio(audio, max_seconds=60).container == container


def test_the_content_decides_the_format_not_the_name_or_the_content_type(api, tenant_a, speech):
    mp3 = encode(*speech, "mp3")
    response = upload(api(tenant_a.api_key), mp3, filename="photo.png", content_type="image/png")
    assert response.status_code == 202, response.content
    with tenant_schema(tenant_a.tenant.schema_name):
        assert Voice.objects.get(pk=response.json()["id"]).original_path.endswith(".mp3")


def _gif() -> bytes:
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
        b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def _random_bytes() -> bytes:
    return bytes(np.random.default_rng(3).integers(0, 255, 30000, np.uint8))


def _bomb() -> bytes:
    """A FLAC file of under a megabyte that decodes to an hour of audio (a second of sound, the
    rest digital silence, which FLAC stores in a few bytes a block)."""
    out = io.BytesIO()
    with soundfile.SoundFile(out, "w", 8000, 1, format="FLAC", subtype="PCM_16") as sink:
        sink.write(0.3 * np.random.default_rng(5).standard_normal(8000).astype(np.float32))
        silence = np.zeros(8000 * 60, np.float32)
        for _minute in range(60):
            sink.write(silence)
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda s: b"this is not audio at all " * 40, 400, "invalid_audio"),
        (lambda s: encode(s[0], s[1], "wav")[:60], 400, "invalid_audio"),  # truncated in its header
        (
            lambda s: encode(s[0], s[1], "mp3")[:4000],
            400,
            "audio_too_short",
        ),  # truncated: < 1 s left
        (lambda s: _random_bytes(), 400, "invalid_audio"),
        (lambda s: _gif(), 400, "unsupported_audio_format"),
        (lambda s: wav(np.zeros(22050 * 12, np.float32), 22050), 400, "audio_silent"),
        (lambda s: wav(s[0][: 2 * s[1]], s[1]), 400, "audio_too_short"),
        (lambda s: encode(np.tile(s[0], 6), s[1], "mp3"), 400, "audio_too_long"),
        (lambda s: _bomb(), 400, "audio_too_long"),
    ],
    ids=[
        "text",
        "truncated-header",
        "truncated-mp3",
        "random-bytes",
        "image",
        "silent",
        "too-short",
        "too-long",
        "decompression-bomb",
    ],
)
def test_a_refused_upload_is_a_clear_400_and_leaves_nothing(
    api, tenant_a, speech, make, status, code
):
    audio = make(speech)
    error = assert_error(upload(api(tenant_a.api_key), audio), status, code)
    assert error["param"] == "file"
    assert error["message"]
    assert_nothing_left(tenant_a)


def test_the_decompression_bomb_is_small_and_stops_at_the_cap(speech):
    bomb = _bomb()
    assert len(bomb) < 1_000_000
    assert soundfile.info(io.BytesIO(bomb)).duration == pytest.approx(3601)


def test_a_body_over_the_cap_is_a_413_before_it_is_read(api, tenant_a, speech, settings):
    settings.VOICE_UPLOAD_MAX_BYTES = 100_000
    response = upload(api(tenant_a.api_key), encode(*speech, "wav"))
    error = assert_error(response, 413, "file_too_large")
    assert "MiB" in error["message"]
    assert_nothing_left(tenant_a)


def test_an_upload_without_consent_is_refused(api, tenant_a, speech):
    client = api(tenant_a.api_key)
    error = assert_error(upload(client, wav(*speech), consent="false"), 400, "consent_required")
    assert CURRENT.text in error["message"]
    data = {"name": "Ada", "file": SimpleUploadedFile("a.wav", wav(*speech))}
    assert_error(client.post("/v1/voices/upload", data), 400, "consent_required")
    assert_nothing_left(tenant_a)


def test_the_consent_is_recorded_with_who_when_where_and_the_statement(api, tenant_a, speech):
    client = api(tenant_a.api_key)
    response = client.post(
        "/v1/voices/upload",
        {"name": "Ada", "consent": "true", "file": SimpleUploadedFile("a.wav", wav(*speech))},
        HTTP_USER_AGENT="consent-test/1.0",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 202, response.content
    voice_id = response.json()["id"]
    with tenant_schema(tenant_a.tenant.schema_name):
        consent = VoiceConsent.objects.get(voice_id=voice_id)
    assert consent.attested_by.startswith("api_key:")
    assert (consent.ip, consent.user_agent) == ("203.0.113.9", "consent-test/1.0")
    assert (consent.statement_version, consent.statement_text) == (CURRENT.version, CURRENT.text)
    assert consent.recording_path == ""
    shown = client.get(f"/v1/voices/{voice_id}").json()["consent"]
    assert shown["statement_version"] == CURRENT.version
    assert shown["attested_by"] == consent.attested_by
    audit = AuditLog.objects.get(action="voice.upload", tenant=tenant_a.tenant)
    assert f"consent:{CURRENT.version}" in audit.target
    assert audit.ip == "203.0.113.9"


def test_the_consent_statement_is_published(api, tenant_a):
    body = api(tenant_a.api_key).get("/v1/voices/consent").json()
    assert body == {
        "version": CURRENT.version,
        "text": CURRENT.text,
        "sentence": CURRENT.sentence,
        "recording_required": False,
    }


def test_a_tenant_can_require_a_consent_recording(api, tenant_a, speech):
    tenant_a.tenant.require_consent_recording = True
    tenant_a.tenant.save(update_fields=["require_consent_recording"])
    client = api(tenant_a.api_key)
    assert client.get("/v1/voices/consent").json()["recording_required"] is True
    error = assert_error(upload(client, wav(*speech)), 400, "consent_recording_required")
    assert CURRENT.sentence in error["message"]
    assert_nothing_left(tenant_a)

    recording = encode(speech[0][: 5 * speech[1]], speech[1], "webm")
    response = upload(
        client,
        wav(*speech),
        consent_recording=SimpleUploadedFile("consent.webm", recording),
    )
    assert response.status_code == 202, response.content
    voice_id = response.json()["id"]
    with tenant_schema(tenant_a.tenant.schema_name):
        consent = VoiceConsent.objects.get(voice_id=voice_id)
    assert consent.recording_path == storage.consent_recording_path(
        tenant_a.tenant.schema_name, voice_id, 1, "webm"
    )
    assert consent.recording_sentence == CURRENT.sentence
    assert default_storage.exists(consent.recording_path)


def test_a_bad_consent_recording_is_refused_and_leaves_nothing(api, tenant_a, speech):
    response = upload(
        api(tenant_a.api_key),
        wav(*speech),
        consent_recording=SimpleUploadedFile("consent.wav", b"not audio" * 50),
    )
    error = assert_error(response, 400, "invalid_audio")
    assert error["param"] == "consent_recording"
    assert_nothing_left(tenant_a)


@pytest.fixture
def one_cloned_voice(tenant_a):
    TenantPlanOverride.objects.create(tenant=tenant_a.tenant, max_cloned_voices=1)
    forget_limits(tenant_a.tenant.pk)
    yield
    forget_limits(tenant_a.tenant.pk)  # the override rolls back; the cached limits must too


def test_the_plans_cloned_voice_limit_is_a_403_naming_it(api, tenant_a, speech, one_cloned_voice):
    client = api(tenant_a.api_key)
    assert upload(client, wav(*speech)).status_code == 202
    error = assert_error(upload(client, wav(*speech), name="Bea"), 403, "voice_limit_reached")
    assert "1 cloned voice" in error["message"]
    with tenant_schema(tenant_a.tenant.schema_name):
        assert Voice.objects.filter(kind=Voice.Kind.CLONED).count() == 1
    assert len(stored_files(tenant_a)) == 1


def test_a_name_in_use_is_a_409_and_stores_nothing_more(api, tenant_a, speech):
    client = api(tenant_a.api_key)
    assert upload(client, wav(*speech)).status_code == 202
    assert_error(upload(client, wav(*speech)), 409, "voice_exists")
    assert len(stored_files(tenant_a)) == 1


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"language": "tlh"}, "language"),
        ({"engine": "piper"}, "engine"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_fields_are_400s_naming_the_field(api, tenant_a, speech, fields, param):
    response = upload(api(tenant_a.api_key), wav(*speech), **fields)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["param"] == param
    assert_nothing_left(tenant_a)


def test_a_file_is_required(api, tenant_a):
    response = api(tenant_a.api_key).post("/v1/voices/upload", {"name": "Ada", "consent": "true"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"


def test_uploading_needs_the_voices_write_scope(api, tenant_a, speech):
    reader = api(tenant_a.key_with("voices:read"))
    assert_error(upload(reader, wav(*speech)), 403, "insufficient_scope")
    assert_nothing_left(tenant_a)


def test_the_upload_route_is_not_a_voice_id(api, tenant_a):
    client = api(tenant_a.api_key)
    assert client.get("/v1/voices/upload").status_code == 405
    assert client.post("/v1/voices/consent").status_code == 405


def test_another_tenant_cannot_see_fetch_or_delete_an_uploaded_voice(
    api, tenant_a, tenant_b, speech
):
    response = upload(api(tenant_a.api_key), wav(*speech))
    voice_id = response.json()["id"]
    other = api(tenant_b.api_key)
    listed = other.get("/v1/voices").json()["voices"]
    assert voice_id not in [v["id"] for v in listed]
    assert_error(other.get(f"/v1/voices/{voice_id}"), 404, "not_found")
    assert_error(other.delete(f"/v1/voices/{voice_id}"), 404, "not_found")
    own = stored_files(tenant_a)
    assert len(own) == 1
    assert own[0].startswith(storage.tenant_prefix(tenant_a.tenant.schema_name))
    assert stored_files(tenant_b) == []


def test_deleting_an_uploaded_voice_removes_its_files_and_keeps_the_consent_record(
    api, tenant_a, speech
):
    client = api(tenant_a.api_key)
    recording = SimpleUploadedFile("consent.wav", wav(speech[0][: 4 * speech[1]], speech[1]))
    voice_id = upload(client, wav(*speech), consent_recording=recording).json()["id"]
    assert len(stored_files(tenant_a)) == 2
    assert client.delete(f"/v1/voices/{voice_id}").status_code == 204
    assert stored_files(tenant_a) == []
    with tenant_schema(tenant_a.tenant.schema_name):
        assert VoiceConsent.objects.filter(voice_id=voice_id).exists()


def test_a_cloned_voice_cannot_change_while_it_is_being_validated(api, tenant_a, speech):
    client = api(tenant_a.api_key)
    voice_id = upload(client, wav(*speech)).json()["id"]
    path = f"/v1/voices/{voice_id}"
    busy = client.patch(path, {"name": "Bea"}, content_type="application/json")
    assert_error(busy, 409, "voice_busy")
    base = client.patch(path, {"base_voice": "joe"}, content_type="application/json")
    assert_error(base, 400, "invalid_request")
    with tenant_schema(tenant_a.tenant.schema_name):
        Voice.objects.filter(pk=voice_id).update(status=Voice.Status.READY)
    renamed = client.patch(path, {"name": "Bea"}, content_type="application/json")
    assert renamed.status_code == 200, renamed.content
    assert (renamed.json()["name"], renamed.json()["version"]) == ("Bea", 2)
