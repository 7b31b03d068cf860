"""Reads of the synthesis log (the tenant's own schema)."""

from __future__ import annotations

import uuid

from callwaiting_tts.errors import ApplicationError
from synthesis.models import SynthesisRecord
from tenants.db import tenant_schema
from tenants.principal import Principal


class SynthesisNotFound(ApplicationError):
    def __init__(self) -> None:
        super().__init__(
            "No such synthesis, or it has not ended yet.", code="not_found", status=404
        )


def synthesis_record_get(*, principal: Principal, synthesis_id: str) -> SynthesisRecord:
    """The tenant's ended synthesis `synthesis_id`; SynthesisNotFound otherwise (another
    tenant's lives in another schema, so it is simply not found; one still running has no row
    yet)."""
    try:
        key = uuid.UUID(synthesis_id)
    except ValueError:
        raise SynthesisNotFound() from None
    with tenant_schema(principal.schema_name):
        record = SynthesisRecord.objects.filter(pk=key).first()
    if record is None:
        raise SynthesisNotFound()
    return record
