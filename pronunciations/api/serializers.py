from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from callwaiting_tts.serializers import InputSerializer, LanguageField
from pronunciations.models import PronunciationDictionary
from pronunciations.services import STARTERS
from synthesis.text.lexicon import (
    MAX_ALIAS_CHARS,
    MAX_PHONEMES_CHARS,
    MAX_WORD_CHARS,
    Entry,
    EntryError,
    clean_entry,
)


def dictionary_name_field(*, required: bool = True) -> serializers.RegexField:
    """A dictionary's name: unique in the tenant (the service answers 409 for one in use)."""
    return serializers.RegexField(
        r"^[\w .\-]{1,100}$",
        max_length=100,
        required=required,
        error_messages={"invalid": "Use 1-100 letters, digits, spaces, '.', '-' or '_'."},
    )


def dictionary_language_field(**kwargs: Any) -> LanguageField:
    kwargs.setdefault(
        "help_text",
        "The language of the spans it applies to: a primary tag (`en`) covers every region of "
        "it (en-US, en-GB, en-NG), a regional tag (`en-NG`) only that locale.",
    )
    return LanguageField(**kwargs)


class PronunciationEntrySerializer(InputSerializer):
    """One entry: a word (or a few words) and either `alias` or `phonemes`."""

    word = serializers.CharField(
        max_length=MAX_WORD_CHARS,
        help_text="Matched as whole words; in capitals (`NEPA`) only in capitals, otherwise in "
        "any case (docs/pronunciations.md).",
    )
    alias = serializers.CharField(
        required=False, max_length=MAX_ALIAS_CHARS, help_text="Text said instead, as written."
    )
    phonemes = serializers.CharField(
        required=False,
        max_length=MAX_PHONEMES_CHARS,
        help_text="IPA. Piper speaks them; XTTS reads the written word.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            entry = clean_entry(attrs["word"], attrs.get("alias"), attrs.get("phonemes"))
        except EntryError as error:
            raise serializers.ValidationError(
                {error.field: ErrorDetail(error.message, code="invalid_entry")}
            ) from None
        return {"entry": entry}


def entries_of(validated: list[dict[str, Entry]]) -> list[Entry]:
    return [item["entry"] for item in validated]


class PronunciationDictionaryCreateSerializer(InputSerializer):
    name = dictionary_name_field()
    language = dictionary_language_field(default="en")
    description = serializers.CharField(
        max_length=500, required=False, default="", allow_blank=True
    )
    is_default = serializers.BooleanField(
        default=False,
        help_text="Apply it to every request that names no dictionaries (one per tenant).",
    )
    entries = PronunciationEntrySerializer(many=True)


class PronunciationDictionaryUpdateSerializer(InputSerializer):
    """`PATCH /v1/pronunciations/{id}`: any of these; `entries` replaces them all."""

    name = dictionary_name_field(required=False)
    language = dictionary_language_field(required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    is_default = serializers.BooleanField(required=False)
    entries = PronunciationEntrySerializer(many=True, required=False)


class PronunciationDictionaryImportSerializer(InputSerializer):
    """`POST /v1/pronunciations/import`: a PLS document, or a starter list by name."""

    name = dictionary_name_field()
    pls = serializers.CharField(
        required=False,
        trim_whitespace=False,
        help_text="A W3C PLS 1.0 document (alphabet ipa or x-sampa; aliases and phonemes).",
    )
    starter = serializers.ChoiceField(
        choices=sorted(STARTERS),
        required=False,
        help_text="A starter list shipped with the service (docs/pronunciations.md).",
    )
    language = dictionary_language_field(
        required=False, help_text="Default: the document's xml:lang if listed, else `en`."
    )
    description = serializers.CharField(
        max_length=500, required=False, default="", allow_blank=True
    )
    is_default = serializers.BooleanField(default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("pls" in attrs) == ("starter" in attrs):
            raise serializers.ValidationError({"pls": "Give exactly one of pls or starter."})
        return attrs


class PronunciationEntryOutSerializer(serializers.Serializer[Any]):
    word = serializers.CharField()
    alias = serializers.CharField(required=False)
    phonemes = serializers.CharField(required=False)


class PronunciationDictionarySerializer(serializers.ModelSerializer[PronunciationDictionary]):
    id = serializers.UUIDField(read_only=True)
    entry_count = serializers.SerializerMethodField()
    entries = PronunciationEntryOutSerializer(many=True)

    class Meta:
        model = PronunciationDictionary
        fields = [
            "id",
            "name",
            "language",
            "description",
            "is_default",
            "version",
            "entry_count",
            "entries",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_entry_count(self, dictionary: PronunciationDictionary) -> int:
        return len(dictionary.entries)


class PronunciationDictionarySummarySerializer(PronunciationDictionarySerializer):
    """A dictionary in the list: without its entries."""

    class Meta(PronunciationDictionarySerializer.Meta):
        fields = [f for f in PronunciationDictionarySerializer.Meta.fields if f != "entries"]
        read_only_fields = fields


class PronunciationDictionaryListSerializer(serializers.Serializer[Any]):
    pronunciation_dictionaries = PronunciationDictionarySummarySerializer(many=True)
