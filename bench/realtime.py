"""Section `ws`: the realtime socket `/v1/stream` (docs/websocket.md).

Three measurements, all PCM at the engine's rate (22050 Hz) with binary frames, every arrival
stamped with `time.perf_counter()` by one reader task per socket the moment `websockets` hands
the message over:

1. first audio for the 10-word sentence (`start` with the whole text, then `end`) at 1, 10, 50
   and 100 connections at once, against the raw engine's first chunk of the first unit the
   socket speaks (the socket cuts text with `TextBuffer` and plans each unit on its own);
2. the 60-word paragraph streamed word by word like an LLM: first audio from the first word,
   and the tail from the last word to the last audio frame;
3. barge-in: `cancel` as soon as the paragraph's audio flows; the time to the last audio frame
   of the context, and to `cancelled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench import raw
from bench.base import SETTLE_SECONDS, Bench, MeasureError
from bench.client import BYTES_PER_SAMPLE, SAMPLE_RATE
from bench.report import Row, percentile, ratio, verdict
from bench.sockets import FORMAT, SERVER_SETTINGS, WS_WORKERS, Socket, open_sockets
from bench.stack import log
from bench.texts import PARAGRAPH, SENTENCE, words

if TYPE_CHECKING:
    from synthesis.contract.segments import Segment
    from synthesis.engines.base import Engine


WS_TARGET_RATIO = 1.15
WS_TARGET_MS = 150.0
WS_LOAD_CONNECTIONS = 100  # the level with a target
WS_LOAD_P95_MS = 2500.0
CANCEL_TARGET_MS = 50.0
# `cancel` goes out this long after the first audio frame, in turn, so that it lands at every
# phase of the worker's chunks (right after a frame, none is usually in flight).
CANCEL_DELAYS_S = (0.0, 0.1, 0.2, 0.3, 0.4)
SEND_AHEAD_S = 10.0  # WS_SEND_AHEAD_MS's default: audio the server sends ahead of playback
TOKEN_INTERVAL_S = 0.03  # one word every 30 ms, like an LLM
STREAM_TIMEOUT_S = 240.0


# --- one context -----------------------------------------------------------------------------


@dataclass
class Utterance:
    """What came back for one context, in perf_counter seconds."""

    sent_at: float  # `start` (or the first word) went out
    first_audio: float | None = None
    last_audio: float | None = None
    finished_at: float | None = None
    frames: int = 0
    audio_bytes: int = 0
    last_frame_bytes: int = 0
    outcome: str = ""  # done, an error code, closed_<code>, timeout

    @property
    def ok(self) -> bool:
        return self.outcome == "done" and self.audio_bytes > 0

    @property
    def first_audio_s(self) -> float | None:
        return None if self.first_audio is None else self.first_audio - self.sent_at

    @property
    def audio_seconds(self) -> float:
        return self.audio_bytes / BYTES_PER_SAMPLE / SAMPLE_RATE


async def collect(sock: Socket, utterance: Utterance, context_id: str, timeout: float) -> None:
    """Reads the socket until the context is done, failed or cancelled, or the socket closed."""
    deadline = time.perf_counter() + timeout
    while True:
        try:
            item = await sock.next(max(0.0, deadline - time.perf_counter()))
        except TimeoutError:
            utterance.outcome = "timeout"
            return
        if item.audio is not None:
            utterance.frames += 1
            utterance.audio_bytes += len(item.audio)
            utterance.last_audio = item.at
            utterance.last_frame_bytes = len(item.audio)
            if utterance.first_audio is None:
                utterance.first_audio = item.at
            continue
        message = item.message or {}
        kind = message.get("type")
        if kind == "_closed":
            utterance.outcome = f"closed_{message.get('code')}"
        elif message.get("context_id") not in (None, context_id):
            continue
        elif kind in ("done", "cancelled"):
            utterance.outcome = str(kind)
        elif kind == "error":
            utterance.outcome = str(message.get("error", {}).get("code", "error"))
        else:  # started, mark, pong
            continue
        utterance.finished_at = item.at
        return


async def speak(sock: Socket, context_id: str, text: str) -> Utterance:
    """`start` with the whole text and `end` at once, as an agent with a finished line does."""
    started = await sock.send({"type": "start", "context_id": context_id, "text": text, **FORMAT})
    await sock.send({"type": "end", "context_id": context_id})
    utterance = Utterance(sent_at=started)
    await collect(sock, utterance, context_id, STREAM_TIMEOUT_S)
    return utterance


# --- the raw engine on the socket's units ----------------------------------------------------


def socket_units(pieces: Sequence[str]) -> list[tuple[int, str]]:
    """The units the socket cuts from these pieces (then `end`), as `Session` does: each with
    the index of the piece that completed it (the last piece for what `end` flushes)."""
    from synthesis.engines.catalog import PIPER
    from synthesis.realtime.buffer import TextBuffer

    buffer = TextBuffer(max_chars=PIPER.segment_chars)
    units: list[tuple[int, str]] = []
    for index, piece in enumerate(pieces):
        units.extend((index, unit) for unit in buffer.add(piece))
    units.extend((len(pieces) - 1, unit) for unit in buffer.flush())
    return units


def unit_segments(unit: str) -> list[Segment]:
    """A unit's engine segments, as the socket plans it (`synthesis_plan_unit`, then the job
    builder), under Piper's segment limit from its catalog row."""
    from synthesis.contract.plan import engine_segments
    from synthesis.engines.catalog import PIPER
    from synthesis.text.frontend import prepare

    plan = prepare(text=unit, locale="en-US", max_chars=PIPER.segment_chars)
    return engine_segments(plan, language="en-US", speed=1.0)


