"""Reads the portal shows that no other room offers yet (API keys: `tenants.selectors`, as
the API reads them). Each starts from the principal's
tenant, so another tenant's row is simply not found."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from tenants.models import Membership
from tenants.principal import Principal


def membership_list(*, principal: Principal) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(tenant_id=principal.tenant_id)
        .select_related("user")
        .order_by("user__email")
    )


def membership_get(*, principal: Principal, membership_id: int) -> Membership:
    """The tenant's membership `membership_id`; Http404 when missing or another tenant's."""
    return get_object_or_404(
        Membership.objects.select_related("user", "tenant"),
        pk=membership_id,
        tenant_id=principal.tenant_id,
    )
