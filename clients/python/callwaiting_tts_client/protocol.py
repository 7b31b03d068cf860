"""The `/v1/stream` wire protocol's constants, the one copy that the server and this client share
(docs/websocket.md). Standard library only: the server imports this module too, so it must never
pull in the client's dependencies.
"""

from __future__ import annotations

from typing import Final, Literal

PROTOCOL_VERSION: Final = 1  # `ready.protocol`
PATH: Final = "/v1/stream"

# Browsers cannot set headers: they offer [APP_SUBPROTOCOL, KEY_SUBPROTOCOL_PREFIX + key] and the
# server selects APP_SUBPROTOCOL, never echoing the key.
APP_SUBPROTOCOL: Final = "callwaiting-tts"
KEY_SUBPROTOCOL_PREFIX: Final = "cw-key."

# Close codes, by meaning. The server sends an `error` message first whenever it can.
CLOSE_IDLE_TIMEOUT: Final = 4000
CLOSE_PROTOCOL_ERROR: Final = 4400  # too many bad messages in a row
CLOSE_NOT_AUTHENTICATED: Final = 4401  # missing, malformed, unknown, revoked or expired key
CLOSE_FORBIDDEN: Final = 4403  # suspended tenant, or a key without the `synthesize` scope
CLOSE_AUTH_TIMEOUT: Final = 4408  # no key within the authentication timeout
CLOSE_TOO_MANY_REQUESTS: Final = 4429  # failed authentications, or open sockets per tenant
CLOSE_MESSAGE_TOO_LARGE: Final = 4413  # a message over the server's WS_MAX_MESSAGE_BYTES
# Twilio-only output (`output: twilio` without `service_events`) sends no `error` message (Twilio
# refuses anything but its own messages): an error closes the socket with this + the HTTP status
# of the error (4400, 4409, 4429, 4503, ...); one that closes it anyway keeps its code above.
ERROR_CLOSE_BASE: Final = 4000
# RFC 6455's "message too big", sent by the server's WebSocket layer itself (no error message
# before it) for a message over that layer's own limit (1 MiB), far above WS_MAX_MESSAGE_BYTES.
# The application cannot send 1009 through daphne: it accepts only 1000 and 3000-4999 from it.
CLOSE_MESSAGE_TOO_BIG: Final = 1009

# A name for each close code, for when no error message preceded the close (the client's
# `ClientError.code` then).
CLOSE_CODE_NAMES: Final[dict[int, str]] = {
    CLOSE_IDLE_TIMEOUT: "idle_timeout",
    CLOSE_PROTOCOL_ERROR: "protocol_error",
    CLOSE_NOT_AUTHENTICATED: "not_authenticated",
    CLOSE_FORBIDDEN: "forbidden",
    CLOSE_AUTH_TIMEOUT: "auth_timeout",
    CLOSE_TOO_MANY_REQUESTS: "too_many_requests",
    CLOSE_MESSAGE_TOO_LARGE: "message_too_large",
    CLOSE_MESSAGE_TOO_BIG: "message_too_large",
}

# Audio on the socket: `pcm` is signed 16-bit little-endian mono; `mulaw` and `alaw` are G.711.
AudioFormat = Literal["pcm", "mulaw", "alaw"]
AUDIO_FORMATS: Final[tuple[AudioFormat, ...]] = ("pcm", "mulaw", "alaw")
DEFAULT_FORMAT: Final = "pcm"
PCM_RATES: Final = (8000, 16000, 22050, 24000, 44100, 48000)
DEFAULT_PCM_RATE: Final = 24000
G711_RATE: Final = 8000  # the only rate of `mulaw` and `alaw`
G711_FRAME_MS: Final = 20  # every G.711 frame: 160 bytes

# The other `start` options with a fixed set of values; the first of each is the default.
ENCODINGS: Final = ("binary", "json")  # audio as binary frames, or base64 in `audio` messages
OUTPUTS: Final = ("raw", "twilio")  # twilio: Media Streams messages (mulaw, 8 kHz, JSON)
PACINGS: Final = ("none", "realtime")  # realtime: frames leave at playback speed
TWILIO_FORMAT: Final = "mulaw"
TIMESTAMPS: Final = ("none", "word")  # word: a `words` message after each segment's audio

# Each client message's fields beside `type`, with their JSON types ("string", "boolean",
# "integer" (never a boolean or a float), "number" (never a boolean), "array", "any"). The server
# refuses a field not listed (`invalid_request`, `param` the field) and a value of another type;
# `null` is the same as leaving an optional field out. `clear` is Twilio's barge-in, keyed by
# `event`.
JsonType = Literal["string", "boolean", "integer", "number", "array", "any"]
MESSAGE_FIELDS: Final[dict[str, dict[str, JsonType]]] = {
    "auth": {"api_key": "string"},
    "start": {
        "context_id": "string",
        "voice": "string",
        "language": "string",
        "speed": "number",
        "format": "string",
        "sample_rate": "integer",
        "encoding": "string",
        "output": "string",
        "pacing": "string",
        "stream_sid": "string",
        "service_events": "boolean",
        "pronunciation_dictionaries": "array",  # of dictionary ids (strings)
        "ssml": "string",
        "text": "string",
        "timestamps": "string",
        "cache": "boolean",  # false: not served from nor stored in the phrase cache
    },
    "text": {"context_id": "string", "text": "string", "flush": "boolean"},
    "flush": {"context_id": "string"},
    "end": {"context_id": "string"},
    "mark": {"context_id": "string", "name": "string"},
    "cancel": {"context_id": "string", "played_ms": "integer"},
    "ping": {"id": "any"},
    "clear": {"streamSid": "string"},
}
# The fields a message must carry (not null).
REQUIRED_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "auth": ("api_key",),
    "text": ("text",),
    "mark": ("name",),
}
