"""The load profile (bench/load/locustfile.py) run by locust, headless, for a few seconds against
the live service: daphne, a real Piper worker, real PostgreSQL and Redis. Locust's own stats
must show every step of a call (turns, barge-ins, hang-ups) and HTTP synthesis, none failed, and
the server's usage records must account for them. No time is asserted: the figures are the
profile's output, not its test."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from billing.models import UsageRecord
from tests.conftest import ROOT, wait_until_sockets_are_done

pytestmark = pytest.mark.django_db(transaction=True)

LOCUSTFILE = ROOT / "bench" / "load" / "locustfile.py"
RUN_SECONDS = 14
# Short calls (a greeting and one reply), half of the turns interrupted early, short pauses: a
# few seconds hold every step of the profile several times over. Realtime pacing (the default)
# keeps a turn's audio flowing for its length, so the barge-ins land mid-turn.
PROFILE = {
    "LOAD_TURNS_PER_CALL": "2,2",
    "LOAD_TURN_INTERVAL_S": "0.2",
    "LOAD_BARGE_IN_PROBABILITY": "0.5",
    "LOAD_BARGE_IN_AFTER_S": "0.2,0.6",
    "LOAD_HTTP_INTERVAL_S": "0.2,0.5",
}
CALL_STEPS = (
    "connect",
    "first audio: greeting",
    "first audio: reply",
    "turn",
    "cancel→cancelled",
    "cancel→silence",
    "hang-up",
)
HTTP_STEPS = ("/v1/synthesize (first byte)", "/v1/audio/speech (first byte)")


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("load")


@pytest.fixture
def locust_run(service, tenant, tts_worker, tmp_path):
    """Locust's exit code, output and CSV stats (by name) after a headless run of 3 callers
    and one HTTP client (the profile's 4:1 weights)."""
    env = {**os.environ, **PROFILE}
    env.update(LOCUST_HOST=service.url, CALLWAITING_API_KEY=tenant.api_key)
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "-u", "4", "-r", "4", "-t", f"{RUN_SECONDS}s", "--only-summary",
            "--csv", str(tmp_path / "load")]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=90, check=False)
    wait_until_sockets_are_done()
    stats = {row["Name"]: row for row in rows(tmp_path / "load_stats.csv")}
    problems = rows(tmp_path / "load_failures.csv") + rows(tmp_path / "load_exceptions.csv")
    return done, stats, problems


def count(stats: dict[str, dict[str, str]], name: str, column: str = "Request Count") -> int:
    return int(stats[name][column]) if name in stats else 0


def test_a_headless_run_has_every_step_of_a_call_none_failed_and_all_of_it_billed(
    locust_run, tenant
):
    done, stats, problems = locust_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert problems == []
    assert count(stats, "Aggregated", "Failure Count") == 0
    for step in CALL_STEPS:
        assert count(stats, step) > 0, f"no '{step}' in {sorted(stats)}"
    # Each barge-in is measured twice: to `cancelled` and to the context's last audio frame.
    assert count(stats, "cancel→silence") == count(stats, "cancel→cancelled")
    http_requests = sum(count(stats, step) for step in HTTP_STEPS)
    assert http_requests > 0
    # The server's side: every turn locust saw end is a completed socket synthesis, every
    # barge-in a cancelled one (there may be more: contexts cut when the run stopped), every
    # HTTP request a completed one.
    usage = UsageRecord.objects.filter(tenant=tenant.tenant)
    socket = usage.filter(source="websocket")
    assert socket.filter(status="completed").count() >= count(stats, "turn")
    assert socket.filter(status="cancelled").count() >= count(stats, "cancel→cancelled")
    assert usage.filter(source__in=("http", "openai"), status="completed").count() >= http_requests