def whole_seconds(engine: Engine, segments: Sequence[Segment]) -> float:
    started = time.perf_counter()
    for _chunk in engine.stream(segments, voice="joe"):
        pass
    return time.perf_counter() - started


# --- 1. first audio at 1 to 100 connections --------------------------------------------------


@dataclass
class Level:
    connections: int
    rounds: int
    utterances: list[Utterance]
    open_failures: Counter[str]
    raw_first_chunk: list[float]  # paired with the rounds at 1 connection, else empty
    paired: list[float]  # socket minus raw, same round (1 connection)
    seconds: float

    @property
    def expected(self) -> int:
        return self.connections * self.rounds

    @property
    def complete(self) -> list[Utterance]:
        return [u for u in self.utterances if u.ok]

    @property
    def first_audio(self) -> list[float]:
        return [u.first_audio_s for u in self.complete if u.first_audio_s is not None]

    @property
    def errors(self) -> dict[str, int]:
        counted = Counter(u.outcome for u in self.utterances if not u.ok)
        for reason, count in self.open_failures.items():
            counted[reason] += count * self.rounds
        return dict(counted)

    def details(self) -> dict[str, Any]:
        complete = self.complete
        total = [u.finished_at - u.sent_at for u in complete if u.finished_at is not None]
        return {
            "connections": self.connections,
            "rounds": self.rounds,
            "streams_expected": self.expected,
            "streams_complete": len(complete),
            "errors": self.errors,
            "first_audio_ms": _ms(self.first_audio),
            "done_ms_p50": percentile(total, 50) * 1000 if total else None,
            "done_ms_max": max(total) * 1000 if total else None,
            "audio_seconds_mean": statistics.fmean(u.audio_seconds for u in complete)
            if complete
            else None,
            "raw_first_chunk_ms": _ms(self.raw_first_chunk),
            "paired_overhead_ms": _ms(self.paired),
            "seconds": self.seconds,
        }


