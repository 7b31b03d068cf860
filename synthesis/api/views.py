"""`POST /v1/synthesize` (native) and `POST /v1/audio/speech` (OpenAI-compatible)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callwaiting_tts.backpressure import UNSENT
from callwaiting_tts.errors import ApplicationError
from synthesis.api import responses
from synthesis.api.serializers import (
    PreviewResultSerializer,
    PreviewSerializer,
    SpeechSerializer,
    SynthesizeSerializer,
)
from synthesis.services import (
    Synthesis,
    SynthesisInput,
    refused_request,
    synthesis_start,
    text_preview,
)
from synthesis.text.model import Plan
from tenants.principal import Principal, principal_of


class AudioNegotiation(DefaultContentNegotiation):
    """Audio endpoints answer audio whatever `Accept` says (the OpenAI SDK sends
    `application/octet-stream`, which DRF's default negotiation refuses with 406); errors are
    rendered as JSON."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type or "application/json"


_AUDIO = OpenApiResponse(
    OpenApiTypes.BINARY,
    description="Audio in the requested format; "
    "chunked unless `stream` is false. A body that ends early means the "
    "synthesis failed after the first byte.",
)


def _start(request: Request, data: SynthesisInput) -> Synthesis:
    principal = principal_of(request)
    request_id = getattr(request._request, "request_id", "")
    synthesis = async_to_sync(synthesis_start)(
        principal=principal, data=data, request_id=request_id
    )
    # Under daphne: how much of the response its connection holds unsent (slow readers).
    synthesis.unsent = getattr(request._request, "scope", {}).get(UNSENT)
    return synthesis


class MeteredView(APIView):
    """A synthesis endpoint: a request refused as invalid before it reaches the service (the
    serializer's 400) counts toward the rate limit, as the service's own refusals do."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ValidationError | ParseError):
            principal = getattr(self.request, "principal", None)
            if isinstance(principal, Principal):
                request_id = getattr(self.request._request, "request_id", "")
                error = ApplicationError("invalid", code="invalid_request", status=400)
                async_to_sync(refused_request)(principal, request_id, error)
        return super().handle_exception(exc)


class SynthesizeView(MeteredView):
    parser_classes = [JSONParser]
    content_negotiation_class = AudioNegotiation
    required_scopes = {"POST": "synthesize"}

    @extend_schema(
        operation_id="synthesize",
        request=SynthesizeSerializer,
        responses={
            (200, "audio/*"): _AUDIO,
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR, description="With `stream_format: sse`: audio, mark, done."
            ),
        },
    )
    def post(self, request: Request) -> HttpResponseBase:
        serializer = SynthesizeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values: dict[str, Any] = serializer.validated_data
        synthesis = _start(request, serializer.to_input())
        if values["stream_format"] == "sse":
            return responses.native_server_sent_events(synthesis)
        if values["stream"]:
            return responses.streamed(synthesis)
        return responses.whole(synthesis, async_to_sync(responses.whole_audio)(synthesis))


class SpeechView(MeteredView):
    """OpenAI-compatible speech: point the OpenAI SDK's `base_url` at `.../v1`."""

    parser_classes = [JSONParser]
    content_negotiation_class = AudioNegotiation
    required_scopes = {"POST": "synthesize"}

    @extend_schema(
        operation_id="audio_speech",
        request=SpeechSerializer,
        responses={
            (200, "audio/*"): _AUDIO,
            (200, "text/event-stream"): OpenApiResponse(OpenApiTypes.STR),
        },
    )
    def post(self, request: Request) -> HttpResponseBase:
        serializer = SpeechSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values: dict[str, Any] = serializer.validated_data
        synthesis = _start(request, serializer.to_input())
        if values["stream_format"] == "sse":
            return responses.server_sent_events(synthesis)
        return responses.streamed(synthesis)


class TextPreviewView(MeteredView):
    """What the engine will be given: segments of normalized text with their pauses, prosody
    and marks. Nothing is synthesized or billed; it counts toward the rate limit."""

    parser_classes = [JSONParser]
    required_scopes = {"POST": "synthesize"}

    @extend_schema(
        operation_id="text_preview",
        request=PreviewSerializer,
        responses={200: PreviewResultSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = PreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        principal = principal_of(request)
        request_id = getattr(request._request, "request_id", "")
        voice, plan = async_to_sync(text_preview)(
            principal=principal, data=serializer.to_input(), request_id=request_id
        )
        return Response(preview_body(plan, voice_id=voice.id, engine=voice.stock.engine))


def preview_body(plan: Plan, *, voice_id: str, engine: str) -> dict[str, Any]:
    return {
        "voice": voice_id,
        "engine": engine,
        "characters": plan.characters,
        "leading_pause_ms": plan.leading_pause_ms,
        "leading_marks": list(plan.leading_marks),
        "segments": [
            {
                "text": s.text,
                "input_text": s.source,
                "language": s.language,
                "rate": round(s.prosody.rate, 4),
                "pitch_st": round(s.prosody.pitch_st, 3),
                "volume_db": None if s.prosody.silent else round(s.prosody.volume_db, 2),
                "pause_after_ms": s.pause_after_ms,
                "marks": list(s.marks),
                "marks_after": list(s.marks_after),
                "characters": s.chars,
            }
            for s in plan.segments
        ],
        "warnings": plan.warnings,
    }
