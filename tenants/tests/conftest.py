"""Fixtures of the tenants app's tests."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def one_brake_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test's failed authentications fall in one window of the brake (tenants.auth counts
    per clock minute), whenever in a minute the test runs."""
    minute = int(time.time() // 60)
    monkeypatch.setattr("tenants.auth._minute", lambda: minute, raising=False)
