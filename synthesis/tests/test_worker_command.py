"""`manage.py run_tts_worker --engine xtts` refuses to start, saying what to fix, when the
checkpoint is incomplete or the licence is not confirmed: a message, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    child = {k: v for k, v in os.environ.items() if k != "COQUI_TOS_AGREED"}
    child.update(REDIS_URL=settings.REDIS_URL, REDIS_PREFIX=settings.REDIS_PREFIX, **env)
    return subprocess.run(
        [sys.executable, "manage.py", "run_tts_worker", "--engine", "xtts"],
        cwd=settings.BASE_DIR,
        env=child,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_refuses_without_the_licence_confirmation(tiny_xtts):
    done = run_worker({"TTS_MODEL_PATH": tiny_xtts, "XTTS_DEVICE": "cpu"})
    assert done.returncode != 0
    assert "COQUI_TOS_AGREED=1" in done.stderr
    assert "Coqui Public Model License" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("missing", ["model.pth", "speakers_xtts.pth"])
def test_it_refuses_an_incomplete_checkpoint_naming_the_file(tiny_xtts, tmp_path, missing):
    for name in ("model.pth", "config.json", "vocab.json", "speakers_xtts.pth"):
        if name != missing:
            (tmp_path / name).symlink_to(Path(tiny_xtts) / name)
    done = run_worker(
        {"TTS_MODEL_PATH": str(tmp_path), "COQUI_TOS_AGREED": "1", "XTTS_DEVICE": "cpu"}
    )
    assert done.returncode != 0
    assert f"lacks {missing}" in done.stderr
    assert "fetch_xtts_model" in done.stderr
    assert "Traceback" not in done.stderr
