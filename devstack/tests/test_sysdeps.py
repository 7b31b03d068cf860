"""The system-package step of `python -m devstack test`: which packages are missing decides what
apt-get is asked for (the apt call injected), and the real step leaves espeak-ng on PATH."""

from __future__ import annotations

import shutil
from collections.abc import Sequence

import pytest

from devstack import sysdeps

TOOLS = {"espeak-ng": "espeak-ng", "chromium": "chromium", "chromedriver": "chromium-driver"}


class FakeSystem:
    """PATH as a set of executables; a successful apt-get install adds its packages' ones."""

    def __init__(self, present: set[str], *, apt_code: int = 0) -> None:
        self.present = present | {"apt-get"}
        self.apt_code = apt_code
        self.ran: list[list[str]] = []

    def which(self, name: str) -> str | None:
        return f"/usr/bin/{name}" if name in self.present else None

    def run(self, argv: Sequence[str]) -> int:
        self.ran.append(list(argv))
        if self.apt_code == 0 and argv[1] == "install":
            by_package = {package: exe for exe, package in TOOLS.items()}
            self.present |= {by_package[p] for p in argv if p in by_package}
        return self.apt_code


def test_nothing_runs_when_every_executable_is_there() -> None:
    system = FakeSystem(set(TOOLS))
    still = sysdeps.ensure_system_packages(
        TOOLS, which=system.which, is_root=lambda: True, run=system.run
    )
    assert still == []
    assert system.ran == []


def test_root_updates_once_and_installs_only_the_missing_packages() -> None:
    system = FakeSystem({"chromium"})
    still = sysdeps.ensure_system_packages(
        TOOLS, which=system.which, is_root=lambda: True, run=system.run
    )
    assert system.ran == [
        ["apt-get", "update", "-qq"],
        [
            "apt-get", "install", "-y", "-qq", "--no-install-recommends",
            "chromium-driver", "espeak-ng",
        ],
    ]  # fmt: skip
    assert still == []


def test_one_package_for_two_executables_is_installed_once() -> None:
    tools = {"espeak-ng": "espeak-ng", "speak-ng": "espeak-ng"}
    assert sysdeps.missing_packages(tools, which=lambda name: None) == ["espeak-ng"]


def test_not_root_names_the_packages_and_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    system = FakeSystem(set())
    still = sysdeps.ensure_system_packages(
        TOOLS, which=system.which, is_root=lambda: False, run=system.run
    )
    assert system.ran == []
    assert still == ["chromium", "chromium-driver", "espeak-ng"]
    err = capsys.readouterr().err
    assert "not root" in err
    assert "apt-get install -y --no-install-recommends chromium chromium-driver espeak-ng" in err


def test_root_without_apt_get_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    system = FakeSystem(set())
    system.present.discard("apt-get")
    still = sysdeps.ensure_system_packages(
        {"espeak-ng": "espeak-ng"}, which=system.which, is_root=lambda: True, run=system.run
    )
    assert system.ran == []
    assert still == ["espeak-ng"]
    assert "no apt-get" in capsys.readouterr().err


def test_a_failed_update_stops_before_install_and_reports_what_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    system = FakeSystem(set(), apt_code=100)
    still = sysdeps.ensure_system_packages(
        {"espeak-ng": "espeak-ng"}, which=system.which, is_root=lambda: True, run=system.run
    )
    assert system.ran == [["apt-get", "update", "-qq"]]
    assert still == ["espeak-ng"]
    err = capsys.readouterr().err
    assert "failed with code 100" in err
    assert "still missing after apt-get: espeak-ng" in err


def test_the_suite_needs_espeak_ng() -> None:
    assert sysdeps.SYSTEM_TOOLS["espeak-ng"] == "espeak-ng"


def test_the_suite_needs_promtool_from_debians_prometheus() -> None:
    # tests/test_alerts.py checks and unit-tests the alert rules with it.
    assert sysdeps.SYSTEM_TOOLS["promtool"] == "prometheus"


def test_espeak_ng_is_on_path_after_the_real_step() -> None:
    # The step `make test` runs before pytest (as root on CI it installs the package).
    still = sysdeps.ensure_system_packages()
    assert still == [], f"missing system packages: {still} (see the log above)"
    assert shutil.which("espeak-ng"), "espeak-ng is not on PATH: apt-get install espeak-ng"
