"""The external SSML validity suites: measured rates are lower bounds, and every must-reject row
passes unless it is a documented known difference."""

from __future__ import annotations

import re

import pytest

from conformance.paths import suite_dir
from conformance.ssml import (
    FILES,
    KNOWN_DIFFERENCES,
    check,
    format_report,
    read_rows,
    run_ssml_validity,
)

VENDOR_ELEMENT = re.compile(r"<(?:amazon|alexa|google|mstts):|<(?:par|seq|media)\b")

DIRECTORY = suite_dir()
pytestmark = pytest.mark.skipif(
    not all((DIRECTORY / "ssml" / name).is_file() for name in FILES),
    reason=f"the SSML conformance suites are not in {DIRECTORY} (set CONFORMANCE_DIR)",
)

# Measured (strict mode, vendor rows apart); raise these when the parser improves.
MINIMUM_RATES = {
    ("ssml_check_core_cases.jsonl", "non-vendor"): 49 / 51,
    ("ssmlverifier_cases.jsonl", "non-vendor"): 41 / 46,
    ("ssml_behaviour_cases.jsonl", "non-vendor"): 75 / 76,
    ("ssml_behaviour_cases.jsonl", "must-reject"): 1.0,
}


@pytest.fixture(scope="module")
def report():
    return run_ssml_validity(DIRECTORY)


def test_rates_do_not_fall(report):
    for (filename, category), minimum in MINIMUM_RATES.items():
        assert report.files[filename][category].rate >= minimum - 1e-9, format_report(report)
    assert report.total("non-vendor").rate >= 0.95, format_report(report)


def test_every_must_reject_row_passes_or_is_a_known_difference(report):
    unexplained = [
        outcome
        for outcome in report.total("must-reject").misses
        if outcome.row.key not in KNOWN_DIFFERENCES
    ]
    assert unexplained == [], format_report(report)


def test_every_non_vendor_miss_is_a_known_difference(report):
    unexplained = [
        f"{o.row.file}:{o.row.line} {o.row.name}"
        for o in report.total("non-vendor").misses
        if o.known_difference is None
    ]
    assert unexplained == []


def test_vendor_markup_is_refused_as_unsupported():
    """The policy, applied alike to every row whose document uses vendor elements: strict mode
    refuses them with ssml_unsupported (lenient mode drops them; see test_ssml.py)."""
    rows = [row for row in read_rows(DIRECTORY) if VENDOR_ELEMENT.search(row.ssml)]
    assert rows
    for row in rows:
        outcome = check(row)
        assert outcome.error is not None, row
        assert outcome.error.startswith("ssml_unsupported"), outcome


def test_report_formats(report):
    text = format_report(report)
    for filename in FILES:
        assert filename in text
    assert "must-reject" in text
    assert "vendor" in text
