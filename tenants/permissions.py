"""Scope checks. A view names the scope each method needs in `required_scopes`."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants.principal import principal_of


class HasApiKey(BasePermission):
    """An authenticated principal; plus the scope the view requires for this method, if any."""

    message = "This API key lacks the scope this endpoint requires."

    def has_permission(self, request: Request, view: Any) -> bool:
        try:
            principal = principal_of(request)
        except NotAuthenticated:
            return False
        scope = getattr(view, "required_scopes", {}).get(request.method or "")
        if scope and not principal.has_scope(scope):
            self.message = f"This API key lacks the '{scope}' scope."
            self.code = "insufficient_scope"
            return False
        return True
