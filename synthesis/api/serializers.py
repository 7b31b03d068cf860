from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from callwaiting_tts.serializers import (
    INVALID_TYPE,
    InputSerializer,
    LanguageField,
    json_type,
    shown_name,
)
from pronunciations.selectors import MAX_PER_REQUEST
from synthesis.audio.formats import FORMATS, FormatError, check_format
from synthesis.services import SynthesisInput
from synthesis.text.ssml import looks_like_ssml

NATIVE_FORMATS = sorted(FORMATS)


def dictionaries_field() -> serializers.ListField:
    """`pronunciation_dictionaries`: ids of the tenant's dictionaries, applied in this order."""
    return serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=MAX_PER_REQUEST,
        help_text="Ids of your pronunciation dictionaries (GET /v1/pronunciations), the first "
        "winning a word several have; `[]` for none. Default: your default dictionary, if you "
        "have one. An id that is not one of yours answers 404.",
    )


def dictionaries_of(values: dict[str, Any]) -> tuple[str, ...] | None:
    named = values.get("pronunciation_dictionaries")
    return None if named is None else tuple(named)


OPENAI_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]


class TextInputSerializer(InputSerializer):
    """What to say and in which voice: shared by synthesis and the text preview."""

    text = serializers.CharField(
        required=False,
        trim_whitespace=False,
        allow_blank=True,
        help_text="Plain text (never parsed as SSML), normalized for the language.",
    )
    ssml = serializers.CharField(
        required=False,
        trim_whitespace=False,
        help_text="An SSML 1.1 document with a <speak> root (docs/ssml.md).",
    )
    voice = serializers.CharField(
        required=False,
        max_length=100,
        help_text="A stock voice id, or a preset's id or name. Default: the tenant's default "
        "preset, else the stock default voice.",
    )
    language = LanguageField(required=False)
    lenient_ssml = serializers.BooleanField(
        default=False,
        help_text="SSML only: drop unknown tags (speaking their text) and ignore invalid "
        "attribute values instead of answering 400.",
    )
    pronunciation_dictionaries = dictionaries_field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("text" in attrs) == ("ssml" in attrs):
            raise serializers.ValidationError({"text": "Give exactly one of text or ssml."})
        return attrs

    def to_input(self) -> SynthesisInput:
        values = self.validated_data
        return SynthesisInput(
            text=values.get("text"),
            ssml=values.get("ssml"),
            voice=values.get("voice"),
            language=values.get("language"),
            speed=values.get("speed", 1.0),
            output_format=values.get("format", "pcm"),
            sample_rate=values.get("sample_rate") or 0,
            source="http",
            lenient=values["lenient_ssml"],
            timestamps=values.get("timestamps", "none"),
            pronunciation_dictionaries=dictionaries_of(values),
            cache=values.get("cache", True),
        )


class SynthesizeSerializer(TextInputSerializer):
    format = serializers.ChoiceField(choices=NATIVE_FORMATS, default="mp3")
    sample_rate = serializers.IntegerField(
        required=False, help_text="Output rate in Hz; default per format."
    )
    speed = serializers.FloatField(min_value=0.25, max_value=4.0, default=1.0)
    stream = serializers.BooleanField(
        default=True,
        help_text="Chunked body as audio is made (default), or the whole file with Content-Length.",
    )
    cache = serializers.BooleanField(
        default=True,
        help_text="false: this request is neither served from nor stored in the tenant's phrase "
        "cache (docs/phrase-cache.md).",
    )
    stream_format = serializers.ChoiceField(
        choices=["audio", "sse"],
        default="audio",
        help_text="`audio`: the audio bytes. `sse`: server-sent events: `audio` (base64), "
        "`mark` (an SSML mark and its time in the audio), `words` (with `timestamps: word`) "
        "and `done`.",
    )
    timestamps = serializers.ChoiceField(
        choices=["none", "word"],
        default="none",
        help_text="`word` (with `stream_format: sse`): after each segment's audio, a `words` "
        "event with the input's words as written and when each is heard (`start_ms`, "
        "`end_ms`, on the clock of `mark` events; estimated: docs/websocket.md, 'Word "
        "timings').",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs["timestamps"] != "none" and attrs["stream_format"] != "sse":
            raise serializers.ValidationError(
                {
                    "timestamps": "Word timings come as server-sent events: send "
                    "`stream_format: sse`."
                }
            )
        if attrs["stream_format"] == "sse" and not attrs["stream"]:
            raise serializers.ValidationError(
                {"stream_format": "Server-sent events are a stream: leave `stream` true."}
            )
        try:
            attrs["format"], attrs["sample_rate"] = check_format(
                attrs["format"], attrs.get("sample_rate")
            )
        except FormatError as error:  # the error renderer names the field: the reason alone
            raise serializers.ValidationError({error.field: error.reason}) from None
        return attrs


class PreviewSerializer(TextInputSerializer):
    """`POST /v1/text/preview`: the same text fields as synthesis, nothing synthesized."""


class SegmentPartSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=["text", "ipa"])
    value = serializers.CharField()


