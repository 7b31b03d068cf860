"""The service's processes (`run`) and the test suite (`test`), and their signals."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

from callwaiting_tts import env
from devstack.common import VAR_DIR, die_with_parent, log, stop_processes
from devstack.redis_server import free_port
from devstack.services import Services, services
from devstack.sysdeps import ensure_system_packages

# --- child processes --------------------------------------------------------------------------


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


def run_step(name: str, argv: Sequence[str], child_env: dict[str, str]) -> int:
    log(f"{name}: {' '.join(argv)}")
    return subprocess.run(list(argv), cwd=env.BASE_DIR, env=child_env, check=False).returncode


def shell_code(returncode: int) -> int:
    """Popen's -N (killed by signal N) as a shell reports it."""
    return 128 - returncode if returncode < 0 else returncode


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_for_port(
    host: str, port: int, children: list[tuple[str, subprocess.Popen[bytes]]], timeout: float = 60.0
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(p.poll() is None for _, p in children):
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return True
        time.sleep(0.2)
    return False


def _banner(url: str, choice: dict[str, str]) -> None:
    rule = "=" * 72
    log(rule)
    log(f"CallWaiting TTS is running at {url}")
    log(f"  API {url}v1/   docs {url}v1/docs/   admin {url}admin/")
    log(f"  database: {choice['database']}   redis: {choice['redis']}   Ctrl-C stops everything")
    log(rule)


def _watch(children: list[tuple[str, subprocess.Popen[bytes]]]) -> int:
    while True:
        for name, process in children:
            code = process.poll()
            if code is not None:
                log(f"{name} exited with code {code}; stopping the rest")
                return shell_code(code) or 1
        time.sleep(0.5)


def _prepare(child_env: dict[str, str]) -> int:
    # django-tenants' `migrate` migrates the public schema and then every tenant schema.
    for name, args in (("migrate", ["migrate", "--noinput"]), ("demo", ["ensure_demo_tenant"])):
        code = run_step(name, [sys.executable, "manage.py", *args], child_env)
        if code != 0:
            log(f"{name} failed with code {code}")
            return code
    return 0


def tts_engines() -> list[str]:
    """The engines the deployment runs, as settings read them (TTS_ENGINES, else TTS_ENGINE)."""
    names = os.environ.get("TTS_ENGINES") or os.environ.get("TTS_ENGINE") or "piper"
    return [name.strip() for name in names.split(",") if name.strip()]


def tts_worker_count(engine: str, *, first: bool) -> int:
    """TTS_WORKERS_<ENGINE> if set; else, for the first engine, TTS_WORKERS or one per core (the
    CPU engine runs one single-threaded onnxruntime session per core), and one for each other
    (a GPU engine: one worker per GPU)."""
    own = os.environ.get(f"TTS_WORKERS_{engine.upper()}")
    if own:
        return int(own)
    if not first:
        return 1
    return int(os.environ.get("TTS_WORKERS") or os.cpu_count() or 1)


def service_commands(host: str, port: int) -> list[tuple[str, list[str]]]:
    python = sys.executable
    web = f"-m daphne -b {host} -p {port} callwaiting_tts.asgi:application"
    # -B: beat inside the worker, on settings' database scheduler (its state in PostgreSQL).
    celery = "-m celery -A callwaiting_tts worker -B -l INFO --concurrency 1"
    engines = tts_engines()
    worker = [python, "manage.py", "run_tts_worker", "--engine"]
    # Each worker serves its own metrics on a free loopback port (the log's "worker metrics
    # served" line names it), as each worker pod does on its `metrics` port.
    workers = [
        (f"tts-{engine}-{n}", [*worker, engine, "--metrics-port", str(free_port())])
        for index, engine in enumerate(engines)
        for n in range(1, tts_worker_count(engine, first=index == 0) + 1)
    ]
    return [
        *workers,
        ("daphne", [python, *web.split()]),
        ("celery", [python, *celery.split()]),
    ]


def _serve(found: Services) -> int:
    code = _prepare(found.child_env)
    if code != 0:
        return code
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for name, argv in service_commands(host, port):
            children.append((name, start_child(name, argv, found.child_env)))
        shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104
        if _wait_for_port(shown, port, children):
            _banner(f"http://{shown}:{port}/", found.choice)
        return _watch(children)
    except KeyboardInterrupt:
        log("stopping")
        return 0
    finally:
        _ignore_signals()
        stop_processes(children)


def _ignore_signals() -> None:
    # Teardown must finish: a second Ctrl-C would otherwise leave servers behind.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def _stop_on_signals() -> None:
    # Explicit SIGINT too: a shell starts background jobs with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler of its own.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)


def cmd_run() -> int:
    _stop_on_signals()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    try:
        with services() as found:
            return _serve(found)
    except KeyboardInterrupt:
        log("interrupted")
        return 130


def run_pytest(pytest_args: Sequence[str], child_env: dict[str, str]) -> int:
    argv = [sys.executable, "-m", "pytest", *pytest_args]
    process = subprocess.Popen(argv, cwd=env.BASE_DIR, env=child_env)
    # pytest shares the terminal: it gets Ctrl-C itself and reports what it ran.
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: process.terminate())
    code = process.wait()
    _ignore_signals()
    return shell_code(code)


def cmd_test(pytest_args: Sequence[str]) -> int:
    _stop_on_signals()
    try:
        # Missing executables are logged, not fatal: the tests that need them say so.
        ensure_system_packages()
        with services() as found:
            # Tests' Redis keys stay apart from those of a `make run` of the same checkout.
            prefix = f"cwtts:{env.checkout_id()}:test"
            found.child_env.setdefault("REDIS_PREFIX", prefix)
            return run_pytest(pytest_args, found.child_env)
    except KeyboardInterrupt:
        log("interrupted")
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in {"run", "test"}:
        log("usage: python -m devstack run | test [-- PYTEST ARGS]")
        return 2
    command, extra = args[0], args[1:]
    if extra[:1] == ["--"]:
        extra = extra[1:]
    if command == "run":
        if extra:
            log(f"run takes no arguments, got {extra}")
            return 2
        return cmd_run()
    return cmd_test(extra)


if __name__ == "__main__":
    sys.exit(main())
