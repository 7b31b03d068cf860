"""The `/v1/stream` reference client against a small fake server that speaks protocol 1 by
docs/websocket.md. The fake makes 1 ms of audio per character of text (48 bytes of pcm at
24 kHz, 8 bytes of G.711), derived from the text so tests can check what arrived."""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import os
import sys
import time
import wave
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

import callwaiting_tts_client
from callwaiting_tts_client import ClientError, StreamClient, decode_g711
from callwaiting_tts_client.cli import split_words

GOOD_KEY = "cw_test_good_key"
SILENT_REJECT_KEY = "cw_test_silent"  # closed with 4401 and no error message before it


def audio_for(text: str, fmt: str = "pcm") -> bytes:
    per_char = 48 if fmt == "pcm" else 8
    size = per_char * len(text)
    return (text.encode() * per_char)[:size]


@dataclass
class FakeContext:
    context_id: str
    options: dict[str, Any]
    text: str = ""
    sent_bytes: int = 0
    ended: bool = False

    @property
    def fmt(self) -> str:
        return (
            "mulaw" if self.options.get("output") == "twilio" else self.options.get("format", "pcm")
        )

    @property
    def position_ms(self) -> int:
        return self.sent_bytes // (48 if self.fmt == "pcm" else 8)


@dataclass
class FakeServer:
    url: str = ""
    auth_seen: list[tuple[str, str]] = field(default_factory=list)
    subprotocols_selected: list[str | None] = field(default_factory=list)
    received: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        return Subprotocol("callwaiting-tts") if "callwaiting-tts" in offered else None

    async def refuse(self, ws: ServerConnection, key: str) -> None:
        if key != SILENT_REJECT_KEY:
            await self.send(
                ws,
                {
                    "type": "error",
                    "error": {
                        "type": "authentication_error",
                        "code": "invalid_api_key",
                        "message": "Invalid API key.",
                        "request_id": "req_1",
                    },
                },
            )
        await ws.close(4401, "not authenticated")

    @staticmethod
    async def send(ws: ServerConnection, message: dict[str, Any]) -> None:
        await ws.send(json.dumps(message))

    async def authenticate(self, ws: ServerConnection) -> str | None:
        assert ws.request is not None
        headers = ws.request.headers
        self.subprotocols_selected.append(ws.subprotocol)
        authorization = headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            self.auth_seen.append(("header", authorization.removeprefix("Bearer ")))
            return authorization.removeprefix("Bearer ")
        offered = [p.strip() for p in headers.get("Sec-WebSocket-Protocol", "").split(",")]
        for protocol in offered:
            if protocol.startswith("cw-key."):
                self.auth_seen.append(("subprotocol", protocol.removeprefix("cw-key.")))
                return protocol.removeprefix("cw-key.")
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), 2))
        except TimeoutError:
            await self.send(ws, error("auth_timeout", "No API key."))
            await ws.close(4408)
            return None
        if first.get("type") != "auth":
            await self.send(ws, error("missing_api_key", "Authenticate first."))
            await ws.close(4401)
            return None
        self.auth_seen.append(("message", first["api_key"]))
        return str(first["api_key"])

    async def handler(self, ws: ServerConnection) -> None:
        key = await self.authenticate(ws)
        if key is None:
            return
        if key != GOOD_KEY:
            await self.refuse(ws, key)
            return
        await self.send(
            ws, {"type": "ready", "protocol": 1, "request_id": "req_1", "tenant": "acme"}
        )
        contexts: dict[str, FakeContext] = {}
        last: FakeContext | None = None
        counter = 0
        try:
            async for frame in ws:
                if isinstance(frame, bytes):
                    await self.send(ws, error("protocol_error", "No audio from clients."))
                    await ws.close(4400)
                    return
                message = json.loads(frame)
                self.received.append((time.perf_counter(), message))
                kind = message.get("type") or message.get("event")
                addressed = contexts.get(message.get("context_id", ""), last)
                writes = kind in ("text", "mark", "end")
                if writes and addressed is not None and addressed.context_id not in contexts:
                    await self.send(ws, error("context_closed", "Context is finished."))
                    continue
                if kind == "start":
                    counter += 1
                    context_id = message.get("context_id") or f"ctx_server_{counter}"
                    options = {k: v for k, v in message.items() if k not in ("type",)}
                    if message.get("voice") == "nobody":
                        await self.send(
                            ws,
                            {
                                **error("voice_not_found", "No voice 'nobody'.", "voice"),
                                "context_id": context_id,
                            },
                        )
                        continue
                    last = contexts[context_id] = FakeContext(context_id, options)
                    await self.send(ws, {"type": "started", "context_id": context_id})
                elif kind == "text" and addressed is not None:
                    addressed.text += message["text"]
                    await self.speak(ws, addressed, message["text"])
                    if "TOO LONG" in addressed.text:  # as input_too_long: cancelled, then error
                        contexts.pop(addressed.context_id)
                        await self.send(
                            ws,
                            {
                                "type": "cancelled",
                                "context_id": addressed.context_id,
                                "audio_ms_sent": addressed.position_ms,
                            },
                        )
                        await self.send(
                            ws, error("input_too_long", "At most 5000 characters.", "text")
                        )
                elif kind == "mark" and addressed is not None:
                    await self.mark(ws, addressed, message["name"])
                elif kind == "end" and addressed is not None:
                    if "forever" in addressed.text:
                        continue  # keeps "speaking" until cancelled
                    contexts.pop(addressed.context_id)
                    await self.send(
                        ws,
                        {
                            "type": "done",
                            "context_id": addressed.context_id,
                            "characters": len(addressed.text),
                            "audio_ms": addressed.position_ms,
                        },
                    )
                elif kind in ("cancel", "clear"):
                    targets = (
                        [contexts[message["context_id"]]]
                        if message.get("context_id") in contexts
                        else list(contexts.values())
                    )
                    for context in targets:
                        await self.send(
                            ws,
                            {
                                "type": "cancelled",
                                "context_id": context.context_id,
                                "audio_ms_sent": context.position_ms,
                            },
                        )
                    for context in targets:
                        contexts.pop(context.context_id)
                elif kind in ("text", "mark", "end"):
                    await self.send(ws, error("unknown_context", "No such context."))
                elif kind == "ping":
                    await self.send(ws, {"type": "pong", "id": message.get("id")})
                else:
                    await self.send(
                        ws, error("unknown_message_type", f"Unknown message type {kind!r}.")
                    )
        except ConnectionClosed:
            pass

    async def speak(self, ws: ServerConnection, context: FakeContext, text: str) -> None:
        audio = audio_for(text, context.fmt)
        context.sent_bytes += len(audio)
        options = context.options
        if options.get("output") == "twilio":
            await self.send(
                ws,
                {
                    "event": "media",
                    "streamSid": options["stream_sid"],
                    "media": {"payload": base64.b64encode(audio).decode()},
                },
            )
        elif options.get("encoding") == "json":
            await self.send(
                ws,
                {
                    "type": "audio",
                    "context_id": context.context_id,
                    "seq": 0,
                    "audio": base64.b64encode(audio).decode(),
                },
            )
        else:
            half = len(audio) // 2  # two frames, as an engine's chunks would
            await ws.send(audio[:half])
            await ws.send(audio[half:])

    async def mark(self, ws: ServerConnection, context: FakeContext, name: str) -> None:
        # As the server does: a JSON mark always, and with Twilio output a Twilio mark too.
        await self.send(
            ws,
            {
                "type": "mark",
                "context_id": context.context_id,
                "name": name,
                "time_ms": context.position_ms,
            },
        )
        if context.options.get("output") == "twilio":
            stream_sid = context.options["stream_sid"]
            await self.send(ws, {"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})

    def texts(self) -> list[tuple[float, str]]:
        return [(at, m["text"]) for at, m in self.received if m.get("type") == "text"]


def error(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    body = {"type": "invalid_request_error", "code": code, "message": message}
    if param:
        body["param"] = param
    return {"type": "error", "error": body}


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    fake = FakeServer()
    async with serve(
        fake.handler, "127.0.0.1", 0, select_subprotocol=fake.select_subprotocol
    ) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        fake.url = f"ws://127.0.0.1:{port}/v1/stream"
        yield fake


# Authentication


@pytest.mark.parametrize("mode", ["header", "message", "subprotocol"])
async def test_each_auth_mode_reaches_ready(server: FakeServer, mode: str) -> None:
    async with StreamClient(server.url, GOOD_KEY, auth=mode) as client:
        assert client.ready["type"] == "ready"
        assert client.ready["protocol"] == 1
    assert server.auth_seen == [(mode, GOOD_KEY)]
    expected = "callwaiting-tts" if mode == "subprotocol" else None
    assert server.subprotocols_selected == [expected]


async def test_refused_key_raises_the_servers_error_and_close_code(server: FakeServer) -> None:
    with pytest.raises(ClientError) as caught:
        async with StreamClient(server.url, "cw_wrong"):
            pass
    assert caught.value.code == "invalid_api_key"
    assert caught.value.message == "Invalid API key."
    assert caught.value.close_code == 4401


async def test_close_4401_without_a_message_raises(server: FakeServer) -> None:
    with pytest.raises(ClientError) as caught:
        async with StreamClient(server.url, SILENT_REJECT_KEY, auth="message"):
            pass
    assert caught.value.code == "not_authenticated"
    assert caught.value.close_code == 4401


async def test_nothing_listening_is_a_connection_error() -> None:
    with pytest.raises(ClientError) as caught:
        async with StreamClient("ws://127.0.0.1:9/v1/stream", GOOD_KEY, open_timeout=2):
            pass
    assert caught.value.code in ("connection_failed", "timeout")


def test_unknown_auth_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="auth must be one of"):
        StreamClient("ws://x", GOOD_KEY, auth="cookie")


# Speaking


async def test_speak_a_string_collects_binary_audio(server: FakeServer) -> None:
    async with StreamClient(server.url, GOOD_KEY) as client:
        result = await client.speak("Hello there.", voice="joe", language="en-NG")
    assert result.context_id == "ctx_server_1"
    assert result.audio == audio_for("Hello there.")
    assert result.characters == len("Hello there.")
    assert result.audio_ms == len("Hello there.")
    assert result.received_ms == result.audio_ms
    assert result.first_audio_s is not None
    assert 0 <= result.first_audio_s < 5
    assert not result.cancelled
    assert [e["type"] for e in result.events] == ["started", "done"]
    start = next(m for _, m in server.received if m["type"] == "start")
    # Options left unset are not sent: the server's defaults apply.
    assert start == {"type": "start", "voice": "joe", "language": "en-NG"}
    kinds = [(m["type"], "context_id" in m) for _, m in server.received]
    assert kinds == [("start", False), ("text", False), ("end", False)]


async def test_pieces_are_sent_one_by_one_with_the_delay(server: FakeServer) -> None:
    pieces = ["Hello ", "there, ", "how are ", "you?"]
    async with StreamClient(server.url, GOOD_KEY) as client:
        result = await client.speak(pieces, context_id="mine-1", piece_delay_s=0.05)
    texts = server.texts()
    assert [text for _, text in texts] == pieces
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(texts)]
    assert all(gap >= 0.04 for gap in gaps), gaps
    assert result.context_id == "mine-1"
    assert all(m.get("context_id") == "mine-1" for _, m in server.received)
    assert result.audio == b"".join(audio_for(p) for p in pieces)
    # Audio of the first piece came back before the last piece was sent.
    assert result.first_audio_s is not None
    assert result.first_audio_s < 0.1


async def test_an_async_iterable_is_streamed(server: FakeServer) -> None:
    async def llm() -> AsyncIterator[str]:
        for word in ["One ", "two ", "three."]:
            await asyncio.sleep(0.01)
            yield word

    async with StreamClient(server.url, GOOD_KEY) as client:
        result = await client.speak(llm())
    assert [text for _, text in server.texts()] == ["One ", "two ", "three."]
    assert result.characters == len("One two three.")


async def test_marks_are_sent_after_their_piece_and_collected(server: FakeServer) -> None:
    async with StreamClient(server.url, GOOD_KEY) as client:
        result = await client.speak(
            ["Hi. ", "Bye."], marks={0: "after-hi", 1: "after-bye", 5: "late"}
        )
    sent = [(m["type"], m.get("name") or m.get("text")) for _, m in server.received]
    assert sent == [
        ("start", None),
        ("text", "Hi. "),
        ("mark", "after-hi"),
        ("text", "Bye."),
        ("mark", "after-bye"),
        ("mark", "late"),
        ("end", None),
    ]
    assert result.marks == [("after-hi", 4), ("after-bye", 8), ("late", 8)]


async def test_json_encoding_is_decoded(server: FakeServer) -> None:
    async with StreamClient(server.url, GOOD_KEY) as client:
        result = await client.speak(
            ["Uno, ", "dos."], encoding="json", format="mulaw", sample_rate=8000
        )
    assert result.audio == audio_for("Uno, ", "mulaw") + audio_for("dos.", "mulaw")
    assert result.format == "mulaw"
    assert result.sample_rate == 8000
    assert [e["type"] for e in result.events] == ["started", "audio", "audio", "done"]


async def test_twilio_output_is_decoded(server: FakeServer) -> None:
    async with StreamClient(server.url, GOOD_KEY) as client:
        result = await client.speak(
            ["Press one. ", "Or two."], output="twilio", stream_sid="MZ123", marks={0: "m1"}
        )
    assert result.audio == audio_for("Press one. ", "mulaw") + audio_for("Or two.", "mulaw")
    assert (result.format, result.sample_rate) == ("mulaw", 8000)
    # The JSON mark and the Twilio mark are one mark.
    assert result.marks == [("m1", len("Press one. "))]
    start = next(m for _, m in server.received if m["type"] == "start")
    assert start == {
        "type": "start",
        "output": "twilio",
        "stream_sid": "MZ123",
        "service_events": True,
    }
    media = [e for e in result.events if e.get("event") == "media"]
    assert len(media) == 2


def test_twilio_marks_alone_are_placed_at_the_audio_received() -> None:
    from callwaiting_tts_client.stream import _Context

    context = _Context(context_id="c", format="mulaw", sample_rate=8000, twilio=True)
    context.add_audio(b"\xff" * 80)
    context.add_mark("a", None)
    context.add_audio(b"\xff" * 80)
    context.add_mark("b", None)
    context.add_mark("b", 20)  # its JSON twin, later: one mark, the server's time
    context.add_mark("c", 20)
    context.add_mark("c", None)
    assert context.marks == [("a", 10), ("b", 20), ("c", 20)]


async def test_an_error_for_the_context_raises_and_the_socket_stays_usable(
    server: FakeServer,
) -> None:
    async with StreamClient(server.url, GOOD_KEY) as client:
        with pytest.raises(ClientError) as caught:
            await client.speak("Hello.", voice="nobody")
        assert caught.value.code == "voice_not_found"
        assert caught.value.error["param"] == "voice"
        assert caught.value.close_code is None
        result = await client.speak("Again.")
    assert result.audio == audio_for("Again.")
    # The failed context's late `unknown_context` errors were dropped by a ping/pong barrier.
    pings = [m for _, m in server.received if m["type"] == "ping"]
    assert pings == [{"type": "ping", "id": "cw-client-sync-1"}]


async def test_consecutive_contexts_do_not_mix(server: FakeServer) -> None:
    async with StreamClient(server.url, GOOD_KEY) as client:
        first = await client.speak("First one.")
        second = await client.speak("Second.")
    assert (first.context_id, second.context_id) == ("ctx_server_1", "ctx_server_2")
    assert first.audio == audio_for("First one.")
    assert second.audio == audio_for("Second.")


async def test_cancel_while_speaking_returns_a_cancelled_result(server: FakeServer) -> None:
    async with StreamClient(server.url, GOOD_KEY) as client:
        speaking = asyncio.create_task(client.speak("This goes on forever.", context_id="c1"))
        while not any(m.get("type") == "end" for _, m in server.received):
            await asyncio.sleep(0.01)
        cancelled = await client.cancel("c1")
        result = await speaking
    assert cancelled == {
        "type": "cancelled",
        "context_id": "c1",
        "audio_ms_sent": len("This goes on forever."),
    }
    assert result.cancelled
    assert result.audio_ms == len("This goes on forever.")
    assert result.events[-1]["type"] == "cancelled"


async def test_barge_in_with_nothing_open_returns_none(server: FakeServer) -> None:
    async with StreamClient(server.url, GOOD_KEY) as client:
        await client.speak("Short.")
        assert await client.cancel() is None
        result = await client.speak("Next.")
    assert result.audio == audio_for("Next.")


async def test_barge_in_cancels_a_speaking_context(server: FakeServer) -> None:
    async with StreamClient(server.url, GOOD_KEY) as client:
        speaking = asyncio.create_task(client.speak(["Talking ", "forever."]))
        while not any(m.get("type") == "end" for _, m in server.received):
            await asyncio.sleep(0.01)
        cancelled = await client.cancel()
        result = await speaking
    assert cancelled is not None
    assert cancelled["context_id"] == result.context_id == "ctx_server_1"
    assert result.cancelled
    assert result.audio == audio_for("Talking ") + audio_for("forever.")


async def test_a_context_the_server_cancels_raises_its_error(server: FakeServer) -> None:
    async with StreamClient(server.url, GOOD_KEY) as client:
        with pytest.raises(ClientError) as caught:
            await client.speak(["Fine so far. ", "TOO LONG"])
        assert caught.value.code == "input_too_long"
        assert caught.value.result is not None
        assert caught.value.result.cancelled
        assert caught.value.result.audio.startswith(audio_for("Fine so far. "))
        result = await client.speak("Still usable.")
    assert result.characters == len("Still usable.")


async def test_raw_send_and_receive(server: FakeServer) -> None:
    async with StreamClient(server.url, GOOD_KEY) as client:
        await client.send({"type": "ping", "id": 7})
        assert await client.receive(timeout=2) == {"type": "pong", "id": 7}
        await client.send({"type": "bogus"})
        reply = await client.receive(timeout=2)
        assert isinstance(reply, dict)
        assert reply["error"]["code"] == "unknown_message_type"
        with pytest.raises(ClientError) as timed_out:
            await client.receive(timeout=0.05)
        assert timed_out.value.code == "timeout"
        await client.send_raw(b"\x00\x01")
        with pytest.raises(ClientError) as caught:
            await drain_until_closed(client)
        assert caught.value.code == "protocol_error"
        assert caught.value.close_code == 4400
        with pytest.raises(ClientError):  # closed stays closed
            await client.speak("Hello.")


async def test_a_failing_text_source_cancels_the_context(server: FakeServer) -> None:
    def broken() -> Any:
        yield "Hello "
        raise RuntimeError("LLM went away")

    async with StreamClient(server.url, GOOD_KEY) as client:
        with pytest.raises(RuntimeError, match="LLM went away"):
            await client.speak(broken(), context_id="c9", timeout=2)
        await asyncio.sleep(0.1)
    assert server.received[-1][1] == {"type": "cancel", "context_id": "c9"}


async def drain_until_closed(client: StreamClient) -> None:
    while True:
        await client.receive(timeout=2)


# Audio helpers


def test_g711_decoding_matches_libsndfile() -> None:
    from callwaiting_tts_client.audio import g711_wav

    every_code = bytes(range(256))
    for fmt in ("mulaw", "alaw"):
        data, rate = soundfile.read(io.BytesIO(g711_wav(every_code, fmt)), dtype="int16")
        assert rate == 8000
        assert data.tobytes() == decode_g711(every_code, fmt)
    mulaw = np.frombuffer(decode_g711(b"\x00\x7f\x80\xff", "mulaw"), "<i2")
    assert mulaw.tolist() == [-32124, 0, 32124, 0]


def test_split_words_keeps_the_text() -> None:
    text = "  Hello, wide\n world. "
    assert "".join(split_words(text)) == text
    assert split_words("a b") == ["a ", "b"]


# Command line


async def run_cli(*args: str, stdin: bytes | None = None) -> tuple[int, bytes, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLWAITING_")}
    # The package as this test imported it, installed or not.
    package_root = str(Path(callwaiting_tts_client.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "callwaiting_tts_client",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode is not None
    return process.returncode, out, err.decode()


async def test_cli_writes_a_pcm_wav(server: FakeServer, tmp_path: Path) -> None:
    out = tmp_path / "speech.wav"
    code, _, err = await run_cli(
        "--url", server.url, "--api-key", GOOD_KEY, "--out", str(out), "Hello from the CLI."
    )
    assert code == 0, err
    with wave.open(str(out)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 24000)
        assert wav.readframes(wav.getnframes()) == audio_for("Hello from the CLI.")
    assert "context=ctx_server_1" in err
    assert f"characters={len('Hello from the CLI.')}" in err
    assert "first_audio_ms=" in err


async def test_cli_streams_words_from_stdin_as_mulaw(server: FakeServer, tmp_path: Path) -> None:
    out = tmp_path / "speech.wav"
    code, _, err = await run_cli(
        *("--url", server.url, "--api-key", GOOD_KEY, "--auth", "subprotocol"),
        *("--format", "mulaw", "--sample-rate", "8000", "--stream-words", "0.01"),
        *("--out", str(out), "-"),
        stdin=b"One two three.",
    )
    assert code == 0, err
    assert [text for _, text in server.texts()] == ["One ", "two ", "three."]
    with wave.open(str(out)) as wav:
        assert (wav.getsampwidth(), wav.getframerate()) == (2, 8000)
        pcm = wav.readframes(wav.getnframes())
    expected = b"".join(audio_for(w, "mulaw") for w in ["One ", "two ", "three."])
    assert pcm == decode_g711(expected, "mulaw")


async def test_cli_g711_wav_and_raw(server: FakeServer, tmp_path: Path) -> None:
    wav_path, raw_path = tmp_path / "a.wav", tmp_path / "a.raw"
    base = ("--url", server.url, "--api-key", GOOD_KEY, "--format", "alaw")
    code, _, err = await run_cli(*base, "--g711-wav", "--out", str(wav_path), "Hola.")
    assert code == 0, err
    assert soundfile.info(str(wav_path)).subtype == "ALAW"
    code, _, err = await run_cli(*base, "--raw", "--out", str(raw_path), "Hola.")
    assert code == 0, err
    assert raw_path.read_bytes() == audio_for("Hola.", "alaw")


async def test_cli_fails_on_a_refused_key(server: FakeServer, tmp_path: Path) -> None:
    out = tmp_path / "speech.wav"
    code, _, err = await run_cli(
        "--url", server.url, "--api-key", "cw_wrong", "--out", str(out), "Hello."
    )
    assert code == 1
    assert "invalid_api_key: Invalid API key." in err
    assert "4401" in err
    assert not out.exists()


async def test_cli_needs_a_key(tmp_path: Path) -> None:
    code, _, err = await run_cli("--url", "ws://127.0.0.1:9/v1/stream", "Hello.")
    assert code == 2
    assert "CALLWAITING_API_KEY" in err