class PreviewSegmentSerializer(serializers.Serializer[Any]):
    text = serializers.CharField(help_text="Normalized text: exactly what the engine reads.")
    input_text = serializers.CharField(help_text="The input sentence(s) it came from.")
    language = serializers.CharField(help_text="The normalization locale (en-US, en-GB, en-NG).")
    rate = serializers.FloatField(help_text="Speed multiplier from <prosody rate>/<emphasis>.")
    pitch_st = serializers.FloatField(help_text="Pitch shift in semitones.")
    volume_db = serializers.FloatField(allow_null=True, help_text="Gain in dB; null: silent.")
    pause_after_ms = serializers.IntegerField(help_text="Exact silence after this segment.")
    marks = serializers.ListField(child=serializers.CharField(), help_text="Before its audio.")
    marks_after = serializers.ListField(child=serializers.CharField())
    characters = serializers.IntegerField(help_text="Its share of the billed characters.")
    parts = SegmentPartSerializer(
        many=True,
        help_text="With phonemes inside (SSML <phoneme>, a dictionary's phonemes): the segment "
        "as text and IPA parts, which engines that take phonemes (Piper) speak; else [].",
    )


class PreviewResultSerializer(serializers.Serializer[Any]):
    voice = serializers.CharField()
    engine = serializers.CharField()
    characters = serializers.IntegerField(help_text="What synthesizing this input would bill.")
    leading_pause_ms = serializers.IntegerField()
    leading_marks = serializers.ListField(child=serializers.CharField())
    segments = PreviewSegmentSerializer(many=True)
    pronunciation_dictionaries = serializers.ListField(
        child=serializers.CharField(), help_text="The ids of the dictionaries it was read with."
    )
    warnings = serializers.ListField(child=serializers.CharField())


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "maxLength": 100},
            {
                "type": "object",
                "properties": {"id": {"type": "string", "maxLength": 100}},
                "required": ["id"],
                "additionalProperties": False,
            },
        ]
    }
)
class OpenAIVoiceField(serializers.Field):
    """OpenAI's `voice`: a name (`alloy`, or ours by id or name), or a custom voice object
    `{"id": ...}` (ours by id or name as well)."""

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, dict):
            for key in data:
                if key != "id":
                    raise serializers.ValidationError(
                        f"Unrecognized request argument supplied: voice.{shown_name(key)}",
                        code="unknown_parameter",
                    )
            data = data.get("id")
            where = "voice.id"
        else:
            where = "voice"
        if not isinstance(data, str):
            raise serializers.ValidationError(
                f"Invalid type for '{where}': expected a string, but got {json_type(data)} "
                "instead.",
                code=INVALID_TYPE,
            )
        if not data or len(data) > 100:
            raise serializers.ValidationError("A voice has 1 to 100 characters.", code="invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class SpeechSerializer(InputSerializer):
    """OpenAI's `POST /v1/audio/speech` body: OpenAI's documented fields, refused otherwise as
    OpenAI refuses them ("Unrecognized request argument supplied: fromat")."""

    model = serializers.ChoiceField(choices=settings.OPENAI_MODELS)
    input = serializers.CharField(
        trim_whitespace=False,
        allow_blank=True,
        help_text="Plain text; SSML when it starts with <speak.",
    )
    voice = OpenAIVoiceField(
        help_text="OpenAI's voice names map to ours (OPENAI_VOICE_MAP); ours by id or name."
    )
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
    # Not OpenAI's: the SDK sends it with `extra_body={"pronunciation_dictionaries": [...]}`.
    pronunciation_dictionaries = dictionaries_field()
    cache = serializers.BooleanField(
        default=True,
        help_text="false: this request is neither served from nor stored in the tenant's phrase "
        "cache (docs/phrase-cache.md).",
    )

    def unknown_field(self, name: str, known: list[str]) -> ErrorDetail:
        return ErrorDetail(
            f"Unrecognized request argument supplied: {shown_name(name)}",
            code="unknown_parameter",
        )

    def invalid_type(self, where: str, expected: str, value: object) -> ErrorDetail:
        got = json_type(value)
        return ErrorDetail(
            f"Invalid type for '{where}': expected {expected}, but got {got} instead.",
            code=INVALID_TYPE,
        )

    def to_input(self) -> SynthesisInput:
        values = self.validated_data
        output_format = values["response_format"]
        # OpenAI's body has no SSML field: an input that starts with <speak is SSML, any other
        # input is plain text, `<` and `&` included.
        ssml = looks_like_ssml(values["input"])
        return SynthesisInput(
            text=None if ssml else values["input"],
            ssml=values["input"] if ssml else None,
            voice=values["voice"],
            language=None,
            speed=values["speed"],
            output_format=output_format,
            sample_rate=FORMATS[output_format].default_rate,  # OpenAI's pcm is 24 kHz
            source="openai",
            pronunciation_dictionaries=dictionaries_of(values),
            cache=values["cache"],
        )
