"""`analyze`: the measures of a clip, then the score and reasons `THRESHOLDS` gives them."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from voices.analysis import levels, speakers, vad
from voices.analysis.report import Reason, Report
from voices.analysis.thresholds import CHECKS, MIN_QUALITY_SCORE, Threshold


def as_channels(samples: np.ndarray) -> np.ndarray:
    """Float32 samples shaped (n, channels), NaN and infinities zeroed, clipped to [-1, 1]. A
    1-D array is one channel."""
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, np.newaxis]
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"samples must be shaped (n, channels), not {array.shape}")
    array = np.nan_to_num(array, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(array, -1.0, 1.0)


def mono_of(samples: np.ndarray) -> np.ndarray:
    """The mean of the channels, float32 1-D."""
    return np.ascontiguousarray(samples.mean(axis=1, dtype=np.float32))


def check_rate(rate: int) -> None:
    if int(rate) != rate or rate <= 0:
        raise ValueError(f"the sample rate must be a positive integer, not {rate!r}")


def _longest_pause(segments: Sequence[tuple[float, float]]) -> float:
    gaps = [after[0] - before[1] for before, after in itertools.pairwise(segments)]
    return max(gaps, default=0.0)


def reasons_for(measures: Mapping[str, float | None]) -> tuple[Reason, ...]:
    """A reason for each reason code with a crossed row, the worst row of the code (blocking,
    then most points), worst reasons first. Without speech, nothing else is said: every other
    measure depends on it."""
    worst: dict[str, Threshold] = {}
    for row in CHECKS:
        value = measures.get(row.measure)
        if value is None or not row.crossed(value):
            continue
        held = worst.get(row.code)
        if held is None or _severity(row) > _severity(held):
            worst[row.code] = row
    if "no_speech" in worst:
        worst = {"no_speech": worst["no_speech"]}
    rows = sorted(worst.values(), key=_severity, reverse=True)
    return tuple(
        Reason(
            code=row.code,
            message=row.describe(float(measures[row.measure] or 0.0)),
            points=0 if row.blocking else row.points,
            blocking=row.blocking,
        )
        for row in rows
    )


def _severity(row: Threshold) -> tuple[bool, int]:
    return (row.blocking, row.points)


def score_of(reasons: Sequence[Reason]) -> int:
    """100 less the points of every reason, at least 0; 0 with a blocking reason: a clip that
    cannot be used at all must not read "100" next to "not usable" in the portal."""
    if any(reason.blocking for reason in reasons):
        return 0
    return max(0, 100 - sum(reason.points for reason in reasons))


def analyze(samples: np.ndarray, rate: int) -> Report:
    """The report on float samples in [-1, 1] shaped (n, channels) at `rate` Hz."""
    check_rate(rate)
    channels = as_channels(samples)
    mono = mono_of(channels)
    duration = mono.size / rate
    segments = vad.speech_segments(mono, rate)
    speech = sum(end - start for start, end in segments)
    noise = levels.noise_levels(mono, rate, segments)
    who = speakers.analyse_speakers(mono, rate, segments)
    measures: dict[str, float | None] = {
        "duration_seconds": duration,
        "sample_rate": float(rate),
        "speech_seconds": speech,
        "speech_ratio": speech / duration if duration > 0 else 0.0,
        "longest_pause_seconds": _longest_pause(segments),
        "clipping_ratio": levels.clipping_ratio(channels),
        "noise_floor_dbfs": noise.noise_floor_dbfs,
        "snr_db": noise.snr_db,
        "loudness_lufs": levels.loudness(channels, rate),
        "speaker_separation": who.separation,
    }
    reasons = reasons_for(measures)
    score = score_of(reasons)
    return Report(
        duration_seconds=duration,
        sample_rate=int(rate),
        channels=int(channels.shape[1]),
        speech_seconds=speech,
        speech_ratio=float(measures["speech_ratio"] or 0.0),
        longest_pause_seconds=float(measures["longest_pause_seconds"] or 0.0),
        clipping_ratio=float(measures["clipping_ratio"] or 0.0),
        noise_floor_dbfs=noise.noise_floor_dbfs,
        snr_db=noise.snr_db,
        loudness_lufs=measures["loudness_lufs"],
        multiple_speakers=who.multiple_speakers,
        speaker_consistency=who.consistency,
        quality_score=score,
        reasons=reasons,
        usable=score >= MIN_QUALITY_SCORE and not any(r.blocking for r in reasons),
        speech_segments=tuple(segments),
    )
