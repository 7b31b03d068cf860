from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from callwaiting_tts.serializers import InputSerializer, LanguageField
from synthesis.engines.catalog import ENGINES, STOCK_VOICES, StockVoice
from voices.consent import CURRENT as CONSENT
from voices.models import Voice, VoiceConsent
from voices.selectors import stock_voice, voice_status_detail


def known_stock_voice(value: str) -> str:
    """`value` if it names a stock voice; the field's 400 otherwise."""
    if stock_voice(value) is None:
        raise serializers.ValidationError(
            f"Unknown stock voice {value!r}: see GET /v1/voices.", code="invalid_choice"
        )
    return value


def unsupported_language(base: StockVoice, language: str) -> serializers.ValidationError:
    """A preset's language its base voice does not speak: the code a synthesis answers."""
    return serializers.ValidationError(
        {
            "language": ErrorDetail(
                f"Voice {base.id!r} does not speak {language!r}; "
                f"it speaks {', '.join(base.languages)}.",
                code="unsupported_language",
            )
        }
    )


def voice_name_field(*, required: bool = True) -> serializers.RegexField:
    """A voice's name: unique in the tenant (the service answers 409 for one in use)."""
    return serializers.RegexField(
        r"^[\w .\-]{1,100}$",
        max_length=100,
        required=required,
        error_messages={"invalid": "Use 1-100 letters, digits, spaces, '.', '-' or '_'."},
    )


class ReasonSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable, e.g. too_short, clipping, noisy.")
    message = serializers.CharField(help_text="What to do about it, in plain words.")
    points = serializers.IntegerField(help_text="Points it took off the quality score.")
    blocking = serializers.BooleanField(help_text="Whether it alone makes the clip unusable.")


class ReportSerializer(serializers.Serializer[Any]):
    """The validation report of a cloned voice's clip (docs/voice-quality.md)."""

    duration_seconds = serializers.FloatField()
    sample_rate = serializers.IntegerField()
    channels = serializers.IntegerField()
    speech_seconds = serializers.FloatField()
    speech_ratio = serializers.FloatField()
    longest_pause_seconds = serializers.FloatField()
    clipping_ratio = serializers.FloatField()
    noise_floor_dbfs = serializers.FloatField(allow_null=True)
    snr_db = serializers.FloatField(allow_null=True)
    loudness_lufs = serializers.FloatField(allow_null=True)
    multiple_speakers = serializers.BooleanField()
    speaker_consistency = serializers.FloatField(allow_null=True)
    quality_score = serializers.IntegerField()
    reasons = ReasonSerializer(many=True)
    usable = serializers.BooleanField()


class ConsentSerializer(serializers.ModelSerializer[VoiceConsent]):
    class Meta:
        model = VoiceConsent
        fields = [
            "statement_version",
            "statement_text",
            "attested_by",
            "attested_at",
            "recording_similarity",
        ]


class VoiceSerializer(serializers.ModelSerializer[Voice]):
    id = serializers.UUIDField(read_only=True)
    type = serializers.SerializerMethodField()
    sample_rate = serializers.SerializerMethodField()
    engine = serializers.SerializerMethodField()
    usable = serializers.SerializerMethodField()
    status_detail = serializers.SerializerMethodField()
    report = ReportSerializer(read_only=True, allow_null=True)
    consent = serializers.SerializerMethodField()

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
            "usable",
            "status_detail",
            "version",
            "error",
            "quality_score",
            "report",
            "consent",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "type", "status", "version", "error", "created_at", "updated_at"]

    def get_usable(self, voice: Voice) -> bool:
        """Whether requests may name this voice now (a cloned voice once `ready`)."""
        return voice.kind != Voice.Kind.CLONED or voice.status == Voice.Status.READY

    def get_status_detail(self, voice: Voice) -> str:
        """Why a cloned voice cannot speak yet, or what it waits for; "" once it can."""
        return voice_status_detail(voice)

    @extend_schema_field(ConsentSerializer(allow_null=True))
    def get_consent(self, voice: Voice) -> dict[str, Any] | None:
        """A cloned voice's consent record (who attested, when, to which statement)."""
        consents: dict[str, VoiceConsent] = self.context.get("consents", {})
        found = consents.get(str(voice.pk))
        return dict(ConsentSerializer(found).data) if found is not None else None

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


class VoiceCreateSerializer(InputSerializer):
    name = voice_name_field()
    description = serializers.CharField(
        max_length=500, required=False, default="", allow_blank=True
    )
    base_voice = serializers.CharField(
        max_length=64, help_text="A stock voice's id (GET /v1/voices lists them)."
    )
    language = LanguageField(default="en-US")
    speed = serializers.FloatField(min_value=0.25, max_value=4.0, default=1.0)
    is_default = serializers.BooleanField(
        default=False, help_text="Make this the voice used when a request names none."
    )

    def validate_base_voice(self, value: str) -> str:
        return known_stock_voice(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        base = stock_voice(attrs["base_voice"])
        assert base is not None  # validate_base_voice
        attrs["engine"] = base.engine
        if not base.speaks(attrs["language"]):
            raise unsupported_language(base, attrs["language"])
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


class VoiceUploadSerializer(InputSerializer):
    """`POST /v1/voices/upload`, multipart: a reference clip and the consent attestation."""

    file = serializers.FileField(
        help_text="10-30 s of one person speaking: WAV, MP3, M4A/AAC, Ogg (Opus, Vorbis), FLAC "
        "or WebM. The content decides the format, not the name."
    )
    name = voice_name_field()
    language = LanguageField(default="en")
    description = serializers.CharField(
        max_length=500, required=False, default="", allow_blank=True
    )
    consent = serializers.BooleanField(
        help_text="true: you attest to the current consent statement (GET /v1/voices/consent)."
    )
    consent_recording = serializers.FileField(
        required=False,
        help_text="The speaker reading the consent sentence (GET /v1/voices/consent); compared "
        "with the clip by speaker similarity. Required where your organisation requires it.",
    )
    engine = serializers.ChoiceField(
        choices=[name for name, spec in ENGINES.items() if spec.clones],
        default="xtts",
        help_text="The engine that clones and speaks the voice.",
    )


class ConsentStatementSerializer(serializers.Serializer[Any]):
    version = serializers.CharField(default=CONSENT.version)
    text = serializers.CharField(help_text="What `consent=true` attests to.")
    sentence = serializers.CharField(help_text="What the speaker reads in a consent recording.")
    recording_required = serializers.BooleanField(
        help_text="Whether your organisation requires a consent recording with every upload."
    )


class VoiceUpdateSerializer(InputSerializer):
    """`PATCH /v1/voices/{id}`: any of these; the voice's version goes up by one."""

    name = voice_name_field(required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    base_voice = serializers.CharField(max_length=64, required=False)
    language = LanguageField(required=False)
    speed = serializers.FloatField(min_value=0.25, max_value=4.0, required=False)
    is_default = serializers.BooleanField(required=False)

    def validate_base_voice(self, value: str) -> str:
        return known_stock_voice(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        voice: Voice = self.context["voice"]
        if voice.kind == Voice.Kind.PRESET:
            base = stock_voice(attrs.get("base_voice", voice.base_voice))
            language = attrs.get("language", voice.language)
            if base is not None and not base.speaks(language):
                raise unsupported_language(base, language)
            if base is not None and "base_voice" in attrs:
                attrs["engine"] = base.engine
        return attrs
