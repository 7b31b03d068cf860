"""`python -m bench`: set up an isolated stack, measure, tear down, report."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.base import Bench, MeasureError, Options
from bench.heard import measure_heard
from bench.limits import measure_limits
from bench.measures import measure_peer, measure_throughput, measure_ttfb
from bench.memory import measure_rss
from bench.phrases import measure_phrases
from bench.realtime import measure_ws
from bench.report import ERROR, Row, table, write_json
from bench.soak import measure_soak
from bench.stack import SetupError, bench_stack, log
from bench.texts import PARAGRAPH, SENTENCE, VARIED
from bench.xtts import measure_xtts

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"

SECTIONS = (
    "ttfb", "peer", "throughput", "rss", "ws", "limits", "xtts", "heard", "phrases", "soak",
)  # fmt: skip
MEASURES = {
    "ttfb": measure_ttfb,
    "peer": measure_peer,
    "throughput": measure_throughput,
    "rss": measure_rss,
    "ws": measure_ws,
    "limits": measure_limits,
    "xtts": measure_xtts,
    "heard": measure_heard,
    "phrases": measure_phrases,
    "soak": measure_soak,
}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Latency, throughput, a peer comparison, worker memory and the realtime "
        "socket of CallWaiting TTS, "
        "on a scratch database and Redis prefix of its own.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="few iterations: a smoke run of every section"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable); default: all",
    )
    parser.add_argument("--ttfb-requests", type=int, help="timed requests per text (default 30)")
    parser.add_argument(
        "--throughput-seconds", type=float, help="measured window per worker count (default 90)"
    )
    parser.add_argument("--concurrency", type=int, help="concurrent requests (default 20)")
    parser.add_argument("--peer-requests", type=int, help="timed peer requests (default 20)")
    parser.add_argument(
        "--rss-requests", type=int, help="sequential requests of the memory run (default 1000)"
    )
    parser.add_argument(
        "--ws-rounds", type=int, help="rounds of the sentence over one socket (default 30)"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "latest.json", help="the JSON report"
    )
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    options = Options.quick_run() if args.quick else Options()
    overrides = {
        "ttfb_requests": args.ttfb_requests,
        "throughput_seconds": args.throughput_seconds,
        "concurrency": args.concurrency,
        "peer_requests": args.peer_requests,
        "rss_requests": args.rss_requests,
        "ws_rounds_1": args.ws_rounds,
    }
    return dataclasses.replace(options, **{k: v for k, v in overrides.items() if v is not None})


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": _version("onnxruntime"),
        "piper_tts": _version("piper-tts"),
    }


def _clear_logs(logs: Path) -> None:
    if logs.is_dir():
        for old in logs.glob("*.log"):
            old.unlink()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    options = options_from(args)
    sections = [s for s in SECTIONS if not args.only or s in args.only]
    logs = RESULTS / "logs"
    _clear_logs(logs)
    started = time.monotonic()
    document: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "options": dataclasses.asdict(options),
        "sections": sections,
        "texts": {"sentence": SENTENCE, "paragraph": PARAGRAPH, "varied": list(VARIED)},
        "errors": {},
    }
    rows: list[Row] = []
    code = 0
    try:
        with bench_stack(logs) as stack:
            bench = Bench(stack, options)
            rows = bench.rows
            document["details"] = bench.details
            for name in sections:
                log(f"--- {name} ---")
                document["machine"].setdefault("load_average_at_section", {})[name] = list(
                    os.getloadavg()
                )
                try:
                    MEASURES[name](bench)
                except MeasureError as error:
                    log(f"{name}: {error}")
                    document["errors"][name] = str(error)
                    rows.append(Row(name, f"{name} (not measured)", None, None, "", "", None,
                                    verdict=ERROR, note=str(error)))  # fmt: skip
                    code = 1
    except SetupError as error:
        log(f"setup failed: {error}")
        document["errors"]["setup"] = str(error)
        code = 1
    except KeyboardInterrupt:
        log("interrupted")
        document["errors"]["interrupted"] = True
        code = 130
    except Exception as error:
        traceback.print_exc()
        document["errors"]["unexpected"] = repr(error)
        code = 1
    finally:
        document["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        document["duration_seconds"] = round(time.monotonic() - started, 1)
        document["machine"]["load_average_at_end"] = list(os.getloadavg())
        write_json(args.output, document, rows)
        # Each run is also kept under its start time: `latest.json` is only the last one.
        stamp = str(document["started_at"]).replace(":", "").replace("+0000", "Z")
        kept = args.output.with_name(f"run-{stamp}.json")
        write_json(kept, document, rows)
    _print(document, rows, options)
    log(f"JSON report: {args.output} (and {kept.name})")
    return code


def _print(document: dict[str, Any], rows: Sequence[Row], options: Options) -> None:
    info = document["machine"]
    load = ", ".join(f"{v:.2f}" for v in info["load_average"])
    print(
        f"CallWaiting TTS bench, {document['started_at']}: {info['cpus']} CPUs "
        f"(load {load} at start), onnxruntime {info['onnxruntime']}, "
        f"piper-tts {info['piper_tts']}{', QUICK run' if options.quick else ''}; "
        f"{document['duration_seconds']:.0f} s"
    )
    print("PCM s16le at 22050 Hz (the engine's rate); workers with default noise.")
    print()
    print(table(rows) if rows else "(no measurement)")
    sys.stdout.flush()
