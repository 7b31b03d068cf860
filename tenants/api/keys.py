"""`/v1/keys`: a tenant's API keys over the API (scope `admin`), what the portal does by hand.

Decisions (README, "API keys over the API"):
- A key is addressed by its public prefix (`id` == `prefix`), never by its row id.
- An `admin` key may create `admin` keys: it can already do everything a new key could.
- Without `scopes` a new key gets every scope except `admin` (least privilege by default).
- `DELETE /v1/keys/{id}` revokes (the row stays, listed as `revoked`) and answers 200 with the
  key; revoking a revoked key answers the same 200 again, with its first `revoked_at` and no
  second audit record. A key may revoke itself; it is refused from the next request on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callwaiting_tts.openapi import ErrorSerializer
from callwaiting_tts.parsers import JSONParser
from callwaiting_tts.serializers import InputSerializer
from tenants.audit import Actor
from tenants.models import ALL_SCOPES, ApiKey, Scope
from tenants.principal import principal_of
from tenants.selectors import api_key_get, api_key_list, tenant_of
from tenants.services import api_key_create, api_key_revoke

DEFAULT_SCOPES = [s for s in ALL_SCOPES if s != Scope.ADMIN]
MAX_EXPIRY_DAYS = 3650


@extend_schema_field({"type": "string", "enum": ALL_SCOPES})
class ScopeField(serializers.CharField):
    """A scope's name. Unknown names are refused by the service (400 `invalid_scope` naming
    `scopes`), as for `manage.py create_api_key`."""


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    id = serializers.CharField(
        source="prefix",
        help_text="The key's public prefix (`cw_<prefix>_…`): its id in /v1/keys/{id}.",
    )
    status = serializers.SerializerMethodField()
    scopes = serializers.ListField(child=ScopeField())

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "prefix",
            "name",
            "scopes",
            "status",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]

    def get_status(self, api_key: ApiKey) -> str:
        """`active`, `revoked` or `expired` (revoked wins over expired)."""
        if api_key.is_revoked:
            return "revoked"
        return "expired" if api_key.is_expired else "active"


class NewApiKeySerializer(ApiKeySerializer):
    """A created key: the key's fields and, this once, its secret (the view adds it)."""

    secret = serializers.CharField(
        help_text="The whole key to send (`cw_<prefix>_<secret>`). Shown in this response only: "
        "it is not stored and cannot be shown again."
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "secret"]


class ApiKeyListSerializer(serializers.Serializer[Any]):
    keys = ApiKeySerializer(many=True)


class ApiKeyCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=100, help_text="What the key is for; 1-100 characters.")
    scopes = serializers.ListField(
        child=ScopeField(max_length=32),
        required=False,
        max_length=len(ALL_SCOPES) * 2,
        help_text="Default: every scope except `admin`. `admin` implies every other and may be "
        "granted by an `admin` key.",
    )
    expires_in_days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_EXPIRY_DAYS,
        required=False,
        help_text="Expire this many days from now. Not with `expires_at`.",
    )
    expires_at = serializers.DateTimeField(
        required=False, help_text="Expire at this time (in the future). Not with `expires_in_days`."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        days = attrs.pop("expires_in_days", None)
        if days is not None:
            if "expires_at" in attrs:
                raise serializers.ValidationError(
                    {"expires_in_days": "Give expires_in_days or expires_at, not both."},
                    code="invalid_expiry",
                )
            attrs["expires_at"] = timezone.now() + timedelta(days=days)
        return attrs


class ApiKeyListView(APIView):
    parser_classes = [JSONParser]
    required_scopes = {"GET": "admin", "POST": "admin"}

    @extend_schema(operation_id="keys_list", responses=ApiKeyListSerializer)
    def get(self, request: Request) -> Response:
        """The tenant's API keys, newest first, revoked and expired ones included. Never a
        secret or its hash."""
        keys = api_key_list(principal=principal_of(request))
        return Response({"keys": ApiKeySerializer(keys, many=True).data})

    @extend_schema(
        operation_id="keys_create",
        request=ApiKeyCreateSerializer,
        responses={201: NewApiKeySerializer, 400: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        """Creates a key; the response carries its `secret`, shown this once."""
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        principal = principal_of(request)
        created = api_key_create(
            tenant=tenant_of(principal),
            name=data["name"],
            scopes=data.get("scopes", DEFAULT_SCOPES),
            expires_at=data.get("expires_at"),
            by=Actor.of(request._request, principal),
        )
        body = {**ApiKeySerializer(created.api_key).data, "secret": created.secret}
        return Response(
            body, status=201, headers={"Location": f"/v1/keys/{created.api_key.prefix}"}
        )


class ApiKeyDetailView(APIView):
    parser_classes: list[type] = []
    required_scopes = {"GET": "admin", "DELETE": "admin"}

    @extend_schema(operation_id="keys_retrieve", responses=ApiKeySerializer)
    def get(self, request: Request, key_id: str) -> Response:
        api_key = api_key_get(principal=principal_of(request), key_id=key_id)
        return Response(ApiKeySerializer(api_key).data)

    @extend_schema(operation_id="keys_revoke", responses={200: ApiKeySerializer})
    def delete(self, request: Request, key_id: str) -> Response:
        """Revokes the key: refused from the next request on (the cached key record is
        dropped). Revoking a revoked key answers 200 again, unchanged. The calling key may
        revoke itself: this response is the last it gets."""
        principal = principal_of(request)
        api_key = api_key_get(principal=principal, key_id=key_id)
        revoked = api_key_revoke(api_key=api_key, by=Actor.of(request._request, principal))
        return Response(ApiKeySerializer(revoked).data)
