"""Rows, the table on standard output, and `bench/results/latest.json`."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PASS, MISS, INFO, ERROR = "PASS", "MISS", "info", "ERROR"


@dataclass
class Row:
    section: str  # ttfb, throughput, peer, rss, ws
    label: str
    ours: float | None
    reference: float | None
    reference_label: str
    unit: str  # ms, audio-s/s, MiB, runs (a count)
    ratio: float | None  # ours / reference (or growth, see ratio_kind)
    ratio_kind: str = "x"  # "x": a ratio; "pct": a change in per cent
    target: str = ""
    verdict: str = INFO
    note: str = ""


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ratio(ours: float | None, reference: float | None) -> float | None:
    if ours is None or reference is None or reference == 0 or math.isnan(reference):
        return None
    return ours / reference


def verdict(ok: bool | None) -> str:
    if ok is None:
        return ERROR
    return PASS if ok else MISS


def _number(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if unit == "runs":
        return f"{value:.0f}"
    return f"{value:.2f} {unit}"


def _ratio(row: Row) -> str:
    if row.ratio is None or math.isnan(row.ratio):
        return "-"
    if row.ratio_kind == "pct":
        return f"{row.ratio * 100:+.1f} %"
    return f"{row.ratio:.2f}x"


def table(rows: Sequence[Row]) -> str:
    header = ("measurement", "ours", "reference", "ratio", "target", "result")
    body = [
        (
            row.label,
            _number(row.ours, row.unit),
            f"{_number(row.reference, row.unit)} ({row.reference_label})"
            if row.reference_label
            else _number(row.reference, row.unit),
            _ratio(row),
            row.target or "-",
            row.verdict,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def render(cells: Sequence[str]) -> str:
        return " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip()

    lines = [render(header), "-+-".join("-" * w for w in widths)]
    lines += [render(cells) for cells in body]
    notes = [f"  {row.label}: {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def _clean(value: Any) -> Any:
    """NaN is not JSON: null instead."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, document: dict[str, Any], rows: Sequence[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _clean({**document, "rows": [asdict(row) for row in rows]})
    partial = path.with_name(f"{path.name}.tmp")
    partial.write_text(json.dumps(data, indent=2) + "\n")
    partial.replace(path)
