"""Portal fixtures: people with a role in a tenant, signed-in clients, and the page checks every
portal page must pass (the CSP header, no inline script or style)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client

from tenants.models import Membership, Tenant

PASSWORD = "a long portal passphrase 7"

MakeMember = Callable[..., User]


@pytest.fixture
def make_member(db: None) -> MakeMember:
    """A user with `role` in each of `tenants`, with a password (PASSWORD)."""

    def make(*tenants: Tenant, role: str = Membership.Role.OWNER, email: str = "") -> User:
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        user = get_user_model().objects.create_user(username=email, email=email, password=PASSWORD)
        for tenant in tenants:
            Membership.objects.create(user=user, tenant=tenant, role=role)
        return user

    return make


def signed_in(user: User, **kwargs: object) -> Client:
    client = Client(**kwargs)  # type: ignore[arg-type]
    client.force_login(user)
    return client


class _InlineFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, style elements and attributes,
    event-handler attributes and javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            if not names.get("src"):
                self.problems.append("a <script> without src")
            self._in_script = True
        if tag == "style":
            self.problems.append("a <style> element")
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"a style attribute on <{tag}>")
            if name.startswith(("on", "hx-on")):
                self.problems.append(f"an event handler {name} on <{tag}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"a javascript: URL on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("an inline script body")


def assert_strict_page(response: Any) -> str:
    """The response carries the portal's CSP and nothing inline it would block; returns the
    HTML."""
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    html = response.content.decode()
    finder = _InlineFinder()
    finder.feed(html)
    assert finder.problems == []
    return html
