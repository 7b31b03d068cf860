"""The SSML validity suites, measured against `parse_ssml` (strict mode).

    python -m conformance.ssml [DIRECTORY]

Reads the external suites in `$CONFORMANCE_DIR/ssml/` (default `<repo>/../shared/conformance`);
nothing is copied into the project. A row is *vendor* when it names a platform other than "all"
(amazon, google, ...), or its document uses `amazon:`/`alexa:`/`google:`/`mstts:` names or
`<par>`/`<seq>`/`<media>`. Vendor rows are reported apart: our policy rejects vendor extensions in
strict mode (`ssml_unsupported`), so they measure that policy, not SSML support.

Each row expects `accept` or `reject`; behaviour rows whose `valid` is neither true nor false
(`reject_or_clamp`, `plain-text-or-reject`, ...) accept either answer and are listed apart.
A *must-reject* row is a non-vendor row that expects rejection (every behaviour row with
valid == false is one). Known differences annotate misses with the reason we disagree with the
suite; they still count as misses.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from conformance.paths import suite_dir
from synthesis.text.ssml import SsmlError, parse_ssml

FILES = (
    "ssml_check_core_cases.jsonl",
    "ssmlverifier_cases.jsonl",
    "ssml_behaviour_cases.jsonl",
)
_VENDOR_NAMES = re.compile(r"\b(?:amazon|alexa|google|mstts):|<\s*/?\s*(?:par|seq|media)\b", re.I)
_NO_PLATFORM = (None, "", "all", "default(all)")

Expect = Literal["accept", "reject", "either"]

# Rows we disagree with, keyed by the first 12 hex digits of sha1(ssml), with why. They count
# as misses; the reason is printed next to them.
KNOWN_DIFFERENCES: dict[str, str] = {
    "dd51c34f2f96": (
        "the same document is a must-accept row ('Valid rate'); this one came with an "
        "'unsupported tags' option the suite does not carry"
    ),
    "e3a1cf0409c7": (
        "interpret-as='verbatim' is one of our say-as types (spelled out letter by letter); "
        "ssml-check-core's generic list lacks it"
    ),
    "03db90051008": (
        "SSML time designations are non-negative; a negative break is an error in the document, "
        "not a zero-length pause"
    ),
    "63eebf5c3827": (
        "SSML 1.1 does not allow <p> inside <p>, and the behaviour suite requires rejecting it "
        "(emotech-reject-nested-p)"
    ),
    "666a280d4c98": "SSML 1.1 does not allow <p> inside <s> (same rule as <p> inside <p>)",
    "eb1f72cdaa74": (
        "voice names are the tenant's, resolved by the front-end (Polly's list does not apply); "
        "the parser checks only that a name is given"
    ),
    "930844c8d0ec": "role is optional on <w>/<token> in SSML 1.1 (Polly requires it)",
    "90c4972fee6c": (
        "0.5% of normal speed (200 times slower) is outside the supported 10%..400%; the emotech "
        "row checks syntax only"
    ),
}


@dataclass(frozen=True)
class Row:
    file: str
    line: int
    name: str
    ssml: str  # as sent (fragments wrapped in <speak>)
    expect: Expect
    vendor: bool
    expected: str  # the suite's words

    @property
    def key(self) -> str:
        return hashlib.sha1(self.ssml.encode(), usedforsecurity=False).hexdigest()[:12]

    @property
    def must_reject(self) -> bool:
        return self.expect == "reject" and not self.vendor


@dataclass(frozen=True)
class Outcome:
    row: Row
    accepted: bool
    error: str | None  # code and message when rejected

    @property
    def passed(self) -> bool:
        if self.row.expect == "either":
            return True
        return self.accepted == (self.row.expect == "accept")

    @property
    def known_difference(self) -> str | None:
        return KNOWN_DIFFERENCES.get(self.row.key)


@dataclass
class Tally:
    passed: int = 0
    total: int = 0
    misses: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.total += 1
        if outcome.passed:
            self.passed += 1
        else:
            self.misses.append(outcome)

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 1.0


CATEGORIES = ("non-vendor", "must-reject", "vendor")


@dataclass
class Report:
    directory: Path
    files: dict[str, dict[str, Tally]]  # file -> category -> tally
    either: list[Outcome]

    def total(self, category: str) -> Tally:
        tally = Tally()
        for categories in self.files.values():
            part = categories[category]
            tally.passed += part.passed
            tally.total += part.total
            tally.misses.extend(part.misses)
        return tally


def _vendor(ssml: str, platform: object) -> bool:
    named = isinstance(platform, str) and platform.strip().lower() not in _NO_PLATFORM
    return named or _VENDOR_NAMES.search(ssml) is not None


def _validity(value: object) -> Expect:
    if value is True or value == "valid":
        return "accept"
    if value is False:
        return "reject"
    return "either"


def read_rows(directory: Path) -> Iterator[Row]:
    """Every validity row of the three files, with its expectation and category."""
    for filename in FILES:
        path = directory / "ssml" / filename
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                data: dict[str, Any] = json.loads(line)
                yield _row(filename, number, data)


def _row(filename: str, number: int, data: dict[str, Any]) -> Row:
    ssml = str(data["ssml"])
    if filename == "ssml_check_core_cases.jsonl":
        platform = (data.get("options") or {}).get("platform")
        expect: Expect = "accept" if data["expected"] == "valid" else "reject"
        name, expected = str(data["name"]), str(data["expected"])
    elif filename == "ssmlverifier_cases.jsonl":
        platform = data.get("platform")
        expect = "accept" if data["expected"] == "valid" else "reject"
        name, expected = str(data["test"]), str(data["expected"])
        if data.get("scope") == "element" and not ssml.lstrip().startswith("<speak"):
            ssml = f"<speak>{ssml}</speak>"  # an element on its own: sent inside <speak>
    else:
        platform = None
        validity = data["expect"].get("valid")
        expect = _validity(validity)
        name, expected = str(data["id"]), f"valid={validity}"
    return Row(
        file=filename,
        line=number,
        name=name,
        ssml=ssml,
        expect=expect,
        vendor=_vendor(ssml, platform),
        expected=expected,
    )


def check(row: Row) -> Outcome:
    try:
        parse_ssml(row.ssml)
    except SsmlError as error:
        return Outcome(row, accepted=False, error=f"{error.code}: {error.message}")
    return Outcome(row, accepted=True, error=None)


def run_ssml_validity(directory: Path | str | None = None) -> Report:
    base = Path(directory) if directory is not None else suite_dir()
    files: dict[str, dict[str, Tally]] = {name: {c: Tally() for c in CATEGORIES} for name in FILES}
    either: list[Outcome] = []
    for row in read_rows(base):
        outcome = check(row)
        if row.expect == "either":
            either.append(outcome)
            continue
        categories = files[row.file]
        if row.vendor:
            categories["vendor"].add(outcome)
            continue
        categories["non-vendor"].add(outcome)
        if row.must_reject:
            categories["must-reject"].add(outcome)
    return Report(directory=base, files=files, either=either)


def _line(tally: Tally) -> str:
    return f"{tally.passed}/{tally.total} ({tally.rate:.1%})"


def _miss(outcome: Outcome) -> str:
    row = outcome.row
    ssml = row.ssml if len(row.ssml) <= 110 else row.ssml[:107] + "..."
    got = "accepted" if outcome.accepted else f"rejected ({outcome.error})"
    text = f"    {row.file}:{row.line} [{row.name}] expects {row.expect}: {got}\n      {ssml}"
    if outcome.known_difference:
        text += f"\n      known difference: {outcome.known_difference}"
    return text


def format_report(report: Report) -> str:
    out = [f"SSML validity suites in {report.directory} (strict mode)"]
    for filename, categories in report.files.items():
        out.append(f"\n{filename}")
        for category in CATEGORIES:
            out.append(f"  {category:<12} {_line(categories[category])}")
    out.append("\nAll files")
    for category in CATEGORIES:
        out.append(f"  {category:<12} {_line(report.total(category))}")
    for category in ("non-vendor", "vendor"):
        misses = report.total(category).misses
        if misses:
            out.append(f"\nMisses, {category} ({len(misses)}):")
            out.extend(_miss(outcome) for outcome in misses)
    if report.either:
        out.append(f"\nRows that accept either answer ({len(report.either)}):")
        for outcome in report.either:
            got = "accepted" if outcome.accepted else f"rejected ({outcome.error})"
            out.append(f"    {outcome.row.file}:{outcome.row.line} [{outcome.row.name}]: {got}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else None
    print(format_report(run_ssml_validity(directory)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
