"""The worker side of voice packs (see `voices.packs`): proving a Piper pack voice speaks at
import, loading every imported pack voice of an engine when its worker starts, and storing a
preview clip of each catalog and studio voice that has none yet.

A cloning engine's (XTTS's) pack voice is conditioned once from its cleaned reference; the
conditioning is stored beside the reference, named after the model that made it, so the next
start only loads it.
"""

from __future__ import annotations

import io
import logging

import numpy as np
import soundfile

from synthesis.contract.segments import Segment
from synthesis.engines.base import Engine, EngineError, EngineVoice
from synthesis.engines.catalog import PIPER
from voices.packs import (
    PREVIEW_TEXT,
    PackVoice,
    PreparedVoice,
    indexed_voices,
    prepare_reference,
    wav_bytes,
)
from voices.storage import stock_exists, stock_preview_path, stock_read, stock_write

logger = logging.getLogger(__name__)


def prove_piper(voice: PackVoice, problems: list[str]) -> PreparedVoice | None:
    """A Piper pack voice loaded with piper and made to speak PREVIEW_TEXT (its preview);
    a voice whose rate differs from the engine's 22050 Hz is refused (web processes plan from
    the engine's one rate)."""
    from synthesis.engines.piper import PiperEngine

    where = f"voice {voice.id!r}"
    model, config = voice.sources["model"].read_bytes(), voice.sources["config"].read_bytes()
    engine = PiperEngine(threads=1)
    try:
        engine.add_pack_voice(_engine_voice(voice), {"model": model, "config": config})
        pcm = b"".join(
            chunk.pcm
            for chunk in engine.stream([Segment(PREVIEW_TEXT, language="en")], voice=voice.id)
        )
    except EngineError as error:
        problems.append(f"{where}: {error}")
        return None
    except Exception as error:  # onnxruntime and piper raise anything on a broken model
        problems.append(f"{where}: the Piper model does not load or speak ({error})")
        return None
    if len(pcm) < PIPER.sample_rate:  # under half a second of audio for a whole sentence
        problems.append(f"{where}: the Piper model spoke no audio")
        return None
    preview = wav_bytes(np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768, 22050)
    return PreparedVoice(voice=voice, files={"model": model, "config": config, "preview": preview})


PROVERS = {"xtts": prepare_reference, "piper": prove_piper}


def _engine_voice(voice: PackVoice, preview: str = "", pack: str = "") -> EngineVoice:
    return EngineVoice(
        id=voice.id,
        name=voice.name,
        language=voice.language,
        description=voice.description,
        locale=voice.locale,
        accent=voice.accent,
        gender=voice.gender,
        preview=preview,
        pack=pack,
    )


def _indexed_engine_voice(entry: dict[str, object]) -> EngineVoice:
    files = entry.get("files")
    assert isinstance(files, dict)
    return EngineVoice(
        id=str(entry["id"]),
        name=str(entry["name"]),
        language=str(entry["language"]),
        description=str(entry.get("description") or ""),
        locale=str(entry.get("locale") or ""),
        accent=str(entry.get("accent") or ""),
        gender=str(entry.get("gender") or ""),
        preview=str(files.get("preview") or ""),
        pack=str(entry.get("pack") or ""),
    )


def load_pack_voices(engine: Engine) -> list[str]:
    """Adds every imported pack voice of the engine's to it; returns their ids. A voice whose
    id the engine already has (a studio speaker named alike) or whose files do not load is
    skipped with an error in the log: the worker still serves the others."""
    loaded = []
    offered = {voice.id for voice in engine.voices()}
    for entry in indexed_voices(engine.name):
        voice = _indexed_engine_voice(entry)
        if voice.id in offered:
            logger.error("pack voice %r clashes with a voice the engine has; skipped", voice.id)
            continue
        files = entry["files"]
        assert isinstance(files, dict)
        try:
            if engine.spec.clones:
                data = _conditioning(engine, voice, files)
            else:
                data = {"model": stock_read(files["model"]), "config": stock_read(files["config"])}
            engine.add_pack_voice(voice, data)
        except (EngineError, OSError, KeyError, ValueError) as error:
            logger.error("pack voice %r does not load; skipped: %s", voice.id, error)
            continue
        loaded.append(voice.id)
    return loaded


def _conditioning(engine: Engine, voice: EngineVoice, files: dict[str, str]) -> dict[str, bytes]:
    """The voice's conditioning: the stored one this model made, else computed from the
    cleaned reference once and stored beside it."""
    folder = files["reference"].rpartition("/")[0]
    path = f"{folder}/{engine.name}-conditioning-{engine.model_id()}.safetensors"
    if stock_exists(path):
        return {"conditioning": stock_read(path)}
    audio, rate = soundfile.read(io.BytesIO(stock_read(files["reference"])), dtype="int16")
    conditioning = engine.prepare_voice(np.asarray(audio).reshape(-1).tobytes(), int(rate))
    stock_write(path, conditioning.data)
    logger.info("conditioned pack voice %r", voice.id)
    return {"conditioning": conditioning.data}


def ensure_previews(engine: Engine) -> dict[str, str]:
    """A preview clip of each of the engine's voices: a pack voice's own, else one stored
    under `stock/previews/` (made now, once, from PREVIEW_TEXT, when missing). By voice id."""
    previews = {}
    for voice in engine.voices():
        if voice.preview:
            previews[voice.id] = voice.preview
            continue
        path = stock_preview_path(engine.name, voice.id, engine.model_id())
        try:
            if not stock_exists(path):
                segment = Segment(PREVIEW_TEXT, language=voice.language)
                pcm = b"".join(c.pcm for c in engine.stream([segment], voice=voice.id))
                audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
                stock_write(path, wav_bytes(audio, engine.sample_rate))
        except (EngineError, OSError) as error:
            logger.warning("no preview for voice %r: %s", voice.id, error)
            continue
        previews[voice.id] = path
    return previews
