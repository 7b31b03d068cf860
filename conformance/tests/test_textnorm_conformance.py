"""The external text normalization suite (NeMo / WeTextProcessing cases) as lower bounds.

The bounds sit just under what the normalizer measures; a drop below one is a regression.
Known differences (readings this project chooses on purpose) count as misses.
"""

import pytest

from conformance.textnorm import (
    KNOWN_DIFFERENCES,
    comparable,
    default_path,
    format_report,
    run_textnorm,
)

SUITE = default_path()
pytestmark = pytest.mark.skipif(
    not SUITE.is_file(),
    reason=f"text normalization suite not found at {SUITE} (set CONFORMANCE_DIR)",
)

OVERALL = 0.90
# Lower bounds per category, just under the measured rates.
BOUNDS = {
    "cardinal": 0.82,
    "ordinal": 0.97,
    "money": 0.96,
    "date": 0.89,
    "time": 1.0,
    "telephone": 1.0,
    "measure": 0.89,
    "decimal": 0.93,
    "fraction": 1.0,
    "electronic": 0.93,
    "word": 1.0,
}


@pytest.fixture(scope="module")
def report():
    return run_textnorm()


def test_overall_rate(report):
    assert report.total == 681
    assert report.rate >= OVERALL, format_report(report)


@pytest.mark.parametrize("category", sorted(BOUNDS))
def test_category_rate(report, category):
    result = report.categories[category]
    assert result.rate >= BOUNDS[category], format_report(report)


def test_known_differences_are_real_misses(report):
    missed = {miss.input for miss in report.failures}
    assert set(KNOWN_DIFFERENCES) <= missed
    assert all(miss.known == KNOWN_DIFFERENCES.get(miss.input) for miss in report.failures)


def test_report_lists_categories_and_misses(report):
    text = format_report(report)
    assert "overall" in text
    assert "cardinal" in text
    assert "got:" in text


def test_comparable():
    assert comparable("Twenty-one, PM.") == "twenty one pm"
    assert comparable('"hello"  (world)') == "hello world"
