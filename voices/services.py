"""Writes for a tenant's voices, each in the principal's schema and audited."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from callwaiting_tts.errors import ApplicationError
from tenants.audit import Actor, audit_record
from tenants.db import tenant_schema
from tenants.principal import Principal
from voices.models import Voice
from voices.selectors import forget_default_voice, voice_get

logger = logging.getLogger(__name__)


def voice_create(
    *,
    principal: Principal,
    by: Actor,
    name: str,
    base_voice: str,
    language: str,
    speed: float,
    description: str = "",
    is_default: bool = False,
) -> Voice:
    try:
        with tenant_schema(principal.schema_name), transaction.atomic():
            if is_default:  # one default per tenant: the new one replaces the old
                Voice.objects.filter(is_default=True).update(is_default=False)
            voice = Voice.objects.create(
                name=name,
                base_voice=base_voice,
                language=language,
                speed=speed,
                description=description,
                is_default=is_default,
            )
    except IntegrityError:
        raise ApplicationError(
            f"A voice named {name!r} exists.", code="voice_exists", param="name", status=409
        ) from None
    if is_default:
        forget_default_voice(principal.schema_name)
    audit_record(
        by=by,
        action="voice.create",
        tenant_id=principal.tenant_id,
        target=f"voice:{voice.pk} {name}",
    )
    logger.info("voice created", extra={"voice_id": str(voice.pk), "base_voice": base_voice})
    return voice


def voice_delete(*, principal: Principal, by: Actor, voice_id: str) -> None:
    """Deletes the tenant's preset `voice_id` (VoiceNotFound, a 404, if it has none)."""
    voice = voice_get(principal=principal, voice_id=voice_id)
    with tenant_schema(principal.schema_name):
        voice.delete()
    if voice.is_default:
        forget_default_voice(principal.schema_name)
    audit_record(
        by=by,
        action="voice.delete",
        tenant_id=principal.tenant_id,
        target=f"voice:{voice_id} {voice.name}",
    )
    logger.info("voice deleted", extra={"voice_id": voice_id})
