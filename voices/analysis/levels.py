"""Levels: clipping, the noise between words, speech-to-noise ratio and loudness."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyloudnorm

# A sample "at full scale": within 0.1 % of the loudest level the channel reaches. Measured
# against the channel's own peak, not 1.0, so a clip that was clipped and then turned down is
# still caught; a clean recording reaches its peak only at a few isolated samples.
_NEAR_PEAK = 0.999
# Only runs of this many consecutive near-peak samples count: a waveform's own crest is one or
# two samples at speech frequencies, a clipped one is a flat run.
MIN_CLIP_RUN = 3
# A channel whose peak is this quiet cannot have been clipped by the recorder's converter.
_MIN_CLIPPED_PEAK = 0.1

FRAME_SECONDS = 0.02  # level frames for the noise floor and SNR
# Frames closer than this to speech are left out of the noise: onsets and decays are speech.
_SPEECH_MARGIN_SECONDS = 0.1
MIN_NOISE_SECONDS = 0.2  # less non-speech than this: the quietest frames stand in for it
_QUIETEST_SHARE = 0.1
FLOOR_DBFS = -120.0  # digital silence is reported as this, not minus infinity
MAX_SNR_DB = 120.0
MIN_LOUDNESS_SECONDS = 0.4  # BS.1770 gating needs one 400 ms block


def clipping_ratio(samples: np.ndarray) -> float:
    """The fraction of samples (over all channels) in runs of at least `MIN_CLIP_RUN`
    consecutive samples at the channel's peak level."""
    if samples.size == 0:
        return 0.0
    clipped = 0
    for channel in samples.T:
        clipped += _clipped_in(np.abs(channel))
    return clipped / samples.size


def _clipped_in(magnitude: np.ndarray) -> int:
    peak = float(magnitude.max(initial=0.0))
    if peak < _MIN_CLIPPED_PEAK:
        return 0
    near = magnitude >= peak * _NEAR_PEAK
    # Run lengths of True: boundaries where `near` changes.
    edges = np.flatnonzero(np.diff(np.concatenate(([False], near, [False])).astype(np.int8)))
    lengths = edges[1::2] - edges[0::2]
    return int(lengths[lengths >= MIN_CLIP_RUN].sum())


@dataclass(frozen=True)
class NoiseLevels:
    noise_floor_dbfs: float | None
    snr_db: float | None


def _frame_powers(mono: np.ndarray, rate: int) -> np.ndarray:
    size = max(1, round(rate * FRAME_SECONDS))
    count = mono.size // size
    frames = mono[: count * size].astype(np.float64).reshape(count, size)
    return np.mean(np.square(frames), axis=1)


def _speech_mask(count: int, segments: Sequence[tuple[float, float]], margin: float) -> np.ndarray:
    """Frames touching speech (widened by `margin` seconds) are True."""
    mask = np.zeros(count, dtype=bool)
    for start, end in segments:
        first = max(0, math.floor((start - margin) / FRAME_SECONDS))
        last = min(count, math.ceil((end + margin) / FRAME_SECONDS))
        mask[first:last] = True
    return mask


def _dbfs(power: float) -> float:
    # A full-scale sine has power 0.5 and is 0 dBFS by convention (RMS against 1/sqrt(2)).
    return max(FLOOR_DBFS, 10 * math.log10(power * 2)) if power > 0 else FLOOR_DBFS


def noise_levels(
    mono: np.ndarray, rate: int, segments: Sequence[tuple[float, float]]
) -> NoiseLevels:
    """The noise floor and the SNR. The noise is the mean power of the non-speech frames (the
    loudest tenth left out, so one click does not set it); where the pauses are too short to
    measure (the VAD bridges gaps under 100 ms, and fluent speech has few longer ones), it is
    the quietest tenth of the clip's frames, the gaps between words: continuous speech over a
    noisy background is still caught. The SNR is the speech frames' mean power, less the noise
    in them, against the noise. None where there is nothing to measure."""
    powers = _frame_powers(mono, rate)
    near_speech = _speech_mask(len(powers), segments, _SPEECH_MARGIN_SECONDS)
    quiet = np.sort(powers[~near_speech])
    if quiet.size * FRAME_SECONDS >= MIN_NOISE_SECONDS:
        quiet = quiet[: max(1, math.ceil(quiet.size * 0.9))]
    else:
        quiet = np.sort(powers)[: math.ceil(powers.size * _QUIETEST_SHARE)]
    if quiet.size * FRAME_SECONDS < MIN_NOISE_SECONDS / 2:
        return NoiseLevels(noise_floor_dbfs=None, snr_db=None)
    noise = float(np.mean(quiet))
    speech = powers[_speech_mask(len(powers), segments, 0.0)]
    if speech.size == 0:
        return NoiseLevels(noise_floor_dbfs=_dbfs(noise), snr_db=None)
    return NoiseLevels(noise_floor_dbfs=_dbfs(noise), snr_db=_snr(float(np.mean(speech)), noise))


def _snr(speech: float, noise: float) -> float:
    signal = speech - noise
    if signal <= 0:
        return 0.0
    if noise <= 0:
        return MAX_SNR_DB
    return min(MAX_SNR_DB, 10 * math.log10(signal / noise))


def loudness(samples: np.ndarray, rate: int) -> float | None:
    """Integrated BS.1770 loudness in LUFS, or None for a clip under 0.4 s or silence."""
    if samples.shape[0] < MIN_LOUDNESS_SECONDS * rate:
        return None
    value = float(pyloudnorm.Meter(rate).integrated_loudness(samples.astype(np.float64)))
    return value if math.isfinite(value) else None


def true_peak(mono: np.ndarray, rate: int) -> float:
    """The true peak (linear), estimated by 4x oversampling as BS.1770 describes."""
    import soxr

    if mono.size == 0:
        return 0.0
    over = soxr.resample(mono.astype(np.float32), rate, rate * 4, quality="HQ")
    return float(max(np.max(np.abs(over)), np.max(np.abs(mono))))
