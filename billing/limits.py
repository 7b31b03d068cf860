"""A tenant's effective limits: its plan, with the per-tenant overrides staff set in admin.

Read on every admission, so cached in Redis (`LIMITS_CACHE_SECONDS`) and forgotten when a plan
or an override is saved. `None` means unlimited.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    requests_per_minute: int | None  # per tenant
    key_requests_per_minute: int | None  # per API key
    max_concurrent_streams: int  # HTTP streams and WebSocket contexts together
    monthly_characters: int | None  # calendar month, UTC
    overage_allowed: bool  # False: the quota is a hard stop
    max_input_characters: int
    max_cloned_voices: int
    allowed_engines: frozenset[str]  # empty: every engine
    allowed_formats: frozenset[str]  # empty: every format
