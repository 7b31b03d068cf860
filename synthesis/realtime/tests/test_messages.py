"""The client messages' shapes (`check_message`, the protocol's MESSAGE_FIELDS) and the `start`
options' values: every field named once, nothing quietly ignored or replaced."""

from __future__ import annotations

import pytest

from callwaiting_tts.errors import ApplicationError
from callwaiting_tts_client.protocol import MESSAGE_FIELDS, REQUIRED_FIELDS
from synthesis.realtime.messages import MalformedMessage, check_message, parse_options

# A value of another JSON type than each declared one.
WRONG = {"string": 5, "boolean": 1, "integer": "8000", "number": "fast", "array": "ids"}


def key_of(kind: str) -> str:
    return "event" if kind == "clear" else "type"


def minimal(kind: str) -> dict:
    """The smallest well-formed message of `kind`."""
    values = {"string": "x", "boolean": True, "integer": 1, "number": 1.0, "array": [], "any": None}
    fields = MESSAGE_FIELDS[kind]
    return {key_of(kind): kind, **{f: values[fields[f]] for f in REQUIRED_FIELDS.get(kind, ())}}


@pytest.mark.parametrize("kind", sorted(MESSAGE_FIELDS))
def test_every_message_type_refuses_a_field_it_does_not_have(kind: str) -> None:
    message = {**minimal(kind), "colour": "blue"}
    with pytest.raises(MalformedMessage) as refused:
        check_message(kind, message, key_of(kind))
    assert (refused.value.code, refused.value.param) == ("invalid_request", "colour")
    assert "'colour'" in refused.value.message
    assert check_message(kind, minimal(kind), key_of(kind)) is not None


TYPED = [(k, f) for k, fields in MESSAGE_FIELDS.items() for f, t in fields.items() if t != "any"]


@pytest.mark.parametrize(("kind", "field"), sorted(TYPED))
def test_every_typed_field_refuses_a_value_of_another_type(kind: str, field: str) -> None:
    wanted = MESSAGE_FIELDS[kind][field]
    message = {**minimal(kind), field: WRONG[wanted]}
    with pytest.raises(MalformedMessage) as refused:
        check_message(kind, message, key_of(kind))
    assert refused.value.param == field
    assert refused.value.message.startswith(f"{field} must be ")
    assert refused.value.message.count(field) == 1


def test_a_misspelt_field_is_answered_with_the_one_it_resembles() -> None:
    with pytest.raises(MalformedMessage) as refused:
        check_message("start", {"type": "start", "fromat": "wav"})
    assert refused.value.param == "fromat"
    assert refused.value.message == "A start message has no field 'fromat'. Did you mean 'format'?"


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("sample_rate", True, "sample_rate must be an integer, not a boolean."),
        ("sample_rate", 24000.0, "sample_rate must be an integer, not a number."),
        ("speed", True, "speed must be a number, not a boolean."),
        ("text", 123, "text must be a string, not an integer."),
        ("service_events", "yes", "service_events must be a boolean, not a string."),
        ("voice", ["joe"], "voice must be a string, not an array."),
    ],
)
def test_booleans_are_not_numbers_and_floats_are_not_integers(field, value, said) -> None:
    with pytest.raises(MalformedMessage) as refused:
        check_message("start", {"type": "start", field: value})
    assert (refused.value.param, refused.value.message) == (field, said)


def test_an_integer_is_a_number_and_null_is_a_field_left_out() -> None:
    checked = check_message("start", {"type": "start", "speed": 2, "voice": None})
    assert checked == {"speed": 2}
    assert check_message("ping", {"type": "ping", "id": None}) == {"id": None}  # echoed as sent


@pytest.mark.parametrize("kind", sorted(REQUIRED_FIELDS))
def test_a_required_field_missing_or_null_is_named(kind: str) -> None:
    for message in ({"type": kind}, {"type": kind, **dict.fromkeys(REQUIRED_FIELDS[kind])}):
        with pytest.raises(MalformedMessage) as refused:
            check_message(kind, message)
        assert refused.value.param == REQUIRED_FIELDS[kind][0]


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"format": "pcm"}, "format"),
        ({"sample_rate": 16000}, "sample_rate"),
        ({"encoding": "binary"}, "encoding"),
    ],
)
def test_twilio_output_refuses_a_format_it_would_have_replaced(options: dict, param: str) -> None:
    with pytest.raises(ApplicationError) as refused:
        parse_options({"output": "twilio", "stream_sid": "MZ1", **options})
    assert refused.value.param == param
    same = {"format": "mulaw", "sample_rate": 8000, "encoding": "json"}
    assert parse_options({"output": "twilio", "stream_sid": "MZ1", **same}).format == "mulaw"


def test_service_events_are_an_option_of_twilio_output_only() -> None:
    assert parse_options({"output": "twilio", "stream_sid": "MZ1"}).twilio_only
    asked = parse_options({"output": "twilio", "stream_sid": "MZ1", "service_events": True})
    assert not asked.twilio_only
    assert parse_options({"service_events": True}).service_events
    with pytest.raises(ApplicationError) as refused:
        parse_options({"service_events": False})
    assert refused.value.param == "service_events"


def test_a_rate_the_format_lacks_names_the_field_once() -> None:
    with pytest.raises(ApplicationError) as refused:
        parse_options({"format": "pcm", "sample_rate": 12345})
    assert not isinstance(refused.value, MalformedMessage)  # a value refused: not malformed
    assert refused.value.param == "sample_rate"
    assert refused.value.message.startswith("sample_rate: 12345 Hz is not available for pcm")
    assert refused.value.message.count("sample_rate") == 1


def test_pronunciation_dictionaries_are_an_array_of_at_most_five_ids() -> None:
    named = parse_options({"pronunciation_dictionaries": ["a", "b"]})
    assert named.pronunciation_dictionaries == ("a", "b")
    assert parse_options({}).pronunciation_dictionaries is None  # the tenant's default
    assert parse_options({"pronunciation_dictionaries": []}).pronunciation_dictionaries == ()
    for value in (["a"] * 6, ["a", 7], [""]):
        with pytest.raises(ApplicationError) as refused:
            parse_options({"pronunciation_dictionaries": value})
        assert not isinstance(refused.value, MalformedMessage)
        assert refused.value.param == "pronunciation_dictionaries"
