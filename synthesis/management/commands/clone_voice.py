from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import CommandError

from synthesis.cloning import voice_condition
from synthesis.contract.languages import LANGUAGES, request_language
from synthesis.stream import SynthesisFailed
from tenants.audit import Actor
from tenants.db import tenant_schema
from tenants.management.base import TenantCommand, tenant_by_ref
from voices.models import Voice
from voices.services import voice_upload
from voices.validation import voice_validate


class Command(TenantCommand):
    help = (
        "Clone a voice for a tenant from a reference clip (WAV, MP3, M4A, Ogg, FLAC or WebM; "
        "10-30 s of one speaker): validate it here, then wait while a worker of its engine "
        "computes the conditioning. --consent attests to the current consent statement."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("tenant", help="Tenant slug or schema name.")
        parser.add_argument("name", help="The voice's name (unique in the tenant).")
        parser.add_argument("file", type=Path, help="The reference clip.")
        parser.add_argument("--language", default="en", type=request_language, choices=LANGUAGES)
        parser.add_argument("--description", default="")
        parser.add_argument("--engine", default="xtts")
        parser.add_argument(
            "--consent",
            action="store_true",
            help="Attest that the speaker consented to having their voice cloned "
            "(voices/consent.py holds the statement); required.",
        )
        parser.add_argument("--consent-recording", type=Path, default=None)

    def run(self, **options: Any) -> dict[str, Any]:
        tenant = tenant_by_ref(options["tenant"])
        audio = _read(options["file"])
        recording = options["consent_recording"]
        voice = voice_upload(
            schema_name=tenant.schema_name,
            tenant_id=tenant.pk,
            by=Actor.cli(),
            name=options["name"],
            language=options["language"],
            audio=audio,
            consent=options["consent"],
            consent_recording=_read(recording) if recording is not None else None,
            engine=options["engine"],
            description=options["description"],
        )
        checked = voice_validate(
            schema_name=tenant.schema_name, voice_id=str(voice.pk), version=voice.version
        )
        assert checked is not None
        if checked.status == Voice.Status.FAILED:
            raise CommandError(f"voice {voice.pk} failed validation: {checked.error}")
        with tenant_schema(tenant.schema_name):
            Voice.objects.filter(pk=voice.pk).update(status=Voice.Status.CLONING)
        try:
            done = async_to_sync(voice_condition)(
                schema_name=tenant.schema_name, voice_id=str(voice.pk), version=voice.version
            )
        except SynthesisFailed as failure:
            with tenant_schema(tenant.schema_name):  # Celery beat clones it once a worker runs
                Voice.objects.filter(pk=voice.pk, status=Voice.Status.CLONING).update(
                    status=Voice.Status.VALIDATED
                )
            raise CommandError(
                f"voice {voice.pk} was validated but not cloned: {failure.message} It stays "
                f"`validated`; Celery clones it once a {voice.engine} worker runs."
            ) from None
        assert done is not None
        if done.error:
            raise CommandError(f"voice {voice.pk} could not be cloned: {done.error}")
        return {
            "tenant": tenant.slug,
            "voice_id": str(done.pk),
            "name": done.name,
            "engine": done.engine,
            "status": done.status,
            "version": done.version,
            "quality_score": done.quality_score,
            "conditioning_path": done.conditioning_path,  # in the storage (MEDIA_ROOT, S3)
        }


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None
