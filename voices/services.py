"""Writes for a tenant's voices, each in the principal's schema and audited."""

from __future__ import annotations

import io
import logging
import uuid

import numpy as np
import soundfile
from django.db import IntegrityError, transaction

from callwaiting_tts.errors import ApplicationError
from synthesis.engines.catalog import engine_spec
from tenants.audit import Actor, audit_record
from tenants.db import tenant_schema
from tenants.principal import Principal
from voices import storage
from voices.models import Voice
from voices.selectors import forget_default_voice, voice_get

logger = logging.getLogger(__name__)


def voice_create(
    *,
    principal: Principal,
    by: Actor,
    name: str,
    base_voice: str,
    language: str,
    speed: float,
    engine: str = "",
    description: str = "",
    is_default: bool = False,
) -> Voice:
    try:
        with tenant_schema(principal.schema_name), transaction.atomic():
            if is_default:  # one default per tenant: the new one replaces the old
                Voice.objects.filter(is_default=True).update(is_default=False)
            voice = Voice.objects.create(
                name=name,
                base_voice=base_voice,
                engine=engine,
                language=language,
                speed=speed,
                description=description,
                is_default=is_default,
            )
    except IntegrityError:
        raise ApplicationError(
            f"A voice named {name!r} exists.", code="voice_exists", param="name", status=409
        ) from None
    if is_default:
        forget_default_voice(principal.schema_name)
    audit_record(
        by=by,
        action="voice.create",
        tenant_id=principal.tenant_id,
        target=f"voice:{voice.pk} {name}",
    )
    logger.info("voice created", extra={"voice_id": str(voice.pk), "base_voice": base_voice})
    return voice


# A cloned voice's reference clip: XTTS conditions on up to 30 s (its GPT latents) and needs a
# few seconds of speech; longer clips are cut to what is used.
REFERENCE_MIN_SECONDS = 3.0
REFERENCE_MAX_SECONDS = 30.0


def voice_clone_create(
    *,
    schema_name: str,
    tenant_id: int,
    by: Actor,
    name: str,
    language: str,
    audio: bytes,
    engine: str = "xtts",
    description: str = "",
) -> Voice:
    """A cloned voice, `processing` until its engine's worker has computed its conditioning
    (synthesis.cloning.voice_condition): the reference clip is decoded (whatever its name says),
    stored under the tenant's prefix as 16-bit mono WAV, and the row made. Raises
    ApplicationError for audio that cannot be used; nothing is stored or made then."""
    spec = engine_spec(engine)
    if not spec.clones:
        raise ApplicationError(
            f"The {engine} engine cannot clone voices.", code="cloning_unsupported", param="engine"
        )
    if not spec.speaks(language):
        raise ApplicationError(
            f"The {engine} engine does not speak {language!r}.",
            code="unsupported_language",
            param="language",
        )
    wav = _reference_wav(audio)
    voice_id = uuid.uuid4()
    reference = storage.reference_path(schema_name, str(voice_id), 1)
    try:
        with tenant_schema(schema_name), transaction.atomic():
            voice = Voice.objects.create(
                id=voice_id,
                name=name,
                kind=Voice.Kind.CLONED,
                engine=engine,
                language=language,
                description=description,
                status=Voice.Status.PROCESSING,
                version=1,
                reference_path=reference,
            )
            # Inside the transaction: a clip that cannot be stored leaves no row.
            storage.storage_write(reference, wav, schema_name=schema_name)
    except IntegrityError:
        raise ApplicationError(
            f"A voice named {name!r} exists.", code="voice_exists", param="name", status=409
        ) from None
    except BaseException:  # the row rolled back: no file may stay behind it
        storage.storage_delete_folder(schema_name, str(voice_id))
        raise
    audit_record(
        by=by, action="voice.clone", tenant_id=tenant_id, target=f"voice:{voice.pk} {name}"
    )
    logger.info("cloned voice created", extra={"voice_id": str(voice.pk), "engine": engine})
    return voice


def _reference_wav(audio: bytes) -> bytes:
    try:
        samples, rate = soundfile.read(io.BytesIO(audio), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError):
        raise ApplicationError(
            "The reference clip is not audio we can read (WAV, FLAC, Ogg or MP3).",
            code="invalid_audio",
            param="file",
        ) from None
    mono = samples.mean(axis=1)
    seconds = len(mono) / rate if rate else 0.0
    if seconds < REFERENCE_MIN_SECONDS:
        raise ApplicationError(
            f"The reference clip is {seconds:.1f} s; at least {REFERENCE_MIN_SECONDS:.0f} s of "
            "speech is needed.",
            code="audio_too_short",
            param="file",
        )
    if not np.any(np.abs(mono) > 1e-3):
        raise ApplicationError("The reference clip is silent.", code="audio_silent", param="file")
    mono = mono[: int(REFERENCE_MAX_SECONDS * rate)]
    out = io.BytesIO()
    soundfile.write(out, mono, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def voice_conditioned(
    *, schema_name: str, voice_id: str, version: int, path: str = "", error: str = ""
) -> Voice | None:
    """Records the end of a voice's conditioning job: `ready` with its conditioning path, or
    `failed` with the reason. A job for an older version (the clip was replaced meanwhile) or a
    deleted voice changes nothing (None)."""
    with tenant_schema(schema_name), transaction.atomic():
        voice = Voice.objects.select_for_update().filter(pk=voice_id, version=version).first()
        if voice is None:
            return None
        voice.status = Voice.Status.FAILED if error else Voice.Status.READY
        voice.conditioning_path = "" if error else path
        voice.error = error[:500]
        voice.save(update_fields=["status", "conditioning_path", "error", "updated_at"])
    logger.info("voice conditioned", extra={"voice_id": voice_id, "status": voice.status})
    return voice


def voice_delete(*, principal: Principal, by: Actor, voice_id: str) -> None:
    """Deletes the tenant's voice `voice_id` (VoiceNotFound, a 404, if it has none), and a
    cloned voice's files."""
    voice = voice_get(principal=principal, voice_id=voice_id)
    # The files lie under the canonical id, not the spelling asked for (uuid.UUID reads
    # upper case, braces, urn:uuid:); delete() clears pk, so it is taken first.
    stored_id = str(voice.pk)
    with tenant_schema(principal.schema_name):
        voice.delete()
    if voice.kind == Voice.Kind.CLONED:
        storage.storage_delete_folder(principal.schema_name, stored_id)
    if voice.is_default:
        forget_default_voice(principal.schema_name)
    audit_record(
        by=by,
        action="voice.delete",
        tenant_id=principal.tenant_id,
        target=f"voice:{voice_id} {voice.name}",
    )
    logger.info("voice deleted", extra={"voice_id": voice_id})
