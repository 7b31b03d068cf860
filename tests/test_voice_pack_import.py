"""`manage.py import_voice_pack`: a manifest checked strictly before anything is stored (all or
nothing), XTTS references checked and cleaned, Piper models proved by speaking, `--replace`.
Real parts: the joe model copied under other ids, 12 s of real speech as a reference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from django.core.management import CommandError, call_command

from tests.packs import joe_speech, piper_voice, stored_files, wav, write_pack, xtts_voice
from voices.packs import PACK_INDEX_PATH, REFERENCE_RATE, indexed_voices, read_index
from voices.storage import stock_read

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = str(root)
    return root


def run(folder: Path, *args: str) -> dict:
    from io import StringIO

    out = StringIO()
    call_command("import_voice_pack", str(folder), "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def fails(folder: Path, *args: str) -> str:
    with pytest.raises(CommandError) as raised:
        run(folder, *args)
    return str(raised.value)


def test_a_pack_of_both_engines_is_stored_under_the_public_prefix_with_its_index(media, tmp_path):
    result = run(write_pack(tmp_path / "pack", [piper_voice(), xtts_voice()]))
    assert result["pack"] == "naija"
    assert {v["id"] for v in result["voices"]} == {"emeka", "ada"}
    assert "restart" in result["note"]
    entries = {e["id"]: e for e in indexed_voices()}
    emeka, ada = entries["emeka"], entries["ada"]
    assert (emeka["engine"], emeka["locale"], emeka["accent"]) == (
        "piper",
        "en-NG",
        "Nigerian English",
    )
    prefix = f"stock/packs/naija/{result['import']}/"
    assert emeka["files"]["model"] == prefix + "emeka/model.onnx"
    assert set(emeka["files"]) == {"model", "config", "preview"}
    assert ada["files"]["preview"] == ada["files"]["reference"] == prefix + "ada/reference.wav"
    # The cleaned reference: mono WAV at XTTS's reference rate, about as long as the clip.
    audio, rate = soundfile.read(media / ada["files"]["reference"])
    assert rate == REFERENCE_RATE
    assert audio.ndim == 1
    assert 6.0 <= len(audio) / rate <= 12.5  # pauses may be trimmed
    # The Piper preview: the sample sentence, really spoken.
    preview, rate = soundfile.read(media / emeka["files"]["preview"])
    assert rate == 22050
    assert len(preview) / rate > 1.5
    assert np.abs(preview).max() > 0.1
    assert json.loads(stock_read(PACK_INDEX_PATH))["packs"]["naija"]["voices"]


def _silent() -> bytes:
    return wav(np.zeros(12 * 22050, dtype=np.float32), 22050)


def _short() -> bytes:
    audio, rate = soundfile.read(__import__("io").BytesIO(joe_speech()), dtype="float32")
    return wav(audio[: 2 * rate], rate)


BAD = {
    "unknown key": ([piper_voice(), xtts_voice(pitch=2)], {}, "unknown key(s) 'pitch'"),
    "missing file": (
        [piper_voice(), xtts_voice(reference="nope.wav")],
        {},
        "'nope.wav' is missing",
    ),
    "path escape": (
        [piper_voice(), xtts_voice(reference="../x.wav")],
        {"../x.wav": "speech"},
        "'../x.wav' lies outside the pack's folder",
    ),
    "duplicate id": ([piper_voice(), piper_voice()], {}, "'emeka': the id appears twice"),
    "catalog id": (
        [piper_voice(), xtts_voice("joe")],
        {},
        "'joe': the id is already a catalog voice",
    ),
    "piper language": ([piper_voice(language="fr")], {}, "the piper engine does not speak 'fr'"),
    "xtts language": (
        [piper_voice(), xtts_voice(language="yo-NG")],
        {},
        "xtts engine does not speak 'yo-NG'",
    ),
    "silent reference": ([piper_voice(), xtts_voice()], {"ada.wav": "silent"}, "is not usable"),
    "2-second reference": ([piper_voice(), xtts_voice()], {"ada.wav": "short"}, "is 2.0 s long"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_pack_fails_with_a_clear_message_and_stores_nothing(case, media, tmp_path):
    voices, refs, expected = BAD[case]
    made = {"silent": _silent, "short": _short, "speech": joe_speech}
    references = {name: made[kind]() for name, kind in refs.items()}
    folder = write_pack(tmp_path / "pack", voices, references=references)
    message = fails(folder)
    assert "nothing stored" in message
    assert expected in message, message
    assert stored_files(media) == []


def test_a_bad_manifest_at_the_top_level_names_every_problem(media, tmp_path):
    folder = write_pack(tmp_path / "pack", [piper_voice()], pack="Not A Slug", extra=1)
    message = fails(folder)
    assert "unknown key(s) 'extra'" in message
    assert "pack must be a slug" in message
    assert fails(tmp_path / "nowhere").count("is not a folder") == 1
    assert stored_files(media) == []


def test_replace_swaps_a_pack_as_a_whole_and_ids_stay_unique_across_packs(media, tmp_path):
    first = run(write_pack(tmp_path / "one", [piper_voice("emeka")]))
    again = fails(write_pack(tmp_path / "two", [piper_voice("chidi")]))
    assert "pack 'naija' is already imported; pass --replace" in again
    second = run(write_pack(tmp_path / "two", [piper_voice("chidi")]), "--replace")
    assert [v["id"] for v in indexed_voices()] == ["chidi"]
    files = stored_files(media)
    assert not [f for f in files if first["import"] in f]  # the replaced import's files are gone
    assert f"stock/packs/naija/{second['import']}/chidi/model.onnx" in files
    # Another pack cannot take a voice id an imported pack has.
    clash = fails(write_pack(tmp_path / "three", [piper_voice("chidi")], pack="other"))
    assert "'chidi': the id is already a voice of pack 'naija'" in clash
    assert set(read_index()["packs"]) == {"naija"}
