"""The verdict on a tenant's reference clip, and its clean-up (Celery workers only).

- `analyze(samples, rate)` -> `Report`: measures, a 0-100 score, reasons worst first, usable.
- `clean_reference(samples, rate, target_rate=..., report=...)`: mono, trimmed, <= 30 s,
  resampled, loudness-normalized reference for cloning.
- `speaker_similarity(a, rate_a, b, rate_b)`: cosine of two clips' speaker embeddings.
- `THRESHOLDS`: every limit and penalty, one table (documented in docs/voice-quality.md).

The names load lazily (PEP 562): `Report`, `Reason` and `THRESHOLDS` come from modules that
import only the standard library, so a web process can read a stored report
(`Report.from_json`) without loading onnxruntime, soxr or pyloudnorm; `analyze` and the others
load those on first access, and torch (the speaker encoder) on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voices.analysis.analyze import analyze
    from voices.analysis.clean import clean_reference
    from voices.analysis.report import Reason, Report
    from voices.analysis.speakers import speaker_similarity
    from voices.analysis.thresholds import MIN_QUALITY_SCORE, TARGET_LUFS, THRESHOLDS, Threshold

_WHERE = {
    "analyze": "voices.analysis.analyze",
    "clean_reference": "voices.analysis.clean",
    "speaker_similarity": "voices.analysis.speakers",
    "Reason": "voices.analysis.report",
    "Report": "voices.analysis.report",
    "MIN_QUALITY_SCORE": "voices.analysis.thresholds",
    "TARGET_LUFS": "voices.analysis.thresholds",
    "THRESHOLDS": "voices.analysis.thresholds",
    "Threshold": "voices.analysis.thresholds",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