async def run_level(
    url: str,
    api_key: str,
    connections: int,
    rounds: int,
    raw_first: Callable[[], float] | None = None,
) -> Level:
    """`connections` sockets speak the sentence at once, `rounds` times (each round after the
    last one's streams all ended). With `raw_first` (one connection), the raw engine's first
    chunk is taken in the same round, before or after the socket in turn, each after a pause."""
    started = time.monotonic()
    sockets, failures = await open_sockets(url, api_key, connections)
    utterances: list[Utterance] = []
    theirs: list[float] = []
    paired: list[float] = []
    try:
        for number in range(rounds):
            if raw_first is None:
                await asyncio.sleep(SETTLE_SECONDS)
                batch = await asyncio.gather(
                    *(speak(s, f"r{number}-c{i}", SENTENCE) for i, s in enumerate(sockets))
                )
                utterances.extend(batch)
                continue
            raw_seconds = 0.0
            mine: Utterance | None = None
            for side in ("raw", "ws") if number % 2 == 0 else ("ws", "raw"):
                await asyncio.sleep(SETTLE_SECONDS)
                if side == "raw":
                    raw_seconds = raw_first()  # blocks the loop: nothing is in flight
                elif sockets:
                    mine = await speak(sockets[0], f"r{number}", SENTENCE)
            theirs.append(raw_seconds)
            if mine is not None:
                utterances.append(mine)
                if mine.ok and mine.first_audio_s is not None:
                    paired.append(mine.first_audio_s - raw_seconds)
    finally:
        await asyncio.gather(*(s.close() for s in sockets))
    return Level(
        connections, rounds, utterances, failures, theirs, paired, time.monotonic() - started
    )


# --- 2. token-streamed text ------------------------------------------------------------------


@dataclass
class TokenRun:
    utterance: Utterance
    first_word_at: float
    last_word_at: float
    piece_times: list[float]

    @property
    def first_audio_s(self) -> float | None:
        first = self.utterance.first_audio
        return None if first is None else first - self.first_word_at

    @property
    def tail_s(self) -> float | None:
        last = self.utterance.last_audio
        return None if last is None else last - self.last_word_at

    @property
    def send_ahead_floor_s(self) -> float | None:
        """The earliest the server's send-ahead cap lets the last frame leave, from the last
        word: `WS_SEND_AHEAD_MS` of audio ahead of playback time, the clock starting with the
        first frame (`Pacer`). Client-side, so approximate by the first frame's trip."""
        first = self.utterance.first_audio
        if first is None:
            return None
        before_last = self.utterance.audio_bytes - self.utterance.last_frame_bytes
        position_s = before_last / BYTES_PER_SAMPLE / SAMPLE_RATE
        return first + position_s - SEND_AHEAD_S - self.last_word_at

    @property
    def words_before_audio(self) -> int | None:
        first = self.utterance.first_audio
        return None if first is None else sum(1 for t in self.piece_times if t < first)


def token_pieces(text: str) -> list[str]:
    """Words as an LLM's tokens arrive: each with the space after it (the last one without)."""
    parts = text.split(" ")
    return [f"{w} " for w in parts[:-1]] + parts[-1:]


async def token_run(sock: Socket, context_id: str, pieces: Sequence[str]) -> TokenRun:
    await sock.send({"type": "start", "context_id": context_id, **FORMAT})
    utterance = Utterance(sent_at=0.0)  # set to the first word's time below
    reading = asyncio.ensure_future(collect(sock, utterance, context_id, STREAM_TIMEOUT_S))
    times: list[float] = []
    begin = time.perf_counter()
    for index, piece in enumerate(pieces):
        # On a fixed schedule from the first word, so a late send does not delay the rest.
        await asyncio.sleep(max(0.0, begin + index * TOKEN_INTERVAL_S - time.perf_counter()))
        times.append(await sock.send({"type": "text", "context_id": context_id, "text": piece}))
    await sock.send({"type": "end", "context_id": context_id})
    utterance.sent_at = times[0]
    await reading
    return TokenRun(utterance, times[0], times[-1], times)


# --- 3. cancel -------------------------------------------------------------------------------


@dataclass
class CancelRun:
    outcome: str  # cancelled, or what happened instead
    first_audio_s: float | None = None  # from `start`
    delay_s: float = 0.0  # from the first audio frame to sending cancel
    to_last_frame_s: float | None = None  # cancel → last frame of the context (0: none after)
    to_cancelled_s: float | None = None
    frames_after_cancel: int = 0  # arrived between sending cancel and `cancelled`
    frames_after_cancelled: int = 0  # must be 0 (checked up to a ping's pong)
    audio_ms_sent: int | None = None


