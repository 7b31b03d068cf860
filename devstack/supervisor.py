"""The service's processes (`run`) and the test suite (`test`), and their signals."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence

from callwaiting_tts import env
from devstack.common import VAR_DIR, log, shell_code, stop_processes
from devstack.redis_server import free_port
from devstack.restarts import Children, RestartPolicy
from devstack.services import Services, services
from devstack.sysdeps import ensure_system_packages

# --- child processes --------------------------------------------------------------------------

# How long `ready` (daphne's port, for the banner) is polled before the supervisor only watches.
READY_WAIT_S = 60.0


def run_step(name: str, argv: Sequence[str], child_env: dict[str, str]) -> int:
    log(f"{name}: {' '.join(argv)}")
    return subprocess.run(list(argv), cwd=env.BASE_DIR, env=child_env, check=False).returncode


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def _banner(url: str, choice: dict[str, str]) -> None:
    rule = "=" * 72
    log(rule)
    log(f"CallWaiting TTS is running at {url}")
    log(f"  API {url}v1/   docs {url}v1/docs/   admin {url}admin/")
    log(f"  database: {choice['database']}   redis: {choice['redis']}   Ctrl-C stops everything")
    log(rule)


def supervise(
    commands: Sequence[tuple[str, Sequence[str]]],
    child_env: dict[str, str],
    *,
    policy: RestartPolicy | None = None,
    ready: Callable[[], bool] = lambda: True,
) -> int:
    """Starts the commands and keeps them running (a child that exits is restarted, with
    backoff), calling `ready` until it holds (at most READY_WAIT_S). Returns 0 on Ctrl-C or
    SIGTERM, non-zero when a child crash-loops; either way every child is stopped."""
    children = Children(policy)
    try:
        for name, argv in commands:
            children.add(name, argv, child_env)
        code = children.watch(ready, timeout=READY_WAIT_S)
        return children.keep_running() if code is None else code
    except KeyboardInterrupt:
        log("stopping")
        return 0
    finally:
        _ignore_signals()
        stop_processes(children.processes())


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
    shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104

    def announce() -> bool:
        if not _port_open(shown, port):
            return False
        _banner(f"http://{shown}:{port}/", found.choice)
        return True

    return supervise(service_commands(host, port), found.child_env, ready=announce)


def _ignore_signals() -> None:
    # Teardown must finish: a second Ctrl-C would otherwise leave servers behind.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def stop_on_signals() -> None:
    # Explicit SIGINT too: a shell starts background jobs with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler of its own.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)


def cmd_run() -> int:
    stop_on_signals()
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
    stop_on_signals()
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
