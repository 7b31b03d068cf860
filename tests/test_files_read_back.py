"""Every format of every HTTP endpoint, read back by the readers users have: soundfile
(libsndfile), PyAV (FFmpeg) and, for WAV, Python's `wave`.

A file must open, decode to the length that was synthesized, and say that length where its
header can: a whole answer (`stream: false`, and FLAC, which is never streamed) carries exact
sizes. One short sentence is synthesized once per format and endpoint for the whole module;
workers run with Piper's noise off, so every synthesis of it has the same length. The WebSocket
serves raw formats only (pcm, mulaw, alaw: the encoders tested here through HTTP).
"""

from __future__ import annotations

import base64
import io
import json
import struct
import uuid
import wave
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
import pytest
import soundfile
from django.core.management import call_command
from django.db import connection

from billing.services import plan_default
from synthesis.api.serializers import NATIVE_FORMATS, OPENAI_FORMATS
from synthesis.audio.formats import FORMATS
from tenants.audit import Actor
from tenants.services import tenant_create
from tests.conftest import Service
from tests.synth import Answer, post

# No test here touches the database: the module's fixture makes every answer with a tenant whose
# rows it commits and then flushes. So its tests run with those that use no database, after
# every test that uses the session's tenants (pytest-django orders them so), which a flush among
# them would delete.

TEXT = "Thank you for calling. How can I help you today?"
SSE_EVENTS = {"synthesize-sse": "audio", "speech-sse": "speech.audio.delta"}
# A streamed WAV's sizes say "unknown"; `wave` reads the data size as 2**32 - 1 bytes.
UNKNOWN_WAV_FRAMES = 0xFFFFFFFF // 2
RAW = {"pcm": ("PCM_16", "s16le"), "mulaw": ("ULAW", "mulaw"), "alaw": ("ALAW", "alaw")}


@dataclass(frozen=True)
class Case:
    endpoint: str  # synthesize (streamed), synthesize-whole, speech, or an SSE stream
    fmt: str

    def __str__(self) -> str:
        return f"{self.endpoint}-{self.fmt}"

    @property
    def rate(self) -> int:
        return FORMATS[self.fmt].default_rate

    @property
    def whole(self) -> bool:
        """Sent complete, so its header can hold its length."""
        return self.endpoint == "synthesize-whole" or not FORMATS[self.fmt].streamable

    @property
    def overhang(self) -> int:
        """Samples a decoder plays beyond the audio: codec delay and padding that the file
        cannot signal (ADTS never; MP3 only with the Info frame a whole file starts with)."""
        if self.fmt == "aac":
            return 1024 + 1024  # AAC's priming frame, and the last frame's padding
        if self.fmt == "mp3" and not self.whole:
            frame = 1152 if self.rate >= 32000 else 576
            return 576 + 2 * frame  # LAME's delay, and padding of up to two frames
        return 0


CASES = [
    *(Case("synthesize", fmt) for fmt in NATIVE_FORMATS),
    *(Case("synthesize-whole", fmt) for fmt in NATIVE_FORMATS),
    *(Case("speech", fmt) for fmt in OPENAI_FORMATS),
    # Server-sent events carry FLAC as one event: the whole file.
    Case("synthesize-sse", "flac"),
    Case("speech-sse", "flac"),
]
READERS = ["soundfile", "pyav", "wave"]
READS = [
    pytest.param(case, reader, id=f"{case}-{reader}")
    for case in CASES
    for reader in READERS
    if (reader != "wave" or case.fmt == "wav") and (reader, case.fmt) != ("soundfile", "aac")
]


def request_for(case: Case, key: str) -> tuple[str, str, dict[str, Any]]:
    """`post`'s path, key and body for the case."""
    if case.endpoint.startswith("speech"):
        body: dict[str, Any] = {
            "model": "tts-1",
            "voice": "alloy",
            "input": TEXT,
            "response_format": case.fmt,
        }
        path = "/v1/audio/speech"
    else:
        body = {"text": TEXT, "format": case.fmt, "stream": case.endpoint != "synthesize-whole"}
        path = "/v1/synthesize"
    if case.endpoint in SSE_EVENTS:
        body["stream_format"] = "sse"
    return path, key, body


def audio_of(case: Case, answer: Answer) -> bytes:
    """The file a client gets: the body, or the audio events of a server-sent stream joined."""
    if case.endpoint not in SSE_EVENTS:
        return answer.body
    events = [
        json.loads(line[6:]) for line in answer.body.decode().splitlines() if line[:6] == "data: "
    ]
    deltas = [e["audio"] for e in events if e["type"] == SSE_EVENTS[case.endpoint]]
    return b"".join(base64.b64decode(delta) for delta in deltas)


@dataclass(frozen=True)
class Answers:
    of: dict[Case, Answer]
    samples: dict[int, int]  # rate → the sentence's length in samples there


@pytest.fixture(scope="module")
def answers(
    django_db_setup: None, _daphne: Service, worker_pool: Any, django_db_blocker: Any
) -> Answers:
    """Every case's answer, and the sentence's length at each rate (from whole raw PCM), made
    once for the module by a tenant that lives only while they are made. Its rows are committed
    for daphne to see, then flushed as a transactional test's are; the tests themselves read
    these answers only."""
    worker_pool.ensure(1)
    with django_db_blocker.unblock():
        slug = f"files-{uuid.uuid4().hex[:8]}"
        created = tenant_create(
            name="files", slug=slug, by=Actor.system(), plan_id=plan_default().pk
        )
        try:
            return synthesize_all(_daphne.url, created.api_key.secret)
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{created.tenant.schema_name}" CASCADE')
            call_command("flush", interactive=False, verbosity=0)


