"""`manage.py fetch_xtts_model DIR`: XTTS v2's weights into DIR, for TTS_MODEL_PATH=DIR.

Downloads through coqui's own model manager (what `tts --model_name ...` uses: the Hugging Face
repository its model list names, into the Hugging Face cache), then copies the four files the
engine loads into DIR. Copies, not links: coqui rewrites an old-format `model.pth` in place the
first time it loads it, which must not reach into the download cache. DIR appears whole or not
at all: the files are gathered in a hidden sibling directory that is renamed at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError

MODEL_NAME = "tts_models/multilingual/multi-dataset/xtts_v2"
FILES = ("model.pth", "config.json", "vocab.json", "speakers_xtts.pth")
LICENCE = (
    "The XTTS v2 weights are under the Coqui Public Model License (non-commercial use only, "
    "https://coqui.ai/cpml): the operator must hold the rights to use them. Set "
    "COQUI_TOS_AGREED=1 to confirm."
)
# How long the reachability check may take: without a route to the hub, fail in seconds, not
# when TCP gives up.
CHECK_TIMEOUT = (5.0, 10.0)  # connect, read


class Command(BaseCommand):
    help = (
        "Download XTTS v2 (Coqui Public Model License: non-commercial) with coqui's own "
        "downloader and place model.pth, config.json, vocab.json and speakers_xtts.pth in DIR."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("directory", type=Path, help="where the four files go (TTS_MODEL_PATH)")

    def handle(self, *args: Any, **options: Any) -> None:
        target: Path = options["directory"].resolve()
        if os.environ.get("COQUI_TOS_AGREED") != "1":
            raise CommandError(LICENCE)
        if target.is_dir() and all((target / name).is_file() for name in FILES):
            self.stdout.write(f"{target} already holds XTTS v2; set TTS_MODEL_PATH={target}")
            return
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise CommandError(f"{target} exists and is not an empty directory")
        snapshot = _download()
        _place(snapshot, target)
        self.stdout.write(
            self.style.SUCCESS(f"XTTS v2 is in {target}; set TTS_MODEL_PATH={target}")
        )
        self.stdout.write(f"(the download cache under {snapshot} may be deleted)")


def _download() -> Path:
    """The directory coqui downloaded XTTS v2 into. CommandError, saying what to do instead,
    where there is no network."""
    hub = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        requests.head(hub, timeout=CHECK_TIMEOUT, allow_redirects=True)
    except requests.RequestException as exc:
        raise CommandError(_offline(f"{hub} cannot be reached ({type(exc).__name__})")) from exc
    from TTS.utils.manage import ModelManager

    try:
        model_path, _config, _item = ModelManager(progress_bar=True).download_model(MODEL_NAME)
    except OSError as exc:  # requests' and huggingface_hub's errors are all OSErrors
        raise CommandError(_offline(f"the download failed ({exc!r})")) from exc
    return Path(model_path).parent


def _offline(why: str) -> str:
    return (
        f"Cannot download XTTS v2 here: {why}. On a machine that can, run "
        "`manage.py fetch_xtts_model DIR` (or download the Hugging Face repository "
        "tts-hub/XTTS-v2, where coqui's model list points), then copy model.pth, config.json, "
        "vocab.json and speakers_xtts.pth into one directory on this machine and set "
        "TTS_MODEL_PATH to it."
    )


def _place(snapshot: Path, target: Path) -> None:
    missing = [name for name in FILES if not (snapshot / name).is_file()]
    if missing:
        raise CommandError(f"the download in {snapshot} lacks {', '.join(missing)}")
    staging = target.parent / f".{target.name}.partial-{secrets.token_hex(4)}"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging.mkdir()
        for name in FILES:
            shutil.copyfile(snapshot / name, staging / name)  # follows the cache's symlinks
        if target.is_dir():
            target.rmdir()  # empty, checked above
        staging.rename(target)
    except OSError as exc:
        raise CommandError(f"could not place the files in {target}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
