"""XTTS's batched streams (synthesis/engines/xtts/scheduler.py), the path a worker serves them
by, on the tiny random-weight model on CPU, greedy: one stream alone speaks what the unbatched
engine speaks, streams made together share every GPT step and sound as they do alone, a
newcomer's first audio goes before the others' pieces, a stream left out waits where it is, and
a closed one leaves nothing behind.

Batched and unbatched audio differ only by float rounding (matrix products of other shapes;
test_xtts_batch.py bounds the latents and audio): here by at most PCM_TOLERANCE of the int16
samples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from synthesis.contract.segments import Chunk, Segment
from synthesis.engines.base import EngineError
from synthesis.engines.xtts.engine import XttsEngine
from synthesis.engines.xtts.scheduler import XttsBatch, XttsStream, speak_alone

pytestmark = pytest.mark.usefixtures("xtts_agreed_on_one_thread")

A, B = "tiny-speaker-a", "tiny-speaker-b"
PCM_TOLERANCE = 2  # of 32767
# The tiny model makes 37 tokens a segment; with pieces of 6, then 8 tokens, they end at
# tokens 6, 14, 22, 30 and 37.
CHUNK_TOKENS = 8


@pytest.fixture(scope="module")
def engine(tiny_xtts, xtts_agreed_on_one_thread):
    return XttsEngine(
        model_path=tiny_xtts,
        device="cpu",
        do_sample=False,
        threads=1,
        stream_chunk_size=CHUNK_TOKENS,
    )


def pcm(chunks: Sequence[Chunk]) -> np.ndarray:
    return np.frombuffer(b"".join(chunk.pcm for chunk in chunks), dtype=np.int16)


def shape(chunks: Sequence[Chunk]) -> list[tuple[int, bool, int]]:
    return [(chunk.segment, chunk.segment_end, chunk.samples) for chunk in chunks]


def assert_sounds_alike(ours: Sequence[Chunk], theirs: Sequence[Chunk]) -> None:
    assert shape(ours) == shape(theirs)
    gap = np.abs(pcm(ours).astype(int) - pcm(theirs).astype(int)).max()
    assert gap <= PCM_TOLERANCE
    assert np.abs(pcm(ours)).max() > 10 * PCM_TOLERANCE  # audio, not silence


_ALONE: dict[tuple[int, tuple[Segment, ...], str], list[Chunk]] = {}


def alone(engine, segments: list[Segment], voice: str = A) -> list[Chunk]:
    """One stream made alone (the decoder is XTTS's full size: kept, not made again)."""
    key = (id(engine), tuple(segments), voice)
    if key not in _ALONE:
        _ALONE[key] = speak_alone(XttsBatch(engine, max_streams=1), segments, voice=voice)
    return _ALONE[key]


def advance_all(batch: XttsBatch, streams: list[XttsStream]) -> dict[int, list[Chunk]]:
    """Advances `streams` together until each has ended: each one's chunks."""
    made: dict[int, list[Chunk]] = {id(stream): [] for stream in streams}
    left = list(streams)
    while left:
        for entry in batch.advance(left):
            made[id(entry.stream)] += entry.chunks
            if entry.done:
                left.remove(entry.stream)  # type: ignore[arg-type]
    return made


def test_a_stream_alone_speaks_what_the_unbatched_engine_speaks(engine):
    segments = [
        Segment("Hello there.", pause_before_ms=50, pause_after_ms=120, volume=0.8),
        Segment("How are you?", speed=1.25, pitch_st=2.0, pause_after_ms=300),
    ]
    batched = alone(engine, segments)
    assert_sounds_alike(batched, list(engine.stream(segments, voice=A)))
    # Each segment in its own pieces (6, 8, 8, 8 tokens, then the last 7), ended once.
    for index in (0, 1):
        ends = [chunk.segment_end for chunk in batched if chunk.segment == index]
        assert ends == [False] * 4 + [True]


def test_two_streams_share_every_step_and_each_sounds_as_it_does_alone(engine):
    first, second = [Segment("Hello there.")], [Segment("Numbers: one, two, three.")]
    passes: list[int] = []  # the batch size of each pass through the GPT's first block
    hook = engine.model.gpt.gpt.h[0].mlp.register_forward_hook(
        lambda _module, inputs, _output: passes.append(inputs[0].shape[0])
    )
    try:
        batch = XttsBatch(engine, max_streams=4)
        streams = [batch.open(first, voice=A), batch.open(second, voice=B)]
        made = advance_all(batch, streams)
    finally:
        hook.remove()
    # One prefill of both prefixes, then one pass a step for both: 36 more tokens each.
    assert passes == [2] * 37
    assert batch.steps == 36
    assert_sounds_alike(made[id(streams[0])], alone(engine, first, A))
    assert_sounds_alike(made[id(streams[1])], alone(engine, second, B))


def test_a_newcomers_first_audio_goes_before_the_others_pieces(engine):
    """A joins at call 1 and has n tokens after call n (its second piece ends at call 14); B
    joins at call 10 with two tokens (its prefill's and the step's), so its first piece (6)
    also ends at call 14. That call returns B's first audio alone; A's piece comes with the
    next call, which makes no step."""
    batch = XttsBatch(engine, max_streams=2)
    text = [Segment("A sentence that has been going on.")]
    a = batch.open(text, voice=A)
    b = batch.open([Segment("Hi.")], voice=B)
    a_chunks, b_chunks = [], []
    for call in range(1, 14):
        streams = [a, b] if call >= 10 else [a]
        for entry in batch.advance(streams):
            (a_chunks if entry.stream is a else b_chunks).extend(entry.chunks)
    assert len(a_chunks) == 1
    assert not b_chunks
    made = {id(entry.stream): entry.chunks for entry in batch.advance([a, b])}  # call 14
    assert list(made) == [id(b)]
    assert len(made[id(b)]) == 1
    steps = batch.steps
    made = {id(entry.stream): entry.chunks for entry in batch.advance([a, b])}  # call 15
    assert list(made) == [id(a)]
    assert len(made[id(a)]) == 1
    assert batch.steps == steps  # the held piece, decoded without a step
    a_chunks += made[id(a)]
    rest = advance_all(batch, [a])
    assert_sounds_alike(a_chunks + rest[id(a)], alone(engine, text))
    batch.close(b)


def test_a_stream_left_out_waits_where_it_is_and_resumes_unchanged(engine):
    batch = XttsBatch(engine, max_streams=2)
    texts = [Segment("Hello there.")], [Segment("How are you?")]
    a, b = batch.open(texts[0], voice=A), batch.open(texts[1], voice=B)
    made: dict[int, list[Chunk]] = {id(a): [], id(b): []}
    for _ in range(8):
        for entry in batch.advance([a, b]):
            made[id(entry.stream)] += entry.chunks
    waiting = len(made[id(b)])
    for _ in range(10):  # b has no credit: only a is asked for
        for entry in batch.advance([a]):
            assert entry.stream is a
            made[id(a)] += entry.chunks
        assert batch.batcher.running == [a.handle]
    assert len(made[id(b)]) == waiting
    rest = advance_all(batch, [a, b])
    assert_sounds_alike(made[id(a)] + rest[id(a)], alone(engine, texts[0], A))
    assert_sounds_alike(made[id(b)] + rest[id(b)], alone(engine, texts[1], B))


def test_closing_a_stream_frees_its_slot_and_leaves_the_other_alone(engine):
    batch = XttsBatch(engine, max_streams=2)
    texts = [Segment("Hello there.")], [Segment("How are you?")]
    a, b = batch.open(texts[0], voice=A), batch.open(texts[1], voice=B)
    made: list[Chunk] = []
    for _ in range(9):
        for entry in batch.advance([a, b]):
            if entry.stream is a:
                made += entry.chunks
    batch.close(b)  # a cancel mid-segment
    assert batch.batcher.active == [a.handle]
    made += advance_all(batch, [a])[id(a)]
    assert_sounds_alike(made, alone(engine, texts[0], A))
    assert batch.batcher.active == []


def test_a_failed_step_is_forgotten_and_the_batch_serves_on(engine, monkeypatch):
    batch = XttsBatch(engine, max_streams=2)
    doomed = batch.open([Segment("Hello there.")], voice=A)
    batch.advance([doomed])
    with monkeypatch.context() as patch:
        patch.setattr(batch.batcher, "step", lambda: (_ for _ in ()).throw(RuntimeError("OOM")))
        with pytest.raises(RuntimeError):
            batch.advance([doomed])
    batch.reset()
    assert doomed.closed
    text = [Segment("How are you?")]
    assert_sounds_alike(speak_alone(batch, text, voice=B), alone(engine, text, B))


def test_a_stream_is_checked_when_it_is_opened(engine):
    batch = XttsBatch(engine, max_streams=1)
    with pytest.raises(EngineError) as unknown:
        batch.open([Segment("Hi.")], voice="nobody")
    assert unknown.value.code == "unknown_voice"
    with pytest.raises(EngineError) as language:
        batch.open([Segment("Hi.", language="sw")], voice=A)
    assert language.value.code == "unsupported_language"
    with pytest.raises(EngineError) as long:
        batch.open([Segment("word " * 400)], voice=A)
    assert long.value.code == "unsupported_text"
    assert batch._batcher is None  # nothing was made for any of them


def test_the_engine_offers_batching_unless_it_is_turned_off(engine, tiny_xtts):
    assert isinstance(engine.batched(4), XttsBatch)
    off = XttsEngine(model_path=tiny_xtts, device="cpu", do_sample=False, batching=False)
    assert off.batched(4) is None


def test_while_nothing_waits_one_call_steps_on_to_the_next_audio(engine):
    batch = XttsBatch(engine, max_streams=2)
    text = [Segment("Hello there.")]
    stream = batch.open(text, voice=A)
    made = batch.advance([stream], keep_going=lambda: True)  # the join, then 5 steps
    assert batch.steps == 5
    assert len(made[0].chunks) == 1  # the first piece (6 tokens)
    asked: list[int] = []

    def until_two() -> bool:  # something for the worker comes up after two more steps
        asked.append(batch.steps)
        return len(asked) <= 2

    assert batch.advance([stream], keep_going=until_two) == []
    assert batch.steps == 8  # one step, two more, then it stopped at once
    chunks = made[0].chunks + advance_all(batch, [stream])[id(stream)]
    assert_sounds_alike(chunks, alone(engine, text))
