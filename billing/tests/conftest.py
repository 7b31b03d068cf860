from __future__ import annotations

import uuid

import pytest

from billing.models import Plan, UsageRecord


@pytest.fixture
def plan(db) -> Plan:
    return Plan.objects.create(
        slug=f"pro-{uuid.uuid4().hex[:6]}",
        name="Pro",
        max_concurrent_streams=10,
        monthly_character_quota=100_000,
        requests_per_minute=600,
        key_requests_per_minute=300,
        max_cloned_voices=20,
        max_input_characters=10_000,
        allowed_engines=["piper"],
        allowed_formats=[],
        overage_allowed=True,
        price_per_month_minor=4900,
        overage_per_1k_minor=30,
        currency="USD",
    )


def record(tenant, *, at, characters=100, api_key=None, voice="joe", delivered=1.0, **fields):
    """A UsageRecord as the synthesis service writes it (one per synthesis)."""
    values = {
        "synthesis_id": uuid.uuid4(),
        "tenant": tenant,
        "api_key": api_key,
        "source": "http",
        "characters_billed": characters,
        "audio_seconds_synthesized": delivered,
        "audio_seconds_delivered": delivered,
        "voice": voice,
        "engine": "piper",
        "output_format": "wav",
        "sample_rate": 22050,
        "status": UsageRecord.Status.COMPLETED,
        "started_at": at,
        "ended_at": at,
    }
    values.update(fields)
    return UsageRecord.objects.create(**values)
