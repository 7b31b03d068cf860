"""Where the speech is: silero-vad's ONNX model run with onnxruntime directly.

The `silero_vad` package is not imported: its `__init__` imports torch, and this module only
needs the model file it ships (`data/silero_vad.onnx`, v6). The protocol follows the package's
own `OnnxWrapper`: 512-sample frames at 16 kHz, each sent with the 64 samples before it
prepended (576 in all; zeros before the first), a recurrent state of shape [2, 1, 128] carried
from frame to frame, and `sr` as an int64 scalar. The output is one speech probability per
frame (32 ms). The frames-to-segments logic (hysteresis, minimum lengths, padding) is ours, so
the limits live here, next to the reason they exist.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np
import onnxruntime
import soxr

VAD_RATE = 16000
FRAME = 512  # samples per frame at 16 kHz (32 ms): the only size the model takes
CONTEXT = 64  # samples of the previous frame prepended to each frame
FRAME_SECONDS = FRAME / VAD_RATE

# Hysteresis: a frame turns speech on at ON, and speech continues until it drops below OFF, so
# a syllable's soft tail does not split a word.
ON_THRESHOLD = 0.5
OFF_THRESHOLD = 0.35
MIN_SPEECH_SECONDS = 0.25  # shorter bursts are clicks, breaths or a cough, not speech
MIN_SILENCE_SECONDS = 0.1  # shorter dips are the gaps inside and between words
PAD_SECONDS = 0.03  # each segment widened by this, so onsets and decays are not cut

_session: onnxruntime.InferenceSession | None = None
_session_lock = threading.Lock()


def model_path() -> Path:
    """The ONNX model shipped in the silero-vad package (found without importing it)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the silero-vad package is not installed")
    return Path(spec.submodule_search_locations[0]) / "data" / "silero_vad.onnx"


def session() -> onnxruntime.InferenceSession:
    """One session per process, made on first use: a Celery worker pays the load once, and a
    web process that never analyses a clip never pays it. One thread: the worker runs one
    analysis per core."""
    global _session
    with _session_lock:
        if _session is None:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            _session = onnxruntime.InferenceSession(
                str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
            )
        return _session


def to_vad_rate(mono: np.ndarray, rate: int) -> np.ndarray:
    """Mono float32 audio at 16 kHz (soxr, high quality: the VAD does not need VHQ)."""
    audio = np.ascontiguousarray(mono, dtype=np.float32)
    if rate == VAD_RATE or audio.size == 0:
        return audio
    return np.asarray(soxr.resample(audio, rate, VAD_RATE, quality="HQ"), dtype=np.float32)


def speech_probabilities(audio16k: np.ndarray) -> np.ndarray:
    """One speech probability per 32 ms frame of 16 kHz mono audio (the last frame padded)."""
    count = -(-audio16k.size // FRAME)
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    padded = np.zeros(count * FRAME + CONTEXT, dtype=np.float32)
    padded[CONTEXT : CONTEXT + audio16k.size] = audio16k
    run = session().run
    state = np.zeros((2, 1, 128), dtype=np.float32)
    rate = np.array(VAD_RATE, dtype=np.int64)
    probabilities = np.empty(count, dtype=np.float32)
    for index in range(count):
        # The frame with the 64 samples before it (zeros before the first frame).
        window = padded[index * FRAME : index * FRAME + FRAME + CONTEXT][np.newaxis, :]
        output, state = run(None, {"input": window, "state": state, "sr": rate})
        probabilities[index] = output[0, 0]
    return probabilities


def segments_from_probabilities(
    probabilities: np.ndarray, duration_seconds: float
) -> list[tuple[float, float]]:
    """Speech segments in seconds from frame probabilities: hysteresis, silences shorter than
    `MIN_SILENCE_SECONDS` bridged, segments shorter than `MIN_SPEECH_SECONDS` dropped, each
    padded by `PAD_SECONDS` (overlaps merged), clamped to the clip."""
    raw: list[tuple[float, float]] = []
    start: float | None = None
    silence_from: float | None = None
    for index, probability in enumerate(probabilities):
        now = index * FRAME_SECONDS
        if start is None:
            if probability >= ON_THRESHOLD:
                start, silence_from = now, None
            continue
        if probability >= ON_THRESHOLD or (probability >= OFF_THRESHOLD and silence_from is None):
            silence_from = None
        elif silence_from is None:
            silence_from = now
        elif now + FRAME_SECONDS - silence_from >= MIN_SILENCE_SECONDS:
            raw.append((start, silence_from))
            start, silence_from = None, None
    if start is not None:
        raw.append((start, silence_from if silence_from is not None else duration_seconds))
    return _pad_and_merge([(a, b) for a, b in raw if b - a >= MIN_SPEECH_SECONDS], duration_seconds)


def _pad_and_merge(
    segments: list[tuple[float, float]], duration_seconds: float
) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in segments:
        padded = (max(0.0, start - PAD_SECONDS), min(duration_seconds, end + PAD_SECONDS))
        if merged and padded[0] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], padded[1]))
        else:
            merged.append(padded)
    return merged


def speech_segments(mono: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """The speech in mono float audio at `rate`, as (start, end) seconds."""
    duration = mono.size / rate if rate > 0 else 0.0
    probabilities = speech_probabilities(to_vad_rate(mono, rate))
    return segments_from_probabilities(probabilities, duration)
