import pytest


@pytest.fixture(autouse=True)
def _fresh_auth_failure_budget() -> None:
    """Pure tests: override the root fixture that touches Redis."""
