"""Request bodies are read as written: `InputSerializer`, the base of every serializer that reads
a body, refuses a field it does not declare and, in a JSON body, a value of the wrong JSON type.

DRF's default quietly ignores unknown fields (`"fromat": "wav"` answered MP3) and coerces
values (`{"text": 123}` was spoken as "123", `"stream": "yes"` was true, `"speed": "1.5"` a
number). Both hide a caller's mistake behind a success. A JSON body has types, so a string
field takes a string, an integer field an integer (not `12.0`, not `"12"`), a number field a
number, a boolean field `true` or `false`. Multipart and form bodies carry strings by nature
(a `QueryDict`): their values are left to the fields' own parsing; their unknown fields are
refused all the same.

Both errors name the field as `param`, and their messages name it themselves (the error shape
does not prefix them: `callwaiting_tts.errors.SELF_NAMING_CODES`):
- `unknown_field`: "Unknown field 'fromat'; did you mean 'format'?" (or the fields it takes);
- `invalid_type`: "Invalid type for 'text': expected a string, but got an integer."
The OpenAI-compatible endpoint words them as OpenAI does (`synthesis.api.serializers`).

A request's `language` is read here too (`LanguageField`, and `checked_language` for the
socket): one list for every entry point (`synthesis.contract.languages`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.fields import empty

from callwaiting_tts.errors import ApplicationError
from synthesis.contract.languages import LANGUAGES, request_language

UNKNOWN_FIELD = "unknown_field"
INVALID_TYPE = "invalid_type"
# The longest unknown name an error repeats: a body may hold a name of any length.
MAX_NAME_IN_ERROR = 100


def json_kind(value: object) -> str:
    """The JSON type of a decoded value: null, boolean, integer, number, string, array, object
    (a value JSON cannot hold: its Python type's name)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


_PHRASES = {"integer": "an integer", "number": "a decimal number", "array": "an array"}


def a_kind(kind: str) -> str:
    """A JSON type's name with its article: 'a string', 'an integer', 'null', 'any'."""
    if kind in ("null", "any"):
        return kind
    return _PHRASES.get(kind, f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}")


def json_type(value: object) -> str:
    """What a parsed JSON value is, in words: 'a string', 'an integer', 'null', ..."""
    return a_kind(json_kind(value))


def expected_type(field: serializers.Field, value: object) -> str | None:
    """What JSON type `field` takes, in words, where `value` is not of it; None where it is (or
    where the field checks its own input: nested serializers, files, custom fields)."""
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "a boolean"
    if isinstance(field, serializers.IntegerField):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "an integer"
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "a number"
    if isinstance(field, serializers.ChoiceField):
        if not all(isinstance(choice, str) for choice in field.choices):
            return None
        return None if isinstance(value, str) else "a string"
    if isinstance(field, _STRING_FIELDS):
        return None if isinstance(value, str) else "a string"
    return None  # lists and dicts: DRF's own `not_a_list` / `not_a_dict`; their items below


_STRING_FIELDS = (
    serializers.CharField,  # RegexField, EmailField, SlugField, URLField, IPAddressField
    serializers.DateField,
    serializers.DateTimeField,
    serializers.TimeField,
    serializers.DurationField,
    serializers.UUIDField,
)


def wrong_type(
    field: serializers.Field, value: object, path: str
) -> tuple[str, str, object] | None:
    """(where, what it expected, what it got) for the first value under `field` of the wrong
    JSON type: the field's own, or an item of its list or dict (`scopes[1]`); None where all
    are right."""
    if value is None:
        return None  # the field's own `allow_null` answers
    expected = expected_type(field, value)
    if expected is not None:
        return path, expected, value
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        for index, item in enumerate(value):
            found = wrong_type(field.child, item, f"{path}[{index}]")
            if found is not None:
                return found
    if isinstance(field, serializers.DictField) and isinstance(value, Mapping):
        for key, item in value.items():
            found = wrong_type(field.child, item, f"{path}.{key}")
            if found is not None:
                return found
    return None


def shown_name(name: object) -> str:
    text = str(name)
    return text if len(text) <= MAX_NAME_IN_ERROR else text[:MAX_NAME_IN_ERROR] + "…"


def did_you_mean(name: str, known: list[str]) -> str | None:
    """The known name closest to a misspelt `name` (`fromat` → `format`), if one is close."""
    if len(name) > MAX_NAME_IN_ERROR:
        return None
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None


class InputSerializer(serializers.Serializer[Any]):
    """The base of every serializer that reads a request body (nested ones included): unknown
    fields and, in JSON, values of the wrong type are refused before any field is read."""

    def unknown_field(self, name: str, known: list[str]) -> ErrorDetail:
        """The error for a field this serializer does not declare."""
        close = did_you_mean(name, known)
        hint = f"did you mean '{close}'?" if close else "known fields: " + ", ".join(known) + "."
        return ErrorDetail(f"Unknown field '{shown_name(name)}'; {hint}", code=UNKNOWN_FIELD)

    def invalid_type(self, where: str, expected: str, value: object) -> ErrorDetail:
        """The error for a JSON value of the wrong type; `where` is the field, or its item."""
        got = json_type(value)
        return ErrorDetail(
            f"Invalid type for '{where}': expected {expected}, but got {got}.", code=INVALID_TYPE
        )

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            self._refuse_unknown_fields(data)
            if not isinstance(data, QueryDict):
                self._refuse_wrong_types(data)
        return super().to_internal_value(data)

    def _refuse_unknown_fields(self, data: Mapping[Any, Any]) -> None:
        known = [str(field.field_name) for field in self._writable_fields]
        for name in data:
            if name not in known:
                shown = shown_name(name)
                raise ValidationError({shown: [self.unknown_field(str(name), known)]})

    def _refuse_wrong_types(self, data: Mapping[Any, Any]) -> None:
        for field in self._writable_fields:
            name = str(field.field_name)
            value = data.get(name, empty)
            if value is empty:
                continue
            found = wrong_type(field, value, name)
            if found is not None:
                raise ValidationError({name: [self.invalid_type(*found)]})


class LanguageField(serializers.ChoiceField):
    """A request's `language`: one of `synthesis.contract.languages.LANGUAGES` (the schema's
    enum), in any case, kept as listed."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            "A BCP 47 tag of the list; en-US, en-GB, en-NG (and en-AU, en-IN... read like en-GB) "
            "choose how numbers, dates, money and phone numbers are read. A voice that does not "
            "speak it answers 400 `unsupported_language`.",
        )
        super().__init__(choices=LANGUAGES, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        try:
            return request_language(data)
        except ValueError as error:
            raise ValidationError(str(error), code="invalid_choice") from None


def checked_language(value: str | None) -> str | None:
    """`LanguageField`'s check outside DRF (the socket's `start`): None stays None; an unlisted
    tag is ApplicationError (400 `invalid_request`, param `language`)."""
    if value is None:
        return None
    try:
        return request_language(value)
    except ValueError as error:
        raise ApplicationError(str(error), code="invalid_request", param="language") from None
