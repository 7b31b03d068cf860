"""XTTS v2 (coqui-tts) on a GPU: 17 languages, studio speakers and cloned voices, streamed.

The weights are under the Coqui Public Model License (non-commercial): the operator must hold
the rights to use them and says so with `COQUI_TOS_AGREED=1`; `manage.py fetch_xtts_model DIR`
fetches them. Everything is checked (licence, files, device, dtype) before torch and coqui are
imported, so a misconfigured worker fails in a moment with a message that says what to fix.

Streaming follows coqui's `Xtts.inference_stream` step for step (text tokens, GPT conditioned
on the voice's latents, every `stream_chunk_size` audio tokens the HiFi-GAN decoder over all
latents so far, cross-faded into the previous piece), but is run here rather than called:
  - the engine knows a piece is the segment's last when it makes it, so it marks it
    `segment_end` at once instead of holding every piece back until the next is made (which
    would double the time to the first audio);
  - coqui keeps the prompt of the stream in flight on the model (`gpt_inference
    .cached_prefix_emb`), and the worker interleaves several requests' streams on one model,
    a chunk at a time: each stream puts its own back before every step, or another request's
    prompt length would shift its position embeddings;
  - coqui's stream generator draws every token with `torch.multinomial`, even with
    `do_sample=False`: greedy decoding here leaves only the most likely token to draw, so
    `do_sample=False` repeats itself exactly;
  - inference mode and autocast are entered for each step and left before each chunk is
    yielded, so they never leak into the caller or into another request's step.
All calls into one engine must come from one thread at a time (the worker's engine thread):
the model, its prompt slot and the GPU are shared.

fp16/bf16 run the GPT and the decoder under `torch.autocast` (the weights stay fp32); voices are
conditioned in fp32 whatever the dtype, so stored conditioning does not depend on it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
import unicodedata
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr

from synthesis.contract.segments import Chunk, Conditioning, Segment
from synthesis.engines.base import (
    Engine,
    EngineError,
    EngineVoice,
    LoadedConditioning,
    check_segment_values,
    pcm_s16le,
    pitch_factor,
    silence,
)
from synthesis.engines.catalog import XTTS, primary_language

if TYPE_CHECKING:
    import torch
    from TTS.tts.models.xtts import Xtts

logger = logging.getLogger(__name__)

REQUIRED_FILES = ("model.pth", "config.json", "vocab.json", "speakers_xtts.pth")
LICENCE = (
    "The XTTS v2 weights are under the Coqui Public Model License (non-commercial use only, "
    "https://coqui.ai/cpml): the operator must hold the rights to use them. Set "
    "COQUI_TOS_AGREED=1 to confirm."
)
DTYPES = ("fp32", "fp16", "bf16")
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")
STUDIO_DESCRIPTION = "XTTS v2 studio speaker (multilingual)"
SPEAKER_EMBEDDING_SHAPE = (1, 512, 1)
CONDITIONING_FORMAT = "1"
# What coqui's inference_stream cross-fades between pieces, in samples.
_OVERLAP = 1024
# A reference clip: XTTS conditions on up to 30 s, in 6 s chunks; under a second, or below
# about -60 dBFS at its loudest, there is no voice to take.
_REFERENCE_SECONDS = 30
_REFERENCE_CHUNK_SECONDS = 6
_REFERENCE_MIN_SECONDS = 1.0
_REFERENCE_MIN_PEAK = 0.001


class XttsConfigError(RuntimeError):
    """The XTTS engine cannot start as configured (licence, files, device, dtype)."""


class XttsEngine(Engine):
    """XTTS v2 from a checkpoint directory (`model_path`, the TTS_MODEL_PATH setting)."""

    spec = XTTS

    def __init__(
        self,
        *,
        model_path: str = "",
        device: str = "auto",
        dtype: str = "fp32",
        use_deepspeed: bool = False,
        stream_chunk_size: int = 20,
        do_sample: bool = True,
        threads: int = 0,
    ) -> None:
        directory = _check_settings(model_path, device, dtype, stream_chunk_size)
        if threads < 0:
            raise XttsConfigError(f"threads must be >= 0 (0: torch's default), not {threads}")
        import torch
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts

        if threads:
            # On CPU, torch's default of one thread per core loses badly to a neighbour on
            # the same cores (measured: 20 tokens decoded in 2.5-3 s with 2 threads against
            # 0.6 s with 1 while another process held a core).
            torch.set_num_threads(threads)
        self._device = _resolve_device(device, dtype)
        self._autocast_dtype = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
        if use_deepspeed:
            if self._device.type != "cuda":
                raise XttsConfigError("use_deepspeed needs a CUDA device")
            logger.warning(
                "XTTS with DeepSpeed: optional and untested here (DeepSpeed builds only with "
                "CUDA); turn XTTS_DEEPSPEED off if the worker misbehaves"
            )
        config = XttsConfig()
        config.load_json(str(directory / "config.json"))
        model = Xtts(config)
        model.load_checkpoint(
            config,
            checkpoint_dir=str(directory),
            vocab_path=str(directory / "vocab.json"),
            speaker_file_path=str(directory / "speakers_xtts.pth"),
            eval=True,
            use_deepspeed=use_deepspeed,
        )
        self._model: Xtts = model.to(self._device)
        self._config = config
        self._chunk_tokens = stream_chunk_size
        self._do_sample = do_sample
        self._model_dim = int(config.model_args.gpt_n_model_channels)
        self.sample_rate = int(config.model_args.output_sample_rate)
        self._speakers, self._voices = self._studio_speakers()

    # --- voices ------------------------------------------------------------------------------

    def voices(self) -> list[EngineVoice]:
        return list(self._voices)

    def _studio_speakers(
        self,
    ) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], list[EngineVoice]]:
        """The checkpoint's studio speakers by slug, their tensors already on the device."""
        manager = self._model.speaker_manager
        found: dict[str, Any] = manager.speakers if manager is not None else {}
        speakers: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        voices = []
        for name, tensors in found.items():
            slug = voice_slug(name)
            if slug in speakers:
                raise XttsConfigError(f"two studio speakers have the id {slug!r}")
            speakers[slug] = (
                tensors["gpt_cond_latent"].to(self._device),
                tensors["speaker_embedding"].to(self._device),
            )
            voices.append(
                EngineVoice(
                    id=slug,
                    name=name,
                    language="en",
                    description=STUDIO_DESCRIPTION,
                    languages=XTTS.languages,
                )
            )
        return speakers, voices

    # --- streaming ---------------------------------------------------------------------------

    def stream(
        self,
        segments: Sequence[Segment],
        *,
        voice: str,
        conditioning: LoadedConditioning | None = None,
    ) -> Iterator[Chunk]:
        # Checked when stream() is called, before the first chunk is asked for.
        if conditioning is not None:
            tensors = _conditioning_tensors(conditioning)
        elif voice in self._speakers:
            tensors = self._speakers[voice]
        else:
            raise EngineError(f"the xtts engine has no voice {voice!r}", code="unknown_voice")
        segments = list(segments)
        for segment in segments:
            _check_segment(segment)
        return self._chunks(segments, tensors)

    def warm_up(self) -> None:
        if self._voices:
            for _chunk in self.stream([Segment("Warming up.")], voice=self._voices[0].id):
                pass

    def _chunks(
        self, segments: list[Segment], tensors: tuple[torch.Tensor, torch.Tensor]
    ) -> Iterator[Chunk]:
        # Every segment's text is read first (milliseconds), so text XTTS cannot read fails
        # the request before any audio, not in its middle.
        tokens = [self._tokens(segment) for segment in segments]
        for index, segment in enumerate(segments):
            yield from self._segment_chunks(index, segment, tokens[index], tensors)

    def _segment_chunks(
        self,
        index: int,
        segment: Segment,
        tokens: torch.Tensor,
        tensors: tuple[torch.Tensor, torch.Tensor],
    ) -> Iterator[Chunk]:
        """A pitch shift resamples the audio as it streams (one resampler per segment, so no
        seam at chunk edges); XTTS is made to speak that much slower first, so the duration
        stays. Volume is a plain gain (XTTS audio is not normalized, unlike Piper's)."""
        factor = pitch_factor(segment.pitch_st)
        shifter = _PitchShift(factor, self.sample_rate) if factor != 1.0 else None
        before = silence(self.sample_rate, segment.pause_before_ms)
        pieces = self._pieces(tokens, tensors, speed=segment.speed / factor)
        try:
            for audio, last in pieces:
                if shifter is not None:
                    audio = shifter.push(audio, last=last)
                pcm = pcm_s16le(audio, segment.volume)
                if last:
                    pause = silence(self.sample_rate, segment.pause_after_ms)
                    yield Chunk(pcm=before + pcm + pause, segment=index, segment_end=True)
                elif pcm:
                    yield Chunk(pcm=before + pcm, segment=index)
                    before = b""
        finally:  # a caller that stops early closes this: close the GPT's generator now
            pieces.close()

    def _pieces(
        self, tokens: torch.Tensor, tensors: tuple[torch.Tensor, torch.Tensor], *, speed: float
    ) -> Generator[tuple[np.ndarray, bool], None, None]:
        """One segment as float32 pieces at 24 kHz, each with whether it is the last: the steps
        of coqui's `Xtts.inference_stream` (the module docstring says why they are run here).
        The KV cache lives in the GPT's generator, released when this one is closed."""
        import torch

        model, gpt = self._model, self._model.gpt
        latent, embedding = tensors
        length_scale = 1.0 / max(speed, 0.05)
        with self._compute():
            fake_inputs = gpt.compute_embeddings(latent, tokens)
            prompt = gpt.gpt_inference.cached_prefix_emb
            generator = gpt.get_generator(fake_inputs=fake_inputs, **self._generation_options())
        latents: list[torch.Tensor] = []
        previous = overlap = None
        last = False
        try:
            while not last:
                with self._compute():
                    gpt.gpt_inference.store_prefix_emb(prompt)  # another stream may have run
                    for _ in range(self._chunk_tokens):
                        step = next(generator, None)
                        if step is None:
                            last = True
                            break
                        latents.append(step[1])
                    if not latents:  # stopped at once: nothing to decode
                        audio, last = np.zeros(0, dtype=np.float32), True
                    else:
                        gpt_latents = torch.cat(latents, dim=0)[None, :]
                        if length_scale != 1.0:
                            gpt_latents = torch.nn.functional.interpolate(
                                gpt_latents.transpose(1, 2),
                                scale_factor=length_scale,
                                mode="linear",
                            ).transpose(1, 2)
                        wav = model.hifigan_decoder(gpt_latents, g=embedding)
                        piece, previous, overlap = model.handle_chunks(
                            wav.squeeze(), previous, overlap, _OVERLAP, is_final=last
                        )
                        audio = piece.float().cpu().numpy()
                yield audio, last
        finally:
            generator.close()

    def _tokens(self, segment: Segment) -> torch.Tensor:
        """The segment's text tokens, read as inference_stream does (lower case, the primary
        language subtag; the tokenizer maps "zh" to its "zh-cn"). XTTS takes no phonemes: SSML
        <phoneme> parts are spoken as their written text."""
        import torch

        language = primary_language(segment.language)
        try:
            ids = self._model.tokenizer.encode(segment.text.strip().lower(), lang=language)
        except Exception as exc:  # num2words and the transliterators raise anything
            raise EngineError(
                f"the xtts engine cannot read this text in {segment.language!r}: {exc!r}",
                code="unsupported_text",
            ) from exc
        limit = int(self._model.args.gpt_max_text_tokens)
        if len(ids) >= limit:
            raise EngineError(
                f"the text is {len(ids)} tokens long; XTTS reads fewer than {limit}",
                code="unsupported_text",
            )
        return torch.IntTensor(ids).unsqueeze(0).to(self._device)

    def _generation_options(self) -> dict[str, Any]:
        """The checkpoint's own sampling settings (its config.json), as coqui's `synthesize`
        uses them; greedy decoding passes none of the sampling ones (transformers warns)."""
        from transformers import LogitsProcessorList

        config = self._config
        options: dict[str, Any] = {
            "do_sample": self._do_sample,
            "num_beams": 1,
            "num_return_sequences": 1,
            "length_penalty": float(config.length_penalty),
            "repetition_penalty": float(config.repetition_penalty),
            "output_attentions": False,
            "output_hidden_states": True,
            "return_dict_in_generate": True,
        }
        if self._do_sample:
            options.update(top_k=config.top_k, top_p=config.top_p, temperature=config.temperature)
        else:
            options["logits_processor"] = LogitsProcessorList([_MostLikelyOnly()])
        return options

    @contextmanager
    def _compute(self) -> Iterator[None]:
        """Inference mode, and autocast for fp16/bf16: entered for one step at a time."""
        import torch

        autocast: AbstractContextManager[Any] = nullcontext()
        if self._autocast_dtype is not None:
            autocast = torch.autocast(self._device.type, dtype=self._autocast_dtype)
        with torch.inference_mode(), autocast:
            yield

    # --- cloned voices -----------------------------------------------------------------------

    def prepare_voice(self, audio: bytes, sample_rate: int) -> Conditioning:
        """GPT conditioning latents (from up to 30 s, in 6 s chunks, as XTTS v2 is configured)
        and a speaker embedding, as safetensors (float32, CPU)."""
        import torch
        from safetensors.torch import save

        samples = _reference_samples(audio, sample_rate)
        wav = torch.from_numpy(samples)[None, :]
        with torch.inference_mode():
            latent = self._model.get_gpt_cond_latents(
                wav, sample_rate, length=_REFERENCE_SECONDS, chunk_length=_REFERENCE_CHUNK_SECONDS
            )
            embedding = self._model.get_speaker_embedding(wav, sample_rate)
        tensors = {
            "gpt_cond_latent": latent.detach().float().cpu().contiguous(),
            "speaker_embedding": embedding.detach().float().cpu().contiguous(),
        }
        data = save(tensors, metadata={"engine": XTTS.name, "format": CONDITIONING_FORMAT})
        return Conditioning(engine=XTTS.name, data=data)

    def load_conditioning(self, conditioning: Conditioning) -> LoadedConditioning:
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
        if latent.shape[2] != self._model_dim:
            raise _invalid(
                f"gpt_cond_latent is {list(latent.shape)}, not [1, T, {self._model_dim}]: "
                "made by another model"
            )
        if tuple(embedding.shape) != SPEAKER_EMBEDDING_SHAPE:
            raise _invalid(f"speaker_embedding is {list(embedding.shape)}, not [1, 512, 1]")
        if not all(t.dtype == torch.float32 and bool(t.isfinite().all()) for t in tensors.values()):
            raise _invalid("its tensors are not finite float32")
        value = (latent.to(self._device), embedding.to(self._device))
        nbytes = sum(t.element_size() * t.numel() for t in value)
        return LoadedConditioning(value=value, nbytes=nbytes)


