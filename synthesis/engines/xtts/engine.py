"""XTTS v2 (coqui-tts) on a GPU: 17 languages, studio speakers and cloned voices, streamed.

The weights are under the Coqui Public Model License (non-commercial): the operator must hold
the rights to use them and says so with `COQUI_TOS_AGREED=1`; `manage.py fetch_xtts_model DIR`
fetches them. Everything is checked (licence, files, device, dtype) before torch and coqui are
imported, so a misconfigured worker fails in a moment with a message that says what to fix.

Streaming follows coqui's `Xtts.inference_stream` (text tokens, GPT conditioned on the voice's
latents, the HiFi-GAN decoder every few audio tokens) but is run here rather than called. The
decoder takes only each piece's new latents and a bounded left context (`vocoder.py`), not all
latents so far as coqui's does (whose cost grows with the square of the sentence); and:
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

import hashlib
import logging
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from synthesis.contract.segments import Chunk, Conditioning, Segment
from synthesis.engines.base import (
    BatchedStreams,
    Engine,
    EngineError,
    EngineVoice,
    LoadedConditioning,
    check_segment_values,
)
from synthesis.engines.catalog import XTTS
from synthesis.engines.xtts.conditioning import (
    conditioning_from_reference,
    conditioning_load,
    conditioning_tensors,
)
from synthesis.engines.xtts.config import (
    XttsConfigError,
    check_settings,
    resolve_device,
    voice_slug,
)
from synthesis.engines.xtts.pieces import FIRST_CHUNK_TOKENS, SegmentAudio
from synthesis.engines.xtts.vocoder import WindowedDecoder, chunk_schedule
from synthesis.text.model import primary_language

if TYPE_CHECKING:
    import torch
    from TTS.tts.models.xtts import Xtts

logger = logging.getLogger(__name__)

STUDIO_DESCRIPTION = "XTTS v2 studio speaker (multilingual)"


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
        batching: bool = True,
    ) -> None:
        directory = check_settings(model_path, device, dtype, stream_chunk_size)
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
        resolved = resolve_device(device, dtype)
        if use_deepspeed:
            if resolved.type != "cuda":
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
        # What the model makes of a voice depends on its weights: stored pack conditioning and
        # previews are kept per model (its config and the size of its weights name it).
        digest = hashlib.sha256((directory / "config.json").read_bytes())
        digest.update(str((directory / "model.pth").stat().st_size).encode())
        self._adopt(model, resolved, dtype, stream_chunk_size, do_sample, digest.hexdigest()[:12])
        self._batching = batching

    @classmethod
    def from_model(
        cls,
        model: Xtts,
        *,
        device: str = "auto",
        dtype: str = "fp32",
        stream_chunk_size: int = 20,
        do_sample: bool = True,
        batching: bool = True,
    ) -> XttsEngine:
        """An engine over a model already built in memory and ready for inference: the GPU
        benchmark's random full-size XTTS (`xtts_random.random_model`), which need not be
        written to disk (1.8 GB) and read back. Nothing is loaded, so neither the licence nor
        any file is checked: for benchmarks and tests, never for serving."""
        if stream_chunk_size < 1:
            raise XttsConfigError(f"stream_chunk_size must be at least 1, not {stream_chunk_size}")
        engine = cls.__new__(cls)
        resolved = resolve_device(device, dtype)
        engine._adopt(model, resolved, dtype, stream_chunk_size, do_sample, "in-memory")
        engine._batching = batching
        return engine

    def _adopt(
        self,
        model: Xtts,
        device: torch.device,
        dtype: str,
        stream_chunk_size: int,
        do_sample: bool,
        model_id: str,
    ) -> None:
        import torch

        self._device = device
        self._autocast_dtype = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
        self._model: Xtts = model.to(device)
        self._config = model.config
        self._decoder = WindowedDecoder(self._model.hifigan_decoder)
        self._chunk_tokens = stream_chunk_size
        self._do_sample = do_sample
        self._model_dim = int(self._config.model_args.gpt_n_model_channels)
        self.sample_rate = int(self._config.model_args.output_sample_rate)
        self._speakers, self._voices = self._studio_speakers()
        self._model_id = model_id

    # --- voices ------------------------------------------------------------------------------

    def voices(self) -> list[EngineVoice]:
        return list(self._voices)

    def model_id(self) -> str:
        return self._model_id

    def add_pack_voice(self, voice: EngineVoice, files: Mapping[str, bytes]) -> None:
        """A pack voice, spoken like a studio speaker from its `conditioning` (made by
        `prepare_voice` from its cleaned reference)."""
        if voice.id in self._speakers:
            raise EngineError(f"the xtts engine already has a voice {voice.id!r}")
        loaded = self.load_conditioning(Conditioning(engine=self.name, data=files["conditioning"]))
        self._speakers[voice.id] = conditioning_tensors(loaded)
        self._voices.append(voice)

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
        segments = list(segments)
        tensors, token_ids = self.checked_request(segments, voice, conditioning)
        return self._chunks(segments, token_ids, tensors)

    def checked_request(
        self,
        segments: Sequence[Segment],
        voice: str,
        conditioning: LoadedConditioning | None,
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], list[list[int]]]:
        """A request's voice tensors and each segment's text token ids, or EngineError: what
        `stream` and the batched streams check before any torch work."""
        if conditioning is not None:
            tensors = conditioning_tensors(conditioning)
        elif voice in self._speakers:
            tensors = self._speakers[voice]
        else:
            raise EngineError(f"the xtts engine has no voice {voice!r}", code="unknown_voice")
        for segment in segments:
            _check_segment(segment)
        # Every segment's text is read now (milliseconds, no torch): text XTTS cannot read
        # fails the request before the worker accepts it, so the client gets a plain 400, not
        # a response that ends early. The ids become tensors in the engine's thread.
        return tensors, [self._token_ids(segment) for segment in segments]

    def batched(self, max_streams: int) -> BatchedStreams | None:
        """Continuous batching (`scheduler.py`) unless XTTS_BATCHING is off."""
        if not self._batching:
            return None
        from synthesis.engines.xtts.scheduler import XttsBatch

        return XttsBatch(self, max_streams=max_streams)

    def warm_up(self) -> None:
        if not self._voices:
            return
        segments = [Segment("Warming up.")]
        for _chunk in self.stream(segments, voice=self._voices[0].id):
            pass
        if self._batching:  # the batched path's own kernels (attention over a slot cache)
            from synthesis.engines.xtts.scheduler import XttsBatch, speak_alone

            speak_alone(XttsBatch(self, max_streams=1), segments, voice=self._voices[0].id)

    def _chunks(
        self,
        segments: list[Segment],
        token_ids: list[list[int]],
        tensors: tuple[torch.Tensor, torch.Tensor],
    ) -> Iterator[Chunk]:
        import torch

        for index, segment in enumerate(segments):
            tokens = torch.IntTensor(token_ids[index]).unsqueeze(0).to(self._device)
            yield from self._segment_chunks(index, segment, tokens, tensors)

    def _segment_chunks(
        self,
        index: int,
        segment: Segment,
        tokens: torch.Tensor,
        tensors: tuple[torch.Tensor, torch.Tensor],
    ) -> Iterator[Chunk]:
        """One segment's chunks, shaped by `SegmentAudio` (pitch, volume, pauses)."""
        shaped = SegmentAudio(index, segment, self.sample_rate)
        pieces = self._pieces(tokens, tensors, length_scale=shaped.length_scale)
        try:
            for audio, last in pieces:
                chunk = shaped.chunk(audio, last=last)
                if chunk is not None:
                    yield chunk
        finally:  # a caller that stops early closes this: close the GPT's generator now
            pieces.close()

    def _pieces(
        self,
        tokens: torch.Tensor,
        tensors: tuple[torch.Tensor, torch.Tensor],
        *,
        length_scale: float,
    ) -> Generator[tuple[np.ndarray, bool], None, None]:
        """One segment as float32 pieces at 24 kHz, each with whether it is the last: coqui's
        GPT stream generator (the module docstring says why it is driven here), its latents
        decoded a piece at a time by the windowed decoder (`vocoder.py`): a small first piece,
        then larger ones. A speed is the decoder's interpolation of the latents
        (`length_scale`, as coqui's), done on the one-shot grid. The KV cache lives in the GPT's
        generator, released when this one is closed."""
        import torch

        gpt = self._model.gpt
        latent, embedding = tensors
        decoder = self._decoder
        stream = decoder.open(length_scale=length_scale)
        with self._compute():
            fake_inputs = gpt.compute_embeddings(latent, tokens)
            prompt = gpt.gpt_inference.cached_prefix_emb
            generator = gpt.get_generator(fake_inputs=fake_inputs, **self._generation_options())
        sizes = chunk_schedule(FIRST_CHUNK_TOKENS, self._chunk_tokens)
        last = False
        try:
            while not last:
                size = sizes.pop(0) if len(sizes) > 1 else sizes[0]
                latents: list[torch.Tensor] = []
                with self._compute():
                    gpt.gpt_inference.store_prefix_emb(prompt)  # another stream may have run
                    for _ in range(size):
                        step = next(generator, None)
                        if step is None:
                            last = True
                            break
                        latents.append(step[1])
                    new = torch.cat(latents) if latents else latent.new_zeros(0, latent.shape[-1])
                    audio = decoder.push(stream, new, embedding, last=last)
                yield audio, last
        finally:
            generator.close()

    def _token_ids(self, segment: Segment) -> list[int]:
        """The segment's text tokens, read as inference_stream does (lower case, the primary
        language subtag; the tokenizer maps "zh" to its "zh-cn"). XTTS takes no phonemes: SSML
        <phoneme> parts are spoken as their written text."""
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
        return [int(i) for i in ids]

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def model(self) -> Xtts:
        return self._model

    @property
    def decoder(self) -> WindowedDecoder:
        return self._decoder

    @property
    def chunk_tokens(self) -> int:
        """The GPT tokens of a segment's later pieces (XTTS_STREAM_CHUNK_SIZE)."""
        return self._chunk_tokens

    @property
    def do_sample(self) -> bool:
        return self._do_sample

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return self._autocast_dtype

    def compute(self) -> AbstractContextManager[None]:
        """Inference mode, and autocast for fp16/bf16: entered for one step at a time."""
        return self._compute()

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
        return conditioning_from_reference(self._model, audio, sample_rate)

    def load_conditioning(self, conditioning: Conditioning) -> LoadedConditioning:
        return conditioning_load(conditioning, model_dim=self._model_dim, device=self._device)


def _check_segment(segment: Segment) -> None:
    if not XTTS.speaks(segment.language):
        raise EngineError(
            f"the xtts engine does not speak {segment.language!r}", code="unsupported_language"
        )
    check_segment_values(segment)


class _MostLikelyOnly:
    """A logits processor that leaves only the most likely token (ties: the first), so coqui's
    stream generator, which always draws with `torch.multinomial`, decodes greedily."""

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        best = scores.argmax(dim=-1, keepdim=True)
        greedy = torch.full_like(scores, float("-inf"))
        return greedy.scatter(-1, best, scores.gather(-1, best))
