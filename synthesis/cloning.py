"""Cloning a voice, from upload to `ready`: the upload is stored and its row made (voices.services),
Celery validates it (voices.validation: the report and the cleaned clip), then a worker of the
voice's engine computes the conditioning once (a prepare job) and stores it beside the clip;
every synthesis in that voice then names the stored conditioning and its version.

    voice_start_cloning:  a `validated` voice → `cloning`, queue `condition_voice`, where a
                          worker of its engine is configured; else it waits `validated`
    voice_condition:      the prepare job, end to end: `ready`, or `failed` with the reason
"""

from __future__ import annotations

import time
import uuid

from channels.db import database_sync_to_async
from django.conf import settings

from callwaiting_tts.celery import send_to_tenant
from synthesis.contract import messages
from synthesis.contract.jobs import PrepareJob
from synthesis.stream import JobStream, SynthesisFailed
from tenants.db import tenant_schema
from voices import storage
from voices.models import Voice
from voices.services import voice_conditioned

CONDITION_VOICE_TASK = "synthesis.tasks.condition_voice"


def cloning_configured(engine: str) -> bool:
    """Whether this deployment runs workers of `engine` (TTS_ENGINES), so cloning can finish."""
    return engine in settings.TTS_ENGINES


def voice_start_cloning(*, schema_name: str, voice_id: str, version: int) -> bool:
    """Moves a `validated` voice to `cloning` and queues its conditioning, when workers of its
    engine are configured (True); otherwise it stays `validated` (False) and the API says why.
    A voice in any other state is left alone."""
    with tenant_schema(schema_name):
        voice = Voice.objects.filter(
            pk=voice_id, version=version, status=Voice.Status.VALIDATED
        ).first()
        if voice is None or not cloning_configured(voice.engine):
            return False
        moved = Voice.objects.filter(
            pk=voice_id, version=version, status=Voice.Status.VALIDATED
        ).update(status=Voice.Status.CLONING)
    if moved:
        send_to_tenant(CONDITION_VOICE_TASK, schema_name, voice_id, version)
    return bool(moved)


def _voice(schema_name: str, voice_id: str, version: int) -> Voice | None:
    with tenant_schema(schema_name):
        return Voice.objects.filter(pk=voice_id, version=version, kind=Voice.Kind.CLONED).first()


async def voice_condition(*, schema_name: str, voice_id: str, version: int) -> Voice | None:
    """Runs the voice's prepare job on a worker of its engine and records the outcome: `ready`,
    or `failed` when the clip is unusable. Raises SynthesisFailed (503) when no worker could do
    it now (none running, none free, one died): the caller retries. None for a voice that is
    gone or was replaced by a newer version meanwhile."""
    voice = await database_sync_to_async(_voice)(schema_name, voice_id, version)
    if voice is None:
        return None
    job = PrepareJob(
        job_id=str(uuid.uuid4()),
        reply="",
        engine=voice.engine,
        schema_name=schema_name,
        voice_id=voice_id,
        version=version,
        reference_path=voice.reference_path,
        conditioning_path=storage.conditioning_path(schema_name, voice_id, version, voice.engine),
        deadline=time.time() + settings.TTS_JOB_TIMEOUT_SECONDS,
    )
    record = database_sync_to_async(voice_conditioned)
    stream = await JobStream.open(job)
    try:
        reply = await stream.result(messages.PREPARED)
    except SynthesisFailed as failure:
        if failure.status >= 500:
            raise
        return await record(
            schema_name=schema_name, voice_id=voice_id, version=version, error=failure.message
        )
    finally:
        await stream.close()
    return await record(
        schema_name=schema_name, voice_id=voice_id, version=version, path=str(reply["path"])
    )
