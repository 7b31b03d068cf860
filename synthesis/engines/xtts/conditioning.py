"""A cloned voice's conditioning for XTTS: GPT conditioning latents and a speaker embedding,
computed once from a reference clip and stored as safetensors (never pickle), then loaded back
onto the engine's device and checked, since it comes from storage."""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING

import numpy as np

from synthesis.contract.segments import Conditioning
from synthesis.engines.base import EngineError, LoadedConditioning
from synthesis.engines.catalog import XTTS

if TYPE_CHECKING:
    import torch
    from TTS.tts.models.xtts import Xtts

SPEAKER_EMBEDDING_SHAPE = (1, 512, 1)
CONDITIONING_FORMAT = "1"
# A reference clip: XTTS conditions on up to 30 s, in 6 s chunks; under a second, or below
# about -60 dBFS at its loudest, there is no voice to take.
_REFERENCE_SECONDS = 30
_REFERENCE_CHUNK_SECONDS = 6
_REFERENCE_MIN_SECONDS = 1.0
_REFERENCE_MIN_PEAK = 0.001


def conditioning_from_reference(model: Xtts, audio: bytes, sample_rate: int) -> Conditioning:
    """GPT conditioning latents (from up to 30 s, in 6 s chunks, as XTTS v2 is configured)
    and a speaker embedding, as safetensors (float32, CPU)."""
    import torch
    from safetensors.torch import save

    samples = _reference_samples(audio, sample_rate)
    wav = torch.from_numpy(samples)[None, :]
    with torch.inference_mode():
        latent = model.get_gpt_cond_latents(
            wav, sample_rate, length=_REFERENCE_SECONDS, chunk_length=_REFERENCE_CHUNK_SECONDS
        )
        embedding = model.get_speaker_embedding(wav, sample_rate)
    tensors = {
        "gpt_cond_latent": latent.detach().float().cpu().contiguous(),
        "speaker_embedding": embedding.detach().float().cpu().contiguous(),
    }
    data = save(tensors, metadata={"engine": XTTS.name, "format": CONDITIONING_FORMAT})
    return Conditioning(engine=XTTS.name, data=data)


def conditioning_load(
    conditioning: Conditioning, *, model_dim: int, device: torch.device
) -> LoadedConditioning:
    """Stored conditioning on `device`, checked: EngineError `conditioning_invalid` for data
    that is not XTTS's, is damaged, or was made by a model of another width."""
    import torch
    from safetensors.torch import load

    if conditioning.engine != XTTS.name:
        raise _invalid(f"it is the {conditioning.engine!r} engine's, not xtts's")
    metadata = _safetensors_metadata(conditioning.data)
    if metadata.get("engine") != XTTS.name or metadata.get("format") != CONDITIONING_FORMAT:
        raise _invalid(f"its header says {metadata!r}")
    try:
        tensors = load(conditioning.data)
    except Exception as exc:  # safetensors raises its own SafetensorError, among others
        raise _invalid(f"it does not read back ({exc})") from exc
    latent, embedding = tensors.get("gpt_cond_latent"), tensors.get("speaker_embedding")
    if latent is None or embedding is None:
        raise _invalid(f"it holds {sorted(tensors)}, not gpt_cond_latent and speaker_embedding")
    if latent.dim() != 3 or latent.shape[0] != 1 or latent.shape[1] < 1:
        raise _invalid(f"gpt_cond_latent is {list(latent.shape)}")
    if latent.shape[2] != model_dim:
        raise _invalid(
            f"gpt_cond_latent is {list(latent.shape)}, not [1, T, {model_dim}]: "
            "made by another model"
        )
    if tuple(embedding.shape) != SPEAKER_EMBEDDING_SHAPE:
        raise _invalid(f"speaker_embedding is {list(embedding.shape)}, not [1, 512, 1]")
    if not all(t.dtype == torch.float32 and bool(t.isfinite().all()) for t in tensors.values()):
        raise _invalid("its tensors are not finite float32")
    value = (latent.to(device), embedding.to(device))
    nbytes = sum(t.element_size() * t.numel() for t in value)
    return LoadedConditioning(value=value, nbytes=nbytes)


def _reference_samples(audio: bytes, sample_rate: int) -> np.ndarray:
    """PCM s16le mono as float32, cut to what XTTS uses; EngineError if there is no voice in
    it to take."""
    if sample_rate < 8000:
        raise EngineError(f"a reference at {sample_rate} Hz is unusable", "reference_unusable")
    samples = np.frombuffer(audio[: len(audio) // 2 * 2], dtype="<i2").astype(np.float32)
    samples = samples[: sample_rate * _REFERENCE_SECONDS] / 32768.0
    if samples.size < sample_rate * _REFERENCE_MIN_SECONDS:
        raise EngineError(
            f"the reference clip is {samples.size / sample_rate:.2f} s long; XTTS needs at "
            f"least {_REFERENCE_MIN_SECONDS:g} s of speech (3-30 s works best)",
            code="reference_unusable",
        )
    if float(np.max(np.abs(samples))) < _REFERENCE_MIN_PEAK:
        raise EngineError("the reference clip is silent", code="reference_unusable")
    return samples


def conditioning_tensors(conditioning: LoadedConditioning) -> tuple[torch.Tensor, torch.Tensor]:
    value = conditioning.value
    if not (isinstance(value, tuple) and len(value) == 2):
        raise _invalid("it was not loaded by the xtts engine")
    return value


def _safetensors_metadata(data: bytes) -> dict[str, str]:
    """The `__metadata__` of a safetensors blob (an 8-byte little-endian header length, then
    a JSON header): `safetensors.torch.load` does not return it."""
    try:
        (length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + length])
        metadata = header.get("__metadata__") or {}
    except (struct.error, ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise _invalid("it is not safetensors data") from exc
    if not isinstance(metadata, dict):
        raise _invalid("its safetensors header is malformed")
    return metadata


def _invalid(why: str) -> EngineError:
    return EngineError(
        f"the cloned voice's conditioning is unusable: {why}", "conditioning_invalid"
    )
