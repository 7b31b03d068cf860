"""Host names: a tenant's domain (its portal host) as staff enter it, and the Host header a
request arrives with, both reduced to one lower-case form so that they compare equal."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def hostname_clean(value: str) -> str:
    """`value` as a domain is stored: lower case, IDNA (punycode) for non-ASCII, no trailing dot.
    Raises ValidationError unless it is a host name of at least two labels (`acme.example.com`,
    `acme.localhost`): no scheme, port, path, wildcard or IP address."""
    name = value.strip().rstrip(".").lower()
    if not name:
        raise ValidationError("Enter a host name, e.g. portal.acme.com.", code="invalid_host")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(f"{value!r} is not a valid host name.", code="invalid_host") from None
    labels = name.split(".")
    if (
        len(name) > 253
        or len(labels) < 2
        or not all(_LABEL_RE.match(label) for label in labels)
        or labels[-1].isdigit()  # an IPv4 address, or a numeric top-level label
    ):
        raise ValidationError(
            f"{value!r} is not a host name: give labels of a-z, 0-9 and '-' separated by dots, "
            "at least two (portal.acme.com), with no scheme, port or path.",
            code="invalid_host",
        )
    return name


def host_from_header(host: str) -> str:
    """A Host header (`Portal.Acme.com:8443`, `[::1]:8000`, `acme.example.`) in the stored
    form, without its port; "" for an IPv6 literal (never a tenant's domain)."""
    host = host.strip().lower()
    if host.startswith("["):
        return ""
    host = host.rsplit(":", 1)[0] if ":" in host else host
    try:
        return host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return ""
