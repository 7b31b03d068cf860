from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from synthesis.audio.formats import FORMATS, check_format
from synthesis.services import SynthesisInput
from voices.catalogue import LANGUAGES

NATIVE_FORMATS = sorted(FORMATS)
OPENAI_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]


class SynthesizeSerializer(serializers.Serializer[Any]):
    text = serializers.CharField(
        required=False,
        trim_whitespace=False,
        allow_blank=True,
        help_text="Plain text (never parsed as SSML).",
    )
    ssml = serializers.CharField(
        required=False, trim_whitespace=False, help_text="An SSML document with a <speak> root."
    )
    voice = serializers.CharField(
        required=False,
        max_length=100,
        help_text="A stock voice id, or a preset's id or name. Default: the stock default voice.",
    )
    language = serializers.ChoiceField(choices=LANGUAGES, required=False)
    format = serializers.ChoiceField(choices=NATIVE_FORMATS, default="mp3")
    sample_rate = serializers.IntegerField(
        required=False, help_text="Output rate in Hz; default per format."
    )
    speed = serializers.FloatField(min_value=0.25, max_value=4.0, default=1.0)
    stream = serializers.BooleanField(
        default=True,
        help_text="Chunked body as audio is made (default), or the whole file with Content-Length.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("text" in attrs) == ("ssml" in attrs):
            raise serializers.ValidationError({"text": "Give exactly one of text or ssml."})
        try:
            attrs["format"], attrs["sample_rate"] = check_format(
                attrs["format"], attrs.get("sample_rate")
            )
        except ValueError as error:
            raise serializers.ValidationError({"sample_rate": str(error)}) from None
        return attrs

    def to_input(self) -> SynthesisInput:
        values = self.validated_data
        return SynthesisInput(
            text=values.get("text"),
            ssml=values.get("ssml"),
            voice=values.get("voice"),
            language=values.get("language"),
            speed=values["speed"],
            output_format=values["format"],
            sample_rate=values["sample_rate"],
            source="http",
        )


class SpeechSerializer(serializers.Serializer[Any]):
    """OpenAI's `POST /v1/audio/speech` body."""

    model = serializers.ChoiceField(choices=settings.OPENAI_MODELS)
    input = serializers.CharField(trim_whitespace=False, allow_blank=True)
    voice = serializers.CharField(max_length=100)
    instructions = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4096,
        help_text="Accepted for compatibility and ignored: "
        "the current engines take no style instructions.",
    )
    response_format = serializers.ChoiceField(choices=OPENAI_FORMATS, default="mp3")
    speed = serializers.FloatField(min_value=0.25, max_value=4.0, default=1.0)
    stream_format = serializers.ChoiceField(choices=["audio", "sse"], default="audio")

    def to_input(self) -> SynthesisInput:
        values = self.validated_data
        output_format = values["response_format"]
        return SynthesisInput(
            text=values["input"],
            ssml=None,
            voice=values["voice"],
            language=None,
            speed=values["speed"],
            output_format=output_format,
            sample_rate=FORMATS[output_format].default_rate,  # OpenAI's pcm is 24 kHz
            source="openai",
        )
