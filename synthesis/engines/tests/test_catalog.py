"""The engine table: one row per engine that web processes read without loading an engine, and
the check that a loaded engine is what its row says."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from synthesis.engines.base import EngineMismatch
from synthesis.engines.catalog import ENGINES, PIPER, STOCK_VOICES, StockVoice, engine_spec
from synthesis.engines.loader import load_engine


def test_every_stock_voice_belongs_to_the_row_that_lists_it() -> None:
    for spec in ENGINES.values():
        for voice in spec.stock_voices:
            assert voice.engine == spec.name
            assert STOCK_VOICES[voice.id] is voice
            assert voice.sample_rate == spec.sample_rate
            assert set(voice.languages) <= set(spec.languages)


def test_an_unknown_engine_names_the_known_ones() -> None:
    assert engine_spec("piper") is PIPER
    with pytest.raises(ValueError, match="unknown engine 'nope'; known: piper, xtts"):
        engine_spec("nope")


def test_a_voice_speaks_by_language_prefix() -> None:
    joe = STOCK_VOICES["joe"]
    assert joe.speaks("en-NG")
    assert joe.speaks("EN")
    assert not joe.speaks("fr")


def test_reading_the_catalog_loads_no_engine() -> None:
    code = (
        "import sys, synthesis.engines.catalog; "
        "loaded = [m for m in sys.modules if m.split('.')[0] in "
        "('onnxruntime', 'piper', 'torch', 'django') or m == 'synthesis.engines.piper']; "
        "print(loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def piper():
    return load_engine("piper", noise_scale=0.0, noise_w_scale=0.0)


def test_the_loaded_engine_is_what_its_row_says(piper) -> None:
    assert piper.spec is PIPER
    assert (piper.name, piper.sample_rate, piper.languages) == ("piper", 22050, ("en",))
    piper.check_against(PIPER)


def test_a_row_that_disagrees_with_the_engine_stops_the_worker(piper) -> None:
    with pytest.raises(EngineMismatch, match="24000 Hz"):
        piper.check_against(replace(PIPER, sample_rate=24000))
    ghost = StockVoice(id="ghost", name="Ghost", engine="piper", language="en", languages=("en",))
    with pytest.raises(EngineMismatch, match="ghost"):
        piper.check_against(replace(PIPER, stock_voices=(*PIPER.stock_voices, ghost)))
