"""XTTS end to end on CPU: a tiny random-weight model in the official layout, loaded by a real
worker process through `load_checkpoint`; a reference clip cloned into a voice whose conditioning
the worker computes once and stores under the tenant's prefix; stock and cloned voices spoken
through daphne over /v1/synthesize and /v1/stream.

The worker decodes greedily (XTTS_DO_SAMPLE=0), so its audio equals the raw engine's for the
same segments byte for byte (by the worker's own path: the engine's batched streams, one
request at a time)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import time
import uuid

import numpy as np
import pytest
import redis
import soundfile
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.storage import default_storage
from safetensors.numpy import load as load_safetensors
from websockets.asyncio.client import connect

from billing.models import UsageRecord
from callwaiting_tts.errors import ApplicationError
from synthesis.cloning import voice_condition
from synthesis.contract.jobs import Job
from synthesis.contract.keys import Keys
from synthesis.contract.plan import engine_segments
from synthesis.contract.segments import ConditioningRef, Segment
from synthesis.engines.catalog import XTTS
from synthesis.engines.loader import load_engine
from synthesis.engines.xtts.scheduler import speak_alone
from synthesis.stream import JobStream, SynthesisFailed
from synthesis.text.frontend import prepare
from tenants.audit import Actor
from tenants.db import tenant_schema
from tests.conftest import running_daphne
from tests.speech import joe_seconds, wav
from tests.synth import post
from voices import storage
from voices.models import Voice
from voices.services import voice_upload
from voices.validation import voice_validate

pytestmark = pytest.mark.django_db(transaction=True)

SPEAKER = "tiny-speaker-a"  # "Tiny Speaker A" in the model's speakers_xtts.pth
TEXT = "Hello there."
RAW = {"format": "pcm", "sample_rate": 24000}  # XTTS's own rate: no resampling


@pytest.fixture(scope="module")
def xtts_service(django_db_setup, django_db_blocker, xtts_worker):
    """daphne for a deployment that runs Piper and XTTS side by side."""
    with django_db_blocker.unblock(), running_daphne(TTS_ENGINES="piper,xtts") as service:
        yield service


@pytest.fixture
def service(xtts_service, transactional_db):
    return xtts_service


@pytest.fixture(scope="module")
def engine(tiny_xtts):
    """The raw engine, as the worker loads it: what the service's audio must equal."""
    import os

    os.environ["COQUI_TOS_AGREED"] = "1"
    return load_engine("xtts", model_path=tiny_xtts, device="cpu", do_sample=False, threads=1)


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("xtts")


def reference_clip(seconds: float = 12.0) -> bytes:
    """Joe (Piper) speaking for `seconds`, as WAV: real speech, which validation passes."""
    return wav(*joe_seconds(seconds))


def silent_clip(seconds: float = 4.0, rate: int = 22050) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, np.zeros(int(seconds * rate), np.float32), rate, format="WAV")
    return out.getvalue()


def raw_audio(engine, text: str, *, voice: str = SPEAKER, conditioning=None) -> bytes:
    """What the engine makes of `text` alone, by the path the worker takes: its batched
    streams (XTTS_BATCHING is on by default), one stream in the batch."""
    segments = engine_segments(prepare(text=text, locale="en-US"), language="en")
    batch = engine.batched(max_streams=settings.TTS_WORKER_MAX_JOBS)
    chunks = speak_alone(batch, segments, voice=voice, conditioning=conditioning)
    return b"".join(chunk.pcm for chunk in chunks)


def stored(tenant, name: str, audio: bytes | None = None) -> Voice:
    """A cloned voice uploaded and validated here (its cleaned clip stored), whose
    conditioning is not computed yet."""
    voice = voice_upload(
        schema_name=tenant.tenant.schema_name,
        tenant_id=tenant.tenant.pk,
        by=Actor.system(),
        name=name,
        language="en",
        audio=reference_clip() if audio is None else audio,
        consent=True,
    )
    validated = voice_validate(
        schema_name=tenant.tenant.schema_name, voice_id=str(voice.pk), version=voice.version
    )
    assert validated is not None
    assert validated.status == Voice.Status.VALIDATED, validated.error
    return validated


def clone(tenant, name: str = "Ada") -> Voice:
    voice = stored(tenant, name)
    conditioned = async_to_sync(voice_condition)(
        schema_name=tenant.tenant.schema_name, voice_id=str(voice.pk), version=voice.version
    )
    assert conditioned is not None
    return conditioned


