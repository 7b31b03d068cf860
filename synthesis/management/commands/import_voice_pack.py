from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from redis.exceptions import RedisError

from synthesis.voice_packs import PROVERS
from tenants.audit import Actor, audit_record
from tenants.management.base import TenantCommand
from voices.packs import PackError, check_collisions, prepare_pack, read_manifest, store_pack
from voices.selectors import published_voices


class Command(TenantCommand):
    help = (
        "Import a voice pack (a folder with manifest.json: XTTS voices from 10-30 s reference "
        "clips, Piper voices from ONNX models) as stock voices for every tenant. Every voice is "
        "checked before anything is stored; workers load the pack when they (re)start."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("folder", type=Path, help="The pack's folder (manifest.json inside).")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Replace an imported pack of the same name (its voices and files) as a whole.",
        )

    def run(self, **options: Any) -> dict[str, Any]:
        try:
            manifest = read_manifest(options["folder"])
            try:
                live = published_voices()  # studio speakers of live workers, if any run
            except (RedisError, OSError):
                live = {}
            check_collisions(manifest, replace=options["replace"], others=live)
            prepared = prepare_pack(manifest, PROVERS)
            check_collisions(manifest, replace=options["replace"], others=live)  # still free
            entry = store_pack(manifest, prepared)
        except PackError as error:
            lines = "\n  ".join(error.problems)
            raise CommandError(f"voice pack not imported (nothing stored):\n  {lines}") from None
        audit_record(
            by=Actor.cli(),
            action="voice_pack.replace" if options["replace"] else "voice_pack.import",
            target=f"pack:{manifest.pack} " + ",".join(v["id"] for v in entry["voices"]),
        )
        return {
            "pack": manifest.pack,
            "import": entry["import"],
            "voices": [
                {"id": v["id"], "engine": v["engine"], "language": v["language"]}
                for v in entry["voices"]
            ],
            "note": "restart the TTS workers of these engines to serve the new voices: "
            + ", ".join(sorted({v["engine"] for v in entry["voices"]})),
        }
