"""`/v1/pronunciations`: a tenant's pronunciation dictionaries (docs/pronunciations.md).
Reading needs `voices:read`, writing `voices:write`, as for voices: both decide how the
tenant's agents sound."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callwaiting_tts.openapi import ErrorSerializer
from callwaiting_tts.parsers import JSONParser
from pronunciations.api.serializers import (
    PronunciationDictionaryCreateSerializer,
    PronunciationDictionaryImportSerializer,
    PronunciationDictionaryListSerializer,
    PronunciationDictionarySerializer,
    PronunciationDictionarySummarySerializer,
    PronunciationDictionaryUpdateSerializer,
    entries_of,
)
from pronunciations.pls import write_pls
from pronunciations.selectors import dictionary_get, dictionary_list
from pronunciations.selectors import entries_of as stored_entries
from pronunciations.services import (
    dictionary_create,
    dictionary_delete,
    dictionary_import,
    dictionary_update,
)
from tenants.audit import Actor
from tenants.principal import principal_of

PLS_TYPE = "application/pls+xml"
_LIMITS = OpenApiResponse(
    ErrorSerializer, description="Over the plan's dictionaries or entries per dictionary."
)


class PronunciationListView(APIView):
    parser_classes = [JSONParser]
    required_scopes = {"GET": "voices:read", "POST": "voices:write"}

    @extend_schema(
        operation_id="pronunciations_list", responses=PronunciationDictionaryListSerializer
    )
    def get(self, request: Request) -> Response:
        found = dictionary_list(principal=principal_of(request))
        body = PronunciationDictionarySummarySerializer(found, many=True).data
        return Response({"pronunciation_dictionaries": body})

    @extend_schema(
        operation_id="pronunciations_create",
        request=PronunciationDictionaryCreateSerializer,
        responses={
            201: PronunciationDictionarySerializer,
            400: ErrorSerializer,
            403: _LIMITS,
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = PronunciationDictionaryCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        data["entries"] = entries_of(data["entries"])
        principal = principal_of(request)
        dictionary = dictionary_create(
            principal=principal, by=Actor.of(request._request, principal), **data
        )
        return Response(
            PronunciationDictionarySerializer(dictionary).data,
            status=201,
            headers={"Location": f"/v1/pronunciations/{dictionary.pk}"},
        )


class PronunciationImportView(APIView):
    parser_classes = [JSONParser]
    required_scopes = {"POST": "voices:write"}

    @extend_schema(
        operation_id="pronunciations_import",
        request=PronunciationDictionaryImportSerializer,
        responses={
            201: PronunciationDictionarySerializer,
            400: ErrorSerializer,
            403: _LIMITS,
            409: ErrorSerializer,
            413: ErrorSerializer,
        },
        description="A new dictionary from a W3C PLS document, or from a starter list.",
    )
    def post(self, request: Request) -> Response:
        serializer = PronunciationDictionaryImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        principal = principal_of(request)
        dictionary = dictionary_import(
            principal=principal,
            by=Actor.of(request._request, principal),
            **serializer.validated_data,
        )
        return Response(
            PronunciationDictionarySerializer(dictionary).data,
            status=201,
            headers={"Location": f"/v1/pronunciations/{dictionary.pk}"},
        )


class PronunciationDetailView(APIView):
    parser_classes = [JSONParser]
    required_scopes = {"GET": "voices:read", "PATCH": "voices:write", "DELETE": "voices:write"}

    @extend_schema(
        operation_id="pronunciations_retrieve", responses=PronunciationDictionarySerializer
    )
    def get(self, request: Request, dictionary_id: str) -> Response:
        found = dictionary_get(principal=principal_of(request), dictionary_id=dictionary_id)
        return Response(PronunciationDictionarySerializer(found).data)

    @extend_schema(
        operation_id="pronunciations_update",
        request=PronunciationDictionaryUpdateSerializer,
        responses={
            200: PronunciationDictionarySerializer,
            400: ErrorSerializer,
            403: _LIMITS,
            409: ErrorSerializer,
        },
    )
    def patch(self, request: Request, dictionary_id: str) -> Response:
        """Renames it or changes its description, language, entries (all replaced) or whether it
        is the default; its `version` goes up by one."""
        principal = principal_of(request)
        dictionary_get(principal=principal, dictionary_id=dictionary_id)  # 404 before a 400
        serializer = PronunciationDictionaryUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes: dict[str, Any] = dict(serializer.validated_data)
        if "entries" in changes:
            changes["entries"] = entries_of(changes["entries"])
        updated = dictionary_update(
            principal=principal,
            by=Actor.of(request._request, principal),
            dictionary_id=dictionary_id,
            **changes,
        )
        return Response(PronunciationDictionarySerializer(updated).data)

    @extend_schema(operation_id="pronunciations_delete", responses={204: None})
    def delete(self, request: Request, dictionary_id: str) -> Response:
        principal = principal_of(request)
        dictionary_delete(
            principal=principal,
            by=Actor.of(request._request, principal),
            dictionary_id=dictionary_id,
        )
        return Response(status=204)


class _PlsRenderer(BaseRenderer):
    media_type = PLS_TYPE
    format = "pls"
    charset = "utf-8"


class _PlsOrJsonErrors(DefaultContentNegotiation):
    """The document whatever `Accept` says; errors are rendered as JSON."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type or "application/json"


class PronunciationExportView(APIView):
    parser_classes: list[type] = []
    renderer_classes = [_PlsRenderer]
    content_negotiation_class = _PlsOrJsonErrors
    required_scopes = {"GET": "voices:read"}

    @extend_schema(
        operation_id="pronunciations_export",
        responses={
            (200, PLS_TYPE): OpenApiResponse(
                OpenApiTypes.STR, description="The dictionary as a W3C PLS 1.0 document (IPA)."
            ),
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, dictionary_id: str) -> HttpResponse:
        found = dictionary_get(principal=principal_of(request), dictionary_id=dictionary_id)
        document = write_pls(found.language, stored_entries(found))
        response = HttpResponse(document.encode("utf-8"), content_type=f"{PLS_TYPE}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{found.pk}.pls"'
        return response