async def cancel_run(sock: Socket, context_id: str, text: str, delay: float) -> CancelRun:
    """Starts `text` (no `end`); sends `cancel` `delay` s after its first audio frame arrived
    (audio flowing meanwhile)."""
    started = await sock.send({"type": "start", "context_id": context_id, "text": text, **FORMAT})
    last_frame: float | None = None
    while last_frame is None:
        item = await sock.next(STREAM_TIMEOUT_S)
        if item.audio is not None:
            last_frame = item.at
        elif item.message is not None and item.message.get("type") in ("error", "_closed"):
            return CancelRun(f"no_audio: {item.message}")
    run = CancelRun("", first_audio_s=last_frame - started, delay_s=delay)
    until = last_frame + delay
    while (left := until - time.perf_counter()) > 0:
        with contextlib.suppress(TimeoutError):
            item = await sock.next(left)
            if item.audio is not None:
                last_frame = item.at
            elif (item.message or {}).get("type") in ("error", "_closed", "done"):
                return CancelRun(f"ended_before_cancel: {item.message}", delay_s=delay)
    cancel_at = await sock.send({"type": "cancel", "context_id": context_id})
    while True:
        item = await sock.next(STREAM_TIMEOUT_S)
        if item.audio is not None:
            last_frame = item.at
            run.frames_after_cancel += 1
            continue
        message = item.message or {}
        if message.get("type") in ("cancelled", "error", "_closed", "done"):
            run.outcome = str(message.get("type"))
            if message.get("type") == "error":
                run.outcome = str(message.get("error", {}).get("code", "error"))
            run.to_cancelled_s = item.at - cancel_at
            run.audio_ms_sent = message.get("audio_ms_sent")
            break
    run.to_last_frame_s = max(0.0, last_frame - cancel_at)
    if run.outcome == "_closed":
        return run
    # Anything of the context after `cancelled` would arrive before the pong of a later ping.
    await sock.send({"type": "ping", "id": context_id})
    while True:
        item = await sock.next(STREAM_TIMEOUT_S)
        if item.audio is not None:
            run.frames_after_cancelled += 1
        elif (item.message or {}).get("type") in ("pong", "_closed"):
            return run


# --- the section -----------------------------------------------------------------------------


def _ms(values: Sequence[float]) -> list[float]:
    return [round(v * 1000, 2) for v in values]


def _p(values: Sequence[float], q: float) -> float | None:
    return percentile(values, q) * 1000 if values else None


