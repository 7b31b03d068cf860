"""The GPU benchmark's report: the issue's targets as PASS/MISS lines, a JSON file and a
markdown summary named with the machine and the date."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.gpu.playback import LevelSummary

FIRST_CHUNK_TARGET_S = 0.120
COQUI_RATIO_TARGET = 0.5
STREAMS_TARGET = 64
STREAMS_FIRST_CHUNK_P95_S = 0.300


@dataclass(frozen=True)
class Target:
    name: str
    value: str
    target: str
    result: str  # PASS or MISS

    def line(self) -> str:
        return f"{self.result} {self.name}: {self.value} (target {self.target})"


def capacity(levels: list[LevelSummary], *, first_chunk_p95_s: float | None = None) -> int:
    """The most streams of a level at which every stream, in every round, was real time (and,
    if given, the level's first chunk p95 within `first_chunk_p95_s`); 0 if none."""
    passing = [
        level.streams
        for level in levels
        if level.all_realtime
        and level.first_chunk_missing == 0
        and (first_chunk_p95_s is None or _within(level.first_chunk_p95_s, first_chunk_p95_s))
    ]
    return max(passing, default=0)


def targets(levels: list[LevelSummary], coqui: LevelSummary | None) -> list[Target]:
    one = next((level for level in levels if level.streams == 1), None)
    ours = one.first_chunk_p50_s if one is not None else None
    theirs = coqui.first_chunk_p50_s if coqui is not None else None
    ratio = ours / theirs if ours is not None and theirs else None
    streams = capacity(levels, first_chunk_p95_s=STREAMS_FIRST_CHUNK_P95_S)
    return [
        Target(
            "first chunk p50 at 1 stream",
            _ms(ours),
            f"<= {_ms(FIRST_CHUNK_TARGET_S)}",
            _verdict(ours is not None and ours <= FIRST_CHUNK_TARGET_S),
        ),
        Target(
            "first chunk p50 at 1 stream / coqui inference_stream's",
            f"{ratio:.2f} ({_ms(ours)} / {_ms(theirs)})" if ratio is not None else "not measured",
            f"<= {COQUI_RATIO_TARGET}",
            _verdict(ratio is not None and ratio <= COQUI_RATIO_TARGET),
        ),
        Target(
            "streams each faster than real time with first chunk p95 <= 300 ms",
            str(streams),
            f">= {STREAMS_TARGET}",
            _verdict(streams >= STREAMS_TARGET),
        ),
    ]


def result_name(machine: str, stamp: str) -> str:
    """`gpu-<machine>-<stamp>`, e.g. `gpu-nvidia-h100-80gb-hbm3-20261120-101500`."""
    slug = re.sub(r"[^a-z0-9]+", "-", machine.lower()).strip("-") or "unknown"
    return f"gpu-{slug}-{stamp}"


def write(report: dict[str, Any], directory: Path, name: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{name}.json"
    md_path = directory / f"{name}.md"
    json_path.write_text(json.dumps(report, indent=2, default=_plain) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path


def level_dict(level: LevelSummary) -> dict[str, Any]:
    return asdict(level) | {"all_realtime": level.all_realtime}


def markdown(report: dict[str, Any]) -> str:
    machine, config = report["machine"], report["config"]
    lines = [
        f"# XTTS v2 GPU benchmark: {machine['device']}, {report['date']}",
        "",
        f"{config['size']} architecture, random weights, {config['tokens_per_sentence']} audio "
        f"tokens a sentence ({config['audio_s_per_sentence']:.2f} s), {config['dtype']}, "
        f"ours = `{config['ours']}`; torch {machine['torch']}, coqui-tts {machine['coqui_tts']}, "
        f"transformers {machine['transformers']}, Python {machine['python']}.",
        "",
        "## Targets",
        "",
        *(f"- {Target(**t).line()}" for t in report["targets"]),
        "",
        "## Ours, by concurrency",
        "",
        "| streams | rounds | first chunk p50 | p95 | missing | real time | lateness p95 "
        "| aggregate RTF | GPU memory peak | stopped early |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for level in report["ours"]:
        if level.get("skipped"):
            lines.append(f"| {level['streams']} | skipped: {level['skipped']} |||||||||")
            continue
        lines.append(
            f"| {level['streams']} | {level['rounds']} | {_ms(level['first_chunk_p50_s'])} "
            f"| {_ms(level['first_chunk_p95_s'])} | {level['first_chunk_missing']} "
            f"| {level['realtime_streams']}/{level['measured_streams']} "
            f"| {_ms(level['lateness_p95_s'])} | {_num(level['aggregate_rtf'])} "
            f"| {_mib(level.get('max_memory_allocated'))} | {level['stopped_early']} |"
        )
    coqui = report.get("coqui")
    lines += ["", "## coqui-tts `inference_stream`, one stream at a time", ""]
    if coqui:
        lines.append(
            f"{coqui['rounds']} sentences: first chunk p50 {_ms(coqui['first_chunk_p50_s'])}, "
            f"p95 {_ms(coqui['first_chunk_p95_s'])}, RTF {_num(coqui['aggregate_rtf'])}, "
            f"real time {coqui['realtime_streams']}/{coqui['measured_streams']}."
        )
    else:
        lines.append("not measured")
    model = report["model"]
    lines += [
        "",
        f"Model: {model['parameters']:,} parameters, {_mib(model['weights_bytes'])} of weights, "
        f"built in {model['build_s']:.1f} s. Capacity (every stream real time, any first "
        f"chunk): {report['capacity_streams']} streams.",
        "",
    ]
    return "\n".join(lines)


def _within(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _ms(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    return f"{seconds * 1000:.0f} ms"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _mib(nbytes: int | None) -> str:
    return "-" if nbytes is None else f"{nbytes / 2**20:,.0f} MiB"


def _plain(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
