"""The verdict on a tenant's reference clip, and its clean-up (Celery workers only).

Importing this package loads onnxruntime, soxr and pyloudnorm; the VAD model, resemblyzer and
torch load on first use. Web processes never import it: they read a stored report with
`voices.analysis.report.Report.from_json`, which imports nothing heavy.

- `analyze(samples, rate)` -> `Report`: measures, a 0-100 score, reasons worst first, usable.
- `clean_reference(samples, rate, target_rate=..., report=...)`: mono, trimmed, <= 30 s,
  resampled, loudness-normalized reference for cloning.
- `speaker_similarity(a, rate_a, b, rate_b)`: cosine of two clips' speaker embeddings.
- `THRESHOLDS`: every limit and penalty, one table (documented in docs/voice-quality.md).
"""

from __future__ import annotations

import numpy as np

from voices.analysis.analyze import analyze
from voices.analysis.clean import clean_reference
from voices.analysis.report import Reason, Report
from voices.analysis.speakers import similarity
from voices.analysis.thresholds import (
    MIN_QUALITY_SCORE,
    TARGET_LUFS,
    THRESHOLDS,
    Threshold,
)


def speaker_similarity(a: np.ndarray, rate_a: int, b: np.ndarray, rate_b: int) -> float:
    """Cosine similarity of the utterance embeddings of two mono float32 clips (the speaker
    model of the multiple-speaker check): about 0.8 and up for one voice, lower for two."""
    return similarity(a, rate_a, b, rate_b)


__all__ = [
    "MIN_QUALITY_SCORE",
    "TARGET_LUFS",
    "THRESHOLDS",
    "Reason",
    "Report",
    "Threshold",
    "analyze",
    "clean_reference",
    "speaker_similarity",
]
