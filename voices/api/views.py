from __future__ import annotations

from uuid import UUID

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callwaiting_tts.openapi import ErrorSerializer
from tenants.auth import KeyPrincipal
from tenants.models import AuditLog, Tenant
from tenants.services import Actor
from voices.api.serializers import VoiceCreateSerializer, VoiceListSerializer, VoiceSerializer
from voices.catalogue import STOCK_VOICES
from voices.models import Voice
from voices.selectors import stock_voice_entry
from voices.services import voice_create, voice_delete


def _voice_or_404(voice_id: str) -> Voice:
    # The schema is the caller's tenant's, so another tenant's voice is simply not found.
    try:
        return Voice.objects.get(pk=UUID(voice_id))
    except (ValueError, Voice.DoesNotExist):
        raise Http404 from None


class VoiceListView(APIView):
    parser_classes = [JSONParser]
    required_scopes = {"GET": "voices:read", "POST": "voices:write"}

    @extend_schema(operation_id="voices_list", responses=VoiceListSerializer)
    def get(self, request: Request) -> Response:
        stock = [stock_voice_entry(v) for v in STOCK_VOICES.values()]
        presets = VoiceSerializer(Voice.objects.all(), many=True).data
        return Response({"voices": [*stock, *presets]})

    @extend_schema(
        operation_id="voices_create",
        request=VoiceCreateSerializer,
        responses={201: VoiceSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = VoiceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        voice = voice_create(
            **serializer.validated_data, by=_actor(request), tenant=_tenant(request)
        )
        return Response(VoiceSerializer(voice).data, status=201)


class VoiceDetailView(APIView):
    parser_classes: list[type] = []
    required_scopes = {"GET": "voices:read", "DELETE": "voices:write"}

    @extend_schema(operation_id="voices_retrieve", responses=VoiceSerializer)
    def get(self, request: Request, voice_id: str) -> Response:
        return Response(VoiceSerializer(_voice_or_404(voice_id)).data)

    @extend_schema(operation_id="voices_delete", responses={204: None})
    def delete(self, request: Request, voice_id: str) -> Response:
        voice_delete(voice=_voice_or_404(voice_id), by=_actor(request), tenant=_tenant(request))
        return Response(status=204)


def _actor(request: Request) -> Actor:
    principal = request.auth
    assert isinstance(principal, KeyPrincipal)
    return Actor.from_request(
        request._request, actor=f"api_key:{principal.prefix}", source=AuditLog.Source.API
    )


def _tenant(request: Request) -> Tenant:
    principal = request.auth
    assert isinstance(principal, KeyPrincipal)
    return principal.tenant()
