"""Stock voices' preview clips: `GET /v1/voices/{id}/preview`.

A pack voice's preview was stored when its pack was imported (a Piper voice's sample sentence,
an XTTS voice's cleaned reference clip); a catalog or studio voice's is made once by the first
worker of its engine that starts without one, and stored under `stock/previews/`. The clip is
the same for every tenant and costs no one anything; any valid key with `voices:read` may hear
it."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from callwaiting_tts.openapi import ErrorSerializer
from voices.selectors import stock_preview_audio


class _AnyAccept(DefaultContentNegotiation):
    """Audio whatever `Accept` says; errors are rendered as JSON."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type or "application/json"


class VoicePreviewView(APIView):
    parser_classes: list[type] = []
    content_negotiation_class = _AnyAccept
    required_scopes = {"GET": "voices:read"}

    @extend_schema(
        operation_id="voices_preview",
        responses={
            (200, "audio/wav"): OpenApiResponse(
                OpenApiTypes.BINARY, description="A short clip of the stock voice (WAV)."
            ),
            404: ErrorSerializer,
            503: ErrorSerializer,
        },
    )
    def get(self, request: Request, voice_id: str) -> HttpResponse:
        data = stock_preview_audio(voice_id)  # VoiceNotFound, PreviewUnavailable
        response = HttpResponse(data, content_type="audio/wav")
        response["Content-Length"] = str(len(data))
        response["Cache-Control"] = "private, max-age=3600"
        return response
