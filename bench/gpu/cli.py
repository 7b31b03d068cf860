"""`python -m bench.gpu`: the run itself (see bench/README.md, "GPU benchmark").

Three modes:
  (default)  the full-size architecture on CUDA: coqui's `inference_stream` one stream at a time,
             then ours at 1, 8, 32 and 64 streams, within a time budget (levels that no longer
             fit are reported as skipped); results into bench/results/
  --tiny     the tiny model on the CPU at 1 and 2 streams, in well under a minute (the tests'
             end-to-end run, and a check before a GPU is spent)
  --smoke    imports everything, builds the tiny model on the device, streams one short
             sentence each way; writes nothing (the GPU machine's first minute)
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.gpu.playback import LevelSummary, StreamTrace, decided, summarize
from bench.gpu.report import Target, capacity, level_dict, result_name, targets, write
from bench.gpu.rig import Rig, Size, build_rig
from bench.gpu.streams import RUNNERS, RunnerUnavailable, run_coqui

RESULTS = Path(__file__).resolve().parent.parent / "results"
AUDIO_S_PER_TOKEN = 1024 / 22050  # XTTS v2's GPT code stride at its 22.05 kHz input rate


@dataclass(frozen=True)
class Plan:
    size: Size
    device: str
    dtype: str
    tokens: int
    levels: tuple[int, ...]
    rounds_at_one: int  # rounds at 1 stream; 1 round at every other level
    coqui_rounds: int
    budget_s: float  # for all timed work after the build
    level_cap_s: float  # the most one round of one level may take
    threads: int  # torch CPU threads (0: torch's default)
    # Audio tokens a chunk, ours and coqui's alike; None: each its own default (the engine's
    # as the worker runs it, coqui's 20).
    chunk_tokens: int | None


FULL = Plan("full", "cuda", "fp16", 100, (1, 8, 32, 64), 5, 5, 280.0, 90.0, 0, None)
# Two chunks a sentence, so lateness is measured; small enough for a shared CPU.
TINY = Plan("tiny", "cpu", "fp32", 16, (1, 2), 2, 2, 40.0, 20.0, 1, 8)
SMOKE = Plan("tiny", "auto", "fp32", 8, (1,), 1, 1, 30.0, 15.0, 1, 8)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    plan = _plan(args)
    _say(f"bench.gpu: {plan}")
    started = time.perf_counter()
    import torch

    if plan.threads:
        torch.set_num_threads(plan.threads)
    if plan.device.startswith("cuda") and not torch.cuda.is_available():
        _say("bench.gpu: torch sees no CUDA device (use --tiny on a CPU, or --device cpu)")
        return 2
    import synthesis.engines.xtts_random  # noqa: F401  (coqui-tts: seconds, not the build's)

    built = time.perf_counter()
    rig = build_rig(
        plan.size,
        tokens=plan.tokens,
        device=plan.device,
        dtype=plan.dtype,
        chunk_tokens=plan.chunk_tokens,
    )
    build_s = time.perf_counter() - built
    _say(
        f"built the {plan.size} model on {rig.device} in {build_s:.1f} s "
        f"({rig.parameters:,} parameters); imports and build {time.perf_counter() - started:.1f} s"
    )
    if args.smoke:
        return _smoke(rig, args.ours)
    name = result_name(_machine(rig)["device"], _stamp())

    def save(report: dict[str, Any]) -> None:
        write(report, args.out, name)

    try:
        report = measure(rig, plan, args.ours, build_s=build_s, save=save)
    except RunnerUnavailable as exc:
        _say(f"bench.gpu: {exc}")
        return 2
    for target in report["targets"]:
        print(Target(**target).line())
    print(f"bench.gpu: wrote {args.out / name}.json and .md")
    return 0


def measure(
    rig: Rig,
    plan: Plan,
    ours: str,
    *,
    build_s: float,
    save: Callable[[dict[str, Any]], None] = lambda report: None,
) -> dict[str, Any]:
    """The timed part: warm-ups, coqui's stream, then ours level by level within the budget.
    The report so far is saved after coqui and after every level, so a run stopped from outside
    (the GPU machine's time limit) leaves what it measured; a level that fails (out of GPU
    memory, say) is reported as such and the next one is tried."""
    import torch

    runner = RUNNERS[ours]
    cuda = rig.device.type == "cuda"
    deadline = time.perf_counter() + plan.budget_s
    _say("warming up")
    runner(rig, 1, lambda traces, now: False)
    run_coqui(rig)
    coqui_rounds = []
    for _ in range(plan.coqui_rounds):
        trace = run_coqui(rig)
        coqui_rounds.append(([trace], trace.chunks[-1][0] if trace.chunks else 0.0))
    coqui = summarize(1, coqui_rounds, rig.sample_rate)
    _say(f"coqui inference_stream: first chunk p50 {_s(coqui.first_chunk_p50_s)}")
    levels: list[LevelSummary] = []
    rows: list[dict[str, Any]] = []
    save(_report(rig, plan, ours, build_s, coqui, levels, rows))
    for streams in plan.levels:
        if time.perf_counter() >= deadline:
            rows.append({"streams": streams, "skipped": "out of time"})
            continue
        if cuda:
            torch.cuda.reset_peak_memory_stats(rig.device)
        try:
            rounds = []
            for _ in range(plan.rounds_at_one if streams == 1 else 1):
                cap = min(plan.level_cap_s, max(1.0, deadline - time.perf_counter()))
                rounds.append(_round(rig, runner, streams, cap))
        except RunnerUnavailable:
            raise
        except Exception as exc:  # out of memory, mostly: the next level may fit
            rows.append({"streams": streams, "skipped": f"failed: {exc!r}"[:300]})
            _say(f"ours x{streams}: {rows[-1]['skipped']}")
            if cuda:
                torch.cuda.empty_cache()
            continue
        level = summarize(streams, rounds, rig.sample_rate)
        levels.append(level)
        peak = torch.cuda.max_memory_allocated(rig.device) if cuda else None
        rows.append(level_dict(level) | {"max_memory_allocated": peak})
        _say(
            f"ours x{streams}: first chunk p50 {_s(level.first_chunk_p50_s)} "
            f"p95 {_s(level.first_chunk_p95_s)}, real time {level.realtime_streams}"
            f"/{level.measured_streams}"
        )
        save(_report(rig, plan, ours, build_s, coqui, levels, rows))
    report = _report(rig, plan, ours, build_s, coqui, levels, rows)
    save(report)
    return report


def _report(
    rig: Rig,
    plan: Plan,
    ours: str,
    build_s: float,
    coqui: LevelSummary,
    levels: list[LevelSummary],
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    import torch

    cuda = rig.device.type == "cuda"
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(rig),
        "config": {
            "size": plan.size,
            "dtype": plan.dtype,
            "tokens_per_sentence": plan.tokens,
            "chunk_tokens": plan.chunk_tokens,
            "coqui_chunk_tokens": rig.coqui_chunk_tokens,
            "audio_s_per_sentence": plan.tokens * AUDIO_S_PER_TOKEN,
            "levels": list(plan.levels),
            "rounds_at_one": plan.rounds_at_one,
            "coqui_rounds": plan.coqui_rounds,
            "budget_s": plan.budget_s,
            "level_cap_s": plan.level_cap_s,
            "ours": ours,
            "sample_rate": rig.sample_rate,
        },
        "model": {
            "parameters": rig.parameters,
            "weights_bytes": rig.weights_bytes,
            "build_s": build_s,
            "memory_allocated": torch.cuda.memory_allocated(rig.device) if cuda else None,
        },
        "coqui": level_dict(coqui),
        "ours": list(rows),
        "capacity_streams": capacity(levels),
        "max_memory_allocated": torch.cuda.max_memory_allocated(rig.device) if cuda else None,
        "targets": [target.__dict__ for target in targets(levels, coqui)],
    }


def _round(rig: Rig, runner: Any, streams: int, cap_s: float) -> tuple[list[StreamTrace], float]:
    """One round of a level: every stream asked for at once; stopped after `cap_s`, or, with
    several streams, once every verdict is known (a stream already too late stays so: its
    remaining chunks would only cost time). A lone stream always runs to its end, so its real
    time factor is the whole sentence's. The round's wall time runs to its last chunk."""
    rate = rig.sample_rate

    def stop(traces: list[StreamTrace], now: float) -> bool:
        return now > cap_s or (streams > 1 and decided(traces, now, rate))

    traces: list[StreamTrace] = runner(rig, streams, stop)
    wall = max((trace.chunks[-1][0] for trace in traces if trace.chunks), default=0.0)
    return traces, wall


def _smoke(rig: Rig, ours: str) -> int:
    """One short sentence each way on the device: proof that everything imports and runs."""
    try:
        [trace] = RUNNERS[ours](rig, 1, lambda traces, now: False)
    except RunnerUnavailable as exc:
        _say(f"bench.gpu --smoke: {exc}")
        return 1
    coqui = run_coqui(rig)
    machine = _machine(rig)
    print(
        f"bench.gpu smoke ok on {machine['device']}: ours {len(trace.chunks)} chunk(s), "
        f"{trace.samples} samples; coqui {len(coqui.chunks)} chunk(s), {coqui.samples} samples; "
        f"torch {machine['torch']}, coqui-tts {machine['coqui_tts']}, "
        f"transformers {machine['transformers']}"
    )
    return 0 if trace.samples and coqui.samples else 1


def _machine(rig: Rig) -> dict[str, Any]:
    import torch

    cuda = rig.device.type == "cuda"
    return {
        "device": torch.cuda.get_device_name(rig.device) if cuda else "cpu",
        "cuda": torch.version.cuda if cuda else None,
        "torch": torch.__version__,
        "coqui_tts": _version("coqui-tts"),
        "transformers": _version("transformers"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gpu",
        description="XTTS v2 streaming on a GPU: the full-size architecture with random "
        "weights, ours against coqui-tts's inference_stream (see bench/README.md).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--tiny", action="store_true", help="the tiny model on the CPU, 1-2 streams")
    mode.add_argument("--smoke", action="store_true", help="imports and one short stream")
    parser.add_argument("--ours", choices=sorted(RUNNERS), default="batched")
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda; --tiny: cpu)")
    parser.add_argument("--dtype", choices=("fp32", "fp16", "bf16"))
    parser.add_argument("--tokens", type=int, help="audio tokens per sentence")
    parser.add_argument("--chunk-tokens", type=int, help="audio tokens a chunk (both paths)")
    parser.add_argument("--levels", help="concurrency levels, e.g. 1,8,32,64")
    parser.add_argument("--rounds", type=int, help="rounds at 1 stream")
    parser.add_argument("--coqui-rounds", type=int)
    parser.add_argument("--budget-s", type=float, help="seconds for all timed work")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    return parser


def _plan(args: argparse.Namespace) -> Plan:
    base = SMOKE if args.smoke else TINY if args.tiny else FULL
    changes: dict[str, Any] = {
        "device": args.device,
        "dtype": args.dtype,
        "tokens": args.tokens,
        "chunk_tokens": args.chunk_tokens,
        "levels": tuple(int(n) for n in args.levels.split(",")) if args.levels else None,
        "rounds_at_one": args.rounds,
        "coqui_rounds": args.coqui_rounds,
        "budget_s": args.budget_s,
    }
    values = base.__dict__ | {key: value for key, value in changes.items() if value is not None}
    plan = Plan(**values)
    if plan.dtype == "fp16" and not plan.device.startswith("cuda"):
        plan = Plan(**(plan.__dict__ | {"dtype": "fp32"}))
    return plan


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