def get(service, path: str, key: str):
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(service.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    return response.status, body


# --- stock voices -------------------------------------------------------------------------


def test_the_worker_publishes_the_studio_speakers_and_the_service_lists_them(
    service, tenant, xtts_worker
):
    status, body = get(service, "/v1/voices", tenant.api_key)
    assert status == 200
    by_id = {v["id"]: v for v in body["voices"]}
    assert by_id["joe"]["engine"] == "piper"  # a mix: Piper and XTTS side by side
    assert by_id[SPEAKER] == {
        "id": SPEAKER,
        "type": "stock",
        "name": "Tiny Speaker A",
        "language": "en",
        "description": by_id[SPEAKER]["description"],
        "sample_rate": 24000,
        "engine": "xtts",
        "locale": None,
        "accent": None,
        "gender": None,
        "pack": None,
        "preview_url": f"/v1/voices/{SPEAKER}/preview",
    }
    assert "tiny-speaker-b" in by_id


def test_a_studio_speaker_streams_the_engines_audio_in_order(service, tenant, engine):
    answer = post(
        service.url, "/v1/synthesize", tenant.api_key, {"text": TEXT, "voice": SPEAKER, **RAW}
    )
    assert answer.status == 200, answer.body
    assert answer.headers["transfer-encoding"] == "chunked"
    assert answer.body == raw_audio(engine, TEXT)
    record = UsageRecord.objects.get(synthesis_id=answer.headers["x-synthesis-id"])
    assert (record.engine, record.voice, record.status) == ("xtts", SPEAKER, "completed")


def test_a_language_xtts_speaks_reaches_it_and_one_it_does_not_is_a_400(service, tenant):
    answer = post(
        service.url,
        "/v1/synthesize",
        tenant.api_key,
        {"text": "Bonjour à tous.", "voice": SPEAKER, "language": "fr", **RAW},
    )
    assert answer.status == 200, answer.body
    assert len(answer.body) > 0
    refused = post(
        service.url,
        "/v1/synthesize",
        tenant.api_key,
        {"text": "Sawubona.", "voice": SPEAKER, "language": "zu", **RAW},
    )
    assert refused.status == 400
    assert refused.error()["param"] == "language"


# --- cloned voices ------------------------------------------------------------------------


def test_conditioning_is_computed_once_and_stored_under_the_tenants_prefix(tenant, xtts_worker):
    voice = clone(tenant)
    assert voice.status == Voice.Status.READY
    prefix = storage.voice_folder(tenant.tenant.schema_name, str(voice.pk))
    assert voice.reference_path.startswith(prefix)
    assert voice.conditioning_path == storage.conditioning_path(
        tenant.tenant.schema_name, str(voice.pk), 1, "xtts"
    )
    with default_storage.open(voice.conditioning_path, "rb") as handle:
        data = handle.read()
    assert not data.startswith(b"\x80")  # not a pickle
    tensors = load_safetensors(data)
    assert tensors["gpt_cond_latent"].shape[0] == 1
    assert tensors["speaker_embedding"].shape == (1, 512, 1)


def test_a_cloned_voice_speaks_over_http_as_the_engine_does_from_stored_conditioning(
    service, tenant, engine
):
    voice = clone(tenant)
    with default_storage.open(voice.conditioning_path, "rb") as handle:
        from synthesis.contract.segments import Conditioning

        loaded = engine.load_conditioning(Conditioning(engine="xtts", data=handle.read()))
    answer = post(
        service.url, "/v1/synthesize", tenant.api_key, {"text": TEXT, "voice": str(voice.pk), **RAW}
    )
    assert answer.status == 200, answer.body
    assert answer.body == raw_audio(engine, TEXT, conditioning=loaded)
    by_name = post(
        service.url, "/v1/synthesize", tenant.api_key, {"text": TEXT, "voice": "Ada", **RAW}
    )
    assert by_name.body == answer.body
    record = UsageRecord.objects.get(synthesis_id=answer.headers["x-synthesis-id"])
    assert (record.engine, record.voice) == ("xtts", str(voice.pk))


async def test_a_cloned_voice_speaks_over_the_socket(service, tenant, xtts_worker):
    from channels.db import database_sync_to_async

    voice = await database_sync_to_async(clone)(tenant)
    async with connect(
        f"{service.ws_url}/v1/stream", additional_headers={"X-API-Key": tenant.api_key}
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        start = {"type": "start", "context_id": "c1", "voice": str(voice.pk), "text": TEXT}
        await ws.send(json.dumps(start))
        await ws.send(json.dumps({"type": "end"}))
        audio, done = bytearray(), None
        while done is None:
            raw = await asyncio.wait_for(ws.recv(), 60)
            if isinstance(raw, bytes):
                audio += raw
                continue
            message = json.loads(raw)
            assert message["type"] != "error", message
            if message["type"] == "done":
                done = message
    assert done["characters"] == len(TEXT)
    assert len(audio) > 0
    assert done["audio_ms"] == pytest.approx(len(audio) / 48, abs=2)  # 24 kHz s16le


def test_another_tenants_cloned_voice_is_unknown(service, tenant, make_tenant, xtts_worker):
    voice = clone(tenant)
    outsider = make_tenant("outsider")
    answer = post(
        service.url, "/v1/synthesize", outsider.api_key, {"text": TEXT, "voice": str(voice.pk)}
    )
    assert answer.status == 400
    assert answer.error()["code"] == "unknown_voice"


async def test_a_worker_refuses_conditioning_outside_the_jobs_tenant(
    tenant, make_tenant, xtts_worker
):
    from channels.db import database_sync_to_async

    voice = await database_sync_to_async(clone)(tenant)
    outsider = await database_sync_to_async(make_tenant)("forger")
    forged = Job(
        job_id=str(uuid.uuid4()),
        reply="",
        engine="xtts",
        voice=str(voice.pk),
        segments=[Segment(TEXT, language="en")],
        window=4,
        deadline=time.time() + 60,
        schema_name=outsider.tenant.schema_name,  # the job's tenant is not the voice's
        conditioning=ConditioningRef(str(voice.pk), voice.version, voice.conditioning_path),
    )
    with pytest.raises(SynthesisFailed) as refused:
        await JobStream.open(forged)  # refused instead of accepted
    assert refused.value.code == "unknown_voice"


def test_a_voice_still_being_cloned_is_a_409_not_a_silent_fallback(service, tenant):
    voice = stored(tenant, "Pending")
    answer = post(
        service.url, "/v1/synthesize", tenant.api_key, {"text": TEXT, "voice": str(voice.pk)}
    )
    assert answer.status == 409
    assert answer.error()["code"] == "voice_not_ready"


@pytest.mark.parametrize(
    ("audio", "code"),
    [
        (reference_clip(seconds=1.0), "audio_too_short"),
        (b"RIFF....WAVEfmt not really", "invalid_audio"),
        (silent_clip(), "audio_silent"),
    ],
)
def test_an_unusable_clip_leaves_no_row_and_no_file(tenant, audio, code):
    with pytest.raises(ApplicationError) as refused:
        stored(tenant, "Broken", audio)
    assert refused.value.code == code
    with tenant_schema(tenant.tenant.schema_name):
        assert not Voice.objects.filter(name="Broken").exists()
    assert not default_storage.exists(storage.tenant_prefix(tenant.tenant.schema_name) + "voices")


def test_a_clip_the_engine_cannot_use_fails_the_voice_with_the_reason(tenant, xtts_worker):
    voice = stored(tenant, "Short")
    # The stored clip replaced by one too short for the engine (as a damaged file would be).
    short = reference_clip(seconds=0.2)
    storage.storage_write(voice.reference_path, short, schema_name=tenant.tenant.schema_name)
    failed = async_to_sync(voice_condition)(
        schema_name=tenant.tenant.schema_name, voice_id=str(voice.pk), version=1
    )
    assert failed.status == Voice.Status.FAILED
    assert failed.error
    assert failed.conditioning_path == ""


def test_deleting_a_cloned_voice_removes_its_files(service, tenant, xtts_worker):
    from tests.synth import delete

    voice = clone(tenant)
    assert delete(service.url, f"/v1/voices/{voice.pk}", tenant.api_key) == 204
    assert not default_storage.exists(voice.reference_path)
    assert not default_storage.exists(voice.conditioning_path)


# --- cancel -------------------------------------------------------------------------------


async def test_a_cancel_stops_the_xtts_job_within_a_step(xtts_worker):
    # Eight segments of a few chunks each, and a window that never makes the worker wait for
    # credit: only the cancel can stop it early.
    job = Job(
        job_id=str(uuid.uuid4()),
        reply="",
        engine="xtts",
        voice=SPEAKER,
        segments=[Segment(f"Sentence number {n}.", language="en") for n in range(8)],
        window=100,
        deadline=time.time() + 120,
    )
    stream = await JobStream.open(job)
    await anext(stream.chunks())  # one chunk, then the caller hangs up
    reply = stream.reply
    await stream.close()
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = Keys(settings.REDIS_PREFIX)
    deadline = time.monotonic() + 60
    while json.loads(client.get(keys.heartbeat(xtts_worker.worker_id)))["active_jobs"]:
        assert time.monotonic() < deadline, "the cancelled job is still running"
        await asyncio.sleep(0.05)
    # At most the chunk in hand when the cancel came was produced after it.
    assert client.llen(reply) <= 1


async def test_two_jobs_at_once_are_made_together_and_each_sounds_as_it_does_alone(
    xtts_worker, engine
):
    """The worker's batch makes both at once (each gets its first audio before either ends)
    and each one's audio is its audio alone, up to float rounding (batch shapes differ)."""
    texts = ["Hello there.", "Numbers: one, two, three."]
    streams = []
    for text in texts:
        job = Job(
            job_id=str(uuid.uuid4()),
            reply="",
            engine="xtts",
            voice=SPEAKER,
            segments=engine_segments(prepare(text=text, locale="en-US"), language="en"),
            window=100,
            deadline=time.time() + 120,
        )
        streams.append(await JobStream.open(job))
    events: list[tuple[int, bool]] = []

    async def read(number: int) -> bytes:
        audio = bytearray()
        async for chunk in streams[number].chunks():
            audio += chunk.pcm
            events.append((number, chunk.segment_end))
        return bytes(audio)

    try:
        made = await asyncio.gather(read(0), read(1))
    finally:
        for stream in streams:
            await stream.close()
    firsts = [events.index(next(e for e in events if e[0] == n)) for n in (0, 1)]
    ends = [max(i for i, e in enumerate(events) if e[0] == n) for n in (0, 1)]
    assert max(firsts) < min(ends)  # both were under way at once
    for text, audio in zip(texts, made, strict=True):
        ours = np.frombuffer(audio, dtype=np.int16).astype(int)
        alone = np.frombuffer(raw_audio(engine, text), dtype=np.int16).astype(int)
        assert len(ours) == len(alone)
        assert np.abs(ours - alone).max() <= 2  # of 32767: float rounding
        assert np.abs(alone).max() > 20


async def test_a_job_without_credit_waits_in_the_batch_while_another_is_served(xtts_worker):
    """A reader that stops acknowledging gets no more than its window queued (its stream is
    paused in the batch), and a job beside it runs to its end meanwhile."""

    def xtts_job(count: int, window: int) -> Job:
        return Job(
            job_id=str(uuid.uuid4()),
            reply="",
            engine="xtts",
            voice=SPEAKER,
            segments=[Segment(f"Sentence number {n}.", language="en") for n in range(count)],
            window=window,
            deadline=time.time() + 120,
        )

    client = redis.Redis.from_url(settings.REDIS_URL)
    stalled = await JobStream.open(xtts_job(8, window=2))
    try:
        deadline = time.monotonic() + 60
        while client.llen(stalled.reply) < 2:
            assert time.monotonic() < deadline, "the stalled job never filled its window"
            await asyncio.sleep(0.05)
        served = await JobStream.open(xtts_job(2, window=4))
        chunks = [chunk async for chunk in served.chunks()]
        await served.close()
        assert [chunk.segment for chunk in chunks if chunk.segment_end] == [0, 1]
        assert client.llen(stalled.reply) == 2  # nothing more was made for it meanwhile
    finally:
        await stalled.close()


def test_the_tiny_model_is_the_xtts_row(engine):
    engine.check_against(XTTS)
    assert engine.sample_rate == 24000
    assert {v.id for v in engine.voices()} == {"tiny-speaker-a", "tiny-speaker-b"}


# --- the ways in: Celery and the command --------------------------------------------------


def upload(service, key: str, audio: bytes, name: str) -> tuple[int, dict]:
    """POST /v1/voices/upload as a client sends it: multipart over HTTP."""
    import http.client
    from urllib.parse import urlsplit

    boundary = uuid.uuid4().hex
    fields = {"name": name, "language": "en", "consent": "true"}
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="ref.mp3"\r\n'
        "Content-Type: audio/mpeg\r\n\r\n".encode()
        + audio
        + f"\r\n--{boundary}--\r\n".encode()
    )
    url = urlsplit(service.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    conn.request(
        "POST",
        "/v1/voices/upload",
        body=b"".join(parts),
        headers={
            "Authorization": f"Bearer {key}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    return response.status, body


def wait_for_status(service, key: str, voice_id: str, *passing: str) -> dict:
    deadline = time.monotonic() + 120
    while True:
        status, body = get(service, f"/v1/voices/{voice_id}", key)
        assert status == 200, body
        if body["status"] not in passing:
            return body
        assert time.monotonic() < deadline, f"the voice stayed {body['status']}"
        time.sleep(0.25)


def test_an_uploaded_clip_is_validated_cloned_by_celery_and_spoken_over_http(
    service, tenant, celery_worker, settings
):
    settings.TTS_ENGINES = ["piper", "xtts"]  # the Celery worker's: as the deployment's daphne
    from tests.speech import encode

    status, body = upload(service, tenant.api_key, encode(*joe_seconds(14.0), "mp3"), "Queued")
    assert status == 202, body
    assert body["status"] == "uploaded"
    done = wait_for_status(
        service, tenant.api_key, body["id"], "uploaded", "validating", "validated", "cloning"
    )
    assert done["status"] == "ready", done
    assert (done["usable"], done["status_detail"], done["error"]) == (True, "", "")
    assert done["report"]["usable"] is True
    assert done["quality_score"] == done["report"]["quality_score"] >= 60
    with tenant_schema(tenant.tenant.schema_name):
        voice = Voice.objects.get(pk=body["id"])
    for path in (voice.original_path, voice.reference_path, voice.conditioning_path):
        assert default_storage.exists(path), path
    assert voice.original_path.endswith(".mp3")
    # Cloning read the cleaned clip: mono, at XTTS's reference rate.
    with default_storage.open(voice.reference_path, "rb") as handle:
        info = soundfile.info(handle)
    assert (info.channels, info.samplerate) == (1, XTTS.reference_rate)
    answer = post(service.url, "/v1/synthesize", tenant.api_key, {"text": TEXT, "voice": "Queued"})
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("audio/")
    assert len(answer.body) > 1000


def test_deleting_a_cloned_voice_makes_the_workers_forget_it(service, tenant, xtts_worker):
    from tests.synth import delete

    voice = clone(tenant)
    job = Job(
        job_id="",
        reply="",
        engine="xtts",
        voice=str(voice.pk),
        segments=[Segment(TEXT, language="en")],
        window=4,
        deadline=0,
        schema_name=tenant.tenant.schema_name,
        conditioning=ConditioningRef(str(voice.pk), voice.version, voice.conditioning_path),
    )

    @async_to_sync
    async def speak() -> bytes:
        stream = await JobStream.open(
            dataclasses.replace(job, job_id=str(uuid.uuid4()), deadline=time.time() + 60)
        )
        try:
            return b"".join([chunk.pcm async for chunk in stream.chunks()])
        finally:
            await stream.close()

    assert speak()  # now in the worker's cache
    default_storage.delete(voice.conditioning_path)
    assert speak()  # the file is gone: spoken from the cache
    assert delete(service.url, f"/v1/voices/{voice.pk}", tenant.api_key) == 204
    deadline = time.monotonic() + 10
    refused: SynthesisFailed | None = None
    while refused is None:  # the worker reads the forget message within its control poll
        try:
            speak()
        except SynthesisFailed as failed:
            refused = failed
        assert time.monotonic() < deadline, "the worker still speaks the deleted voice"
        time.sleep(0.2)
    assert refused.code == "conditioning_missing", refused


def test_the_clone_voice_command_prints_the_ready_voice(tenant, xtts_worker, tmp_path):
    from django.core.management import call_command

    clip = tmp_path / "ref.wav"
    clip.write_bytes(reference_clip())
    out = io.StringIO()
    call_command(
        "clone_voice", tenant.tenant.slug, "Cli Voice", str(clip), "--consent", "--json", stdout=out
    )
    result = json.loads(out.getvalue())
    assert (result["name"], result["engine"], result["status"]) == ("Cli Voice", "xtts", "ready")
    with tenant_schema(tenant.tenant.schema_name):
        assert Voice.objects.get(pk=result["voice_id"]).conditioning_path


def test_a_stopped_workers_voices_leave_the_list(tiny_xtts, xtts_worker, settings):
    from conftest import start_worker, stop_worker, xtts_env
    from voices.selectors import _read_published

    settings.TTS_ENGINES = ["piper", "xtts"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = Keys(settings.REDIS_PREFIX)
    second = start_worker("xtts", **xtts_env(tiny_xtts))
    assert client.exists(keys.voices(second.worker_id))
    stop_worker(second)
    assert not client.exists(keys.voices(second.worker_id))
    assert SPEAKER in _read_published(["xtts"])  # the first worker still offers it


def test_a_cloned_voice_is_loaded_once_then_served_from_the_workers_cache(service, tenant):
    voice = clone(tenant, "Cached")
    body = {"text": TEXT, "voice": str(voice.pk), **RAW}
    first = post(service.url, "/v1/synthesize", tenant.api_key, body)
    assert first.status == 200, first.body
    # Gone from storage: a worker that read it per request (or recomputed it) could not speak.
    default_storage.delete(voice.conditioning_path)
    again = post(service.url, "/v1/synthesize", tenant.api_key, body)
    assert again.status == 200, again.body
    assert again.body == first.body


def test_a_cloned_voice_reads_back_with_its_engine_and_status_and_is_hidden_from_others(
    service, tenant, make_tenant
):
    voice = clone(tenant, "Shown")
    status, body = get(service, f"/v1/voices/{voice.pk}", tenant.api_key)
    assert status == 200
    assert (body["type"], body["engine"], body["status"]) == ("cloned", "xtts", "ready")
    assert (body["sample_rate"], body["version"], body["error"]) == (24000, 1, "")
    status, listed = get(service, "/v1/voices", tenant.api_key)
    assert str(voice.pk) in {v["id"] for v in listed["voices"] if v["type"] == "cloned"}
    outsider = make_tenant("peeker")
    status, body = get(service, f"/v1/voices/{voice.pk}", outsider.api_key)
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, listed = get(service, "/v1/voices", outsider.api_key)
    assert str(voice.pk) not in {v["id"] for v in listed["voices"]}


def test_the_openai_endpoint_speaks_a_cloned_voice_by_name(service, tenant):
    voice = clone(tenant, "Nova Clone")
    body = {"model": "tts-1", "input": TEXT, "voice": "Nova Clone", "response_format": "pcm"}
    answer = post(service.url, "/v1/audio/speech", tenant.api_key, body)
    assert answer.status == 200, answer.body
    assert len(answer.body) > 0
    record = UsageRecord.objects.get(synthesis_id=answer.headers["x-synthesis-id"])
    assert (record.engine, record.voice, record.source) == ("xtts", str(voice.pk), "openai")


def test_a_preset_over_a_studio_speaker_speaks_through_xtts(service, tenant):
    preset = {"name": "Front desk FR", "base_voice": SPEAKER, "language": "fr", "speed": 1.1}
    made = post(service.url, "/v1/voices", tenant.api_key, preset)
    assert made.status == 201, made.body
    assert (made.json()["engine"], made.json()["sample_rate"]) == ("xtts", 24000)
    answer = post(
        service.url,
        "/v1/synthesize",
        tenant.api_key,
        {"text": "Bonjour.", "voice": "Front desk FR", **RAW},
    )
    assert answer.status == 200, answer.body
    record = UsageRecord.objects.get(synthesis_id=answer.headers["x-synthesis-id"])
    assert (record.engine, record.voice) == ("xtts", made.json()["id"])
    unknown = post(
        service.url, "/v1/voices", tenant.api_key, {**preset, "name": "X", "base_voice": "nobody"}
    )
    assert unknown.status == 400
    assert unknown.error()["param"] == "base_voice"


def test_text_xtts_cannot_read_is_a_400_before_any_audio(service, tenant):
    # coqui reads Hindi numbers with num2words, which has no Hindi.
    answer = post(
        service.url,
        "/v1/synthesize",
        tenant.api_key,
        {"text": "मेरे पास 25 रुपये हैं।", "voice": SPEAKER, "language": "hi", **RAW},
    )
    assert answer.status == 400, answer.body
    assert answer.error()["code"] == "unsupported_text"
    assert "audio" not in answer.headers["content-type"]
    billed = UsageRecord.objects.filter(tenant_id=tenant.tenant.pk, characters_billed__gt=0)
    assert not billed.exists()
