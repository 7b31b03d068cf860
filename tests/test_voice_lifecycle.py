"""An uploaded clip through Celery's validation: the report people act on, the cleaned clip,
`validated` where no engine that clones runs (and why it cannot be used yet), `failed` that
keeps its report and is never usable, the consent recording's speaker check. Real Piper and
espeak-ng speech, a real Celery worker, real storage; XTTS's part is in tests/test_xtts.py."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyloudnorm
import pytest
import soundfile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from synthesis.engines.catalog import XTTS
from synthesis.tasks import clone_validated_voices
from tenants.db import tenant_schema
from tests.speech import encode, espeak, joe, joe_seconds, wav
from voices.analysis.thresholds import CONSENT_MIN_SIMILARITY, TARGET_LUFS
from voices.models import Voice, VoiceConsent

pytestmark = pytest.mark.django_db(transaction=True)

BUSY = ("uploaded", "validating")


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("lifecycle")


@pytest.fixture
def piper_only(settings):
    settings.TTS_ENGINES = ["piper"]  # `make run`'s default deployment: nothing clones


def upload(client, audio: bytes, name: str, **files) -> dict:
    data: dict[str, Any] = {"name": name, "language": "en", "consent": "true"}
    data["file"] = SimpleUploadedFile("clip", audio)
    data.update({k: SimpleUploadedFile(k, v) for k, v in files.items()})
    response = client.post("/v1/voices/upload", data)
    assert response.status_code == 202, response.content
    return response.json()


def settled(client, voice_id: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        body = client.get(f"/v1/voices/{voice_id}").json()
        if body["status"] not in BUSY:
            return body
        assert time.monotonic() < deadline, f"validation never finished: {body['status']}"
        time.sleep(0.2)


def speak(client, voice: str):
    return client.post(
        "/v1/synthesize", {"text": "Hello there.", "voice": voice}, content_type="application/json"
    )


def test_a_good_clip_is_validated_cleaned_and_waits_for_an_engine_that_clones(
    api, tenant, celery_worker, piper_only
):
    client = api(tenant.api_key)
    speech, rate = joe_seconds(13.0)
    quiet = np.zeros(int(1.5 * rate), np.float32)  # a second and a half before and after
    audio = np.concatenate([quiet, speech, quiet])
    stereo = encode(audio, rate, "flac", channels=2)
    voice = settled(client, upload(client, stereo, "Joe")["id"])

    assert voice["status"] == "validated"
    assert voice["usable"] is False
    assert "no xtts worker" in voice["status_detail"]
    report = voice["report"]
    assert report["usable"] is True
    assert report["duration_seconds"] == pytest.approx(16.0, abs=0.05)
    assert (report["sample_rate"], report["channels"]) == (rate, 2)
    assert 0.6 < report["speech_ratio"] <= 1.0
    assert report["multiple_speakers"] is False
    assert report["clipping_ratio"] == 0
    assert voice["quality_score"] == report["quality_score"] >= 85
    for reason in report["reasons"]:  # minor ones at most, each in words and points
        assert set(reason) == {"code", "message", "points", "blocking"}
        assert reason["blocking"] is False

    with tenant_schema(tenant.tenant.schema_name):
        row = Voice.objects.get(pk=voice["id"])
    assert default_storage.exists(row.original_path)  # the original is kept as sent
    with default_storage.open(row.reference_path, "rb") as handle:
        cleaned, cleaned_rate = soundfile.read(handle, dtype="float32")
    assert cleaned.ndim == 1
    assert cleaned_rate == XTTS.reference_rate
    # Trimmed to the speech and a short pad; leveled to the target loudness.
    assert 12.5 < len(cleaned) / cleaned_rate < 13.6
    loudness = pyloudnorm.Meter(cleaned_rate).integrated_loudness(cleaned.astype(np.float64))
    assert loudness == pytest.approx(TARGET_LUFS, abs=1.0)

    refused = speak(client, "Joe")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "voice_not_ready"
    assert "no xtts worker" in refused.json()["error"]["message"]


def test_adding_an_engine_that_clones_starts_cloning_the_validated_voices(
    api, tenant, celery_worker, piper_only, settings
):
    client = api(tenant.api_key)
    voice = settled(client, upload(client, wav(*joe_seconds(12.0)), "Later")["id"])
    assert voice["status"] == "validated"
    assert clone_validated_voices() == 0  # still no XTTS
    settings.TTS_ENGINES = ["piper", "xtts"]
    assert clone_validated_voices() == 1
    body = client.get(f"/v1/voices/{voice['id']}").json()
    assert body["status"] in ("cloning", "failed")  # no XTTS worker runs in this test
    assert clone_validated_voices() == 0  # moved once


def test_two_speakers_fail_the_clip_with_the_report_kept(api, tenant, celery_worker, piper_only):
    client = api(tenant.api_key)
    first, rate = joe()
    spliced = np.concatenate([first[: 10 * rate], espeak(rate=rate)])
    voice = settled(client, upload(client, wav(spliced, rate), "Two")["id"])

    assert voice["status"] == "failed"
    assert voice["usable"] is False
    assert voice["report"]["multiple_speakers"] is True
    codes = [reason["code"] for reason in voice["report"]["reasons"]]
    assert "more_than_one_speaker" in codes
    assert "more than one person" in voice["error"]
    assert "cannot be used" in voice["status_detail"]
    refused = speak(client, "Two")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "voice_failed"


def test_music_fails_and_a_clipped_clip_is_marked_down(api, tenant, celery_worker, piper_only):
    client = api(tenant.api_key)
    rate = 22050
    t = np.arange(12 * rate) / rate
    chords = sum(
        np.sin(2 * np.pi * f * t) * (np.sin(2 * np.pi * 2 * t) > 0)
        for f in (261.6, 329.6, 392.0, 523.3)
    )
    music = (0.2 * chords / np.max(np.abs(chords))).astype(np.float32)
    failed = settled(client, upload(client, wav(music, rate), "Music")["id"])
    assert failed["status"] == "failed"
    assert failed["report"]["speech_seconds"] < 3

    audio, rate = joe_seconds(12.0)
    clipped = np.clip(audio * 8, -1, 1).astype(np.float32)
    loud = settled(client, upload(client, wav(clipped, rate), "Loud")["id"])
    codes = [reason["code"] for reason in loud["report"]["reasons"]]
    assert "clipping" in codes
    assert loud["report"]["clipping_ratio"] > 0.001
    assert loud["quality_score"] < 100


def test_a_consent_recording_by_the_same_speaker_passes_and_its_score_is_stored(
    api, tenant, celery_worker, piper_only
):
    client = api(tenant.api_key)
    reading, rate = joe(("I agree that my voice may be recorded and used for phone agents.",))
    voice = upload(
        client, wav(*joe_seconds(12.0)), "Consented", consent_recording=wav(reading, rate)
    )
    done = settled(client, voice["id"])
    assert done["status"] == "validated", done
    assert done["consent"]["recording_similarity"] >= CONSENT_MIN_SIMILARITY
    with tenant_schema(tenant.tenant.schema_name):
        stored = VoiceConsent.objects.get(voice_id=voice["id"]).recording_similarity
    assert stored == done["consent"]["recording_similarity"]


def test_a_consent_recording_by_someone_else_fails_the_voice(
    api, tenant, celery_worker, piper_only
):
    client = api(tenant.api_key)
    someone_else = wav(espeak(("I agree that my voice may be recorded.",)), 22050)
    voice = upload(client, wav(*joe_seconds(12.0)), "Borrowed", consent_recording=someone_else)
    done = settled(client, voice["id"])
    assert done["status"] == "failed"
    assert "consent recording does not sound like" in done["error"]
    assert done["consent"]["recording_similarity"] < CONSENT_MIN_SIMILARITY
    with tenant_schema(tenant.tenant.schema_name):
        assert Voice.objects.get(pk=voice["id"]).reference_path == ""  # never cloned from
