"""Writes for a tenant's voices, each in the principal's schema and audited."""

from __future__ import annotations

import logging
import uuid

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from redis.exceptions import RedisError

from billing.limits import limits_for
from callwaiting_tts.celery import send_to_tenant
from callwaiting_tts.errors import ApplicationError
from callwaiting_tts.redis import get_redis
from synthesis.contract import messages
from synthesis.contract.keys import Keys
from synthesis.engines.catalog import engine_spec
from tenants.audit import Actor, audit_record
from tenants.db import tenant_schema
from tenants.models import Tenant
from tenants.principal import Principal
from voices import storage
from voices.audio import DecodedAudio, decode_audio
from voices.consent import CURRENT as CONSENT
from voices.models import Voice, VoiceConsent
from voices.selectors import forget_default_voice, voice_get

logger = logging.getLogger(__name__)

# A clip whose loudest sample is below this (-60 dBFS) is silence, not a quiet recording.
SILENCE_PEAK = 1e-3


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
        raise _name_taken(name) from None
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


def voice_upload(
    *,
    schema_name: str,
    tenant_id: int,
    by: Actor,
    name: str,
    language: str,
    audio: bytes,
    consent: bool,
    consent_recording: bytes | None = None,
    engine: str = "xtts",
    description: str = "",
) -> Voice:
    """A new cloned voice, `uploaded`: the clip is decoded (whatever its name says), checked,
    stored as sent under the tenant's prefix, with the consent record and the row made in one
    transaction. The validation task (synthesis.tasks.validate_voice) takes it from there.
    ApplicationError for anything the uploader can fix; nothing is stored or made then."""
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
    limits = limits_for(tenant_id)
    if limits.allowed_engines and engine not in limits.allowed_engines:
        raise ApplicationError(
            f"Your plan does not include the {engine} engine.",
            code="engine_not_allowed",
            param="engine",
            status=403,
        )
    if not consent:
        raise ApplicationError(
            "Confirm that the speaker consented to having their voice cloned (consent=true); "
            f"the statement: {CONSENT.text}",
            code="consent_required",
            param="consent",
        )
    if consent_recording is None and consent_recording_required(tenant_id):
        raise ApplicationError(
            "Your organisation requires a consent recording: the speaker reading "
            f'"{CONSENT.sentence}" (GET /v1/voices/consent shows it).',
            code="consent_recording_required",
            param="consent_recording",
        )
    clip = decode_audio(audio, max_seconds=settings.VOICE_UPLOAD_MAX_SECONDS, param="file")
    _check_clip(clip, settings.VOICE_REFERENCE_MIN_SECONDS, "file")
    recording = None
    if consent_recording is not None:
        recording = decode_audio(
            consent_recording,
            max_seconds=settings.VOICE_CONSENT_MAX_SECONDS,
            param="consent_recording",
        )
        _check_clip(recording, 1.0, "consent_recording")
    voice_id = uuid.uuid4()
    original = storage.original_path(schema_name, str(voice_id), 1, clip.container)
    recording_path = (
        storage.consent_recording_path(schema_name, str(voice_id), 1, recording.container)
        if recording is not None
        else ""
    )
    try:
        with tenant_schema(schema_name), transaction.atomic():
            _check_cloned_voice_limit(schema_name, limits.max_cloned_voices)
            voice = Voice.objects.create(
                id=voice_id,
                name=name,
                kind=Voice.Kind.CLONED,
                engine=engine,
                language=language,
                description=description,
                status=Voice.Status.UPLOADED,
                version=1,
                original_path=original,
            )
            VoiceConsent.objects.create(
                voice_id=voice_id,
                voice_name=name,
                attested_by=by.actor,
                ip=by.ip,
                user_agent=by.user_agent,
                statement_version=CONSENT.version,
                statement_text=CONSENT.text,
                recording_path=recording_path,
                recording_sentence=CONSENT.sentence if recording_path else "",
            )
            # Inside the transaction: a file that cannot be stored leaves no row.
            storage.storage_write(original, audio, schema_name=schema_name)
            if recording_path:
                assert consent_recording is not None
                storage.storage_write(recording_path, consent_recording, schema_name=schema_name)
    except IntegrityError:
        raise _name_taken(name) from None
    except BaseException:  # the row rolled back: no file may stay behind it
        storage.storage_delete_folder(schema_name, str(voice_id))
        raise
    audit_record(
        by=by,
        action="voice.upload",
        tenant_id=tenant_id,
        # The attestation is audited with the upload: who (the actor), from where (ip, user
        # agent), when, and to which statement.
        target=(
            f"voice:{voice.pk} consent:{CONSENT.version}"
            f"{' +recording' if recording_path else ''} {name}"
        ),
    )
    logger.info("voice uploaded", extra={"voice_id": str(voice.pk), "engine": engine})
    return voice


# A cloned voice in these states is in the middle of its pipeline, whose steps name the version
# they work on: it cannot change until the step ends.
_BUSY = (Voice.Status.UPLOADED, Voice.Status.VALIDATING, Voice.Status.CLONING)
_EDITABLE = ("name", "description", "language", "speed", "base_voice", "engine", "is_default")


