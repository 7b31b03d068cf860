"""DRF authentication: the one place an HTTP API request gets its principal."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from callwaiting_tts.logs import tenant_var
from tenants.auth import ApiKeyError, authenticate_api_key, key_from_headers
from tenants.principal import Principal


def client_address(request: Request) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _as_drf_error(error: ApiKeyError) -> exceptions.APIException:
    if error.status == 429:
        return exceptions.Throttled(wait=error.retry_after, detail=error.message, code=error.code)
    if error.status == 403:
        return exceptions.PermissionDenied(error.message, code=error.code)
    return exceptions.AuthenticationFailed(error.message, code=error.code)


class ApiKeyAuthentication(BaseAuthentication):
    """Resolves API key → principal once per request and puts it on `request.principal`
    (`tenants.principal.principal_of` reads it). The schema is not switched here: services
    enter the tenant's schema themselves (`tenants.db`)."""

    def authenticate(self, request: Request) -> tuple[Principal, Principal] | None:
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            raw = key_from_headers(headers)
            if raw is None:
                return None
            principal = authenticate_api_key(raw, client=client_address(request))
        except ApiKeyError as error:
            raise _as_drf_error(error) from None
        request._request.principal = principal  # type: ignore[attr-defined]
        tenant_var.set(principal.tenant_slug)
        return principal, principal

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
