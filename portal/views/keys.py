"""API keys: list, create (the secret shown once), revoke after a confirmation step. Owners
and admins only; the writes are tenants' services, audited with the member as the actor."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from callwaiting_tts.errors import ApplicationError
from portal.access import is_htmx, member_view, page, seat
from portal.forms import ApiKeyForm
from tenants.audit import Actor
from tenants.models import Scope
from tenants.selectors import api_key_get, api_key_list
from tenants.services import api_key_create, api_key_revoke


def _list(request: HttpRequest, form: ApiKeyForm, status: int = 200) -> HttpResponse:
    keys = api_key_list(principal=seat(request).principal)
    context = {"keys": keys, "form": form, "nav": "keys"}
    return page(request, "portal/keys/list.html", context, status=status)


@require_http_methods(["GET", "POST"])
@member_view(scope=Scope.ADMIN)
def key_list(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _list(request, ApiKeyForm())
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _list(request, form, status=400)
    days = form.cleaned_data["expires_in_days"]
    principal = seat(request).principal
    try:
        created = api_key_create(
            tenant=seat(request).tenant,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            created_by=request.user,  # type: ignore[arg-type]
            by=Actor.of(request, principal),
        )
    except ApplicationError as error:
        form.add_error(error.param if error.param in form.fields else None, error.message)
        return _list(request, form, status=400)
    # A whole page for htmx too: its form picks the panel out of it (hx-select).
    response = page(request, "portal/keys/created.html", {"created": created, "nav": "keys"})
    response["Cache-Control"] = "no-store"  # the secret must not linger in any cache
    return response


@require_http_methods(["GET", "POST"])
@member_view(scope=Scope.ADMIN)
def key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    """GET asks for confirmation (a fragment in the row for htmx); POST revokes."""
    principal = seat(request).principal
    api_key = api_key_get(principal=principal, key_id=key_id)
    if request.method != "POST":
        template = "portal/keys/_revoke.html" if is_htmx(request) else "portal/keys/revoke.html"
        return page(request, template, {"key": api_key, "nav": "keys"})
    api_key_revoke(api_key=api_key, by=Actor.of(request, principal))
    messages.success(request, f"Key “{api_key.name}” ({api_key.prefix}…) is revoked.")
    return redirect("portal:keys")
