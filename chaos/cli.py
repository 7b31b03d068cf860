"""`python -m chaos [--only NAME ...] [--keep-logs]`: starts the stack, runs the scenarios in
order, checks the invariants after each, prints one JSON report and exits 1 if anything failed."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Sequence

from chaos import invariants, scenarios
from chaos.stack import chaos_stack, log


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument(
        "--only", action="append", choices=list(scenarios.SCENARIOS), help="run only these"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    parser.add_argument(
        "--cut-within",
        type=float,
        default=scenarios.CUT_WITHIN_S,
        help="seconds a call carried by a killed worker may take to learn of it (default 2)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = _arguments(argv)
    # In the suite's order whatever the order asked: the last moves the stack onto Sentinel.
    names = [name for name in scenarios.SCENARIOS if not options.only or name in options.only]
    scenarios.CUT_WITHIN_S = options.cut_within
    started = time.monotonic()
    report: list[dict[str, object]] = []
    with chaos_stack() as stack:
        ledger = invariants.Ledger(audit=invariants.audit_rows(stack))
        for name in names:
            result = scenarios.run(stack, ledger, name)
            result.failures += [f"invariant: {f}" for f in invariants.check(stack, ledger)]
            log(f"{name}: {'ok' if not result.failures else result.failures}")
            report.append(
                {
                    "scenario": name,
                    "ok": not result.failures,
                    "failures": result.failures,
                    "figures": result.figures,
                }
            )
        logs = stack.logs
        failed = any(not r["ok"] for r in report)
        if options.keep_logs or failed:
            kept = shutil.copytree(logs, f"{logs.parent}-logs", dirs_exist_ok=True)
            log(f"logs: {kept}")
    print(
        json.dumps({"seconds": round(time.monotonic() - started, 1), "scenarios": report}, indent=2)
    )
    return 1 if failed else 0
