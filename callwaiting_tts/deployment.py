"""Refusals at start: the defaults that make a laptop work are unsafe anywhere else.

With DEBUG off, a process that serves or works (daphne through `asgi.py`, the Celery worker and
beat through `celery.py`, every management command that runs Django's system checks: `migrate`,
`run_tts_worker`, `check`, ...) refuses to start while

- SECRET_KEY is unset (the per-checkout dev key) or a placeholder;
- API_KEY_PEPPER is not set explicitly, or is a placeholder: it hashes every API key, so it
  must not silently follow SECRET_KEY (a rotated SECRET_KEY would void every key);
- ALLOWED_HOSTS lets any Host through (`*`), except in the dev stack (`make run`, `make test`:
  CWTTS_DEV_STACK, which devstack sets with generated dev secrets);
- METRICS_TOKEN is a placeholder (docker/k8s/secret.example.yaml's);
- BEHIND_TLS_PROXY or BEHIND_PROXY is on and TRUSTED_PROXIES names no proxy: forwarding headers
  are believed only from those (callwaiting_tts/forwarded.py), so HTTPS would never be seen;
- METRICS_ALLOWED_NETWORKS holds something that is not a network (checked with DEBUG on too).

Settings themselves never raise: mypy's Django plugin, pytest and `manage.py shell` import them
on a laptop with nothing configured.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

# Prefixes of the dev default and of Django's own generated dev keys; "change-me" is what our
# examples (docker/env.example, docker/k8s/secret.example.yaml) put in their place.
_PLACEHOLDER_PREFIXES = ("insecure-", "django-insecure-")
_PLACEHOLDER_WORDS = ("change-me", "changeme")
GENERATE = "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"


def is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return (
        not lowered
        or lowered.startswith(_PLACEHOLDER_PREFIXES)
        or any(word in lowered for word in _PLACEHOLDER_WORDS)
    )


def network_problems(networks: list[str]) -> list[str]:
    found = []
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            found.append(
                f"METRICS_ALLOWED_NETWORKS: {network!r} is not a network (e.g. 10.0.0.0/8, ::1)."
            )
    return found


# A system check's id per setting, so `SILENCED_SYSTEM_CHECKS` could name one (none should).
CHECK_IDS = {
    "SECRET_KEY": "callwaiting_tts.E001",
    "API_KEY_PEPPER": "callwaiting_tts.E002",
    "ALLOWED_HOSTS": "callwaiting_tts.E003",
    "METRICS_ALLOWED_NETWORKS": "callwaiting_tts.E004",
    "METRICS_TOKEN": "callwaiting_tts.E005",
    "TRUSTED_PROXIES": "callwaiting_tts.E006",
}


def problems(
    *,
    debug: bool,
    secret_key: str,
    pepper: str,
    pepper_set: bool,
    allowed_hosts: list[str],
    dev_stack: bool,
    metrics_networks: list[str],
    metrics_token: str = "",
    behind_proxy: bool = False,
    trusted_proxies: list[str] | None = None,
) -> list[str]:
    """Each setting that must change before this process may start, with how to change it
    (each message starts with the setting's name)."""
    found = network_problems(metrics_networks)
    if debug:
        return found
    if is_placeholder(secret_key):
        found.append(f"SECRET_KEY is unset or a placeholder: set a long random one ({GENERATE}).")
    if not pepper_set or is_placeholder(pepper):
        found.append(
            "API_KEY_PEPPER is unset or a placeholder: set it explicitly, and never change it "
            "(API keys are hashed with it). Keys issued while it was unset were hashed with "
            "SECRET_KEY: set it to that value to keep them."
        )
    if "*" in allowed_hosts and not dev_stack:
        found.append(
            "ALLOWED_HOSTS is '*': list the host names clients use, comma-separated "
            "(only `make run` and `make test` may serve any Host)."
        )
    if metrics_token and is_placeholder(metrics_token):
        found.append(
            f"METRICS_TOKEN is a placeholder: set a long random one ({GENERATE}), or unset it "
            "to serve metrics to METRICS_ALLOWED_NETWORKS only."
        )
    if behind_proxy and not trusted_proxies:
        found.append(
            "TRUSTED_PROXIES is empty while BEHIND_TLS_PROXY or BEHIND_PROXY says a proxy is in "
            "front: name its addresses or networks (forwarding headers from anyone else are "
            "dropped, so X-Forwarded-Proto would never say https)."
        )
    return found


def settings_problems() -> list[str]:
    return problems(
        debug=settings.DEBUG,
        secret_key=settings.SECRET_KEY,
        pepper=settings.API_KEY_PEPPER,
        pepper_set=settings.API_KEY_PEPPER_SET,
        allowed_hosts=list(settings.ALLOWED_HOSTS),
        dev_stack=settings.DEV_STACK,
        metrics_networks=list(settings.METRICS_ALLOWED_NETWORKS),
        metrics_token=settings.METRICS_TOKEN,
        behind_proxy=settings.SECURE_PROXY_SSL_HEADER is not None,
        trusted_proxies=list(settings.TRUSTED_PROXIES),
    )


def refusal(found: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in found)
    return (
        "CallWaiting TTS refuses to start with these settings (DEBUG is off):\n"
        f"{lines}\n"
        "Every setting is an environment variable (README, Configuration); `make run` and "
        "`make test` set development values themselves."
    )


def refuse_unsafe_settings() -> None:
    """Raises ImproperlyConfigured, naming every setting to fix, unless all is well."""
    found = settings_problems()
    if found:
        raise ImproperlyConfigured(refusal(found))


@checks.register(checks.Tags.security)
def check_deployment(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The same refusals as system-check errors: management commands stop on them."""
    return [
        checks.Error(problem, id=CHECK_IDS[problem.split(" ", 1)[0].rstrip(":")])
        for problem in settings_problems()
    ]
