"""Voice packs end to end: a Piper pack (the joe model as "emeka", en-NG) and an XTTS pack (12 s
of real speech as "ada", on the tiny random-weight model) imported, then real workers started
(they load the packs), daphne serving Piper and XTTS side by side: the voices are listed with
locale, accent and a preview URL, previews are real audio, and syntheses in them come from the
workers. Module-scoped workers and storage (a fresh MEDIA_ROOT for the module)."""

from __future__ import annotations

import http.client
import io
import json
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import soundfile
from django.core.management import call_command
from django.test import override_settings

from billing.models import UsageRecord
from conftest import start_worker, stop_worker, xtts_env
from tests.conftest import running_daphne
from tests.packs import piper_voice, write_pack, xtts_voice
from tests.synth import post
from voices.packs import indexed_voices

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "Your order has shipped."


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack-media")
    with override_settings(MEDIA_ROOT=str(root)):
        yield root


@pytest.fixture(scope="module")
def packs(media, tmp_path_factory, django_db_blocker):
    folder = tmp_path_factory.mktemp("packs")
    with django_db_blocker.unblock():
        call_command(
            "import_voice_pack", str(write_pack(folder / "p", [piper_voice()], pack="naija-piper"))
        )
        call_command(
            "import_voice_pack", str(write_pack(folder / "x", [xtts_voice()], pack="naija-xtts"))
        )
    return {entry["id"]: entry for entry in indexed_voices()}


@pytest.fixture(scope="module")
def pack_service(packs, media, tiny_xtts, worker_pool, django_db_setup, django_db_blocker):
    """Workers started after the import (so they load the packs) and daphne on the same
    storage. The session's Piper workers know no pack voice: they are stopped first (the next
    test that needs one starts a fresh one)."""
    worker_pool.stop_all()
    worker_pool.workers.clear()
    piper = start_worker("piper")
    try:
        xtts = start_worker("xtts", **xtts_env(tiny_xtts))
    except BaseException:
        stop_worker(piper)
        raise
    try:
        with (
            django_db_blocker.unblock(),
            running_daphne(TTS_ENGINES="piper,xtts", MEDIA_ROOT=str(media)) as service,
        ):
            yield service
    finally:
        stop_worker(xtts)
        stop_worker(piper)


@pytest.fixture
def service(pack_service, transactional_db):
    return pack_service


def get(service, path: str, key: str | None):
    parts = urlsplit(service.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type"), body


def voices_of(service, key: str) -> dict[str, dict]:
    status, _type, body = get(service, "/v1/voices", key)
    assert status == 200, body
    return {v["id"]: v for v in json.loads(body)["voices"] if v["type"] == "stock"}


def test_pack_voices_are_listed_with_locale_accent_and_a_preview_url(service, make_tenant):
    tenant = make_tenant("packs")
    voices = voices_of(service, tenant.api_key)
    emeka, ada, joe = voices["emeka"], voices["ada"], voices["joe"]
    assert emeka["engine"] == "piper"
    assert emeka["language"] == "en-NG"
    assert (emeka["locale"], emeka["accent"], emeka["gender"]) == (
        "en-NG",
        "Nigerian English",
        "male",
    )
    assert emeka["pack"] == "naija-piper"
    assert emeka["preview_url"] == "/v1/voices/emeka/preview"
    assert (ada["engine"], ada["locale"], ada["accent"]) == ("xtts", "en-NG", "Nigerian English")
    assert ada["sample_rate"] == 24000
    assert (joe["locale"], joe["accent"], joe["pack"]) == ("en-US", "American English", None)
    studio = voices["tiny-speaker-a"]
    assert (studio["locale"], studio["accent"]) == (None, None)
    # Stock voices are global: another tenant's key sees the same ones.
    other = make_tenant("packs-other")
    assert voices_of(service, other.api_key) == voices


def test_previews_are_real_audio_and_need_a_valid_key(service, make_tenant, packs, media):
    tenant = make_tenant("previews")
    status, content_type, body = get(service, "/v1/voices/emeka/preview", tenant.api_key)
    assert status == 200
    assert content_type == "audio/wav"
    audio, rate = soundfile.read(io.BytesIO(body))
    assert rate == 22050
    assert len(audio) / rate > 1.5
    assert np.abs(audio).max() > 0.1
    # An XTTS pack voice's preview is its cleaned reference clip.
    status, content_type, body = get(service, "/v1/voices/ada/preview", tenant.api_key)
    assert status == 200
    assert body == (Path(media) / packs["ada"]["files"]["reference"]).read_bytes()
    # Catalog and studio voices: made once by their worker at start, then stored.
    for voice in ("joe", "tiny-speaker-a"):
        status, content_type, body = get(service, f"/v1/voices/{voice}/preview", tenant.api_key)
        assert status == 200, body
        assert content_type == "audio/wav"
        assert len(soundfile.read(io.BytesIO(body))[0]) > 0
    status, _type, body = get(service, "/v1/voices/no-such-voice/preview", tenant.api_key)
    assert status == 404
    assert json.loads(body)["error"]["code"] == "not_found"
    status, _type, body = get(service, "/v1/voices/emeka/preview", None)
    assert status == 401
    assert json.loads(body)["error"]["type"] == "authentication_error"
    status, _type, body = get(service, "/v1/voices/emeka/preview", "cw_nope_nothing")
    assert status == 401


def test_a_piper_pack_voice_is_spoken_by_a_real_worker(service, make_tenant):
    tenant = make_tenant("speak-piper")
    body = {"text": TEXT, "format": "pcm", "sample_rate": 22050}
    answer = post(service.url, "/v1/synthesize", tenant.api_key, {**body, "voice": "emeka"})
    assert answer.status == 200, answer.body
    # The pack voice is the joe model under another name (noise off): the same audio as joe's.
    joe = post(service.url, "/v1/synthesize", tenant.api_key, {**body, "voice": "joe"})
    assert answer.body == joe.body
    assert len(answer.body) > 22050  # over half a second
    record = UsageRecord.objects.get(synthesis_id=answer.headers["x-synthesis-id"])
    assert (record.engine, record.voice, record.status) == ("piper", "emeka", "completed")


def test_an_xtts_pack_voice_is_spoken_by_a_real_worker_from_stored_conditioning(
    service, make_tenant, packs, media
):
    tenant = make_tenant("speak-xtts")
    body = {"text": "Hello there.", "format": "pcm", "sample_rate": 24000, "voice": "ada"}
    answer = post(service.url, "/v1/synthesize", tenant.api_key, body)
    assert answer.status == 200, answer.body
    assert len(answer.body) > 0
    record = UsageRecord.objects.get(synthesis_id=answer.headers["x-synthesis-id"])
    assert (record.engine, record.voice) == ("xtts", "ada")
    # The worker conditioned the voice once at start and stored it beside the reference.
    folder = (Path(media) / packs["ada"]["files"]["reference"]).parent
    assert len(list(folder.glob("xtts-conditioning-*.safetensors"))) == 1
