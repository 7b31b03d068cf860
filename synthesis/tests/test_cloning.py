"""Cloning without a worker of the engine: the voice waits (the caller retries), and the last
retry fails it with the reason; a voice that is gone or replaced is left alone."""

from __future__ import annotations

import io
import uuid

import numpy as np
import pytest
import soundfile
from asgiref.sync import async_to_sync

from synthesis.cloning import voice_condition
from synthesis.stream import SynthesisFailed
from synthesis.tasks import condition_voice
from tenants.db import tenant_schema
from voices import storage
from voices.models import Voice

pytestmark = pytest.mark.django_db(transaction=True)


def clip() -> bytes:
    t = np.arange(22050 * 4) / 22050
    out = io.BytesIO()
    soundfile.write(
        out, (0.3 * np.sin(2 * np.pi * 140 * t)).astype(np.float32), 22050, format="WAV"
    )
    return out.getvalue()


@pytest.fixture
def voice(make_tenant):
    """A voice validation has passed, `cloning`: its cleaned clip stored, its conditioning not
    computed yet."""
    tenant = make_tenant("clone")
    schema = tenant.tenant.schema_name
    voice_id = uuid.uuid4()
    reference = storage.reference_path(schema, str(voice_id), 1)
    storage.storage_write(reference, clip(), schema_name=schema)
    with tenant_schema(schema):
        made = Voice.objects.create(
            id=voice_id,
            name="Waiting",
            kind=Voice.Kind.CLONED,
            engine="xtts",
            language="en",
            status=Voice.Status.CLONING,
            version=1,
            reference_path=reference,
        )
    return schema, made


def test_no_worker_of_the_engine_is_a_503_and_the_voice_keeps_cloning(voice, settings):
    schema, made = voice
    with pytest.raises(SynthesisFailed) as failed:
        async_to_sync(voice_condition)(schema_name=schema, voice_id=str(made.pk), version=1)
    assert (failed.value.code, failed.value.status) == ("no_workers", 503)
    with tenant_schema(schema):
        assert Voice.objects.get(pk=made.pk).status == Voice.Status.CLONING


def test_the_last_retry_fails_the_voice_with_the_reason(voice):
    schema, made = voice
    # Run eagerly as the last try (its retries spent), in the tenant's schema.
    result = condition_voice.apply(
        args=[str(made.pk), 1],
        headers={"_schema_name": schema},
        retries=condition_voice.max_retries,
    )
    assert result.get() == "failed"
    with tenant_schema(schema):
        failed = Voice.objects.get(pk=made.pk)
    assert failed.status == Voice.Status.FAILED
    assert "xtts" in failed.error


def test_an_older_version_or_a_deleted_voice_is_left_alone(voice):
    schema, made = voice
    voice_id = str(made.pk)
    replaced = async_to_sync(voice_condition)(schema_name=schema, voice_id=voice_id, version=2)
    assert replaced is None
    with tenant_schema(schema):
        made.delete()
    gone = async_to_sync(voice_condition)(schema_name=schema, voice_id=voice_id, version=1)
    assert gone is None
