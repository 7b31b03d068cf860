from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from synthesis.engines.catalog import ENGINES, LANGUAGES, STOCK_VOICES
from voices.models import Voice
from voices.selectors import stock_voice


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
            "status",
            "version",
            "error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "type", "status", "version", "error", "created_at", "updated_at"]

    def get_type(self, voice: Voice) -> str:
        """`preset` (over a stock voice) or `cloned` (from a reference clip)."""
        return str(voice.kind)

    def get_sample_rate(self, voice: Voice) -> int | None:
        engine = self.get_engine(voice)
        return ENGINES[engine].sample_rate if engine in ENGINES else None

    def get_engine(self, voice: Voice) -> str:
        if voice.engine:
            return voice.engine
        base = STOCK_VOICES.get(voice.base_voice)
        return base.engine if base else ""


class StockVoiceSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    type = serializers.CharField(help_text="stock")
    name = serializers.CharField()
    language = serializers.CharField()
    description = serializers.CharField()
    sample_rate = serializers.IntegerField()
    engine = serializers.CharField(help_text="The engine that speaks it: `piper` or `xtts`.")
    locale = serializers.CharField(
        allow_null=True, help_text="The BCP 47 locale it sounds like (`en-NG`); null if unknown."
    )
    accent = serializers.CharField(
        allow_null=True, help_text="Its accent in words (`Nigerian English`); null if unknown."
    )
    gender = serializers.CharField(allow_null=True, help_text="As its maker describes it.")
    pack = serializers.CharField(
        allow_null=True, help_text="The voice pack it came from; null for built-in voices."
    )
    preview_url = serializers.CharField(
        help_text="GET it (scope voices:read) for a short WAV clip of the voice."
    )


class VoiceCreateSerializer(serializers.Serializer[Any]):
    name = serializers.RegexField(
        r"^[\w .\-]{1,100}$",
        max_length=100,
        error_messages={"invalid": "Use 1-100 letters, digits, spaces, '.', '-' or '_'."},
    )
    description = serializers.CharField(
        max_length=500, required=False, default="", allow_blank=True
    )
    base_voice = serializers.CharField(
        max_length=64, help_text="A stock voice's id (GET /v1/voices lists them)."
    )
    language = serializers.ChoiceField(choices=LANGUAGES, default="en-US")
    speed = serializers.FloatField(min_value=0.25, max_value=4.0, default=1.0)
    is_default = serializers.BooleanField(
        default=False, help_text="Make this the voice used when a request names none."
    )

    def validate_base_voice(self, value: str) -> str:
        if stock_voice(value) is None:
            raise serializers.ValidationError(
                f"Unknown stock voice {value!r}: see GET /v1/voices.", code="invalid_choice"
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        base = stock_voice(attrs["base_voice"])
        assert base is not None  # validate_base_voice
        attrs["engine"] = base.engine
        if not base.speaks(attrs["language"]):
            raise serializers.ValidationError(
                {"language": f"{base.name} speaks {', '.join(base.languages)} only."}
            )
        return attrs


class VoiceListSerializer(serializers.Serializer[Any]):
    voices = PolymorphicProxySerializer(
        component_name="VoiceEntry",
        serializers={
            "stock": StockVoiceSerializer,
            "preset": VoiceSerializer,
            "cloned": VoiceSerializer,
        },
        resource_type_field_name="type",
        many=True,
    )
