from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callwaiting_tts.errors import ApplicationError
from callwaiting_tts.openapi import ErrorSerializer
from callwaiting_tts.parsers import JSONParser
from tenants.audit import Actor
from tenants.principal import principal_of
from voices.api.serializers import (
    ConsentStatementSerializer,
    VoiceCreateSerializer,
    VoiceListSerializer,
    VoiceSerializer,
    VoiceUpdateSerializer,
    VoiceUploadSerializer,
)
from voices.consent import CURRENT as CONSENT
from voices.selectors import (
    stock_voice_entry,
    stock_voices,
    voice_consents,
    voice_get,
    voice_list,
)
from voices.services import (
    consent_recording_required,
    voice_create,
    voice_delete,
    voice_queue_validation,
    voice_update,
    voice_upload,
)


class VoiceListView(APIView):
    parser_classes = [JSONParser]
    required_scopes = {"GET": "voices:read", "POST": "voices:write"}

    @extend_schema(operation_id="voices_list", responses=VoiceListSerializer)
    def get(self, request: Request) -> Response:
        principal = principal_of(request)
        stock = [stock_voice_entry(v) for v in stock_voices().values()]
        own = voice_list(principal=principal)
        consents = voice_consents(principal=principal, voice_ids=[str(v.pk) for v in own])
        presets = VoiceSerializer(own, many=True, context={"consents": consents}).data
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
    parser_classes = [JSONParser]
    required_scopes = {"GET": "voices:read", "PATCH": "voices:write", "DELETE": "voices:write"}

    @extend_schema(operation_id="voices_retrieve", responses=VoiceSerializer)
    def get(self, request: Request, voice_id: str) -> Response:
        principal = principal_of(request)
        voice = voice_get(principal=principal, voice_id=voice_id)
        consents = voice_consents(principal=principal, voice_ids=[voice_id])
        return Response(VoiceSerializer(voice, context={"consents": consents}).data)

    @extend_schema(
        operation_id="voices_update",
        request=VoiceUpdateSerializer,
        responses={200: VoiceSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
    )
    def patch(self, request: Request, voice_id: str) -> Response:
        """Renames a voice or changes its description, language, speed, base voice (a preset)
        or whether it is the default; its `version` goes up by one."""
        principal = principal_of(request)
        voice = voice_get(principal=principal, voice_id=voice_id)
        serializer = VoiceUpdateSerializer(data=request.data, context={"voice": voice})
        serializer.is_valid(raise_exception=True)
        updated = voice_update(
            principal=principal,
            by=Actor.of(request._request, principal),
            voice_id=voice_id,
            **serializer.validated_data,
        )
        consents = voice_consents(principal=principal, voice_ids=[str(updated.pk)])
        return Response(VoiceSerializer(updated, context={"consents": consents}).data)

    @extend_schema(operation_id="voices_delete", responses={204: None})
    def delete(self, request: Request, voice_id: str) -> Response:
        principal = principal_of(request)
        voice_delete(
            principal=principal, by=Actor.of(request._request, principal), voice_id=voice_id
        )
        return Response(status=204)


def _read(upload: UploadedFile | None, limit: int) -> bytes | None:
    """The bytes of an uploaded file, refused past `limit` (a body sent without a declared
    length escapes the middleware's check)."""
    if upload is None:
        return None
    if upload.size is not None and upload.size > limit:
        raise ApplicationError(
            f"The file is larger than {limit // 2**20} MiB.", code="file_too_large", status=413
        )
    return upload.read()


class VoiceUploadView(APIView):
    parser_classes = [MultiPartParser]
    required_scopes = {"POST": "voices:write"}

    @extend_schema(
        operation_id="voices_upload",
        request={"multipart/form-data": VoiceUploadSerializer},
        responses={
            202: VoiceSerializer,
            400: ErrorSerializer,
            403: OpenApiResponse(ErrorSerializer, description="Cloned-voice limit or plan."),
            409: ErrorSerializer,
            413: ErrorSerializer,
        },
        description="Uploads a reference clip for a cloned voice. The voice is `uploaded`; "
        "GET it to follow `validating → validated → cloning → ready` (or `failed`, with the "
        "report saying why).",
    )
    def post(self, request: Request) -> Response:
        serializer = VoiceUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        principal = principal_of(request)
        limit = settings.VOICE_UPLOAD_MAX_BYTES
        voice = voice_upload(
            schema_name=principal.schema_name,
            tenant_id=principal.tenant_id,
            by=Actor.of(request._request, principal),
            name=data["name"],
            language=data["language"],
            description=data["description"],
            engine=data["engine"],
            consent=data["consent"],
            audio=_read(data["file"], limit) or b"",
            consent_recording=_read(data.get("consent_recording"), limit),
        )
        voice_queue_validation(schema_name=principal.schema_name, voice=voice)
        consents = voice_consents(principal=principal, voice_ids=[str(voice.pk)])
        body = VoiceSerializer(voice, context={"consents": consents}).data
        return Response(body, status=202, headers={"Location": f"/v1/voices/{voice.pk}"})


class ConsentStatementView(APIView):
    parser_classes: list[type] = []
    required_scopes = {"GET": "voices:read"}

    @extend_schema(operation_id="voices_consent_statement", responses=ConsentStatementSerializer)
    def get(self, request: Request) -> Response:
        """The statement an upload's `consent=true` attests to, and the sentence a consent
        recording reads."""
        principal = principal_of(request)
        return Response(
            {
                "version": CONSENT.version,
                "text": CONSENT.text,
                "sentence": CONSENT.sentence,
                "recording_required": consent_recording_required(principal.tenant_id),
            }
        )