def voice_slug(name: str) -> str:
    """A studio speaker's voice id: "Claribel Dervla" → "claribel-dervla". Accents are dropped
    ("Camilla Holmström" → "camilla-holmstrom"); runs of anything but letters and digits
    become one "-"."""
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
    ).lower()
    return "-".join("".join(c if c.isalnum() else " " for c in folded).split())


def _check_settings(model_path: str, device: str, dtype: str, stream_chunk_size: int) -> Path:
    """The checks that need neither torch nor coqui: the model directory it names."""
    if os.environ.get("COQUI_TOS_AGREED") != "1":
        raise XttsConfigError(LICENCE)
    if dtype not in DTYPES:
        raise XttsConfigError(f"XTTS_DTYPE must be one of {', '.join(DTYPES)}, not {dtype!r}")
    if not _DEVICE.fullmatch(device):
        raise XttsConfigError(f"XTTS_DEVICE must be auto, cpu, cuda or cuda:N, not {device!r}")
    if stream_chunk_size < 1:
        raise XttsConfigError(f"XTTS_STREAM_CHUNK_SIZE must be at least 1, not {stream_chunk_size}")
    fetch = "run `manage.py fetch_xtts_model DIR` and set TTS_MODEL_PATH=DIR"
    if not model_path:
        raise XttsConfigError(f"TTS_MODEL_PATH is not set: {fetch}")
    directory = Path(model_path)
    if not directory.is_dir():
        raise XttsConfigError(f"TTS_MODEL_PATH {directory} is not a directory: {fetch}")
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise XttsConfigError(f"{directory} lacks {', '.join(missing)}: {fetch}")
    return directory


