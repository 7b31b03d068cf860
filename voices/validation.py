"""Validating an uploaded reference clip, in Celery (it loads the VAD and the speaker encoder:
never imported by web processes): `uploaded → validating → validated | failed`. The report is
stored with the voice; a usable clip is cleaned (mono, the engine's reference rate, trimmed,
leveled) and stored beside the original, and cloning reads only the cleaned one."""

from __future__ import annotations

import io
import logging

import soundfile
from django.conf import settings
from django.db import transaction

from synthesis.engines.catalog import engine_spec
from tenants.db import tenant_schema
from voices import storage
from voices.analysis import Report, analyze, clean_reference, speaker_similarity
from voices.analysis.thresholds import CONSENT_MIN_SIMILARITY, MIN_QUALITY_SCORE
from voices.audio import decode_audio
from voices.models import Voice, VoiceConsent

logger = logging.getLogger(__name__)


def voice_validate(*, schema_name: str, voice_id: str, version: int) -> Voice | None:
    """Runs the validation of voice `voice_id` at `version` and records its outcome. A voice
    that is gone, was replaced, or is past validation is returned unchanged (a retried task
    does not redo finished work); None when it is gone."""
    with tenant_schema(schema_name), transaction.atomic():
        voice = (
            Voice.objects.select_for_update()
            .filter(pk=voice_id, version=version, kind=Voice.Kind.CLONED)
            .first()
        )
        if voice is None or voice.status not in (Voice.Status.UPLOADED, Voice.Status.VALIDATING):
            return voice
        voice.status = Voice.Status.VALIDATING
        voice.save(update_fields=["status", "updated_at"])
        consent = VoiceConsent.objects.filter(voice_id=voice_id).first()
    clip = decode_audio(
        storage.storage_read(voice.original_path, schema_name=schema_name),
        max_seconds=settings.VOICE_UPLOAD_MAX_SECONDS,
    )
    report = analyze(clip.samples, clip.sample_rate)
    similarity = None
    if consent is not None and consent.recording_path:
        recording = decode_audio(
            storage.storage_read(consent.recording_path, schema_name=schema_name),
            max_seconds=settings.VOICE_CONSENT_MAX_SECONDS,
            param="consent_recording",
        )
        similarity = speaker_similarity(
            clip.mono(), clip.sample_rate, recording.mono(), recording.sample_rate
        )
    error = _verdict(report, similarity)
    reference = ""
    if not error:
        reference = storage.reference_path(schema_name, voice_id, version)
        rate = engine_spec(voice.engine).reference_rate
        cleaned = clean_reference(clip.samples, clip.sample_rate, target_rate=rate, report=report)
        out = io.BytesIO()
        soundfile.write(out, cleaned, rate, format="WAV", subtype="PCM_16")
        storage.storage_write(reference, out.getvalue(), schema_name=schema_name)
    return _record(schema_name, voice_id, version, report, similarity, reference, error)


def _verdict(report: Report, similarity: float | None) -> str:
    """Why the clip cannot be used ("" when it can): its blocking reasons, a score under the
    minimum, or a consent recording by someone else."""
    if similarity is not None and similarity < CONSENT_MIN_SIMILARITY:
        return (
            "The consent recording does not sound like the person in the clip "
            f"(similarity {similarity:.2f}; {CONSENT_MIN_SIMILARITY:.2f} or more "
            "is needed). Record the same speaker reading the sentence shown."
        )
    if report.usable:
        return ""
    blocking = [reason.message for reason in report.reasons if reason.blocking]
    if blocking:
        return " ".join(blocking)
    worst = " ".join(reason.message for reason in report.reasons[:2])
    return (
        f"The clip scored {report.quality_score}/100; {MIN_QUALITY_SCORE} is needed. {worst}"
    ).strip()


def _record(
    schema_name: str,
    voice_id: str,
    version: int,
    report: Report,
    similarity: float | None,
    reference: str,
    error: str,
) -> Voice | None:
    with tenant_schema(schema_name), transaction.atomic():
        voice = (
            Voice.objects.select_for_update()
            .filter(pk=voice_id, version=version, status=Voice.Status.VALIDATING)
            .first()
        )
        if voice is None:  # deleted or replaced meanwhile: its folder went with it
            if reference:
                storage.storage_delete_folder(schema_name, voice_id)
            return None
        voice.report = report.as_json()
        voice.quality_score = report.quality_score
        voice.reference_path = reference
        voice.status = Voice.Status.FAILED if error else Voice.Status.VALIDATED
        voice.error = error[:500]
        voice.save(
            update_fields=[
                "report",
                "quality_score",
                "reference_path",
                "status",
                "error",
                "updated_at",
            ]
        )
        if similarity is not None:
            VoiceConsent.objects.filter(voice_id=voice_id).update(
                recording_similarity=round(similarity, 4)
            )
    logger.info(
        "voice validated",
        extra={"voice_id": voice_id, "status": voice.status, "score": report.quality_score},
    )
    return voice


def voice_validation_failed(*, schema_name: str, voice_id: str, version: int, error: str) -> None:
    """After the validation task's last try: the voice is `failed` with the reason, never left
    `validating`."""
    with tenant_schema(schema_name):
        Voice.objects.filter(
            pk=voice_id,
            version=version,
            status__in=[Voice.Status.UPLOADED, Voice.Status.VALIDATING],
        ).update(status=Voice.Status.FAILED, error=error[:500])
