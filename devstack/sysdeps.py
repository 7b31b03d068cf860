"""System executables the test suite runs, installed from Debian when `make test` may.

`python -m devstack test` calls `ensure_system_packages()` before pytest. When an executable of
`SYSTEM_TOOLS` is missing and we are root with apt-get, it runs `apt-get update` once and
`apt-get install -y --no-install-recommends` for the missing packages (CI: a fresh Debian
machine, as root). Otherwise it names the packages to install and carries on: the tests that
need them then fail, saying which executable they lack.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence

from devstack.common import log

# executable -> the Debian package that provides it
SYSTEM_TOOLS: dict[str, str] = {
    "espeak-ng": "espeak-ng",  # a second, different speaker in the voice tests
    "chromium": "chromium",  # the portal's browser tests (Playwright drives /usr/bin/chromium)
    "promtool": "prometheus",  # checks and unit-tests the alert rules (tests/test_alerts.py)
}

Which = Callable[[str], str | None]
Runner = Callable[[Sequence[str]], int]


def missing_packages(
    tools: Mapping[str, str] = SYSTEM_TOOLS, which: Which = shutil.which
) -> list[str]:
    """The packages whose executable is not on PATH, each once, sorted."""
    return sorted({package for executable, package in tools.items() if which(executable) is None})


def apt_commands(packages: Sequence[str]) -> list[list[str]]:
    return [
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ]


def run_apt(argv: Sequence[str]) -> int:
    """Runs one apt-get command quietly; its output is logged only when it fails."""
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(list(argv), env=apt_env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        for line in (done.stdout + done.stderr).strip().splitlines()[-20:]:
            log(f"  {line}")
    return done.returncode


def _is_root() -> bool:
    return os.geteuid() == 0


def ensure_system_packages(
    tools: Mapping[str, str] = SYSTEM_TOOLS,
    *,
    which: Which = shutil.which,
    is_root: Callable[[], bool] = _is_root,
    run: Runner = run_apt,
) -> list[str]:
    """Installs the packages of missing executables when it can; returns those still missing."""
    missing = missing_packages(tools, which)
    if not missing:
        return []
    names = " ".join(missing)
    if not is_root() or which("apt-get") is None:
        why = "not root" if which("apt-get") is not None else "no apt-get"
        log(
            f"missing system packages for the tests ({why}): {names}; install them with "
            f"`sudo apt-get install -y --no-install-recommends {names}`. "
            "The tests that need them will fail until then."
        )
        return missing
    log(f"installing system packages the tests need: {names}")
    for argv in apt_commands(missing):
        log(" ".join(argv))
        code = run(argv)
        if code != 0:
            log(f"`{' '.join(argv)}` failed with code {code}")
            break
    still = missing_packages(tools, which)
    if still:
        log(f"still missing after apt-get: {' '.join(still)}; the tests that need them will fail")
    return still
