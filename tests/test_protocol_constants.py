"""The server speaks what the client's protocol module says (clients/python: protocol.py).

The socket's constants are imported from `callwaiting_tts_client.protocol` by the server: the
check is that none of them is written again on the server side. The audio package keeps its own
table of rates (they serve every HTTP format too), held equal here to the protocol's."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

from callwaiting_tts_client import protocol

# Server modules that speak the socket protocol, and the protocol names each imports.
IMPORTERS = {
    "synthesis.consumers": ["PROTOCOL_VERSION", "APP_SUBPROTOCOL", "CLOSE_FORBIDDEN"],
    "tenants.sockets": ["KEY_SUBPROTOCOL_PREFIX"],
    "synthesis.realtime.messages": ["AUDIO_FORMATS", "ENCODINGS", "OUTPUTS", "PACINGS"],
}
# (server module, server name, protocol name): values the server keeps a table of its own for.
SAME_VALUE = [
    ("synthesis.audio.formats", "PCM_RATES", "PCM_RATES"),
    ("synthesis.audio.formats", "DEFAULT_RATE", "DEFAULT_PCM_RATE"),
    ("synthesis.audio.formats", "TELEPHONY_RATE", "G711_RATE"),
    ("synthesis.audio.telephony", "FRAME_MS", "G711_FRAME_MS"),
]
PROTOCOL_NAMES = {name for name in vars(protocol) if name.isupper()}


@pytest.mark.parametrize("module", sorted(IMPORTERS))
def test_the_server_imports_the_protocols_constants_instead_of_copying_them(module: str) -> None:
    loaded = importlib.import_module(module)
    for name in IMPORTERS[module]:
        assert getattr(loaded, name) is getattr(protocol, name)
    tree = ast.parse(inspect.getsource(loaded))
    assigned = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    assert not assigned & PROTOCOL_NAMES, f"{module} defines protocol constants itself"


@pytest.mark.parametrize(("module", "server_name", "name"), SAME_VALUE)
def test_the_servers_audio_tables_agree_with_the_protocol(
    module: str, server_name: str, name: str
) -> None:
    server = getattr(importlib.import_module(module), server_name)
    assert server == getattr(protocol, name)


def test_every_close_code_the_client_names_is_one_the_server_sends() -> None:
    from synthesis import consumers

    sent = {value for name, value in vars(consumers).items() if name.startswith("CLOSE_")}
    # 1009 comes from daphne's WebSocket layer (its own message limit), not from the consumer.
    assert set(protocol.CLOSE_CODE_NAMES) == sent | {protocol.CLOSE_MESSAGE_TOO_BIG}


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
    assert defaults.timestamps == protocol.TIMESTAMPS[0]
    twilio = parse_options({"output": "twilio", "stream_sid": "MZ1"})
    assert (twilio.format, twilio.sample_rate) == (protocol.TWILIO_FORMAT, protocol.G711_RATE)


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("encoding", protocol.ENCODINGS),
        ("output", protocol.OUTPUTS),
        ("pacing", protocol.PACINGS),
        ("format", protocol.AUDIO_FORMATS),
        ("timestamps", protocol.TIMESTAMPS),
    ],
)
def test_the_server_accepts_exactly_the_protocols_values(
    field: str, values: tuple[str, ...]
) -> None:
    from callwaiting_tts.errors import ApplicationError
    from synthesis.realtime.messages import parse_options

    for value in values:
        message = {field: value}
        if value == "twilio":
            message["stream_sid"] = "MZ1"
        parse_options(message)
    with pytest.raises(ApplicationError) as refused:
        parse_options({field: "not-" + values[0]})
    assert refused.value.param == field


def test_the_socket_rates_are_the_protocols() -> None:
    from synthesis.audio.formats import FORMATS

    assert FORMATS["pcm"].rates == protocol.PCM_RATES
    assert FORMATS["mulaw"].rates == FORMATS["alaw"].rates == (protocol.G711_RATE,)


def test_the_route_is_the_protocols_path() -> None:
    from callwaiting_tts.asgi import websocket_routes

    assert any(route.pattern.match(protocol.PATH.lstrip("/")) for route in websocket_routes)
