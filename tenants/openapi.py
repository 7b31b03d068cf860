"""drf-spectacular: the API key as the OpenAPI security scheme."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "cw_<prefix>_<secret>",
            "description": "An API key as `Authorization: Bearer <key>` (also accepted as "
            "`X-API-Key` or `xi-api-key`).",
        }
