"""Audio tests are pure: no database, no Redis."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_auth_failure_budget() -> None:
    """Overrides the project-wide autouse fixture that clears auth counters in Redis."""
