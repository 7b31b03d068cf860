"""SSML behaviour rows measured on real Piper audio, asserted as lower bounds: every audio check
must pass, and every miss must be a listed known difference."""

from __future__ import annotations

import pytest

from conformance.behaviour import (
    KNOWN_DIFFERENCES,
    BehaviourReport,
    format_report,
    run_behaviour,
)
from conformance.paths import suite_dir
from synthesis.engines.loader import load_engine

SUITE = suite_dir() / "ssml" / "ssml_behaviour_cases.jsonl"
pytestmark = pytest.mark.skipif(
    not SUITE.is_file(), reason=f"SSML behaviour suite not found at {SUITE} (set CONFORMANCE_DIR)"
)

# Checks measured on the audio: each must pass on every row that has it.
AUDIO_CHECKS = {
    "silence_ms_between",
    "silence_ms_after",
    "max_silence_ms",
    "ordering",
    "duration_ratio_vs_100pct",
    "duration_order",
    "rms_change_db",
    "rms_order",
    "f0_change_pct",
    "f0_order",
}


@pytest.fixture(scope="module")
def report() -> BehaviourReport:
    engine = load_engine("piper", noise_scale=0.0, noise_w_scale=0.0)
    engine.warm_up()
    return run_behaviour(engine)


def test_every_audio_measurement_passes(report):
    measured = [o for o in report.outcomes if o.kind in AUDIO_CHECKS]
    assert len(measured) >= 28, format_report(report)
    assert all(o.passed for o in measured), format_report(report)


def test_validity_and_engine_text_rows_hold_their_measured_rates(report):
    by_kind = report.by_kind()
    total, passed = by_kind["validity"]
    assert passed / total >= 0.97, format_report(report)
    total, passed = by_kind["asr_contains"]
    assert passed / total >= 0.86, format_report(report)


def test_every_miss_is_a_listed_known_difference(report):
    misses = {o.id for o in report.outcomes if not o.passed}
    assert misses <= set(KNOWN_DIFFERENCES), format_report(report)


def test_every_must_reject_row_is_rejected(report):
    for outcome in report.outcomes:
        if outcome.kind == "validity" and "must be rejected" in outcome.detail:
            pytest.fail(f"{outcome.id}: {outcome.detail}")
