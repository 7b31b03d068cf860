from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from synthesis.engines.catalog import LANGUAGES, STOCK_VOICES
from voices.models import Voice


class VoiceSerializer(serializers.ModelSerializer[Voice]):
    id = serializers.UUIDField(read_only=True)
    type = serializers.SerializerMethodField()
    sample_rate = serializers.SerializerMethodField()
    engine = serializers.SerializerMethodField()

    class Meta:
        model = Voice
        fields = [
            "id",
            "type",
            "name",
            "description",
            "base_voice",
            "language",
            "speed",
            "is_default",
            "sample_rate",
            "engine",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "type", "created_at", "updated_at"]

    def get_type(self, voice: Voice) -> str:
        return "preset"

    def get_sample_rate(self, voice: Voice) -> int:
        return STOCK_VOICES[voice.base_voice].sample_rate

    def get_engine(self, voice: Voice) -> str:
        return STOCK_VOICES[voice.base_voice].engine


class StockVoiceSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    type = serializers.CharField(help_text="stock")
    name = serializers.CharField()
    language = serializers.CharField()
    description = serializers.CharField()
    sample_rate = serializers.IntegerField()
    engine = serializers.CharField()


class VoiceCreateSerializer(serializers.Serializer[Any]):
    name = serializers.RegexField(
        r"^[\w .\-]{1,100}$",
        max_length=100,
        error_messages={"invalid": "Use 1-100 letters, digits, spaces, '.', '-' or '_'."},
    )
    description = serializers.CharField(
        max_length=500, required=False, default="", allow_blank=True
    )
    base_voice = serializers.ChoiceField(choices=sorted(STOCK_VOICES))
    language = serializers.ChoiceField(choices=LANGUAGES, default="en-US")
    speed = serializers.FloatField(min_value=0.25, max_value=4.0, default=1.0)
    is_default = serializers.BooleanField(
        default=False, help_text="Make this the voice used when a request names none."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        base = STOCK_VOICES[attrs["base_voice"]]
        if not base.speaks(attrs["language"]):
            raise serializers.ValidationError(
                {"language": f"{base.name} speaks {', '.join(base.languages)} only."}
            )
        return attrs


class VoiceListSerializer(serializers.Serializer[Any]):
    voices = PolymorphicProxySerializer(
        component_name="VoiceEntry",
        serializers={"stock": StockVoiceSerializer, "preset": VoiceSerializer},
        resource_type_field_name="type",
        many=True,
    )
