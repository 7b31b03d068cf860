"""Where the shared conformance suites are: `$CONFORMANCE_DIR`, else `../shared/conformance`
beside the repository (they are used in place, never copied in)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def suite_dir() -> Path:
    configured = os.environ.get("CONFORMANCE_DIR")
    return Path(configured) if configured else REPO.parent / "shared" / "conformance"
