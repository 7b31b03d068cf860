"""`POST /v1/synthesize` (native) and `POST /v1/audio/speech` (OpenAI-compatible)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import UsageRecord
from callwaiting_tts.async_views import AsyncApiView
from callwaiting_tts.backpressure import UNSENT
from callwaiting_tts.errors import ApplicationError
from callwaiting_tts.openapi import ErrorSerializer
from callwaiting_tts.parsers import JSONParser
from synthesis import idempotency
from synthesis.api import responses
from synthesis.api.serializers import (
    NATIVE_FORMATS,
    OPENAI_FORMATS,
    PreviewResultSerializer,
    PreviewSerializer,
    SpeechSerializer,
    SynthesizeSerializer,
)
from synthesis.audio.formats import FORMATS
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
    "chunked unless `stream` is false or the format is FLAC (then the whole file, with "
    "Content-Length). A body that ends early means the synthesis failed after the first byte.",
)


def _audio_responses(formats: Iterable[str]) -> dict[tuple[int, str], OpenApiResponse]:
    """The 200 of an audio endpoint: each format's own media type (what its Content-Type says,
    less parameters), so that generated clients read the body as bytes, not text."""
    media_types = sorted({FORMATS[name].media_type.split(";")[0] for name in formats})
    return {(200, media_type): _AUDIO for media_type in media_types}


_IDEMPOTENCY_KEY = OpenApiParameter(
    idempotency.HEADER,
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="1-255 printable ASCII characters, unique per request (e.g. a UUID), kept 24 h "
    "per tenant. A retry with the same key and body is synthesized again and not billed again "
    "(`Idempotent-Replayed: true`); while the first attempt runs, a retry gets 409 "
    "`idempotency_in_progress`; the key with another body gets 409 `idempotency_key_reused`.",
)
_CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="`idempotency_in_progress` (with Retry-After) or `idempotency_key_reused`.",
)
# Found by the stateful fuzzing (tests/test_fuzz.py): the 404 was answered, not documented.
_UNKNOWN_DICTIONARY = OpenApiResponse(
    ErrorSerializer,
    description="A pronunciation dictionary named is not one of yours (or does not exist).",
)


@dataclass(frozen=True)
class Started:
    synthesis: Synthesis
    replayed: bool  # an earlier attempt under its Idempotency-Key existed

    def marked(self, response: HttpResponseBase) -> HttpResponseBase:
        """A retry under an Idempotency-Key says so, and what it bills (only what earlier
        attempts did not)."""
        if self.replayed:
            billed = self.synthesis.billed_characters(UsageRecord.Status.COMPLETED)
            response["Idempotent-Replayed"] = "true"
            response["X-Characters-Billed"] = str(billed)
        return response


async def _start(request: Request, data: SynthesisInput, values: dict[str, Any]) -> Started:
    """Starts the synthesis under the request's Idempotency-Key, if it has one: a retry is
    billed only what earlier attempts did not bill. On the event loop (an async view): only
    the idempotency record's reads and writes go to a thread."""
    principal = principal_of(request)
    request_id = getattr(request._request, "request_id", "")
    # Under daphne: how much of the response its connection holds unsent (slow readers).
    unsent = getattr(request._request, "scope", {}).get(UNSENT)
    key = idempotency.idempotency_key_of(request._request)
    if key is None:
        synthesis = await synthesis_start(principal=principal, data=data, request_id=request_id)
        synthesis.unsent = unsent
        return Started(synthesis, replayed=False)
    claim = await sync_to_async(idempotency.idempotency_begin)(
        tenant_id=principal.tenant_id, idempotency_key=key, path=request.path, values=values
    )
    try:
        synthesis = await synthesis_start(principal=principal, data=data, request_id=request_id)
    except BaseException:  # refused before anything was synthesized: nothing to remember
        await sync_to_async(idempotency.idempotency_abort)(claim)
        raise
    await sync_to_async(idempotency.idempotency_attach)(claim, synthesis)
    synthesis.unsent = unsent
    return Started(synthesis, replayed=claim.replayed)


async def _audio(synthesis: Synthesis, *, stream: bool) -> HttpResponseBase:
    """The audio body: chunked as it is made, or the whole file with Content-Length, which a
    format whose header needs the length (FLAC) always is."""
    if stream and FORMATS[synthesis.input.output_format].streamable:
        return responses.streamed(synthesis)
    audio = await responses.whole_audio(synthesis)
    return responses.whole(synthesis, audio)


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


class AudioView(AsyncApiView, MeteredView):
    """An audio endpoint: on the event loop from authentication to the first audio
    (`callwaiting_tts.async_views`)."""


class SynthesizeView(AudioView):
    parser_classes = [JSONParser]
    content_negotiation_class = AudioNegotiation
    required_scopes = {"POST": "synthesize"}

    @extend_schema(
        operation_id="synthesize",
        request=SynthesizeSerializer,
        parameters=[_IDEMPOTENCY_KEY],
        responses={
            **_audio_responses(NATIVE_FORMATS),
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR,
                description="With `stream_format: sse`: audio, mark, words (with `timestamps: "
                "word`), done.",
            ),
            404: _UNKNOWN_DICTIONARY,
            409: _CONFLICT,
        },
    )
    async def post(self, request: Request) -> HttpResponseBase:
        serializer = SynthesizeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values: dict[str, Any] = serializer.validated_data
        started = await _start(request, serializer.to_input(), values)
        synthesis = started.synthesis
        if values["stream_format"] == "sse":
            return started.marked(responses.native_server_sent_events(synthesis))
        return started.marked(await _audio(synthesis, stream=values["stream"]))


class SpeechView(AudioView):
    """OpenAI-compatible speech: point the OpenAI SDK's `base_url` at `.../v1`."""

    parser_classes = [JSONParser]
    content_negotiation_class = AudioNegotiation
    required_scopes = {"POST": "synthesize"}

    @extend_schema(
        operation_id="audio_speech",
        request=SpeechSerializer,
        parameters=[_IDEMPOTENCY_KEY],
        responses={
            **_audio_responses(OPENAI_FORMATS),
            (200, "text/event-stream"): OpenApiResponse(OpenApiTypes.STR),
            404: _UNKNOWN_DICTIONARY,
            409: _CONFLICT,
        },
    )
    async def post(self, request: Request) -> HttpResponseBase:
        serializer = SpeechSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values: dict[str, Any] = serializer.validated_data
        started = await _start(request, serializer.to_input(), values)
        if values["stream_format"] == "sse":
            return started.marked(responses.server_sent_events(started.synthesis))
        return started.marked(await _audio(started.synthesis, stream=True))


class TextPreviewView(MeteredView):
    """What the engine will be given: segments of normalized text with their pauses, prosody
    and marks. Nothing is synthesized or billed; it counts toward the rate limit."""

    parser_classes = [JSONParser]
    required_scopes = {"POST": "synthesize"}

    @extend_schema(
        operation_id="text_preview",
        request=PreviewSerializer,
        responses={200: PreviewResultSerializer, 404: _UNKNOWN_DICTIONARY},
    )
    def post(self, request: Request) -> Response:
        serializer = PreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        principal = principal_of(request)
        request_id = getattr(request._request, "request_id", "")
        voice, plan = text_preview(
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
                "parts": [{"type": kind, "value": value} for kind, value in s.parts],
            }
            for s in plan.segments
        ],
        "pronunciation_dictionaries": list(plan.dictionaries),
        "warnings": plan.warnings,
    }
