from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callwaiting_tts.openapi import ErrorSerializer
from tenants.audit import Actor
from tenants.principal import principal_of
from voices.api.serializers import VoiceCreateSerializer, VoiceListSerializer, VoiceSerializer
from voices.selectors import stock_voice_entry, stock_voices, voice_get, voice_list
from voices.services import voice_create, voice_delete


class VoiceListView(APIView):
    parser_classes = [JSONParser]
    required_scopes = {"GET": "voices:read", "POST": "voices:write"}

    @extend_schema(operation_id="voices_list", responses=VoiceListSerializer)
    def get(self, request: Request) -> Response:
        stock = [stock_voice_entry(v) for v in stock_voices().values()]
        presets = VoiceSerializer(voice_list(principal=principal_of(request)), many=True).data
        return Response({"voices": [*stock, *presets]})

    @extend_schema(
        operation_id="voices_create",
        request=VoiceCreateSerializer,
        responses={201: VoiceSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = VoiceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        principal = principal_of(request)
        voice = voice_create(
            principal=principal,
            by=Actor.of(request._request, principal),
            **serializer.validated_data,
        )
        return Response(VoiceSerializer(voice).data, status=201)


class VoiceDetailView(APIView):
    parser_classes: list[type] = []
    required_scopes = {"GET": "voices:read", "DELETE": "voices:write"}

    @extend_schema(operation_id="voices_retrieve", responses=VoiceSerializer)
    def get(self, request: Request, voice_id: str) -> Response:
        voice = voice_get(principal=principal_of(request), voice_id=voice_id)
        return Response(VoiceSerializer(voice).data)

    @extend_schema(operation_id="voices_delete", responses={204: None})
    def delete(self, request: Request, voice_id: str) -> Response:
        principal = principal_of(request)
        voice_delete(
            principal=principal, by=Actor.of(request._request, principal), voice_id=voice_id
        )
        return Response(status=204)
