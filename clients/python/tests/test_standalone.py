"""The client is a package of its own: it imports without any of the server's code, and it
installs with pip into an empty virtual environment with websockets as its only dependency.
Offline: nothing is fetched, websockets is lent from the environment running these tests."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import websockets

PROJECT = Path(__file__).resolve().parent.parent  # clients/python: pyproject.toml and the package
REPOSITORY = PROJECT.parent.parent  # the server's checkout, when the client lives in it
# The server's packages and its frameworks; numpy too, which the client no longer needs.
SERVER_MODULES = (
    *("django", "callwaiting_tts", "synthesis", "tenants", "billing", "voices"),
    *("channels", "daphne", "rest_framework", "django_tenants", "celery", "numpy"),
)
# __main__ runs (as `-m` does) but is not left in sys.modules.
MODULES = {
    "callwaiting_tts_client",
    "callwaiting_tts_client.audio",
    "callwaiting_tts_client.cli",
    "callwaiting_tts_client.protocol",
    "callwaiting_tts_client.stream",
}

# Refuses the server's modules, imports every module of the package (and runs `-m ... --help`),
# then reports what it loaded and that the refusal works. The server's checkout is on the path, so
# without the guard a stray import would succeed quietly.
IMPORT_EVERYTHING = textwrap.dedent(
    """
    import importlib, importlib.abc, json, pkgutil, runpy, sys

    REFUSED = set(sys.argv[1:])

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in REFUSED:
                raise ImportError(f"refused: {name}")
            return None

    sys.meta_path.insert(0, Refuse())
    import callwaiting_tts_client

    for info in pkgutil.walk_packages(callwaiting_tts_client.__path__, "callwaiting_tts_client."):
        if info.name != "callwaiting_tts_client.__main__":
            importlib.import_module(info.name)
    sys.argv = ["callwaiting_tts_client", "--help"]
    try:
        runpy.run_module("callwaiting_tts_client", run_name="__main__", alter_sys=True)
    except SystemExit as exit:
        assert exit.code == 0, exit.code
    modules = sorted(sys.modules)
    try:
        import tenants
    except ImportError as error:
        probe = str(error)
    else:
        probe = "imported"
    print(json.dumps({"modules": modules, "probe": probe}))
    """
)

# Runs protocol.py with the standard library alone (-I -S: no site-packages, no PYTHONPATH).
RUN_PROTOCOL = textwrap.dedent(
    """
    import json, runpy, sys

    namespace = runpy.run_path(sys.argv[1])
    outside = sorted(
        name for name in sys.modules
        if name != "__main__"
        and name.partition(".")[0] not in sys.stdlib_module_names | set(sys.builtin_module_names)
    )
    print(json.dumps({"version": namespace["PROTOCOL_VERSION"], "outside": outside}))
    """
)


def python_path(*directories: Path) -> str:
    return os.pathsep.join(str(directory) for directory in directories)


def test_importing_the_client_loads_none_of_the_server(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": python_path(PROJECT, REPOSITORY)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING, *SERVER_MODULES],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["probe"] == "refused: tenants"
    assert set(report["modules"]) >= MODULES
    assert [m for m in report["modules"] if m.partition(".")[0] in SERVER_MODULES] == []


def test_the_protocol_module_needs_only_the_standard_library() -> None:
    # The server imports protocol.py too: it must load where not even websockets is installed.
    protocol = PROJECT / "callwaiting_tts_client" / "protocol.py"
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", RUN_PROTOCOL, str(protocol)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"version": 1, "outside": []}


def can_build_wheels() -> bool:
    """setuptools builds wheels by itself from 70.1 on; before, it needs the `wheel` package."""
    spec = importlib.util.find_spec("setuptools")
    if spec is None or not spec.submodule_search_locations:
        return False
    own = Path(next(iter(spec.submodule_search_locations)), "command", "bdist_wheel.py")
    return own.is_file() or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment (no pip, nothing in it) with the package installed by pip from
    a wheel of a clean copy of clients/python; the copy keeps build/ and *.egg-info out of the
    source tree."""
    if not can_build_wheels():
        pytest.skip(
            "this environment's setuptools cannot build a wheel offline (it needs >= 70.1, "
            "which requirements/dev.txt pins: reinstall the venv)"
        )
    root = tmp_path_factory.mktemp("standalone")
    source = root / "source"
    shutil.copytree(
        PROJECT,
        source,
        ignore=shutil.ignore_patterns("tests", "build", "dist", "*.egg-info", "__pycache__"),
    )
    # The wheel is built by this environment's setuptools (no build isolation: offline) and
    # installed by this pip into the new environment, which has no pip of its own.
    pip("wheel", "--no-build-isolation", "--wheel-dir", str(root / "dist"), str(source))
    [wheel] = (root / "dist").glob("callwaiting_tts_client-*.whl")
    venv = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pip("install", str(wheel), target=venv / "bin" / "python")
    return venv


