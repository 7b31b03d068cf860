"""Reference client for the `/v1/stream` WebSocket (protocol 1, docs/websocket.md).

    async with StreamClient("ws://127.0.0.1:8000/v1/stream", "cw_…") as client:
        result = await client.speak("Hello there.", voice="joe")

Command line: `python -m callwaiting_tts_client --help` (docs/client.md).
"""

from callwaiting_tts_client.audio import decode_g711, to_wav
from callwaiting_tts_client.protocol import PROTOCOL_VERSION
from callwaiting_tts_client.stream import ClientError, Result, StreamClient

__all__ = ["PROTOCOL_VERSION", "ClientError", "Result", "StreamClient", "decode_g711", "to_wav"]
