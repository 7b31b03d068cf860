"""`make run`'s restart policy: the backoff on its own with given times, one child under an
injected clock, and the real supervisor loop over real processes (SIGKILL, a crash loop,
SIGTERM). No Django database."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from callwaiting_tts import env
from devstack.restarts import Backoff, Children, RestartPolicy

POLICY = RestartPolicy(
    first_wait_s=0.5, max_wait_s=4, stable_after_s=30, crash_loop_exits=5, crash_loop_window_s=60
)
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
CRASHER = [sys.executable, "-c", "import sys; sys.exit(3)"]


def exits(backoff: Backoff, times: list[float], *, run_s: float = 0.1) -> list[float | None]:
    """The waits the backoff gives for exits at these times, each after a run of run_s."""
    return [backoff.exited(1, started_at=now - run_s, now=now) for now in times]


def test_it_doubles_the_wait_up_to_the_cap():
    backoff = Backoff(RestartPolicy(crash_loop_exits=100, crash_loop_window_s=60))
    waits = exits(backoff, [float(t) for t in range(0, 80, 10)])
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_it_resets_the_wait_after_a_stable_run():
    backoff = Backoff(POLICY)
    assert exits(backoff, [1.0, 2.0, 3.0]) == [0.5, 1.0, 2.0]
    # Ran stable_after_s: the fault that made it exit before is gone.
    assert backoff.exited(-9, started_at=10.0, now=10.0 + POLICY.stable_after_s) == 0.5
    # A run just short of it does not reset the doubling.
    assert backoff.exited(-9, started_at=50.0, now=50.0 + POLICY.stable_after_s - 0.1) == 1.0


def test_it_gives_up_on_more_exits_than_the_limit_within_the_window():
    backoff = Backoff(POLICY)
    assert None not in exits(backoff, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert exits(backoff, [6.0]) == [None]
    assert backoff.codes() == [1] * 6


def test_it_forgets_exits_older_than_the_window():
    backoff = Backoff(POLICY)
    # Five exits spread over more than the window: never more than the limit inside it.
    times = [0.0, 20.0, 40.0, 60.0, 80.0, 100.0, 120.0, 140.0]
    assert None not in exits(backoff, times)
    assert len(backoff.codes()) == 4  # 80, 100, 120, 140: those within 60 s of the last


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_child_restarts_only_once_its_wait_is_over_on_the_injected_clock():
    clock = Clock()
    children = Children(POLICY, clock=clock, sleep=lambda s: None)
    children.add("crasher", CRASHER, dict(os.environ))
    try:
        (child,) = children.children
        first = child.process
        assert first.wait(30) == 3
        assert children.step() is None  # the exit is seen: a restart in 0.5 s
        clock.now += 0.4
        assert children.step() is None
        assert child.process is first  # not yet
        clock.now += 0.1
        assert children.step() is None
        assert child.process is not first
        assert child.process.wait(30) == 3
        assert children.step() is None
        assert child.restart_at == clock.now + 1.0  # the second wait doubled
    finally:
        for _, process in children.processes():
            process.kill()
            process.wait()


# --- the real supervisor loop over real processes ---------------------------------------------

SUPERVISE = """
import json, os, sys
from devstack.restarts import RestartPolicy
from devstack.supervisor import stop_on_signals, supervise
stop_on_signals()
commands, policy = json.loads(sys.argv[1]), RestartPolicy(**json.loads(sys.argv[2]))
sys.exit(supervise(commands, dict(os.environ), policy=policy))
"""
STARTED = re.compile(r"stack: (\S+) started \(pid (\d+)\)")


class Supervisor:
    def __init__(self, commands: list[tuple[str, list[str]]], policy: dict[str, float]) -> None:
        argv = [sys.executable, "-c", SUPERVISE, json.dumps(commands), json.dumps(policy)]
        self.process = subprocess.Popen(
            argv, cwd=env.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def started(self) -> list[tuple[str, int]]:
        return [(m[1], int(m[2])) for line in list(self.lines) if (m := STARTED.search(line))]

    def wait_until(self, condition, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "not before the deadline:\n" + self.output()
            time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def supervisors() -> Iterator[list[Supervisor]]:
    made: list[Supervisor] = []
    yield made
    for supervisor in made:
        if supervisor.process.poll() is None:
            supervisor.process.kill()
            supervisor.process.wait()


@pytest.mark.timeout(60)
def test_a_killed_child_is_restarted_and_the_others_keep_running(supervisors):
    supervisor = Supervisor([("a", SLEEPER), ("b", SLEEPER)], {"first_wait_s": 0.2})
    supervisors.append(supervisor)
    supervisor.wait_until(lambda: len(supervisor.started()) == 2)
    first = dict(supervisor.started())
    os.kill(first["a"], signal.SIGKILL)
    supervisor.wait_until(lambda: len(supervisor.started()) == 3)
    name, new_pid = supervisor.started()[-1]
    assert (name, new_pid != first["a"]) == ("a", True)
    assert "a exited with code -9; restarting it in 0.2 s" in supervisor.output()
    assert alive(new_pid)
    assert alive(first["b"])  # b was never touched: the same process
    assert [n for n, _ in supervisor.started()].count("b") == 1
    supervisor.process.send_signal(signal.SIGTERM)
    assert supervisor.process.wait(30) == 0
    supervisor.wait_until(lambda: not alive(new_pid) and not alive(first["b"]))


@pytest.mark.timeout(60)
def test_a_crash_loop_stops_everything_loudly_with_a_non_zero_exit(supervisors):
    policy = {"first_wait_s": 0.05, "max_wait_s": 0.2, "crash_loop_exits": 3}
    supervisor = Supervisor([("sleeper", SLEEPER), ("crasher", CRASHER)], policy)
    supervisors.append(supervisor)
    assert supervisor.process.wait(30) == 3
    output = supervisor.output()
    assert "crasher is crash-looping: it exited 4 times within 60 s (exit codes 3, 3, 3, 3)" in (
        output
    )
    assert "giving up and stopping everything" in output
    assert [name for name, _ in supervisor.started()].count("crasher") == 4
    ((_, sleeper),) = [(n, pid) for n, pid in supervisor.started() if n == "sleeper"]
    assert not alive(sleeper)