def synthesize_all(url: str, key: str) -> Answers:
    of = {case: post(url, *request_for(case, key)) for case in CASES}
    samples = {}
    for rate in {case.rate for case in CASES}:
        pcm = {"text": TEXT, "format": "pcm", "sample_rate": rate, "stream": False}
        samples[rate] = len(post(url, "/v1/synthesize", key, pcm).body) // 2
    return Answers(of, samples)


def read_soundfile(data: bytes, case: Case) -> tuple[np.ndarray, int]:
    if case.fmt in RAW:
        subtype = RAW[case.fmt][0]
        raw = {"samplerate": case.rate, "channels": 1, "subtype": subtype, "endian": "LITTLE"}
        return soundfile.read(io.BytesIO(data), dtype="int16", format="RAW", **raw)
    # What libsndfile says the file holds, before it reads it: the "array is too big" of a FLAC
    # stream whose STREAMINFO said 0 samples came from here.
    claimed = soundfile.info(io.BytesIO(data)).frames
    samples, rate = soundfile.read(io.BytesIO(data), dtype="int16")
    assert claimed == len(samples)
    return samples, rate


def read_pyav(data: bytes, case: Case) -> tuple[np.ndarray, int]:
    raw: dict[str, Any] = {}
    if case.fmt in RAW:
        options = {"sample_rate": str(case.rate), "ch_layout": "mono"}
        raw = {"format": RAW[case.fmt][1], "options": options}
    with av.open(io.BytesIO(data), "r", **raw) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(stream))
        rate = int(stream.rate)
    return np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames]), rate


def read_wave(data: bytes, case: Case) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as reader:
        claimed = reader.getnframes()
        # A streamed WAV's header says "unknown": read to the end of the data.
        samples = np.frombuffer(reader.readframes(UNKNOWN_WAV_FRAMES), "<i2")
        rate = reader.getframerate()
    assert claimed == (len(samples) if case.whole else UNKNOWN_WAV_FRAMES)
    return samples, rate


READ = {"soundfile": read_soundfile, "pyav": read_pyav, "wave": read_wave}


@pytest.mark.parametrize(("case", "reader"), READS)
def test_every_answer_opens_in_every_reader_and_decodes_to_its_length(
    answers: Answers, case: Case, reader: str
) -> None:
    answer, expected = answers.of[case], answers.samples[case.rate]
    assert answer.status == 200, answer.body

    samples, rate = READ[reader](audio_of(case, answer), case)

    assert rate == case.rate
    assert expected <= len(samples) <= expected + case.overhang


def test_soundfile_refuses_aac_as_documented(answers: Answers) -> None:
    """libsndfile has no AAC decoder: README points AAC users to FFmpeg (PyAV), tested above."""
    for case in CASES:
        if case.fmt == "aac":
            with pytest.raises(soundfile.LibsndfileError, match="Format not recognised"):
                soundfile.read(io.BytesIO(answers.of[case].body))


def claimed_samples(fmt: str, data: bytes) -> int | None:
    """The length the file's header states, in samples; None where it says "unknown" or has no
    place for it."""
    if fmt == "wav":
        assert data[36:40] == b"data"
        size = struct.unpack_from("<I", data, 40)[0]
        return None if size == 0xFFFFFFFF else size // 2
    if fmt == "flac":
        assert data[:4] == b"fLaC"
        total = int.from_bytes(data[18:26], "big") & (1 << 36) - 1  # STREAMINFO
        return total or None
    if fmt == "opus":  # the last page's granule position, less the decoder's pre-skip
        pre_skip = struct.unpack_from("<H", data, data.find(b"OpusHead") + 10)[0]
        return int(struct.unpack_from("<q", data, data.rfind(b"OggS") + 6)[0]) - pre_skip
    assert fmt == "mp3"
    info = data[:64].find(b"Info")  # in the first frame, after its side information
    if info < 0:
        return None
    frames = struct.unpack_from(">I", data, info + 8)[0]
    # LAME's extension follows the frame count, byte count, seek table and quality.
    delay_and_padding = int.from_bytes(data[info + 141 : info + 144], "big")
    per_frame = 1152 if (data[1] >> 3) & 3 == 3 else 576
    return int(frames * per_frame - (delay_and_padding >> 12) - (delay_and_padding & 0xFFF))


@pytest.mark.parametrize(
    "case", [case for case in CASES if case.fmt in ("wav", "flac", "mp3", "opus")], ids=str
)
def test_a_whole_files_header_states_its_exact_length(answers: Answers, case: Case) -> None:
    claimed = claimed_samples(case.fmt, audio_of(case, answers.of[case]))

    # Ogg Opus states it in a stream too (its last page); a streamed WAV says "unknown" and a
    # streamed MP3 has nowhere to say it.
    exact = case.whole or case.fmt == "opus"
    assert claimed == (answers.samples[case.rate] if exact else None)


@pytest.mark.parametrize(
    "case", [case for case in CASES if case.endpoint not in SSE_EVENTS], ids=str
)
def test_a_whole_answer_has_its_content_length_and_a_stream_is_chunked(
    answers: Answers, case: Case
) -> None:
    answer = answers.of[case]

    assert answer.headers["content-type"] == FORMATS[case.fmt].media_type
    if case.whole:
        assert int(answer.headers["content-length"]) == len(answer.body)
        assert "transfer-encoding" not in answer.headers
    else:
        assert answer.headers["transfer-encoding"] == "chunked"
