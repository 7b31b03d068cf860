"""Who is speaking: resemblyzer's speaker encoder over windows of the speech.

The encoder (`voices.analysis.encoder`, which imports torch) is imported inside functions: this
module is imported by the analysis package, which Celery workers import at start, and the
encoder costs ~0.3 s and tens of megabytes that a worker should pay only when it first analyses
a clip. Its weights ship in the resemblyzer package (`resemblyzer/pretrained.pt`); nothing is
downloaded.

The encoder takes 1.6 s windows (160 mel frames of 10 ms at 16 kHz) and gives an L2-normed
256-dimensional embedding per window. We embed windows of the speech only (the VAD's segments,
joined), with a 50 % hop, so pauses do not water the voice down.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from voices.analysis import vad
from voices.analysis.thresholds import MIN_SPEAKER_GROUP, SPEAKER_CUT

ENCODER_RATE = 16000
WINDOW_FRAMES = 160  # 1.6 s: the window the encoder was trained on
HOP_FRAMES = 80  # 50 % overlap
WINDOW_SAMPLES = WINDOW_FRAMES * ENCODER_RATE // 100
MIN_WINDOWS = 3  # fewer: too little speech to say anything about consistency
# The level resemblyzer's own preprocessing brings speech to (its mel input is not log-scaled,
# so the level matters): -30 dBFS RMS.
_NORM_DBFS = -30.0
_TORCH_THREADS = 1
_KMEANS_ROUNDS = 20

_encoder: Any = None
_encoder_lock = threading.Lock()


@dataclass(frozen=True)
class SpeakerCheck:
    """What the window embeddings say. `separation` is the cosine between the two groups'
    centroids when the speech splits into two sizeable groups (None when it does not), and
    `consistency` the lowest window-to-centroid cosine (None with too few windows)."""

    windows: int
    consistency: float | None
    separation: float | None

    @property
    def multiple_speakers(self) -> bool:
        return self.separation is not None and self.separation < SPEAKER_CUT


@contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    """Runs torch with `count` threads and restores the process's setting afterwards, so a test
    process (or anything else sharing it) keeps its own."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def encoder() -> Any:
    """resemblyzer's speaker encoder on the CPU, loaded once per process."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            from voices.analysis import encoder as speaker_encoder

            with _torch_threads(_TORCH_THREADS):
                _encoder = speaker_encoder.load()
        return _encoder


def speech_audio(
    mono: np.ndarray, rate: int, segments: Sequence[tuple[float, float]]
) -> np.ndarray:
    """The speech segments of `mono`, joined, at the encoder's 16 kHz, at a fixed level."""
    parts = [mono[int(start * rate) : int(end * rate)] for start, end in segments]
    joined = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    audio = vad.to_vad_rate(joined, rate)  # the VAD and the encoder share 16 kHz
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    if rms > 1e-6:
        audio = audio * np.float32(10 ** (_NORM_DBFS / 20) / rms)
    return audio.astype(np.float32)


def window_embeddings(audio16k: np.ndarray) -> np.ndarray:
    """One embedding per 1.6 s window (50 % hop) of 16 kHz speech; a clip shorter than one
    window is zero-padded to one. Shape (windows, 256), rows L2-normed."""
    import torch

    from voices.analysis.encoder import mel_spectrogram

    model = encoder()
    if audio16k.size < WINDOW_SAMPLES:
        audio16k = np.pad(audio16k, (0, WINDOW_SAMPLES - audio16k.size))
    mel = mel_spectrogram(audio16k)
    starts = range(0, max(1, mel.shape[0] - WINDOW_FRAMES + 1), HOP_FRAMES)
    batch = np.stack([mel[start : start + WINDOW_FRAMES] for start in starts])
    with _torch_threads(_TORCH_THREADS), torch.no_grad():
        embeddings = model(torch.from_numpy(batch)).cpu().numpy()
    return np.asarray(embeddings, dtype=np.float64)


def _normed(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def utterance_embedding(audio16k: np.ndarray) -> np.ndarray:
    """The clip's embedding: the normed mean of its window embeddings (as resemblyzer does)."""
    return _normed(window_embeddings(audio16k).mean(axis=0))


def two_means(embeddings: np.ndarray) -> np.ndarray:
    """Cosine 2-means labels (0/1) of L2-normed rows. Seeded with the two least alike windows,
    so the result is deterministic and a second voice, if any, starts with a centroid."""
    similarity = embeddings @ embeddings.T
    first, second = np.unravel_index(int(np.argmin(similarity)), similarity.shape)
    centroids = embeddings[[first, second]]
    labels = np.zeros(len(embeddings), dtype=np.int64)
    for _round in range(_KMEANS_ROUNDS):
        new = np.argmax(embeddings @ centroids.T, axis=1)
        if _round and np.array_equal(new, labels):
            break
        labels = new
        for group in (0, 1):
            if np.any(labels == group):
                centroids[group] = _normed(embeddings[labels == group].mean(axis=0))
    return labels


def check_speakers(embeddings: np.ndarray) -> SpeakerCheck:
    """Consistency and separation of window embeddings (see `SpeakerCheck`)."""
    count = len(embeddings)
    if count < MIN_WINDOWS:
        return SpeakerCheck(windows=count, consistency=None, separation=None)
    centroid = _normed(embeddings.mean(axis=0))
    consistency = float(np.min(embeddings @ centroid))
    labels = two_means(embeddings)
    smaller = int(min(np.sum(labels == 0), np.sum(labels == 1)))
    separation = None
    if smaller >= max(2, MIN_SPEAKER_GROUP * count):
        a = _normed(embeddings[labels == 0].mean(axis=0))
        b = _normed(embeddings[labels == 1].mean(axis=0))
        separation = float(a @ b)
    return SpeakerCheck(windows=count, consistency=consistency, separation=separation)


def analyse_speakers(
    mono: np.ndarray, rate: int, segments: Sequence[tuple[float, float]]
) -> SpeakerCheck:
    """The speaker check of a clip whose speech lies in `segments` (seconds)."""
    audio = speech_audio(mono, rate, segments)
    if audio.size < WINDOW_SAMPLES:
        return SpeakerCheck(windows=0, consistency=None, separation=None)
    return check_speakers(window_embeddings(audio))


def speaker_similarity(a: np.ndarray, rate_a: int, b: np.ndarray, rate_b: int) -> float:
    """Cosine similarity of the utterance embeddings of two mono float32 clips, with the
    speaker model of the multiple-speaker check (speech only where the VAD finds any, else the
    whole clip). In calibration: 0.98 for one voice on other sentences and speeds, 0.8 against
    itself under 10 dB of noise, 0.6 and under for two voices."""
    return float(
        utterance_embedding(_speech_or_all(a, rate_a))
        @ utterance_embedding(_speech_or_all(b, rate_b))
    )


def _speech_or_all(mono: np.ndarray, rate: int) -> np.ndarray:
    mono = np.asarray(mono, dtype=np.float32).reshape(-1)
    segments = vad.speech_segments(mono, rate) or [(0.0, mono.size / rate)]
    return speech_audio(mono, rate, segments)
