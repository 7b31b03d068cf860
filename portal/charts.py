"""Bar charts as server-drawn SVG: geometry only (where each bar goes), from a series billing
has already computed. Sizes are SVG presentation attributes (`x`, `height`), never `style=`,
so the portal's strict CSP (`style-src 'self'`) has nothing to block."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

WIDTH = 720
HEIGHT = 200
LEFT = 56  # room for the axis labels
TOP = 12
BOTTOM = 28  # room for the day labels
GAP = 0.2  # of a slot, between bars


@dataclass(frozen=True)
class Bar:
    day: date
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Tick:
    label: str
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    baseline: float
    bars: list[Bar]  # only days with something to draw
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    days: int
    peak: float

    @property
    def middle_x(self) -> float:
        return (self.plot_left + self.plot_right) / 2

    @property
    def middle_y(self) -> float:
        return (TOP + self.baseline) / 2


def _nice_ceiling(value: float) -> float:
    """The axis top: 1, 2, 2.5 or 5 times a power of ten, at or above `value`."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover


def _label(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def bar_chart(series: Sequence[dict[str, Any]], field: str) -> BarChart:
    """One bar per bucket of `series` (billing's usage report, day buckets) for `field`."""
    days = len(series)
    values = [float(bucket[field]) for bucket in series]
    peak = max(values, default=0.0)
    top = _nice_ceiling(peak)
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = float(HEIGHT - BOTTOM)
    slot = (WIDTH - LEFT) / max(days, 1)
    bars = []
    for index, (bucket, value) in enumerate(zip(series, values, strict=True)):
        if value <= 0:
            continue
        height = max(value / top * plot_height, 1.0)
        bars.append(
            Bar(
                day=date.fromisoformat(str(bucket["start"])[:10]),
                value=value,
                x=round(LEFT + index * slot + slot * GAP / 2, 2),
                y=round(baseline - height, 2),
                width=round(max(slot * (1 - GAP), 1.0), 2),
                height=round(height, 2),
            )
        )
    y_ticks = [
        Tick(label=_label(top * share), y=round(baseline - share * plot_height, 2))
        for share in (0, 0.5, 1)
    ]
    marks = sorted({0, days // 2, days - 1}) if days else []
    x_ticks = [
        Tick(
            label=date.fromisoformat(str(series[i]["start"])[:10]).strftime("%-d %b"),
            x=round(LEFT + (i + 0.5) * slot, 2),
        )
        for i in marks
    ]
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH,
        baseline=baseline,
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        days=days,
        peak=peak,
    )
