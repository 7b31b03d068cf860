"""The audit log's writer: who did what to which tenant. Below every service that audits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.http import HttpRequest

from callwaiting_tts.logs import request_id_var
from tenants.models import AuditLog, Tenant
from tenants.principal import Principal


@dataclass(frozen=True)
class Actor:
    """Who does something, for the audit log."""

    actor: str
    source: str
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""

    @classmethod
    def cli(cls) -> Actor:
        return cls(actor="cli", source=AuditLog.Source.CLI)

    @classmethod
    def system(cls) -> Actor:
        return cls(actor="system", source=AuditLog.Source.SYSTEM)

    @classmethod
    def from_request(cls, request: HttpRequest, *, actor: str, source: str) -> Actor:
        return cls(
            actor=actor,
            source=source,
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.headers.get("User-Agent", "")[:400],
            request_id=getattr(request, "request_id", "") or "",
        )

    @classmethod
    def of(cls, request: HttpRequest, principal: Principal) -> Actor:
        """The principal acting through `request`: an API key (source api) or a signed-in
        member (source portal)."""
        source = AuditLog.Source.API if principal.key_id is not None else AuditLog.Source.PORTAL
        return cls.from_request(request, actor=principal.actor, source=source)


def _ip_or_none(value: str | None) -> str | None:
    """The address as the column stores it (without an IPv6 zone); None for anything that is
    not one (a proxy's garbage, `client_address`'s "unknown"), so an audit write never fails
    on it."""
    try:
        return str(ipaddress.ip_address((value or "").strip().partition("%")[0]))
    except ValueError:
        return None


def audit_record(
    *,
    by: Actor,
    action: str,
    tenant: Tenant | None = None,
    tenant_id: int | None = None,
    target: str = "",
) -> AuditLog:
    """Appends one entry; `tenant` or its `tenant_id` (callers holding only a principal)."""
    return AuditLog.objects.create(
        actor=by.actor,
        source=by.source,
        ip=_ip_or_none(by.ip),
        user_agent=by.user_agent,
        request_id=by.request_id or request_id_var.get() or "",
        tenant_id=tenant.pk if tenant is not None else tenant_id,
        action=action,
        target=target[:200],
    )
