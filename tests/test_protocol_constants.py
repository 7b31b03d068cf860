"""The server speaks what the client's protocol module says (clients/python: protocol.py).

Until the server imports these constants from `callwaiting_tts_client.protocol`, each of its own
copies must equal the shared value; once it does, this file reduces to the checks that are not
identities (the route, the format table)."""

from __future__ import annotations

import importlib

import pytest

from callwaiting_tts_client import protocol

# (server module, server name, protocol name): the wiring for the server.
SAME_VALUE = [
    ("synthesis.consumers", "PROTOCOL_VERSION", "PROTOCOL_VERSION"),
    ("synthesis.consumers", "CLOSE_IDLE", "CLOSE_IDLE_TIMEOUT"),
    ("synthesis.consumers", "CLOSE_PROTOCOL", "CLOSE_PROTOCOL_ERROR"),
    ("synthesis.consumers", "CLOSE_UNAUTHENTICATED", "CLOSE_NOT_AUTHENTICATED"),
    ("synthesis.consumers", "CLOSE_FORBIDDEN", "CLOSE_FORBIDDEN"),
    ("synthesis.consumers", "CLOSE_AUTH_TIMEOUT", "CLOSE_AUTH_TIMEOUT"),
    ("synthesis.consumers", "CLOSE_TOO_MANY_FAILURES", "CLOSE_TOO_MANY_REQUESTS"),
    ("synthesis.consumers", "CLOSE_TOO_BIG", "CLOSE_MESSAGE_TOO_LARGE"),
    ("tenants.sockets", "APP_SUBPROTOCOL", "APP_SUBPROTOCOL"),
    ("tenants.sockets", "KEY_SUBPROTOCOL_PREFIX", "KEY_SUBPROTOCOL_PREFIX"),
    ("synthesis.realtime.messages", "WS_FORMATS", "AUDIO_FORMATS"),
    ("synthesis.audio.formats", "PCM_RATES", "PCM_RATES"),
    ("synthesis.audio.formats", "DEFAULT_RATE", "DEFAULT_PCM_RATE"),
    ("synthesis.audio.formats", "TELEPHONY_RATE", "G711_RATE"),
    ("synthesis.audio.telephony", "FRAME_MS", "G711_FRAME_MS"),
]


@pytest.mark.parametrize(("module", "server_name", "name"), SAME_VALUE)
def test_the_server_uses_the_protocols_value(module: str, server_name: str, name: str) -> None:
    server = getattr(importlib.import_module(module), server_name)
    assert server == getattr(protocol, name)


def test_every_close_code_the_client_names_is_one_the_server_sends() -> None:
    from synthesis import consumers

    sent = {value for name, value in vars(consumers).items() if name.startswith("CLOSE_")}
    assert set(protocol.CLOSE_CODE_NAMES) == sent


def test_the_start_options_defaults_are_the_protocols() -> None:
    from synthesis.realtime.messages import Options, parse_options

    defaults = Options()
    assert (defaults.format, defaults.sample_rate) == (
        protocol.DEFAULT_FORMAT,
        protocol.DEFAULT_PCM_RATE,
    )
    assert defaults.encoding == protocol.ENCODINGS[0]
    assert defaults.output == protocol.OUTPUTS[0]
    assert defaults.pacing == protocol.PACINGS[0]
    twilio = parse_options({"output": "twilio", "stream_sid": "MZ1"})
    assert (twilio.format, twilio.sample_rate) == (protocol.TWILIO_FORMAT, protocol.G711_RATE)


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("encoding", protocol.ENCODINGS),
        ("output", protocol.OUTPUTS),
        ("pacing", protocol.PACINGS),
        ("format", protocol.AUDIO_FORMATS),
    ],
)
def test_the_server_accepts_exactly_the_protocols_values(
    field: str, values: tuple[str, ...]
) -> None:
    from synthesis.realtime.messages import ContextError, parse_options

    for value in values:
        message = {field: value}
        if value == "twilio":
            message["stream_sid"] = "MZ1"
        parse_options(message)
    with pytest.raises(ContextError) as refused:
        parse_options({field: "not-" + values[0]})
    assert refused.value.param == field


def test_the_socket_rates_are_the_protocols() -> None:
    from synthesis.audio.formats import FORMATS

    assert FORMATS["pcm"].rates == protocol.PCM_RATES
    assert FORMATS["mulaw"].rates == FORMATS["alaw"].rates == (protocol.G711_RATE,)


def test_the_route_is_the_protocols_path() -> None:
    from callwaiting_tts.asgi import websocket_routes

    assert any(route.pattern.match(protocol.PATH.lstrip("/")) for route in websocket_routes)
