from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from billing.api.stats import tenant_stats
from billing.limits import limits_for
from portal.access import member_view, page, seat
from tenants.selectors import api_key_list
from voices.selectors import voice_count


@member_view()
def home(request: HttpRequest) -> HttpResponse:
    """The overview: who you are here, and where to go next."""
    principal = seat(request).principal
    active = [key for key in api_key_list(principal=principal) if key.revoked_at is None]
    return page(
        request,
        "portal/home.html",
        {
            "active_keys": len(active),
            "voice_count": voice_count(principal=principal),
            "stats": tenant_stats(principal, limits_for(principal.tenant_id)),
            "nav": "home",
            "api_base": request.build_absolute_uri("/v1"),
        },
    )
