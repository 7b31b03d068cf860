"""Shared pieces of the supervisor: logging, process liveness and stopping."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from callwaiting_tts import env

VAR_DIR = env.BASE_DIR / "var"
DEFAULT_PG_PROBE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_PROBE_URL = "redis://127.0.0.1:6379/0"
STOP_DEADLINE_S = 10.0


def log(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)


def redact(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


class Embedded(Protocol):
    def stop(self) -> None: ...


def die_with_parent() -> None:
    """Runs in the child before exec: if the supervisor is killed outright (SIGKILL), the kernel
    sends the child SIGTERM, so no orphan keeps a port."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    # The whole group: celery's pool processes and beat go with the main process.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL what is left of a child's process group (its own session: only its own)."""
    _signal_group(process, signal.SIGKILL)


def shell_code(returncode: int) -> int:
    """Popen's -N (killed by signal N) as a shell reports it."""
    return 128 - returncode if returncode < 0 else returncode


def stop_processes(
    children: Sequence[tuple[str, subprocess.Popen[bytes]]], deadline_s: float = STOP_DEADLINE_S
) -> None:
    """SIGTERM everything, wait up to the deadline, then SIGKILL what is left."""
    running = [(name, p) for name, p in children if p.poll() is None]
    for _, process in running:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + deadline_s
    for name, process in running:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop in {deadline_s:.0f} s; killing it")
            _signal_group(process, signal.SIGKILL)
            process.wait()
