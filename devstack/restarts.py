"""Keeping `make run`'s children running: a child that exits is started again after a wait that
doubles with each quick failure, and only a crash loop stops the stack.

A TTS worker, daphne and the Celery worker (with beat) all restart the same way: each holds no
state a restart loses (jobs, streams and beat's schedule live in Redis and PostgreSQL), and one
dead process must not cost the calls the others carry.
"""

from __future__ import annotations

import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from callwaiting_tts import env
from devstack.common import die_with_parent, kill_group, log, shell_code

Clock = Callable[[], float]


@dataclass(frozen=True)
class RestartPolicy:
    first_wait_s: float = 0.5
    max_wait_s: float = 30.0
    # A run this long proves the last fault gone: the next exit waits first_wait_s again.
    stable_after_s: float = 30.0
    # More exits than this within the window is a crash loop: restarting will not mend it.
    crash_loop_exits: int = 5
    crash_loop_window_s: float = 60.0
    poll_s: float = 0.2


class Backoff:
    """One child's restart schedule; times come from the caller's clock."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self.next_wait_s = policy.first_wait_s
        self.exits: deque[tuple[float, int]] = deque()

    def exited(self, code: int, *, started_at: float, now: float) -> float | None:
        """The wait before the restart, or None when the exits within the window make a loop."""
        policy = self.policy
        if now - started_at >= policy.stable_after_s:
            self.next_wait_s = policy.first_wait_s
        self.exits.append((now, code))
        while now - self.exits[0][0] > policy.crash_loop_window_s:
            self.exits.popleft()
        if len(self.exits) > policy.crash_loop_exits:
            return None
        wait, self.next_wait_s = self.next_wait_s, min(self.next_wait_s * 2, policy.max_wait_s)
        return wait

    def codes(self) -> list[int]:
        return [code for _, code in self.exits]


class Child:
    """A named command kept running: `check` notices an exit and restarts once the wait is over."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        child_env: dict[str, str],
        policy: RestartPolicy,
        clock: Clock,
    ) -> None:
        self.name, self.argv, self.child_env, self.clock = name, list(argv), child_env, clock
        self.backoff = Backoff(policy)
        self.restart_at: float | None = None
        self.process = self._launch()

    def _launch(self) -> subprocess.Popen[bytes]:
        process = start_child(self.name, self.argv, self.child_env)
        self.started_at = self.clock()
        self.restart_at = None
        log(f"{self.name} started (pid {process.pid})")
        return process

    def check(self) -> bool:
        """False when the child is in a crash loop."""
        now = self.clock()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.process = self._launch()
            return True
        code = self.process.poll()
        if code is None:
            return True
        # What the dead process left in its group (celery's pool and beat) goes too: a restart
        # beside a leftover beat would run every scheduled task twice.
        kill_group(self.process)
        wait = self.backoff.exited(code, started_at=self.started_at, now=now)
        if wait is None:
            return False
        log(f"{self.name} exited with code {code}; restarting it in {wait:.1f} s")
        self.restart_at = now + wait
        return True

    def give_up_message(self) -> str:
        codes = self.backoff.codes()
        window = self.backoff.policy.crash_loop_window_s
        return (
            f"{self.name} is crash-looping: it exited {len(codes)} times within {window:.0f} s "
            f"(exit codes {', '.join(map(str, codes))}); giving up and stopping everything"
        )


class Children:
    """Every child of the stack, each with its own backoff; one restarting leaves the rest be."""

    def __init__(
        self,
        policy: RestartPolicy | None = None,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy or RestartPolicy()
        self.clock, self.sleep = clock, sleep
        self.children: list[Child] = []

    def add(self, name: str, argv: Sequence[str], child_env: dict[str, str]) -> None:
        self.children.append(Child(name, argv, child_env, self.policy, self.clock))

    def processes(self) -> list[tuple[str, subprocess.Popen[bytes]]]:
        return [(child.name, child.process) for child in self.children]

    def step(self) -> int | None:
        """One pass over the children: None while all is well, else the stack's exit code."""
        for child in self.children:
            if not child.check():
                log(child.give_up_message())
                return shell_code(child.backoff.codes()[-1]) or 1  # giving up is a failure
        return None

    def watch(self, until: Callable[[], bool], timeout: float) -> int | None:
        """Keeps the children running until `until()` holds or the timeout passes (None), or
        until a crash loop (the exit code)."""
        deadline = self.clock() + timeout
        while self.clock() < deadline and not until():
            code = self.step()
            if code is not None:
                return code
            self.sleep(self.policy.poll_s)
        return None

    def keep_running(self) -> int:
        """Until a crash loop, whose exit code it returns (Ctrl-C raises KeyboardInterrupt)."""
        while (code := self.step()) is None:
            self.sleep(self.policy.poll_s)
        return code


def start_child(
    name: str, argv: Sequence[str], child_env: dict[str, str]
) -> subprocess.Popen[bytes]:
    log(f"starting {name}: {' '.join(argv)}")
    # Own session: Ctrl-C reaches only the supervisor, which then stops children in order.
    return subprocess.Popen(
        list(argv),
        cwd=env.BASE_DIR,
        env=child_env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent,  # safe: the supervisor runs no threads
    )
