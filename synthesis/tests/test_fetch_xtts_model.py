"""`manage.py fetch_xtts_model DIR`: the licence first, a clear failure where there is no
network (as here: no route to the model hub), and DIR whole or absent."""

from __future__ import annotations

import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from TTS.utils.manage import ModelManager

from synthesis.management.commands import fetch_xtts_model

FILES = ("model.pth", "config.json", "vocab.json", "speakers_xtts.pth")


@pytest.fixture
def agreed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COQUI_TOS_AGREED", "1")


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """What coqui's downloader leaves in the Hugging Face cache: the four files (symlinks to
    blobs) and others the engine does not need."""
    blobs = tmp_path / "blobs"
    snapshot = tmp_path / "snapshots" / "abc123"
    blobs.mkdir()
    snapshot.mkdir(parents=True)
    for name in (*FILES, "mel_stats.pth", "README.md"):
        (blobs / name).write_bytes(f"contents of {name}".encode())
        (snapshot / name).symlink_to(blobs / name)
    return snapshot


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch, snapshot: Path) -> list[str]:
    """Coqui's downloader answering from `snapshot`, behind a hub that answers."""
    asked: list[str] = []

    def download_model(self: ModelManager, name: str) -> tuple[Path, Path, dict[str, Any]]:
        asked.append(name)
        return snapshot / "model.pth", snapshot / "config.json", {}

    monkeypatch.setattr(fetch_xtts_model.requests, "head", lambda *a, **k: None)
    monkeypatch.setattr(ModelManager, "download_model", download_model)
    return asked


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_it_refuses_before_the_operator_confirms_the_licence(tmp_path, monkeypatch):
    monkeypatch.delenv("COQUI_TOS_AGREED", raising=False)
    with pytest.raises(CommandError, match="Coqui Public Model License") as caught:
        call_command("fetch_xtts_model", str(tmp_path / "xtts"))
    assert "COQUI_TOS_AGREED=1" in str(caught.value)
    assert leftovers(tmp_path) == []


def test_without_a_network_it_says_so_quickly_and_how_to_copy_the_files(
    tmp_path, agreed, monkeypatch
):
    # Here the hub cannot be reached, so the real check fails. Where it can, the download
    # itself fails instead: nothing is ever fetched by a test.
    def no_download(self: ModelManager, name: str) -> None:
        raise fetch_xtts_model.requests.ConnectionError("no route")

    monkeypatch.setattr(ModelManager, "download_model", no_download)
    started = time.monotonic()
    with pytest.raises(CommandError, match="Cannot download XTTS v2 here") as caught:
        call_command("fetch_xtts_model", str(tmp_path / "xtts"))
    assert time.monotonic() - started < 30
    message = str(caught.value)
    assert "model.pth, config.json, vocab.json and speakers_xtts.pth" in message
    assert "TTS_MODEL_PATH" in message
    assert leftovers(tmp_path) == []


def test_it_places_the_four_files_in_the_directory(tmp_path, agreed, downloads, snapshot):
    out = StringIO()
    target = tmp_path / "models" / "xtts"
    call_command("fetch_xtts_model", str(target), stdout=out)

    assert downloads == ["tts_models/multilingual/multi-dataset/xtts_v2"]
    assert leftovers(target) == sorted(FILES)
    for name in FILES:
        assert not (target / name).is_symlink()
        assert (target / name).read_bytes() == f"contents of {name}".encode()
    assert leftovers(target.parent) == ["xtts"]  # no staging directory left
    assert f"TTS_MODEL_PATH={target}" in out.getvalue()


def test_it_fills_an_empty_directory_and_leaves_a_full_one_alone(tmp_path, agreed, downloads):
    target = tmp_path / "xtts"
    target.mkdir()
    call_command("fetch_xtts_model", str(target), stdout=StringIO())
    assert leftovers(target) == sorted(FILES)

    out = StringIO()
    call_command("fetch_xtts_model", str(target), stdout=out)
    assert "already holds XTTS v2" in out.getvalue()
    assert len(downloads) == 1


def test_it_refuses_a_directory_holding_other_things(tmp_path, agreed, downloads):
    target = tmp_path / "xtts"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(CommandError, match="not an empty directory"):
        call_command("fetch_xtts_model", str(target))
    assert leftovers(target) == ["notes.txt"]
    assert downloads == []


def test_an_incomplete_download_leaves_nothing_behind(tmp_path, agreed, downloads, snapshot):
    (snapshot / "speakers_xtts.pth").unlink()
    target = tmp_path / "out" / "xtts"
    with pytest.raises(CommandError, match=r"lacks speakers_xtts\.pth"):
        call_command("fetch_xtts_model", str(target))
    assert not target.exists()


def test_a_failed_copy_leaves_nothing_behind(tmp_path, agreed, downloads, monkeypatch):
    copied: list[str] = []
    real_copy = fetch_xtts_model.shutil.copyfile

    def copy_then_fail(source: Path, destination: Path) -> Any:
        if copied:
            raise OSError(28, "No space left on device")
        copied.append(str(destination))
        return real_copy(source, destination)

    monkeypatch.setattr(fetch_xtts_model.shutil, "copyfile", copy_then_fail)
    target = tmp_path / "out" / "xtts"
    with pytest.raises(CommandError, match="No space left on device"):
        call_command("fetch_xtts_model", str(target))
    assert copied
    assert leftovers(tmp_path / "out") == []
