"""`GET /v1/syntheses/{id}`: what an ended synthesis delivered, billed and was heard saying; for
an HTTP stream the client cut short (a caller's barge-in), the text spoken up to the audio
delivered. Another tenant's synthesis is a 404, like every object of another tenant."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callwaiting_tts.openapi import ErrorSerializer
from synthesis.models import SynthesisRecord
from synthesis.selectors import synthesis_record_get
from tenants.principal import principal_of


class SynthesisRecordSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(
        choices=["done", "cancelled", "failed"],
        help_text="`cancelled`: the client went away (or cancelled) before the end.",
    )
    voice = serializers.CharField()
    engine = serializers.CharField()
    output_format = serializers.CharField()
    characters_billed = serializers.IntegerField(source="characters")
    audio_ms_delivered = serializers.SerializerMethodField()
    text_spoken = serializers.CharField(
        help_text="The input's words, as written, whose audio was delivered (all of them when "
        "done); for a socket context cut short, up to the `played_ms` its cancel gave."
    )
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_audio_ms_delivered(self, record: SynthesisRecord) -> int:
        return round(record.audio_seconds * 1000)


class SynthesisDetailView(APIView):
    parser_classes: list[type] = []
    required_scopes = {"GET": "synthesize"}

    @extend_schema(
        operation_id="syntheses_retrieve",
        responses={200: SynthesisRecordSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request, synthesis_id: str) -> Response:
        record = synthesis_record_get(principal=principal_of(request), synthesis_id=synthesis_id)
        return Response(SynthesisRecordSerializer(record).data)
