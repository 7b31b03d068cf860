"""`python -m callwaiting_tts_client`, or the `callwaiting-tts-client` command: speak a text over
`/v1/stream` and write a WAV.

Exit status: 0 on success, 1 when the server refuses or fails (its error on stderr), 2 on a usage
error, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from callwaiting_tts_client.protocol import (
    AUDIO_FORMATS,
    DEFAULT_PCM_RATE,
    ENCODINGS,
    G711_RATE,
    PACINGS,
    PATH,
    PCM_RATES,
)
from callwaiting_tts_client.stream import AUTH_MODES, ClientError, Result, StreamClient

DEFAULT_URL = f"ws://127.0.0.1:8000{PATH}"
URL_ENV = "CALLWAITING_URL"
KEY_ENV = "CALLWAITING_API_KEY"


MODULE_PROG = "python -m callwaiting_tts_client"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """`prog` names the command in usage and errors: argparse's default (the script's name) fits
    the console script; `python -m` passes MODULE_PROG, as its argv[0] is `__main__.py`."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Speak TEXT over the CallWaiting TTS WebSocket (/v1/stream); save the audio.",
    )
    parser.add_argument("text", help='the text to speak, or "-" to read it from stdin')
    parser.add_argument(
        "--url",
        default=os.environ.get(URL_ENV, DEFAULT_URL),
        help=f"WebSocket URL (env {URL_ENV}; default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get(KEY_ENV),
        help=f"API key with the synthesize scope (env {KEY_ENV})",
    )
    parser.add_argument(
        "--auth",
        choices=AUTH_MODES,
        default="header",
        help="how the key travels: Authorization header (default), first message, subprotocol",
    )
    parser.add_argument("--voice", help="voice id, e.g. joe")
    parser.add_argument("--language", help="BCP 47 language, e.g. en-NG")
    parser.add_argument(
        "--format", choices=AUDIO_FORMATS, help="audio format (server default: pcm)"
    )
    parser.add_argument(
        "--sample-rate",
        type=int,
        help=f"pcm: {PCM_RATES[0]} … {PCM_RATES[-1]} (server default {DEFAULT_PCM_RATE}); "
        f"G.711: {G711_RATE}",
    )
    parser.add_argument("--speed", type=float, help="0.25 to 4")
    parser.add_argument(
        "--encoding", choices=ENCODINGS, help="audio as binary frames or base64 JSON"
    )
    parser.add_argument("--pacing", choices=PACINGS, help="realtime: playback speed")
    parser.add_argument("--context-id", help="name the context (else the server names it)")
    parser.add_argument("--ssml", action="store_true", help="TEXT is an SSML document")
    parser.add_argument(
        "--stream-words",
        type=float,
        metavar="SECONDS",
        help="send the text word by word, SECONDS apart, as an LLM would",
    )
    parser.add_argument(
        "--out", default="speech.wav", help='output file, "-" for stdout (default speech.wav)'
    )
    parser.add_argument("--raw", action="store_true", help="write raw audio, no WAV header")
    parser.add_argument(
        "--g711-wav",
        action="store_true",
        help="mulaw/alaw: keep G.711 in the WAV (format tag 7/6) instead of decoding to 16-bit",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="longest wait for any message (seconds)"
    )
    parser.add_argument(
        "--events", action="store_true", help="print every JSON message received to stderr"
    )
    return parser


def split_words(text: str) -> list[str]:
    """Word pieces that keep their trailing whitespace, so they join back to `text`."""
    leading = text[: len(text) - len(text.lstrip())]
    pieces = re.findall(r"\S+\s*", text)
    if pieces and leading:
        pieces[0] = leading + pieces[0]
    return pieces


async def run(args: argparse.Namespace, text: str) -> Result:
    async with StreamClient(args.url, args.api_key, auth=args.auth) as client:
        body: str | list[str] = text
        if args.stream_words is not None and not args.ssml:
            body = split_words(text)
        return await client.speak(
            None if args.ssml else body,
            ssml=text if args.ssml else None,
            context_id=args.context_id,
            voice=args.voice,
            language=args.language,
            format=args.format,
            sample_rate=args.sample_rate,
            speed=args.speed,
            encoding=args.encoding,
            pacing=args.pacing,
            piece_delay_s=args.stream_words or 0.0,
            timeout=args.timeout,
        )


def summary(result: Result, out: str) -> str:
    first = f"{result.first_audio_s * 1000:.0f}" if result.first_audio_s is not None else "n/a"
    status = " cancelled" if result.cancelled else ""
    return (
        f"context={result.context_id} characters={result.characters} "
        f"audio_ms={result.audio_ms} first_audio_ms={first} bytes={len(result.audio)} "
        f"format={result.format}/{result.sample_rate}{status} -> {out}"
    )


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not args.api_key:
        parser.error(f"an API key is needed: --api-key or the {KEY_ENV} environment variable")
    text = sys.stdin.read() if args.text == "-" else args.text
    if not text.strip():
        parser.error("nothing to speak")
    try:
        result = asyncio.run(run(args, text))
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.events:
        for event in result.events:
            print(json.dumps(event), file=sys.stderr)
    data = result.audio if args.raw else result.wav(keep_g711=args.g711_wav)
    if args.out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        Path(args.out).write_bytes(data)
    print(summary(result, args.out), file=sys.stderr)
    if result.cancelled:
        print("error: the context was cancelled", file=sys.stderr)
        return 1
    return 0
