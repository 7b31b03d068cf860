"""SSML behaviour, measured on real synthesized audio: `ssml_behaviour_cases.jsonl`.

Each row's document goes through the same front-end and engine mapping as a request
(`prepare` → `engine_segments`) and the Piper engine synthesizes it in this process. Then:

- breaks (`silence_ms_between`, `silence_ms_after`, `max_silence_ms`): the length of the quiet
  run (every sample under -46 dBFS) at the join after the segment the break follows;
- break strengths (`ordering`): the longest quiet run inside the speech, per strength, ordered;
- rates (`duration_ratio_vs_100pct`, `duration_order`): speech duration (leading and trailing
  quiet removed) against the same text at rate 100 %, measured in this run;
- volume (`rms_change_db`, `rms_order`) and pitch (`f0_change_pct`, `f0_order`): RMS and median
  F0 of the changed segment against the same document with the change removed;
- `asr_*` and `plain_text`: no speech recognizer can run here, so these are checked on the
  text the engine is given (normalized, case and punctuation ignored), and reported as such;
- `valid`: false rows must be rejected; `reject_or_clamp` rows pass rejected or clamped within
  the documented maximum.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from conformance.paths import suite_dir
from synthesis.contract.plan import engine_segments
from synthesis.contract.segments import Chunk
from synthesis.engines.base import Engine
from synthesis.text.frontend import prepare
from synthesis.text.model import NEUTRAL, Plan, Prosody
from synthesis.text.ssml import SsmlError

# Rows this project reads differently on purpose, with the reason (they still count as misses).
KNOWN_DIFFERENCES = {
    "polly-sayas-cardinal-1234": "cardinals keep the 'and' (one thousand two hundred and thirty "
    "four): the text-normalization suite asks for it in every locale",
    "polly-sayas-number-1234": "as polly-sayas-cardinal-1234",
    "emotech-break-parse": "lenient mode still enforces the safety limits: a 412 s break is "
    "over the 10 s maximum",
    "emotech-rate-pct-.5%": "a rate of 0.5 % (200 times slower) is outside the 10-400 % range",
}

QUIET = 0.005 * 32767  # the engine's own silence threshold (about -46 dBFS)
BREAK_TOLERANCE_MS = 20.0
BREAK_TOLERANCE_REL = 0.03


@dataclass
class Audio:
    plan: Plan
    pcm: np.ndarray
    segment_bounds: list[tuple[int, int]]  # [start, end) samples of each segment
    rate: int

    def segment(self, index: int) -> np.ndarray:
        start, end = self.segment_bounds[index]
        return self.pcm[start:end]


@dataclass
class Outcome:
    id: str
    kind: str
    passed: bool
    detail: str


@dataclass
class BehaviourReport:
    outcomes: list[Outcome] = field(default_factory=list)

    def by_kind(self) -> dict[str, tuple[int, int]]:
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for outcome in self.outcomes:
            totals[outcome.kind][0] += 1
            totals[outcome.kind][1] += outcome.passed
        return {kind: (total, passed) for kind, (total, passed) in sorted(totals.items())}

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)


def load_rows(directory: Path | None = None) -> list[dict[str, Any]]:
    path = (directory or suite_dir()) / "ssml" / "ssml_behaviour_cases.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def synthesize(engine: Engine, plan: Plan) -> Audio:
    chunks: list[Chunk] = list(
        engine.stream(engine_segments(plan, language="en-US"), voice=engine.voices()[0].id)
    )
    bounds: list[tuple[int, int]] = []
    position = 0
    for index in range(len(plan.segments)):
        length = sum(c.samples for c in chunks if c.segment == index)
        bounds.append((position, position + length))
        position += length
    pcm = np.frombuffer(b"".join(c.pcm for c in chunks), dtype=np.int16)
    return Audio(plan=plan, pcm=pcm, segment_bounds=bounds, rate=engine.sample_rate)


def quiet_runs(pcm: np.ndarray) -> list[tuple[int, int]]:
    quiet = (np.abs(pcm.astype(np.int32)) < QUIET).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet, [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def quiet_ms_at(audio: Audio, position: int) -> float:
    for start, end in quiet_runs(audio.pcm):
        if start <= position <= end:
            return (end - start) * 1000 / audio.rate
    return 0.0


def longest_inner_quiet_ms(audio: Audio) -> float:
    runs = [(a, b) for a, b in quiet_runs(audio.pcm) if a > 0 and b < len(audio.pcm)]
    return max(((b - a) * 1000 / audio.rate for a, b in runs), default=0.0)


def speech_seconds(pcm: np.ndarray, rate: int) -> float:
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) >= QUIET)
    return 0.0 if not loud.size else (int(loud[-1]) - int(loud[0]) + 1) / rate


def rms_db(pcm: np.ndarray) -> float:
    loud = pcm[np.abs(pcm.astype(np.int32)) >= QUIET].astype(np.float64)
    return 20 * math.log10(math.sqrt(float(np.mean(loud**2))) + 1e-9) if loud.size else -200.0


def median_f0(pcm: np.ndarray, rate: int) -> float:
    """Median F0 in Hz over voiced 40 ms frames, by normalized autocorrelation (60-400 Hz)."""
    frame, hop = rate * 40 // 1000, rate * 10 // 1000
    low, high = rate // 400, rate // 60
    signal = pcm.astype(np.float64)
    values: list[float] = []
    for start in range(0, len(signal) - frame - high, hop):
        window = signal[start : start + frame + high]
        head = window[:frame]
        energy = float(np.dot(head, head))
        if energy < (QUIET * 4) ** 2 * frame:
            continue
        scores = [
            float(np.dot(head, window[lag : lag + frame]))
            / math.sqrt(
                energy * float(np.dot(window[lag : lag + frame], window[lag : lag + frame])) + 1e-9
            )
            for lag in range(low, high)
        ]
        best = int(np.argmax(scores))
        if scores[best] > 0.7:
            values.append(rate / (low + best))
    return float(np.median(values)) if values else 0.0


def comparable(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _spoken(plan: Plan) -> str:
    return comparable(" ".join(s.text for s in plan.segments))


class Runner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.report = BehaviourReport()
        self._cache: dict[str, Audio] = {}

    def audio(self, ssml: str) -> Audio:
        if ssml not in self._cache:
            self._cache[ssml] = synthesize(self.engine, prepare(ssml=ssml))
        return self._cache[ssml]

    def add(self, row: dict[str, Any], kind: str, passed: bool, detail: str) -> None:
        self.report.outcomes.append(Outcome(row["id"], kind, bool(passed), detail))

    def run(self, rows: Sequence[dict[str, Any]]) -> BehaviourReport:
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            self.row(row)
            expect = row["expect"]
            if "ordering" in expect:
                groups["ordering"].append(row)
            if "duration_order" in expect:
                groups["duration_order"].append(row)
        self.break_strength_order(groups["ordering"])
        self.rate_order(groups["duration_order"])
        return self.report

    def row(self, row: dict[str, Any]) -> None:
        expect = row["expect"]
        valid = expect.get("valid")
        lenient = valid == "lenient-parser-accepts"  # the row is about the lenient mode
        try:
            plan = prepare(ssml=row["ssml"], lenient=lenient)
        except SsmlError as error:
            accepted = valid is False or valid in ("reject_or_clamp", "plain-text-or-reject")
            self.add(row, "validity", accepted, f"rejected: {error.code}")
            return
        if valid is False:
            self.add(row, "validity", False, "accepted a document that must be rejected")
            return
        self.add(row, "validity", True, "accepted")
        checks: list[tuple[str, Callable[[dict[str, Any], Plan], tuple[bool, str]]]] = [
            ("silence_ms_between", self.silence_between),
            ("silence_ms_after", self.silence_after),
            ("max_silence_ms", self.max_silence),
            ("duration_ratio_vs_100pct", self.duration_ratio),
            ("rms_change_db", self.rms_change),
            ("rms_order", self.rms_order),
            ("f0_change_pct", self.f0_change),
            ("f0_order", self.f0_order),
            ("asr_contains", self.text_contains),
            ("asr_not_contains", self.text_not_contains),
            ("asr_text", self.text_equals),
        ]
        for key, check in checks:
            if key in expect and (key != "asr_contains" or expect[key]):
                passed, detail = check(row, plan)
                self.add(row, key, passed, detail)

    def _break_gap_ms(self, row: dict[str, Any]) -> float:
        audio = self.audio(row["ssml"])
        paused = [i for i, s in enumerate(audio.plan.segments) if s.pause_after_ms > 0]
        if not paused:
            return longest_inner_quiet_ms(audio)
        return quiet_ms_at(audio, audio.segment_bounds[paused[0]][1] - 1)

    def silence_between(self, row: dict[str, Any], plan: Plan) -> tuple[bool, str]:
        expected = float(row["expect"]["silence_ms_between"][2])
        measured = self._break_gap_ms(row)
        tolerance = max(BREAK_TOLERANCE_MS, expected * BREAK_TOLERANCE_REL)
        return abs(measured - expected) <= tolerance, f"{measured:.0f} ms (want {expected:.0f})"

    def silence_after(self, row: dict[str, Any], plan: Plan) -> tuple[bool, str]:
        expected = float(row["expect"]["silence_ms_after"][1])
        measured = self._break_gap_ms(row)
        tolerance = max(BREAK_TOLERANCE_MS, expected * BREAK_TOLERANCE_REL)
        return abs(measured - expected) <= tolerance, f"{measured:.0f} ms (want {expected:.0f})"

    def max_silence(self, row: dict[str, Any], plan: Plan) -> tuple[bool, str]:
        limit = float(row["expect"]["max_silence_ms"])
        measured = self._break_gap_ms(row)
        return measured <= limit + BREAK_TOLERANCE_MS, f"clamped to {measured:.0f} ms"

    def duration_ratio(self, row: dict[str, Any], plan: Plan) -> tuple[bool, str]:
        expect = row["expect"]
        changed = self.audio(row["ssml"])
        base = self.audio(re.sub(r'rate="[^"]*"', 'rate="100%"', row["ssml"]))
        ratio = speech_seconds(changed.pcm, changed.rate) / speech_seconds(base.pcm, base.rate)
        want = float(expect["duration_ratio_vs_100pct"])
        ok = abs(ratio - want) <= float(expect.get("tolerance", 0.25)) * want
        return ok, f"ratio {ratio:.2f} (want {want})"

    def _changed_segment(self, row: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """The audio of the first segment whose volume or pitch differs from neutral, and of the
        same text with neutral prosody (both alone: Piper makes each segment on its own)."""
        plan = prepare(ssml=row["ssml"])
        changed = next(
            (s for s in plan.segments if (s.prosody.volume_db, s.prosody.pitch_st) != (0.0, 0.0)),
            plan.segments[-1],
        )

        def alone(prosody: Prosody) -> np.ndarray:
            segment = replace(changed, prosody=prosody, pause_after_ms=0, marks=())
            return synthesize(self.engine, Plan([segment], segment.chars)).pcm

        return alone(changed.prosody), alone(NEUTRAL)

    def rms_change(self, row: dict[str, Any], plan: Plan) -> tuple[bool, str]:
        changed, base = self._changed_segment(row)
        delta = rms_db(changed) - rms_db(base)
        want, tolerance = (
            float(row["expect"]["rms_change_db"]),
            float(row["expect"]["tolerance_db"]),
        )
        return abs(delta - want) <= tolerance, f"{delta:+.1f} dB (want {want:+.0f})"

    def rms_order(self, row: dict[str, Any], plan: Plan) -> tuple[bool, str]:
        changed, base = self._changed_segment(row)
        delta = rms_db(changed) - rms_db(base)
        return delta > 1.0, f"{delta:+.1f} dB louder"

    def f0_change(self, row: dict[str, Any], plan: Plan) -> tuple[bool, str]:
        changed, base = self._changed_segment(row)
        before = median_f0(base, self.engine.sample_rate)
        after = median_f0(changed, self.engine.sample_rate)
        change = (after / before - 1) * 100 if before else 0.0
        want, tolerance = (
            float(row["expect"]["f0_change_pct"]),
            float(row["expect"]["tolerance_pct"]),
        )
        return abs(change - want) <= tolerance, f"{change:+.1f} % (want {want:+.0f})"

    def f0_order(self, row: dict[str, Any], plan: Plan) -> tuple[bool, str]:
        changed, base = self._changed_segment(row)
        before = median_f0(base, self.engine.sample_rate)
        after = median_f0(changed, self.engine.sample_rate)
        return after > before * 1.03, f"{before:.0f} Hz -> {after:.0f} Hz"

    def text_contains(self, row: dict[str, Any], plan: Plan) -> tuple[bool, str]:
        spoken = _spoken(plan)
        wanted = [str(w) for w in row["expect"]["asr_contains"]]
        ok = (
            any(comparable(w) in spoken for w in wanted)
            if "either" in row["expect"].get("note", "")
            else all(comparable(w) in spoken for w in wanted)
        )
        return ok, f"engine text: {spoken!r}"

    def text_not_contains(self, row: dict[str, Any], plan: Plan) -> tuple[bool, str]:
        spoken = _spoken(plan)
        unwanted = [comparable(str(w)) for w in row["expect"]["asr_not_contains"]]
        return not any(w in spoken for w in unwanted), f"engine text: {spoken!r}"

    def text_equals(self, row: dict[str, Any], plan: Plan) -> tuple[bool, str]:
        spoken = _spoken(plan)
        return comparable(row["expect"]["asr_text"]) in spoken, f"engine text: {spoken!r}"

    def break_strength_order(self, rows: Sequence[dict[str, Any]]) -> None:
        gaps: dict[str, float] = {}
        for row in rows:
            match = re.search(r'strength="([a-z-]+)"', row["ssml"])
            if match:
                gaps[match.group(1)] = longest_inner_quiet_ms(self.audio(row["ssml"]))
        order = ["none", "x-weak", "weak", "medium", "strong", "x-strong"]
        if not all(name in gaps for name in order):
            return
        g = [gaps[name] for name in order]
        ok = (
            abs(g[0] - g[1]) <= BREAK_TOLERANCE_MS
            and g[1] <= g[2]
            and abs(g[2] - g[3]) <= (BREAK_TOLERANCE_MS)
            and g[3] <= g[4] <= g[5]
        )
        detail = ", ".join(f"{name} {gap:.0f} ms" for name, gap in gaps.items())
        for row in rows:
            self.add(row, "ordering", ok, detail)

    def rate_order(self, rows: Sequence[dict[str, Any]]) -> None:
        durations: dict[str, float] = {}
        for row in rows:
            match = re.search(r'rate="([a-z-]+)"', row["ssml"])
            if match:
                audio = self.audio(row["ssml"])
                durations[match.group(1)] = speech_seconds(audio.pcm, audio.rate)
        order = ["x-slow", "slow", "medium", "fast", "x-fast"]
        if not all(name in durations for name in order):
            return
        values = [durations[name] for name in order]
        ok = all(a > b for a, b in itertools.pairwise(values))
        detail = ", ".join(f"{name} {durations[name]:.2f} s" for name in order)
        for row in rows:
            self.add(row, "duration_order", ok, detail)


def run_behaviour(engine: Engine, directory: Path | None = None) -> BehaviourReport:
    return Runner(engine).run(load_rows(directory))


def format_report(report: BehaviourReport) -> str:
    lines = ["SSML behaviour (ssml_behaviour_cases.jsonl), measured on Piper audio", ""]
    lines.append(f"{'check':<28}{'rows':>6}{'passed':>8}{'rate':>9}")
    for kind, (total, passed) in report.by_kind().items():
        lines.append(f"{kind:<28}{total:>6}{passed:>8}{passed / total:>9.1%}")
    total = len(report.outcomes)
    lines.append(
        f"{'all checks':<28}{total:>6}{report.passed:>8}{report.passed / max(total, 1):>9.1%}"
    )
    misses = [o for o in report.outcomes if not o.passed]
    if misses:
        lines += ["", "misses:"]
        for o in misses:
            lines.append(f"  {o.id} [{o.kind}]: {o.detail}")
            if o.id in KNOWN_DIFFERENCES:
                lines.append(f"      known difference: {KNOWN_DIFFERENCES[o.id]}")
    return "\n".join(lines)
