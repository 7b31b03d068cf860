"""`make run` / `make test` give their processes what production must set itself: generated dev
secrets (kept per checkout) and the dev flag that lets ALLOWED_HOSTS stay `*`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import devstack
from callwaiting_tts import env
from callwaiting_tts.deployment import is_placeholder
from devstack.secrets import dev_secrets, dev_settings

NAMES = ("SECRET_KEY", "API_KEY_PEPPER", "ALLOWED_HOSTS", "CWTTS_DEV_STACK")


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)


def owner_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_dev_secrets_are_made_once_kept_and_owner_only(tmp_path):
    path = tmp_path / "dev-secrets.json"
    first = dev_secrets(path)
    assert set(first) == {"SECRET_KEY", "API_KEY_PEPPER"}
    assert first["SECRET_KEY"] != first["API_KEY_PEPPER"]
    assert not any(is_placeholder(value) for value in first.values())
    assert owner_only(path)
    assert dev_secrets(path) == first  # the next run: the demo tenant's keys still verify
    assert list(tmp_path.iterdir()) == [path]  # no partial file left behind


def test_a_broken_secrets_file_is_replaced(tmp_path):
    path = tmp_path / "dev-secrets.json"
    path.write_text("{not json")
    made = dev_secrets(path)
    assert json.loads(path.read_text()) == made


def test_the_callers_own_values_win_and_the_dev_flag_is_always_set(bare_env, monkeypatch, tmp_path):
    monkeypatch.setenv("ALLOWED_HOSTS", "dev.example.com")
    monkeypatch.setenv("CWTTS_DEV_STACK", "0")
    values = dev_settings(tmp_path)
    assert values["ALLOWED_HOSTS"] == "dev.example.com"
    assert values["CWTTS_DEV_STACK"] == "1"
    assert values["SECRET_KEY"] == dev_secrets(tmp_path / "dev-secrets.json")["SECRET_KEY"]


def test_a_bare_environment_gets_any_host_and_generated_secrets(bare_env, tmp_path):
    values = dev_settings(tmp_path)
    assert values["ALLOWED_HOSTS"] == "*"
    assert set(values) == set(NAMES)


def test_the_stack_passes_them_on_and_records_them_owner_only(bare_env, monkeypatch, tmp_path):
    monkeypatch.setattr(env, "RUNTIME_FILE", tmp_path / "runtime.json")
    with devstack.services(var_dir=tmp_path) as found:
        recorded = env.runtime_choice()
        assert owner_only(tmp_path / "runtime.json")
    for name in ("SECRET_KEY", "API_KEY_PEPPER", "CWTTS_DEV_STACK"):
        assert recorded[name] == found.child_env[name]
    assert found.child_env["ALLOWED_HOSTS"] == "*"


@pytest.mark.skipif(not env.runtime_choice(), reason="needs the `make test` supervisor's file")
def test_manage_py_beside_the_stack_uses_its_secrets_and_a_deployment_does_not():
    """A `manage.py` on the stack's database (no DATABASE_URL of its own) hashes API keys with the
    stack's pepper; one with its own DATABASE_URL reads nothing of the stack's."""
    probe = "import django; django.setup(); from django.conf import settings as s; " + (
        "print(s.API_KEY_PEPPER, s.DEV_STACK)"
    )
    bare = {k: v for k, v in os.environ.items() if k not in NAMES and k != "DATABASE_URL"}

    def pepper_and_flag(**extra: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=env.BASE_DIR,
            env={**bare, "DJANGO_SETTINGS_MODULE": "callwaiting_tts.settings", **extra},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return done.stdout.split()

    stack = env.runtime_choice()
    assert pepper_and_flag() == [stack["API_KEY_PEPPER"], "True"]
    own = pepper_and_flag(DATABASE_URL="postgresql://postgres@127.0.0.1:5432/elsewhere")
    assert own[0] != stack["API_KEY_PEPPER"]
    assert own[1] == "False"
