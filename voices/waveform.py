"""A clip's waveform as an SVG picture: the envelope (the lowest and highest sample of each pixel
column), with the speech regions shaded when they are known. Web-safe: numpy only, no torch.
Presentation attributes only (no <style>): the portal's Content-Security-Policy forbids inline
styles, and the picture is shown through an <img>."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COLUMNS = 600
HEIGHT = 120
WAVE_COLOUR = "#2f5fa8"
SPEECH_COLOUR = "#d8efe0"
AXIS_COLOUR = "#9aa4b2"


def envelope(samples: np.ndarray, columns: int = COLUMNS) -> tuple[np.ndarray, np.ndarray]:
    """The minimum and maximum of `samples` (mono, in [-1, 1]) in each of `columns` equal spans;
    a column past the end of a clip shorter than `columns` samples is silence."""
    mono = np.asarray(samples, dtype=np.float32).reshape(-1)
    lows = np.zeros(columns, dtype=np.float32)
    highs = np.zeros(columns, dtype=np.float32)
    if not len(mono):
        return lows, highs
    edges = np.linspace(0, len(mono), columns + 1).astype(np.int64)
    for column in range(columns):
        span = mono[edges[column] : max(edges[column + 1], edges[column] + 1)]
        if len(span):
            lows[column], highs[column] = float(span.min()), float(span.max())
    return np.clip(lows, -1.0, 1.0), np.clip(highs, -1.0, 1.0)


def waveform_svg(
    samples: np.ndarray,
    duration: float,
    speech: Sequence[Sequence[float]] = (),
    columns: int = COLUMNS,
) -> str:
    """The SVG document: one vertical stroke per column (at least a pixel tall), over shaded
    speech regions (`speech`: start and end seconds) when given."""
    lows, highs = envelope(samples, columns)
    middle = HEIGHT / 2
    strokes = []
    for x, (low, high) in enumerate(zip(lows, highs, strict=True)):
        top = middle - float(high) * (middle - 2)
        bottom = middle - float(low) * (middle - 2)
        if bottom - top < 1:
            top, bottom = middle - 0.5, middle + 0.5
        strokes.append(f"M{x + 0.5:g} {top:.1f}V{bottom:.1f}")
    regions = []
    if duration > 0:
        for start, end in speech:
            left = max(0.0, float(start) / duration) * columns
            right = min(1.0, float(end) / duration) * columns
            if right > left:
                regions.append(
                    f'<rect class="speech" x="{left:.1f}" y="0" width="{right - left:.1f}" '
                    f'height="{HEIGHT}" fill="{SPEECH_COLOUR}"/>'
                )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {columns} {HEIGHT}" '
        f'width="{columns}" height="{HEIGHT}" preserveAspectRatio="none" '
        f'data-columns="{columns}" role="img">'
        f'<rect x="0" y="0" width="{columns}" height="{HEIGHT}" fill="#ffffff"/>'
        + "".join(regions)
        + f'<line x1="0" y1="{middle:g}" x2="{columns}" y2="{middle:g}" stroke="{AXIS_COLOUR}" '
        'stroke-width="0.5"/>'
        f'<path class="wave" d="{"".join(strokes)}" stroke="{WAVE_COLOUR}" stroke-width="1" '
        'fill="none"/></svg>'
    )