def _resolve_device(device: str, dtype: str) -> torch.device:
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise XttsConfigError(f"XTTS_DEVICE is {device} but torch sees no CUDA device")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise XttsConfigError(
                f"XTTS_DEVICE is {device} but torch sees {torch.cuda.device_count()} device(s)"
            )
        if dtype == "bf16" and not torch.cuda.is_bf16_supported():
            raise XttsConfigError("this GPU has no bf16: set XTTS_DTYPE to fp16 or fp32")
    elif dtype == "fp16":
        raise XttsConfigError("fp16 needs a GPU: on a CPU set XTTS_DTYPE to bf16 or fp32")
    return resolved


def _check_segment(segment: Segment) -> None:
    if not XTTS.speaks(segment.language):
        raise EngineError(
            f"the xtts engine does not speak {segment.language!r}", code="unsupported_language"
        )
    check_segment_values(segment)


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


def _conditioning_tensors(conditioning: LoadedConditioning) -> tuple[torch.Tensor, torch.Tensor]:
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


class _MostLikelyOnly:
    """A logits processor that leaves only the most likely token (ties: the first), so coqui's
    stream generator, which always draws with `torch.multinomial`, decodes greedily."""

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        best = scores.argmax(dim=-1, keepdim=True)
        greedy = torch.full_like(scores, float("-inf"))
        return greedy.scatter(-1, best, scores.gather(-1, best))


class _PitchShift:
    """A pitch shift by resampling, for audio that arrives in pieces: played back faster by the
    factor (the audio was made longer by it beforehand), the pitch rises and the duration
    stays. One soxr stream per segment, so pieces join without a seam."""

    def __init__(self, factor: float, sample_rate: int) -> None:
        self._stream = soxr.ResampleStream(sample_rate * factor, sample_rate, 1, dtype="float32")

    def push(self, audio: np.ndarray, *, last: bool) -> np.ndarray:
        out = self._stream.resample_chunk(audio.astype(np.float32), last=last)
        return np.asarray(out, dtype=np.float32)
