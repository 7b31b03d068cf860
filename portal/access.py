"""Who is signed in, for which tenant, allowed to do what: resolved once per portal request.

The session remembers the tenant a member chose (`SESSION_TENANT`); every request re-reads the
member's memberships, so a removed membership or a suspended tenant takes effect on the next
click. The member's `Principal` (the same carrier the API's keys resolve to) goes on
`request.principal`, and services get it exactly as they get an API key's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from callwaiting_tts.errors import ApplicationError
from tenants.models import Membership, Tenant
from tenants.principal import Principal
from tenants.selectors import tenant_for_host

SESSION_TENANT = "portal_tenant_id"

View = Callable[..., HttpResponseBase]


@dataclass(frozen=True)
class Seat:
    """A signed-in member in the tenant they are working in, and their other tenants."""

    membership: Membership
    principal: Principal
    memberships: list[Membership]

    @property
    def tenant(self) -> Tenant:
        return self.membership.tenant

    @property
    def can_admin(self) -> bool:
        return self.principal.has_scope("admin")

    @property
    def can_read_usage(self) -> bool:
        return self.principal.has_scope("usage:read")

    @property
    def can_edit_voices(self) -> bool:
        return self.principal.has_scope("voices:write")


def seat_of(request: HttpRequest) -> Seat | None:
    """The member's seat in the chosen tenant; when none is chosen (or the choice is no longer
    theirs), the tenant whose portal domain the request came to, if they belong to it, else
    the first of theirs. None for a user with no active tenant."""
    if not request.user.is_authenticated:
        return None
    memberships = list(
        Membership.objects.filter(user_id=request.user.pk, tenant__status=Tenant.Status.ACTIVE)
        .select_related("tenant")
        .order_by("tenant__name", "tenant__slug")
    )
    if not memberships:
        return None
    chosen = request.session.get(SESSION_TENANT)
    current = next((m for m in memberships if m.tenant_id == chosen), None)
    if current is None:  # a domain pre-selects its tenant; it grants nothing by itself
        host_tenant = tenant_for_host(request.get_host())
        found = (m for m in memberships if host_tenant and m.tenant_id == host_tenant.pk)
        current = next(found, memberships[0])
    principal = Principal.for_member(current)
    return Seat(membership=current, principal=principal, memberships=memberships)


def page(
    request: HttpRequest, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    """A portal page with the seat (tenant switcher, navigation) in its context."""
    return render(
        request,
        template,
        {"seat": getattr(request, "seat", None), **(context or {})},
        status=status,
    )


def member_view(*, scope: str | None = None) -> Callable[[View], View]:
    """A portal view for signed-in members; with `scope`, only for roles that hold it (owners
    and admins hold `admin`; see tenants.principal.ROLE_SCOPES). Anything missing, or another
    tenant's, is the portal's 404 page."""

    def wrap(view: View) -> View:
        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            seat = seat_of(request)
            if seat is None:
                return page(request, "portal/no_tenant.html", status=403)
            request.seat = seat  # type: ignore[attr-defined]
            request.principal = seat.principal  # type: ignore[attr-defined]
            if scope is not None and not seat.principal.has_scope(scope):
                return page(request, "portal/forbidden.html", status=403)
            try:
                return view(request, *args, **kwargs)
            except Http404:
                return page(request, "portal/not_found.html", status=404)
            except ApplicationError as error:
                if error.status != 404:
                    raise
                return page(request, "portal/not_found.html", status=404)

        return guarded

    return wrap


def seat(request: HttpRequest) -> Seat:
    """The seat `member_view` resolved for this request."""
    found = getattr(request, "seat", None)
    assert isinstance(found, Seat), "a portal view outside member_view"
    return found


def is_htmx(request: HttpRequest) -> bool:
    """Whether htmx sent the request (it swaps a fragment instead of loading a page)."""
    return bool(getattr(request, "htmx", False))