async def _measure(bench: Bench, engine: Engine) -> dict[str, Any]:
    options = bench.options
    url = f"ws://127.0.0.1:{bench.stack.port}/v1/stream"
    key = bench.stack.api_key
    sentence_units = socket_units([SENTENCE])
    first_segments = unit_segments(sentence_units[0][1])
    result: dict[str, Any] = {"sentence_units": [u for _, u in sentence_units]}

    def raw_first() -> float:
        return raw.first_chunk_seconds(engine, first_segments)

    log(f"ws: warm-up, {options.warmups} sentence(s) over one socket and the raw engine")
    sockets, failures = await open_sockets(url, key, 1)
    if not sockets:
        raise MeasureError(f"ws: cannot open a socket: {dict(failures)}")
    for number in range(options.warmups):
        raw_first()
        await speak(sockets[0], f"warm-{number}", SENTENCE)
    await sockets[0].close()

    levels: list[Level] = []
    for connections, rounds in ((1, options.ws_rounds_1), (10, options.ws_rounds_10)):
        log(f"ws: first audio, {connections} connection(s), {rounds} round(s)")
        levels.append(
            await run_level(url, key, connections, rounds, raw_first if connections == 1 else None)
        )
        if connections == 1 and not levels[-1].first_audio:
            raise MeasureError(f"ws: every stream failed at 1 connection: {levels[-1].errors}")

    log(f"ws: token-streamed paragraph, {options.ws_token_runs} run(s), a word every 30 ms")
    pieces = token_pieces(PARAGRAPH)
    tokens: list[TokenRun] = []
    sockets, failures = await open_sockets(url, key, 1)
    try:
        for number in range(options.ws_token_runs if sockets else 0):
            await asyncio.sleep(SETTLE_SECONDS)
            tokens.append(await token_run(sockets[0], f"tokens-{number}", pieces))
    finally:
        await asyncio.gather(*(s.close() for s in sockets))
    result["token_open_failures"] = dict(failures)

    log(f"ws: cancel, {options.ws_cancel_runs} run(s)")
    cancels: list[CancelRun] = []
    sockets, failures = await open_sockets(url, key, 1)
    try:
        for number in range(options.ws_cancel_runs if sockets else 0):
            await asyncio.sleep(1.0)  # the worker has stopped the last one
            delay = CANCEL_DELAYS_S[number % len(CANCEL_DELAYS_S)]
            cancels.append(await cancel_run(sockets[0], f"cancel-{number}", PARAGRAPH, delay))
    finally:
        await asyncio.gather(*(s.close() for s in sockets))
    result["cancel_open_failures"] = dict(failures)

    for connections in options.ws_load_levels:  # the heavy levels last
        await asyncio.sleep(2.0)
        log(f"ws: first audio, {connections} connections, 1 round")
        levels.append(await run_level(url, key, connections, 1))
    result.update(levels=levels, tokens=tokens, cancels=cancels)
    return result


def _token_reference(engine: Engine, pieces: Sequence[str]) -> dict[str, Any]:
    """What the engine alone allows with the text arriving at that pace: the units the socket
    cuts, each ready when its last word is sent, synthesized one after the other by one engine
    (times measured here, laid out on the schedule: no sleeping)."""
    units = socket_units(pieces)
    ready_at = [index * TOKEN_INTERVAL_S for index, _ in units]
    segments = [unit_segments(unit) for _, unit in units]
    first_chunk = statistics.median(raw.first_chunk_seconds(engine, segments[0]) for _ in range(3))
    whole = [whole_seconds(engine, s) for s in segments]
    end = 0.0
    for ready, seconds in zip(ready_at, whole, strict=True):
        end = max(end, ready) + seconds
    return {
        "units": [unit for _, unit in units],
        "unit_ready_s": ready_at,
        "raw_unit_seconds": whole,
        "first_audio_s": ready_at[0] + first_chunk,
        "tail_s": end - ready_at[-1],
    }


def measure_ws(bench: Bench) -> None:
    stack = bench.stack
    stack.restart_daphne(**SERVER_SETTINGS)
    try:
        bench.ensure_workers(WS_WORKERS, fresh=True)
        log("ws: loading the raw engine in the bench process")
        engine = raw.load_engine()
        result = asyncio.run(_measure(bench, engine))
        # After the socket runs, on a quiet machine: the engine's own pace for the paragraph.
        reference = _token_reference(engine, token_pieces(PARAGRAPH))
        del engine
        gc.collect()
    finally:
        stack.restart_daphne()  # the default limits again for any section after this one
    levels: list[Level] = result["levels"]
    tokens: list[TokenRun] = result["tokens"]
    cancels: list[CancelRun] = result["cancels"]
    bench.details["ws"] = {
        "workers": WS_WORKERS,
        "server_settings": SERVER_SETTINGS,
        "sentence_units": result["sentence_units"],
        "levels": {str(level.connections): level.details() for level in levels},
        "tokens": _token_details(tokens, reference, result["token_open_failures"]),
        "cancel": _cancel_details(cancels, result["cancel_open_failures"]),
    }
    raw_first_chunk = levels[0].raw_first_chunk  # paired with the rounds at 1 connection
    for level in levels:
        _level_rows(bench, level, raw_first_chunk)
    _token_rows(bench, tokens, reference)
    _cancel_rows(bench, cancels)


