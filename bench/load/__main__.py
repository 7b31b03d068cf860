"""`python -m bench.load [LOCUST OPTIONS]`: the phone-agent load profile (locustfile.py beside
this) run by locust against a stack of the bench's own, set up and torn down as `python -m bench`
does (scratch database, Redis prefix, daphne, workers): the same server settings and worker
count as the bench's `ws` section, so the two can be compared. Locust's options pass through
(`-u 10 -r 10 -t 60s --csv bench/results/load`); `--headless` is always given. The key and host
are the stack's; every `LOAD_*` setting of the environment reaches the locustfile. The phrase
cache is off, as in the bench's sections, unless `TTS_PHRASE_CACHE_BYTES` is set.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.sockets import SERVER_SETTINGS, WS_WORKERS
from bench.stack import SetupError, bench_stack, log

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
LOGS = Path(__file__).resolve().parent.parent / "results" / "logs"


def locust_argv(options: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", *options]


def phrase_cache() -> dict[str, str]:
    """The bench's stack turns the cache off unless told; a greeting said on every call is a
    hit in a deployment, and `TTS_PHRASE_CACHE_BYTES` makes it one here."""
    size = os.environ.get("TTS_PHRASE_CACHE_BYTES")
    return {"TTS_PHRASE_CACHE_BYTES": size} if size else {}


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main(options: Sequence[str]) -> int:
    try:
        with bench_stack(LOGS) as stack:
            stack.restart_daphne(**SERVER_SETTINGS, **phrase_cache())
            stack.start_workers(WS_WORKERS)
            child = dict(os.environ)
            child.update(
                LOCUST_HOST=f"http://127.0.0.1:{stack.port}", CALLWAITING_API_KEY=stack.api_key
            )
            log(f"locust {' '.join(options)}; load average {_load()}")
            code = subprocess.run(locust_argv(options), env=child, check=False).returncode
            log(f"locust exited with {code}; load average {_load()}")
            return code
    except SetupError as error:
        log(f"setup failed: {error}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
