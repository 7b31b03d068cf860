"""The model under test: XTTS v2's architecture with random weights, built in memory
(`synthesis.engines.xtts_random.random_model`: nothing written to disk), on the device, with a
voice (random conditioning latents and a unit speaker embedding) and the project's engine over it.

Random weights never stop on purpose, but may by chance: the stop token's logit is pinned far
below every other (its row of the GPT's audio head zeroed, its bias -1e4), and the GPT's
generation limit (`max_gen_mel_tokens`) is set to the sentence length, so every path (the
engine's, coqui's `inference_stream`, a batched scheduler) makes exactly `tokens` audio tokens
per sentence. The architecture itself is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch
    from TTS.tts.models.xtts import Xtts

    from synthesis.engines.base import LoadedConditioning
    from synthesis.engines.xtts import XttsEngine

Size = Literal["tiny", "full"]
# Any sentence will do: the audio's length is the token count, whatever the text.
TEXT = "Thanks for calling Riverside Dental, how can I help you today?"
LANGUAGE = "en"
VOICE = "bench-voice"
STOP_LOGIT = -1.0e4  # well inside fp16's range, so autocast keeps it
COQUI_CHUNK_TOKENS = 20  # inference_stream's default, as its users stream
ENGINE_CHUNK_TOKENS = 20  # XTTS_STREAM_CHUNK_SIZE's default: the worker's largest piece
# XTTS v2's GPT: 605 audio positions, of which coqui keeps 3 (conditioning, start, stop).
ARCHITECTURE_TOKENS = 3


@dataclass
class Rig:
    model: Xtts
    engine: XttsEngine
    conditioning: LoadedConditioning
    device: torch.device
    dtype: str
    size: Size
    tokens: int  # audio tokens per sentence, forced
    chunk_tokens: int  # the engine's largest piece (`chunk_schedule`), ours whatever the runner
    coqui_chunk_tokens: int  # what coqui's inference_stream reads per chunk
    sample_rate: int
    parameters: int
    weights_bytes: int

    @property
    def latent(self) -> torch.Tensor:
        latent: torch.Tensor = self.conditioning.value[0]
        return latent

    @property
    def embedding(self) -> torch.Tensor:
        embedding: torch.Tensor = self.conditioning.value[1]
        return embedding

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """What the run's autocast computes in (None: fp32, no autocast)."""
        return _autocast_dtype(self.dtype)

    def compute(self) -> AbstractContextManager[None]:
        """Inference mode and the run's autocast, as the engine enters them for each step."""
        return _compute(self.device, self.dtype)


def build_rig(
    size: Size,
    *,
    tokens: int,
    device: str,
    dtype: str,
    chunk_tokens: int | None = None,
    seed: int = 0,
) -> Rig:
    """`chunk_tokens`: the audio tokens a chunk for both paths; None leaves each its own
    default (the engine's, coqui's 20)."""
    import torch

    from synthesis.engines.base import LoadedConditioning
    from synthesis.engines.xtts import XttsEngine
    from synthesis.engines.xtts_random import CONDITIONING_LATENTS, random_model

    # The tiny model's positions are sized to the sentence; the full one keeps XTTS v2's 605.
    model = random_model(
        size, max_audio_tokens=tokens + ARCHITECTURE_TOKENS if size == "tiny" else None, seed=seed
    )
    limit = int(model.args.gpt_max_audio_tokens) - ARCHITECTURE_TOKENS
    if not 1 <= tokens <= limit:
        raise ValueError(f"tokens per sentence must be 1..{limit} for the {size} model")
    force_length(model, tokens)
    # The worker's own chunk size unless told: what the worker runs is what is measured.
    pieces = ENGINE_CHUNK_TOKENS if chunk_tokens is None else chunk_tokens
    engine = XttsEngine.from_model(model, device=device, dtype=dtype, stream_chunk_size=pieces)
    on = model.device
    generator = torch.Generator().manual_seed(seed)
    dim = int(model.args.gpt_n_model_channels)
    latent = torch.randn(1, CONDITIONING_LATENTS, dim, generator=generator).to(on)
    embedding = torch.randn(1, int(model.args.d_vector_dim), 1, generator=generator)
    embedding = (embedding / embedding.norm(dim=1, keepdim=True)).to(on)
    nbytes = latent.element_size() * latent.numel() + embedding.element_size() * embedding.numel()
    parameters = list(model.parameters())
    return Rig(
        model=model,
        engine=engine,
        conditioning=LoadedConditioning(value=(latent, embedding), nbytes=nbytes),
        device=on,
        dtype=dtype,
        size=size,
        tokens=tokens,
        chunk_tokens=pieces,
        coqui_chunk_tokens=chunk_tokens or COQUI_CHUNK_TOKENS,
        sample_rate=engine.sample_rate,
        parameters=sum(p.numel() for p in parameters),
        weights_bytes=sum(p.element_size() * p.numel() for p in parameters),
    )


def force_length(model: Xtts, tokens: int) -> None:
    """Every sentence makes exactly `tokens` audio tokens (the module docstring says how)."""
    import torch

    gpt = model.gpt
    with torch.no_grad():
        gpt.mel_head.weight[gpt.stop_audio_token].zero_()
        gpt.mel_head.bias[gpt.stop_audio_token] = STOP_LOGIT
    gpt.max_gen_mel_tokens = tokens


@contextmanager
def _compute(device: torch.device, dtype: str) -> Iterator[None]:
    import torch

    cast = _autocast_dtype(dtype)
    autocast: AbstractContextManager[Any] = nullcontext()
    if cast is not None:
        autocast = torch.autocast(device.type, dtype=cast)
    with torch.inference_mode(), autocast:
        yield


def _autocast_dtype(dtype: str) -> torch.dtype | None:
    import torch

    return {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
