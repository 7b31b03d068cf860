from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import CommandError

from synthesis.cloning import voice_condition
from synthesis.engines.catalog import LANGUAGES
from synthesis.stream import SynthesisFailed
from tenants.audit import Actor
from tenants.management.base import TenantCommand, tenant_by_ref
from voices.services import voice_clone_create


class Command(TenantCommand):
    help = (
        "Clone a voice for a tenant from a reference clip (WAV, FLAC, Ogg or MP3; 3-30 s of one "
        "speaker) and wait while a worker of its engine computes the conditioning."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("tenant", help="Tenant slug or schema name.")
        parser.add_argument("name", help="The voice's name (unique in the tenant).")
        parser.add_argument("file", type=Path, help="The reference clip.")
        parser.add_argument("--language", default="en", choices=LANGUAGES)
        parser.add_argument("--description", default="")
        parser.add_argument("--engine", default="xtts")

    def run(self, **options: Any) -> dict[str, Any]:
        tenant = tenant_by_ref(options["tenant"])
        try:
            audio = options["file"].read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {options['file']}: {error.strerror}") from None
        voice = voice_clone_create(
            schema_name=tenant.schema_name,
            tenant_id=tenant.pk,
            by=Actor.cli(),
            name=options["name"],
            language=options["language"],
            audio=audio,
            engine=options["engine"],
            description=options["description"],
        )
        try:
            done = async_to_sync(voice_condition)(
                schema_name=tenant.schema_name, voice_id=str(voice.pk), version=voice.version
            )
        except SynthesisFailed as failure:
            raise CommandError(
                f"voice {voice.pk} was stored but not cloned: {failure.message} It stays "
                "`processing`: delete it (DELETE /v1/voices/{id}) and run this again once a "
                f"{voice.engine} worker runs."
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
            "conditioning_path": done.conditioning_path,  # in the storage (MEDIA_ROOT, S3)
        }
