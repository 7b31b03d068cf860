"""The principal: who is calling, for which tenant. The one carrier of the tenant everywhere.

Each entry point resolves it once and puts it in one place: the HTTP API's authentication class
on `request.principal`, the WebSocket's ASGI middleware in `scope["principal"]`, the portal (a
signed-in member) on `request.principal` too. Services take it as `principal=`; they enter the
tenant's schema themselves (`tenants.db`). Celery tasks carry the schema name in a task header
and workers in the job: neither needs more of the caller (docs/adr/0005).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rest_framework.exceptions import NotAuthenticated

from tenants.models import Membership, Scope

# What a portal member may do, by role: owners and admins everything, members use the API's
# read and synthesize rights (no keys, no voice changes, no billing).
ROLE_SCOPES: dict[str, frozenset[str]] = {
    Membership.Role.OWNER: frozenset({Scope.ADMIN}),
    Membership.Role.ADMIN: frozenset({Scope.ADMIN}),
    Membership.Role.MEMBER: frozenset({Scope.SYNTHESIZE, Scope.VOICES_READ, Scope.USAGE_READ}),
}


@dataclass(frozen=True)
class Principal:
    """An API key of one tenant, or a signed-in member of one. Stands in as DRF's `request.user`.

    Exactly one of `key_id` (an API key: `prefix`, `name`, `expires_at` describe it) and
    `user_id` (a portal member: `role` says what they may do) is set."""

    tenant_id: int
    tenant_slug: str
    tenant_name: str
    schema_name: str
    plan_id: int
    scopes: frozenset[str]
    key_id: int | None = None
    prefix: str = ""
    name: str = ""
    expires_at: float | None = None
    user_id: int | None = None
    role: str = ""
    is_authenticated: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        if (self.key_id is None) == (self.user_id is None):
            raise ValueError("a principal is either an API key or a member, never both")

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes

    @property
    def actor(self) -> str:
        """Who acts, as the audit log names it."""
        return f"api_key:{self.prefix}" if self.key_id is not None else f"user:{self.user_id}"

    @property
    def rate_subject(self) -> tuple[str, int]:
        """What the per-key rate limit counts: the key, or for a member the member, so a person
        clicking in the portal gets the same per-key budget a key has."""
        if self.key_id is not None:
            return ("key", self.key_id)
        assert self.user_id is not None
        return ("member", self.user_id)

    @classmethod
    def for_member(cls, membership: Membership) -> Principal:
        """A signed-in member of `membership.tenant`, with the scopes of their role."""
        tenant = membership.tenant
        return cls(
            tenant_id=tenant.pk,
            tenant_slug=tenant.slug,
            tenant_name=tenant.name,
            schema_name=tenant.schema_name,
            plan_id=tenant.plan_id,
            scopes=ROLE_SCOPES[membership.role],
            user_id=membership.user_id,
            role=membership.role,
        )


def principal_of(request: Any) -> Principal:
    """The principal an HTTP request (DRF's or Django's) was authenticated as; NotAuthenticated
    (401) if none. Views call this instead of reading attributes themselves."""
    principal = getattr(request, "principal", None)
    if not isinstance(principal, Principal):
        raise NotAuthenticated()
    return principal


def socket_principal(scope: dict[str, Any]) -> Principal | None:
    """The principal of a WebSocket's scope, None until it has authenticated."""
    principal = scope.get("principal")
    return principal if isinstance(principal, Principal) else None
