"""Refusals at start (callwaiting_tts/deployment.py): real processes (`manage.py`, daphne, Celery)
started with production's environment minus one setting, as an operator would start them."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

import pytest

from callwaiting_tts.deployment import problems
from tests.conftest import ROOT, free_port, running_daphne

GOOD = {
    "SECRET_KEY": "k3Jd9-production-secret-key-0123456789abcdefghijklmnop",
    "API_KEY_PEPPER": "p7Qx2-production-pepper-0123456789abcdefghijklmnopqr",
    "ALLOWED_HOSTS": "tts.example.com,127.0.0.1",
}
# What make test passes its processes, and anything that would name a setting another way.
DEV_ONLY = ("DEBUG", "CWTTS_DEV_STACK", *GOOD, *(f"{name}_FILE" for name in GOOD))


def production_env(**settings: str) -> dict[str, str]:
    """The test run's environment as a deployment's: DEBUG off, no dev stack, GOOD unless
    overridden (an empty value unsets), and a DATABASE_URL of its own (so var/runtime.json's dev
    values are not read: that is a `manage.py` beside `make run`)."""
    env = {k: v for k, v in os.environ.items() if k not in DEV_ONLY}
    env["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:5432/cwtts_not_used"  # not opened
    env.update({k: v for k, v in (GOOD | settings).items() if v})
    return env


def run_in_production(argv: list[str], **settings: str) -> subprocess.CompletedProcess[str]:
    """Runs a process of ours (it is expected to refuse: it never serves) with production_env."""
    return subprocess.run(
        argv,
        cwd=ROOT,
        env=production_env(**settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def manage_check(**settings: str) -> subprocess.CompletedProcess[str]:
    return run_in_production([sys.executable, "manage.py", "check"], **settings)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is unset"),
        ({"API_KEY_PEPPER": "CHANGE-ME"}, "API_KEY_PEPPER is unset or a placeholder"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is '*'"),  # unset: the laptop default, *
        # A proxy in front that is not named: its X-Forwarded-Proto would be dropped.
        ({"BEHIND_TLS_PROXY": "true"}, "TRUSTED_PROXIES is empty"),
    ],
)
def test_a_production_command_refuses_a_default_and_names_the_setting(settings, named):
    done = manage_check(**settings)
    assert done.returncode != 0
    assert named in done.stderr
    assert done.stderr.count("callwaiting_tts.E00") == 1  # only the setting at fault


def test_placeholders_from_our_own_examples_count_as_defaults():
    base = {
        "debug": False,
        "pepper_set": True,
        "dev_stack": False,
        "metrics_networks": [],
        "allowed_hosts": ["tts.example.com"],
    }
    for secret in ("", "insecure-dev-key-0abc", "insecure-compose-secret-key-change-me"):
        found = problems(secret_key=secret, pepper=GOOD["API_KEY_PEPPER"], **base)
        assert [p.split(" ")[0] for p in found] == ["SECRET_KEY"]
    for pepper in ("CHANGE-ME", "django-insecure-x", "insecure-compose-pepper-change-me"):
        found = problems(secret_key=GOOD["SECRET_KEY"], pepper=pepper, **base)
        assert [p.split(" ")[0] for p in found] == ["API_KEY_PEPPER"]
    found = problems(
        secret_key=GOOD["SECRET_KEY"],
        pepper=GOOD["API_KEY_PEPPER"],
        **(base | {"allowed_hosts": ["tts.example.com", "*"]}),
    )
    assert [p.split(" ")[0] for p in found] == ["ALLOWED_HOSTS"]
    found = problems(
        secret_key=GOOD["SECRET_KEY"],
        pepper=GOOD["API_KEY_PEPPER"],
        metrics_token="CHANGE-ME",
        **base,
    )
    assert [p.split(" ")[0] for p in found] == ["METRICS_TOKEN"]


def test_the_pepper_may_not_follow_secret_key_silently():
    # A SECRET_KEY fit for production, and no pepper: keys must not hang on SECRET_KEY.
    done = manage_check(API_KEY_PEPPER="")
    assert "API_KEY_PEPPER is unset" in done.stderr
    assert "SECRET_KEY is" not in done.stderr


def test_production_settings_pass_and_debug_needs_none_of_them():
    assert manage_check().returncode == 0
    laptop = manage_check(SECRET_KEY="", API_KEY_PEPPER="", ALLOWED_HOSTS="", DEBUG="true")
    assert laptop.returncode == 0, laptop.stderr


def test_only_the_dev_stack_may_serve_any_host():
    dev = manage_check(ALLOWED_HOSTS="*", CWTTS_DEV_STACK="1")
    assert dev.returncode == 0, dev.stderr


def test_metrics_networks_that_are_not_networks_are_refused_even_with_debug():
    done = manage_check(DEBUG="true", METRICS_ALLOWED_NETWORKS="10.0.0.0/8,intranet")
    assert done.returncode != 0
    assert "'intranet' is not a network" in done.stderr


def test_daphne_refuses_to_start_with_the_default_secret_key():
    argv = [
        sys.executable,
        "-m",
        "daphne",
        "-p",
        str(free_port()),
        "callwaiting_tts.asgi:application",
    ]
    done = run_in_production(argv, SECRET_KEY="")
    assert done.returncode != 0
    assert "refuses to start with these settings" in done.stderr
    assert "SECRET_KEY is unset" in done.stderr


@pytest.mark.parametrize("program", [["worker", "--pool", "solo"], ["beat"]])
def test_celery_refuses_to_start_without_a_pepper(program, tmp_path):
    argv = [sys.executable, "-m", "celery", "-A", "callwaiting_tts", *program, "-l", "INFO"]
    if program == ["beat"]:
        argv += ["-s", str(tmp_path / "schedule")]
    done = run_in_production(argv, API_KEY_PEPPER="")
    assert done.returncode != 0
    assert "API_KEY_PEPPER is unset" in done.stderr + done.stdout


def test_daphne_serves_with_production_settings(django_db_setup, django_db_blocker):
    with (
        django_db_blocker.unblock(),
        # The test run's own secrets (explicit, generated), no dev stack, named hosts.
        running_daphne(
            DEBUG="", CWTTS_DEV_STACK="", ALLOWED_HOSTS=GOOD["ALLOWED_HOSTS"]
        ) as service,
        urllib.request.urlopen(f"{service.url}/v1/health/live", timeout=10) as response,
    ):
        assert response.status == 200


# --- BEHIND_TLS_PROXY ---------------------------------------------------------------------------


def admin_sign_in_page(url: str) -> tuple[str, str]:
    """(Strict-Transport-Security, Set-Cookie) of the admin's sign-in page fetched through a
    TLS-ending proxy (it says https in X-Forwarded-Proto)."""
    request = urllib.request.Request(f"{url}/admin/login/", headers={"X-Forwarded-Proto": "https"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return response.headers.get("Strict-Transport-Security", ""), response.headers.get(
            "Set-Cookie", ""
        )


def test_behind_a_tls_proxy_browsers_are_held_to_https(django_db_setup, django_db_blocker):
    with (
        django_db_blocker.unblock(),
        running_daphne(BEHIND_TLS_PROXY="true", TRUSTED_PROXIES="127.0.0.1") as service,
    ):
        hsts, cookie = admin_sign_in_page(service.url)
    assert hsts == "max-age=31536000"
    assert "csrftoken=" in cookie
    assert "; Secure" in cookie


def test_without_tls_nothing_asks_for_https(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), running_daphne(BEHIND_TLS_PROXY="") as service:
        hsts, cookie = admin_sign_in_page(service.url)
    assert hsts == ""
    assert "csrftoken=" in cookie
    assert "Secure" not in cookie
