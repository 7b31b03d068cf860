"""Reads of tenants for the entry points above tenants (the portal)."""

from __future__ import annotations

from tenants.hosts import host_from_header
from tenants.models import Domain, Tenant


def tenant_for_host(host: str) -> Tenant | None:
    """The tenant whose domain (`Domain`, managed by staff in Django admin) is `host`: a Host
    header as the request carries it (`request.get_host()`; case, port and a trailing dot do not
    matter). None for a host that is no tenant's domain. A domain only pre-selects the tenant a
    page is about, e.g. on the portal's sign-in page; it grants nothing: the signed-in user must
    still be a member. The tenant is returned whatever its status: the caller decides what a
    suspended tenant's page shows."""
    name = host_from_header(host)
    if not name:
        return None
    domain = Domain.objects.select_related("tenant").filter(domain=name).first()
    return domain.tenant if domain is not None else None