def pip(command: str, *args: str, target: Path | None = None) -> None:
    """This environment's pip, offline; `target`: acting on another environment's Python."""
    general = ["--quiet", "--disable-pip-version-check"]
    if target is not None:
        general += ["--python", str(target)]
    done = subprocess.run(
        [sys.executable, "-m", "pip", *general, command, "--no-index", "--no-deps", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def run_in(
    venv: Path, *command: str, lend_websockets: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"}
    if lend_websockets:
        # Only websockets, from this environment: the fresh one has no network to fetch it.
        lender = venv.parent / "lent"
        lender.mkdir(exist_ok=True)
        link = lender / "websockets"
        if not link.exists():
            link.symlink_to(Path(websockets.__file__).parent, target_is_directory=True)
        env["PYTHONPATH"] = str(lender)
    return subprocess.run(
        list(command),
        cwd=venv.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_installed_metadata_declares_websockets_and_nothing_of_the_server(
    installed: Path,
) -> None:
    done = run_in(
        installed,
        str(installed / "bin" / "python"),
        "-c",
        "import importlib.metadata as m, json;"
        "d = m.distribution('callwaiting-tts-client');"
        "print(json.dumps([d.requires, d.metadata['Requires-Python'],"
        " [(e.name, e.value) for e in d.entry_points if e.group == 'console_scripts']]))",
    )
    assert done.returncode == 0, done.stderr
    requires, requires_python, scripts = json.loads(done.stdout)
    runtime = [r for r in requires if "extra ==" not in r]
    assert {re.split(r"[^A-Za-z0-9._-]", r, maxsplit=1)[0].lower() for r in runtime} == {
        "websockets"
    }
    assert not [r for r in requires if "django" in r.lower()]
    assert requires_python == ">=3.11"
    assert scripts == [["callwaiting-tts-client", "callwaiting_tts_client.cli:main"]]


def test_the_installed_command_and_module_run(installed: Path) -> None:
    script = run_in(installed, "callwaiting-tts-client", "--help", lend_websockets=True)
    assert script.returncode == 0, script.stderr
    assert script.stdout.startswith("usage: callwaiting-tts-client ")
    assert "--stream-words SECONDS" in script.stdout
    module = run_in(
        installed,
        str(installed / "bin" / "python"),
        "-m",
        "callwaiting_tts_client",
        "--help",
        lend_websockets=True,
    )
    assert module.returncode == 0, module.stderr
    assert module.stdout.startswith("usage: python -m callwaiting_tts_client ")
    # Without a key it is a usage error (exit 2), as before the move.
    no_key = run_in(installed, "callwaiting-tts-client", "Hello.", lend_websockets=True)
    assert no_key.returncode == 2
    assert "CALLWAITING_API_KEY" in no_key.stderr


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Path) -> None:
    done = run_in(
        installed,
        str(installed / "bin" / "python"),
        "-c",
        "import callwaiting_tts_client.protocol as p; print(p.__file__)",
        lend_websockets=True,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(installed)
    assert (Path(done.stdout.strip()).parent / "py.typed").is_file()