def _level_rows(bench: Bench, level: Level, raw_first_chunk: list[float]) -> None:
    one = level.connections == 1
    plural = "s" if level.connections > 1 else ""
    errors = level.errors
    for q in (50, 95):
        mine = _p(level.first_audio, q)
        reference = _p(raw_first_chunk, q)
        row = Row(
            section="ws",
            label=f"WS first audio 10-word, {level.connections} connection{plural}, p{q}",
            ours=mine,
            reference=reference,
            reference_label="raw engine first chunk, first unit",
            unit="ms",
            ratio=ratio(mine, reference),
            note=f"{len(level.complete)}/{level.expected} streams complete "
            f"({level.rounds} round{'s' if level.rounds > 1 else ''})",
        )
        if mine is not None and reference is not None:
            row.note += f"; overhead {mine - reference:+.0f} ms"
        if one and q == 50 and level.paired:
            row.note += f"; median of paired differences {_p(level.paired, 50):+.0f} ms"
        if errors:
            row.note += f"; errors: {errors}"
        if one and q == 50:
            row.target = f"<= {WS_TARGET_RATIO:.2f}x raw and < {WS_TARGET_MS:.0f} ms"
            row.verdict = verdict(
                mine is not None
                and row.ratio is not None
                and row.ratio <= WS_TARGET_RATIO
                and mine < WS_TARGET_MS
            )
        if level.connections == WS_LOAD_CONNECTIONS and q == 95:
            row.target = f"< {WS_LOAD_P95_MS / 1000:.1f} s, 0 errors, all complete"
            row.verdict = verdict(
                mine is not None
                and mine < WS_LOAD_P95_MS
                and not errors
                and len(level.complete) == level.expected
            )
        bench.rows.append(row)


def _token_details(
    tokens: list[TokenRun], reference: dict[str, Any], failures: dict[str, int]
) -> dict[str, Any]:
    return {
        "pieces": len(token_pieces(PARAGRAPH)),
        "interval_ms": TOKEN_INTERVAL_S * 1000,
        "text_seconds": (len(token_pieces(PARAGRAPH)) - 1) * TOKEN_INTERVAL_S,
        "first_audio_ms": _ms([t.first_audio_s for t in tokens if t.first_audio_s is not None]),
        "tail_ms": _ms([t.tail_s for t in tokens if t.tail_s is not None]),
        "send_ahead_floor_ms": _ms(
            [t.send_ahead_floor_s for t in tokens if t.send_ahead_floor_s is not None]
        ),
        "words_sent_before_first_audio": [t.words_before_audio for t in tokens],
        "outcomes": [t.utterance.outcome for t in tokens],
        "audio_seconds": [t.utterance.audio_seconds for t in tokens],
        "open_failures": failures,
        "reference": reference,
    }


