from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.principal import principal_of


class MeTenantSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class MeKeySerializer(serializers.Serializer[Any]):
    prefix = serializers.CharField()
    name = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    expires_at = serializers.DateTimeField(allow_null=True)


class MeSerializer(serializers.Serializer[Any]):
    tenant = MeTenantSerializer()
    api_key = MeKeySerializer()


class MeView(APIView):
    """Who the caller is: the tenant and API key it is authenticated as."""

    parser_classes: list[type] = []

    @extend_schema(operation_id="me_retrieve", responses=MeSerializer)
    def get(self, request: Request) -> Response:
        principal = principal_of(request)
        expires = principal.expires_at
        return Response(
            {
                "tenant": {
                    "id": principal.tenant_id,
                    "slug": principal.tenant_slug,
                    "name": principal.tenant_name,
                },
                "api_key": {
                    "prefix": principal.prefix,
                    "name": principal.name,
                    "scopes": sorted(principal.scopes),
                    "expires_at": datetime.fromtimestamp(expires, UTC).isoformat()
                    if expires
                    else None,
                },
            }
        )