def voice_update(*, principal: Principal, by: Actor, voice_id: str, **changes: object) -> Voice:
    """Changes the tenant's voice `voice_id` (the fields of `_EDITABLE` given). Any change bumps
    its version, which caches of the voice key on. A preset's base voice is checked by the
    caller (the serializer); a cloned voice has none, and changes only between the steps of
    its pipeline (409 `voice_busy` during one)."""
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    voice = voice_get(principal=principal, voice_id=voice_id)
    if voice.kind == Voice.Kind.CLONED and "base_voice" in changes:
        raise ApplicationError(
            "A cloned voice has no base voice.", code="invalid_request", param="base_voice"
        )
    if voice.kind == Voice.Kind.CLONED and "language" in changes:
        language = str(changes["language"])
        if not engine_spec(voice.engine).speaks(language):
            raise ApplicationError(
                f"The {voice.engine} engine does not speak {language!r}.",
                code="unsupported_language",
                param="language",
            )
    changed = {k: v for k, v in changes.items() if getattr(voice, k) != v}
    if not changed:
        return voice
    try:
        with tenant_schema(principal.schema_name), transaction.atomic():
            locked = Voice.objects.select_for_update().get(pk=voice.pk)
            if locked.kind == Voice.Kind.CLONED and locked.status in _BUSY:
                raise ApplicationError(
                    f"Voice {locked.name!r} is being {locked.status}; change it once it is done.",
                    code="voice_busy",
                    param="voice",
                    status=409,
                )
            if changed.get("is_default"):
                Voice.objects.filter(is_default=True).update(is_default=False)
            for field, value in changed.items():
                setattr(locked, field, value)
            locked.version += 1
            locked.save()
    except IntegrityError:
        raise _name_taken(str(changes.get("name"))) from None
    if "is_default" in changed or locked.is_default:
        forget_default_voice(principal.schema_name)
    audit_record(
        by=by,
        action="voice.update",
        tenant_id=principal.tenant_id,
        target=f"voice:{locked.pk} v{locked.version} {','.join(sorted(changed))} {locked.name}",
    )
    return locked


# Celery's validation task, by name: it lives in synthesis (above this app), which runs it.
VALIDATE_VOICE_TASK = "synthesis.tasks.validate_voice"


def voice_queue_validation(*, schema_name: str, voice: Voice) -> None:
    """Queues the validation of an `uploaded` voice (the report, the cleaned clip, cloning)."""
    send_to_tenant(VALIDATE_VOICE_TASK, schema_name, str(voice.pk), voice.version)


def consent_recording_required(tenant_id: int) -> bool:
    """The tenant's setting: every upload must carry a consent recording."""
    return bool(
        Tenant.objects.filter(pk=tenant_id).values_list("require_consent_recording", flat=True)[0]
    )


def _check_clip(clip: DecodedAudio, min_seconds: float, param: str) -> None:
    if clip.duration < min_seconds:
        raise ApplicationError(
            f"The audio is {clip.duration:.1f} s long; at least {min_seconds:.0f} s is needed "
            "(10-30 s of one person speaking gives the closest voice).",
            code="audio_too_short",
            param=param,
        )
    if float(np.max(np.abs(clip.samples))) < SILENCE_PEAK:
        raise ApplicationError(
            "The audio is silent: check the microphone and record again.",
            code="audio_silent",
            param=param,
        )


def _name_taken(name: str) -> ApplicationError:
    return ApplicationError(
        f"A voice named {name!r} exists.", code="voice_exists", param="name", status=409
    )


def _check_cloned_voice_limit(schema_name: str, limit: int) -> None:
    """In the upload's transaction: concurrent uploads of one tenant take turns on an advisory
    lock, so two cannot both pass a count that only one of them may fill."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"cloned:{schema_name}"])
    if Voice.objects.filter(kind=Voice.Kind.CLONED).count() >= limit:
        raise ApplicationError(
            f"Your plan allows {limit} cloned voice{'s' if limit != 1 else ''}; delete one "
            "(DELETE /v1/voices/{id}) or upgrade to add another.",
            code="voice_limit_reached",
            param="file",
            status=403,
        )


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
        _forget_in_workers(voice.engine, principal.schema_name, stored_id)
    if voice.is_default:
        forget_default_voice(principal.schema_name)
    audit_record(
        by=by,
        action="voice.delete",
        tenant_id=principal.tenant_id,
        target=f"voice:{voice_id} {voice.name}",
    )
    logger.info("voice deleted", extra={"voice_id": voice_id})


def _forget_in_workers(engine: str, schema_name: str, voice_id: str) -> None:
    """Tells every live worker of `engine` to drop the deleted voice's loaded conditioning. Best
    effort: no job can name the voice any more, so an entry a worker missed only waits for
    its cache's eviction."""
    client, keys = get_redis(), Keys(settings.REDIS_PREFIX)
    message = messages.pack(
        {"type": messages.FORGET, "schema_name": schema_name, "voice_id": voice_id}
    )
    try:
        for worker_id in client.smembers(keys.workers(engine)):
            control = keys.control(messages.as_text(worker_id))
            client.rpush(control, message)
            client.expire(control, 60)
    except (RedisError, OSError):
        logger.warning("could not tell the workers to forget a voice", extra={"voice_id": voice_id})
