"""`clean_reference`: the reference clip as the cloning engine should get it.

Mono, the silence before the first and after the last word trimmed (a short pad kept so the
first onset and the last decay are whole), at most `MAX_REFERENCE_SECONDS`, at the engine's
rate, at a fixed loudness with the true peak under the ceiling. The same level for every
reference means a cloned voice does not come out louder or quieter because of how its clip
was recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import soxr
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from voices.analysis import levels, vad
from voices.analysis.analyze import as_channels, check_rate, mono_of
from voices.analysis.report import Report
from voices.analysis.thresholds import MAX_REFERENCE_SECONDS, PEAK_CEILING_DBFS, TARGET_LUFS

EDGE_PAD_SECONDS = 0.2  # kept before the first and after the last speech segment
_FADE_SECONDS = 0.01  # a hard cut inside sound would click
_LIMITER_RELEASE_SECONDS = 0.05
_MIN_KEPT_SHARE = 2 / 3  # of the longest reference, when cutting at a pause
# Sample peaks are limited this far under the ceiling: the true peak lies between samples.
_LIMITER_MARGIN = 0.95


def speech_span(segments: Sequence[tuple[float, float]], duration: float) -> tuple[float, float]:
    """Where to cut, in seconds: from the first segment less the pad to the last segment plus
    the pad, ending at the last pause that keeps it within `MAX_REFERENCE_SECONDS` (a hard cut
    at the limit when no pause does). The whole clip when there is no speech."""
    if not segments:
        return 0.0, min(duration, MAX_REFERENCE_SECONDS)
    start = max(0.0, segments[0][0] - EDGE_PAD_SECONDS)
    limit = start + MAX_REFERENCE_SECONDS
    ends = [min(duration, end + EDGE_PAD_SECONDS) for _start, end in segments]
    fitting = [end for end in ends if end <= limit]
    # All the speech fits; or a pause late enough: cut there. A pause far before the limit
    # would throw away too much speech: cut hard at the limit instead (faded, no click).
    if fitting and (
        fitting[-1] == ends[-1] or fitting[-1] - start >= _MIN_KEPT_SHARE * MAX_REFERENCE_SECONDS
    ):
        return start, fitting[-1]
    return start, min(limit, duration)


def _fade(audio: np.ndarray, rate: int) -> np.ndarray:
    size = min(audio.size // 2, round(rate * _FADE_SECONDS))
    if size > 0:
        ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
        audio[:size] *= ramp
        audio[-size:] *= ramp[::-1]
    return audio


def _limit_peaks(audio: np.ndarray, rate: int, ceiling: float) -> np.ndarray:
    """Brings the few peaks above `ceiling` down, leaving the rest (and so the loudness) nearly
    as it is. The gain at each sample is the least any sample within `_LIMITER_RELEASE_SECONDS`
    needs, smoothed over half that span (an average of values that each already hold the
    sample's own need, so it still holds it): no step in gain, so no click."""
    magnitude = np.abs(audio)
    if magnitude.max(initial=0.0) <= ceiling:
        return audio
    needed = np.minimum(1.0, ceiling / np.maximum(magnitude, 1e-12))
    reach = max(1, round(rate * _LIMITER_RELEASE_SECONDS))
    gain = minimum_filter1d(needed, size=2 * reach + 1, mode="constant", cval=1.0)
    gain = uniform_filter1d(gain, size=reach | 1, mode="nearest")
    return (audio * gain).astype(np.float32)


def _to_target(audio: np.ndarray, rate: int) -> np.ndarray:
    measured = levels.loudness(audio[:, np.newaxis], rate)
    if measured is None:  # under 0.4 s, or silent: nothing to measure
        return audio
    return audio * np.float32(10 ** ((TARGET_LUFS - measured) / 20))


def _normalize(audio: np.ndarray, rate: int) -> np.ndarray:
    """To `TARGET_LUFS` with the true peak under `PEAK_CEILING_DBFS`: peaks over it are limited
    and the loudness set again (twice at most, as limiting lowers it a little); finally scaled
    down if peaks are still over (a clip that is all peaks then ends under the target)."""
    ceiling = 10 ** (PEAK_CEILING_DBFS / 20)
    for _attempt in range(3):
        audio = _to_target(audio, rate)
        if levels.true_peak(audio, rate) <= ceiling:
            break
        audio = _limit_peaks(audio, rate, ceiling * _LIMITER_MARGIN)
    peak = levels.true_peak(audio, rate)
    if peak > ceiling:
        audio = audio * np.float32(ceiling / peak * 0.999)
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def clean_reference(
    samples: np.ndarray, rate: int, *, target_rate: int, report: Report | None = None
) -> np.ndarray:
    """The cleaned reference: mono float32 at `target_rate` in [-1, 1] (see the module doc).
    `report` (from `analyze` on the same samples) spares running the VAD again; a report
    read back from JSON has no segments, and the VAD then runs."""
    check_rate(rate)
    check_rate(target_rate)
    mono = mono_of(as_channels(samples))
    duration = mono.size / rate
    segments = list(report.speech_segments) if report and report.speech_segments else None
    if segments is None:
        segments = vad.speech_segments(mono, rate)
    start, end = speech_span(segments, duration)
    cut = _fade(mono[round(start * rate) : round(end * rate)].copy(), rate)
    if target_rate != rate and cut.size:
        cut = np.asarray(soxr.resample(cut, rate, target_rate, quality="VHQ"), dtype=np.float32)
    return _normalize(cut, target_rate)
