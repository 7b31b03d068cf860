"""Writes for a tenant's voices. Callers are already in the tenant's schema."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from callwaiting_tts.errors import ApplicationError
from tenants.models import Tenant
from tenants.services import Actor, audit_record
from voices.models import Voice
from voices.selectors import forget_default_voice

logger = logging.getLogger(__name__)


def voice_create(
    *,
    name: str,
    base_voice: str,
    language: str,
    speed: float,
    description: str = "",
    is_default: bool = False,
    by: Actor | None = None,
    tenant: Tenant | None = None,
) -> Voice:
    try:
        with transaction.atomic():
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
        forget_default_voice()
    if by is not None:
        audit_record(by=by, action="voice.create", tenant=tenant, target=f"voice:{voice.pk} {name}")
    logger.info("voice created", extra={"voice_id": str(voice.pk), "base_voice": base_voice})
    return voice


def voice_delete(*, voice: Voice, by: Actor | None = None, tenant: Tenant | None = None) -> None:
    voice_id = str(voice.pk)
    voice.delete()
    if voice.is_default:
        forget_default_voice()
    if by is not None:
        audit_record(
            by=by, action="voice.delete", tenant=tenant, target=f"voice:{voice_id} {voice.name}"
        )
    logger.info("voice deleted", extra={"voice_id": voice_id})