def _token_rows(bench: Bench, tokens: list[TokenRun], reference: dict[str, Any]) -> None:
    done = [t for t in tokens if t.utterance.ok]
    failed = Counter(t.utterance.outcome for t in tokens if not t.utterance.ok)
    first = [t.first_audio_s for t in done if t.first_audio_s is not None]
    tail = [t.tail_s for t in done if t.tail_s is not None]
    floor = [t.send_ahead_floor_s for t in done if t.send_ahead_floor_s is not None]
    before = [t for t in done if (t.utterance.first_audio or float("inf")) < t.last_word_at]
    spoken_words = [t.words_before_audio for t in done if t.words_before_audio is not None]
    count = words(PARAGRAPH)
    failure_note = f"; failed: {dict(failed)}" if failed else ""
    mine = _p(first, 50)
    reference_ms = float(reference["first_audio_s"]) * 1000
    bench.rows.append(
        Row(
            section="ws",
            label=f"WS token-streamed {count}-word, first audio from first word, p50",
            ours=mine,
            reference=reference_ms,
            reference_label="first unit's last word + raw first chunk",
            unit="ms",
            ratio=ratio(mine, reference_ms),
            note=f"a word every {TOKEN_INTERVAL_S * 1000:.0f} ms; n={len(first)}; words sent "
            f"before the first audio: {spoken_words}{failure_note}",
        )
    )
    mine = _p(tail, 50)
    reference_ms = float(reference["tail_s"]) * 1000
    bench.rows.append(
        Row(
            section="ws",
            label=f"WS token-streamed {count}-word, last word to last audio, p50",
            ours=mine,
            reference=reference_ms,
            reference_label="raw engine, units in turn on the same schedule",
            unit="ms",
            ratio=ratio(mine, reference_ms),
            note=f"n={len(tail)}; p95 {_p(tail, 95) or 0:.0f} ms; the text takes "
            f"{(count - 1) * TOKEN_INTERVAL_S * 1000:.0f} ms to send; the send-ahead cap "
            f"(audio at most {SEND_AHEAD_S:.0f} s ahead of playback) alone holds the last "
            f"frame until {_p(floor, 50) or 0:.0f} ms after the last word (p50)",
        )
    )
    bench.rows.append(
        Row(
            section="ws",
            label=f"WS token-streamed {count}-word, first audio before the last word",
            ours=float(len(before)),
            reference=float(len(done)),
            reference_label="runs",
            unit="runs",
            ratio=ratio(float(len(before)), float(len(done))),
            note="runs whose first audio frame arrived while words were still being sent",
        )
    )


def _cancel_details(cancels: list[CancelRun], failures: dict[str, int]) -> dict[str, Any]:
    return {
        "text_words": words(PARAGRAPH),
        "outcomes": [c.outcome for c in cancels],
        "cancel_after_first_audio_ms": [round(c.delay_s * 1000) for c in cancels],
        "first_audio_ms": _ms([c.first_audio_s for c in cancels if c.first_audio_s is not None]),
        "to_last_frame_ms": _ms(
            [c.to_last_frame_s for c in cancels if c.to_last_frame_s is not None]
        ),
        "to_cancelled_ms": _ms([c.to_cancelled_s for c in cancels if c.to_cancelled_s is not None]),
        "frames_after_cancel": [c.frames_after_cancel for c in cancels],
        "frames_after_cancelled": [c.frames_after_cancelled for c in cancels],
        "audio_ms_sent": [c.audio_ms_sent for c in cancels],
        "open_failures": failures,
    }


def _cancel_rows(bench: Bench, cancels: list[CancelRun]) -> None:
    good = [c for c in cancels if c.outcome == "cancelled"]
    other = Counter(c.outcome for c in cancels if c.outcome != "cancelled")
    to_last = [c.to_last_frame_s for c in good if c.to_last_frame_s is not None]
    to_ack = [c.to_cancelled_s for c in good if c.to_cancelled_s is not None]
    late = sum(c.frames_after_cancelled for c in cancels)
    in_flight = [c.frames_after_cancel for c in good]
    base = f"n={len(good)}" + (f"; not cancelled: {dict(other)}" if other else "")
    for q in (50, 95):
        mine = _p(to_last, q)
        row = Row(
            section="ws",
            label=f"WS cancel: cancel to last audio frame, p{q}",
            ours=mine,
            reference=None,
            reference_label="",
            unit="ms",
            ratio=None,
            note=f"{base}; frames between cancel and cancelled: {in_flight}",
        )
        if q == 95:
            row.note = f"{base}; max {_p(to_last, 100) or 0:.0f} ms; frames after cancelled: {late}"
            row.target = f"<= {CANCEL_TARGET_MS:.0f} ms"
            row.verdict = verdict(
                mine is not None and mine <= CANCEL_TARGET_MS and late == 0 and not other
            )
        bench.rows.append(row)
    bench.rows.append(
        Row(
            section="ws",
            label="WS cancel: cancel to cancelled, p50",
            ours=_p(to_ack, 50),
            reference=None,
            reference_label="",
            unit="ms",
            ratio=None,
            note=f"{base}; p95 {_p(to_ack, 95) or 0:.0f} ms",
        )
    )
