"""The dev stack's own values for what a deployment must set itself.

Processes refuse to start with DEBUG off, the default SECRET_KEY, no API_KEY_PEPPER or
ALLOWED_HOSTS=* (callwaiting_tts/deployment.py). `make run` and `make test` pass their children
a SECRET_KEY and API_KEY_PEPPER generated once per checkout (var/dev-secrets.json, readable by
its owner only, kept across runs so the demo tenant's keys keep working) and CWTTS_DEV_STACK=1,
which lets ALLOWED_HOSTS stay `*`. A value the caller's environment sets wins.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from callwaiting_tts import env
from devstack.common import VAR_DIR

SECRET_NAMES = ("SECRET_KEY", "API_KEY_PEPPER")


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or not all(isinstance(data.get(n), str) for n in SECRET_NAMES):
        return {}
    return {name: data[name] for name in SECRET_NAMES}


def dev_secrets(path: Path | None = None) -> dict[str, str]:
    """This checkout's dev secrets, made on first use. Two supervisors starting at once agree:
    the file appears whole (a link to a finished one) or not at all, and the first one wins."""
    path = path or VAR_DIR / "dev-secrets.json"
    found = _read(path)
    if found:
        return found
    path.parent.mkdir(parents=True, exist_ok=True)
    made = {name: "dev-" + secrets.token_urlsafe(48) for name in SECRET_NAMES}
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(made, file, indent=2)
    try:
        os.link(partial, path)  # fails if the file is there: the first supervisor's wins
    except FileExistsError:
        if not _read(path):  # a broken file: ours replaces it
            os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return _read(path) or made


def dev_settings(var_dir: Path = VAR_DIR) -> dict[str, str]:
    """What the stack's processes get on top of the caller's environment, and what
    var/runtime.json records for `manage.py` beside them: the values the processes see."""
    values = {"ALLOWED_HOSTS": "*", **dev_secrets(var_dir / "dev-secrets.json")}
    return {"CWTTS_DEV_STACK": "1"} | {
        name: env.env_str(name) or value for name, value in values.items()
    }
