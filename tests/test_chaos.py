"""The fault suite (`make chaos`, chaos/) run whole, as CI runs it: its own PostgreSQL and Redis,
two web processes, two TTS workers, Celery; each fault in turn, the invariants after each, the
Redis primary lost under Sentinel last. The
suite exits 1 when any expectation fails, so this test fails with it; the second test shows the
suite does fail (a bound no real stack meets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from chaos.scenarios import SCENARIOS
from chaos.servers import PG_BIN
from chaos.stack import ROOT

pytestmark = [
    pytest.mark.timeout(420),
    pytest.mark.skipif(
        not (PG_BIN / "initdb").exists(), reason=f"the suite's PostgreSQL needs {PG_BIN}/initdb"
    ),
]


def run_suite(*args: str, timeout: float = 360) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-m", "chaos", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report, done.stderr[-4000:]


# Every fault, in the suite's order (the last moves the stack onto Redis Sentinel).
GATING = list(SCENARIOS)


def test_every_fault_is_survived_with_nothing_lost() -> None:
    code, report, log = run_suite()
    failed = {s["scenario"]: s["failures"] for s in report.get("scenarios", []) if not s["ok"]}
    assert not failed, failed
    assert code == 0, log
    assert [s["scenario"] for s in report["scenarios"]] == GATING


def test_the_suite_fails_when_an_expectation_fails() -> None:
    code, report, log = run_suite("--only", "worker_killed", "--cut-within", "0.001")
    assert code == 1, log
    (scenario,) = report["scenarios"]
    assert any("after the kill" in failure for failure in scenario["failures"])
