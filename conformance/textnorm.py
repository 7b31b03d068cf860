"""The text normalization conformance suite: `normalize(input, "en-US")` against the external
cases in `<conformance>/textnorm/en_tn_cases.jsonl` (NeMo-text-processing and WeTextProcessing
test cases), compared case-insensitively without punctuation.

    python -m conformance.textnorm [path/to/en_tn_cases.jsonl]

The suite directory is `$CONFORMANCE_DIR` if set, else `<repo>/../shared/conformance`.
`KNOWN_DIFFERENCES` lists inputs where this project's reading differs from the suite's on
purpose; they still count as misses.
"""

from __future__ import annotations

import json
import pathlib
import sys
import unicodedata
from dataclasses import dataclass, field

from conformance.paths import suite_dir
from synthesis.text.normalize import normalize

SUITE_FILE = pathlib.Path("textnorm") / "en_tn_cases.jsonl"
LOCALE = "en-US"

_DAY_FIRST = (
    "en-US reads dates month first (January fifth); WeTextProcessing reads every date day first"
)
_CENTS = "two decimals of a currency are cents (twelve dollars five cents), not 'point oh five'"
_MINUS = "a leading minus sign is read 'minus' (the NeMo rows' convention), not 'negative'"
_ONE_THOUSAND = "'one thousand' keeps its 'one'; WeTextProcessing says 'thousand'"
_RANGE = "a hyphen between ascending numbers is a range read 'to' ('5-10' is 'five to ten')"
_PRONOUN_I = "'I' after a name is never read as a numeral: it is far more often the pronoun"
_NO_DIGITS = "normalized text never contains digits: markup or phonemes with digits cannot match"
_UNGROUPED = "ungrouped integers up to nine digits are read as numbers, not digit by digit"
_ZERO = "digits after a decimal point are read 'zero', not 'oh'"
_AND = "the last group of a cardinal takes 'and' (one hundred and twenty three) in every locale"

# input -> why this project reads it differently from the suite (still a miss).
KNOWN_DIFFERENCES: dict[str, str] = {
    "jan. 5, 2012": _DAY_FIRST,
    "jan. 5": _DAY_FIRST,
    "2012-01-05": _DAY_FIRST,
    "2012.01.05": _DAY_FIRST,
    "2012/01/05": _DAY_FIRST,
    "2024-05-06": _DAY_FIRST,
    "11/17/05": "a two-digit year with a leading zero is read 'oh five', as people say it",
    "$12.05": _CENTS,
    "$12.0500": _CENTS,
    "$0.05": _CENTS,
    "-23": _MINUS,
    "-1": _MINUS,
    "-12kg": _MINUS,
    "1000": _ONE_THOUSAND,
    "1001": _ONE_THOUSAND,
    "1011": "a bare four-digit number from 1000 to 2999 is read as a year (ten eleven)",
    "1111": "a bare four-digit number from 1000 to 2999 is read as a year (eleven eleven)",
    "13000": _UNGROUPED,
    "123000": _UNGROUPED,
    "-12.5006 billion": _ZERO,
    "2-5": _RANGE,
    "from 2-10": _RANGE,
    "1-8090": _RANGE,
    "Sam I": _PRONOUN_I,
    "Francis I--test": _PRONOUN_I,
    "Sam II": "regnal numbers take 'the' (Henry the eighth: the house rule for names)",
    "[HH AH0 L OW1]": _NO_DIGITS,
    "<pitch=-.3>123 123</pitch>": _NO_DIGITS,
    "<pitch=-.3>123?123</pitch>": _NO_DIGITS,
    "1961\u20131965 and (2006\u20132012)": "an en dash between years is a range read 'to'",
    "627": _AND,
    "2*8": "an asterisk between numbers is read 'times'",
    "and/or": "a slash between words is read 'slash' (upgrade/update), and/or included",
    "$1.01": "dollars and cents are joined without 'and' (the money rows' convention)",
    "$17.31": "dollars and cents are joined without 'and' (the money rows' convention)",
    "my pnr is t2000": "a code after a context word (PNR) is read digit by digit, in groups",
}


def default_path() -> pathlib.Path:
    return suite_dir() / SUITE_FILE


def comparable(text: str) -> str:
    """Lower case, punctuation and symbols removed (hyphens and dashes become spaces),
    whitespace collapsed."""
    out: list[str] = []
    for ch in text.lower():
        category = unicodedata.category(ch)
        if category == "Pd" or ch in "-\u2010\u2011\u2012\u2013\u2014" or category[0] in "PS":
            out.append(" ")
        else:
            out.append(ch)
    return " ".join("".join(out).split())


@dataclass(frozen=True)
class Miss:
    category: str
    input: str
    got: str
    expected: str
    known: str | None = None


@dataclass
class CategoryResult:
    total: int = 0
    passed: int = 0

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass
class TextnormReport:
    path: pathlib.Path
    categories: dict[str, CategoryResult] = field(default_factory=dict)
    failures: list[Miss] = field(default_factory=list)
    known_differences: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(c.total for c in self.categories.values())

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.categories.values())

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


def _accepted(row: dict[str, object]) -> list[str]:
    values = row.get("accepted") or []
    accepted = [v for v in values if isinstance(v, str)] if isinstance(values, list) else []
    expected = row.get("expected")
    if isinstance(expected, str) and expected not in accepted:
        accepted.insert(0, expected)
    return accepted


def run_textnorm(path: pathlib.Path | None = None) -> TextnormReport:
    """Normalize every case of the suite and compare it with the accepted readings."""
    path = path or default_path()
    report = TextnormReport(path=path, known_differences=dict(KNOWN_DIFFERENCES))
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            category = str(row["category"])
            text = str(row["input"])
            accepted = _accepted(row)
            got = normalize(text, LOCALE)
            result = report.categories.setdefault(category, CategoryResult())
            result.total += 1
            if comparable(got) in {comparable(a) for a in accepted}:
                result.passed += 1
            else:
                report.failures.append(
                    Miss(
                        category,
                        text,
                        got,
                        accepted[0] if accepted else "",
                        KNOWN_DIFFERENCES.get(text),
                    )
                )
    return report


def format_report(report: TextnormReport) -> str:
    """A table per category, then every miss (known differences marked with their reason)."""
    lines = [f"Text normalization conformance: {report.path}", ""]
    lines.append(f"{'category':<26} {'passed':>6} {'total':>6} {'rate':>7}")
    for name, result in sorted(report.categories.items()):
        lines.append(f"{name:<26} {result.passed:>6} {result.total:>6} {result.rate:>7.1%}")
    lines.append(f"{'overall':<26} {report.passed:>6} {report.total:>6} {report.rate:>7.1%}")
    known = [m for m in report.failures if m.known]
    lines += ["", f"Misses: {len(report.failures)} ({len(known)} known differences)", ""]
    for miss in report.failures:
        lines.append(f"[{miss.category}] {miss.input!r}")
        lines.append(f"    got:      {miss.got}")
        lines.append(f"    expected: {miss.expected}")
        if miss.known:
            lines.append(f"    known difference: {miss.known}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    path = pathlib.Path(argv[1]) if len(argv) > 1 else None
    print(format_report(run_textnorm(path)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
