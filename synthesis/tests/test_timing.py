"""Word timings estimated on real Piper audio (`synthesis.timing`): in order, inside the audio,
the input's words as written; and how far the estimated word boundaries fall from those that
silence detection finds in a slow, clearly paused reading (the figure docs/websocket.md
reports)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from synthesis.contract.plan import engine_segments
from synthesis.engines.loader import load_engine
from synthesis.text.frontend import prepare
from synthesis.timing import NO_SPANS, WordClock, WordTime, align

RATE = 22050
# A reading with a clear pause between every two words: what silence detection can time.
PAUSED = "One, two, three, four, five, six, seven, eight, nine, ten."
# Gaps this long below the threshold are pauses between words (stops inside a word are
# shorter at this speed).
GAP_MS = 90
GAP_THRESHOLD = 0.02  # of the peak


@pytest.fixture(scope="module")
def engine():
    return load_engine("piper", noise_scale=0.0, noise_w_scale=0.0)


@pytest.fixture(scope="module")
def unaligned():
    """The same voice from its unpatched model: no alignment, the estimate."""
    return load_engine("piper", noise_scale=0.0, noise_w_scale=0.0, alignment=False)


def spans(chunk):
    """What the web side hands the clock for a chunk (the worker's `words`, where present)."""
    return chunk.extra.get("words", NO_SPANS)


def timed(engine, *, text: str | None = None, ssml: str | None = None, speed: float = 1.0):
    """The plan's words timed by a WordClock fed the engine's chunks as the web side is; and
    the whole audio."""
    plan = prepare(text=text, ssml=ssml, locale="en-US")
    segments = engine_segments(plan, language="en-US", speed=speed)
    clock = WordClock(RATE)
    pcm = bytearray()
    words: list[WordTime] = []
    for chunk in engine.stream(segments, voice="joe"):
        segment = plan.segments[chunk.segment]
        if clock.segment is not segment:
            clock.begin(segment, at=len(pcm) // 2, speed=segments[chunk.segment].speed)
        clock.add(chunk.pcm, spans(chunk))
        pcm += chunk.pcm
        if chunk.segment_end:
            words += clock.end()
    return plan, words, bytes(pcm)


def pauses(pcm: bytes) -> list[tuple[float, float]]:
    """(start, end) in ms of each stretch of GAP_MS or more below the threshold between the
    first and the last sound."""
    audio = np.abs(np.frombuffer(pcm, dtype=np.int16).astype(np.float64))
    frame = RATE // 100  # 10 ms
    levels = audio[: len(audio) // frame * frame].reshape(-1, frame).max(axis=1)
    loud = levels >= levels.max() * GAP_THRESHOLD
    first, last = int(np.flatnonzero(loud)[0]), int(np.flatnonzero(loud)[-1])
    gaps, start = [], None
    for index in range(first, last + 1):
        if not loud[index] and start is None:
            start = index
        elif loud[index] and start is not None:
            if (index - start) * 10 >= GAP_MS:
                gaps.append((start * 10.0, index * 10.0))
            start = None
    return gaps


def test_it_times_the_inputs_words_in_order_inside_the_audio(engine):
    text = "Thanks for calling Riverside Dental, your balance is $42.50. Goodbye!"
    _plan, words, pcm = timed(engine, text=text)
    audio_ms = len(pcm) / 2 / RATE * 1000
    assert [w.word for w in words] == text.split()
    assert words[0].start_ms > 0  # the engine's own silence before the first word is left out
    for before, after in itertools.pairwise(words):
        assert before.start_ms < before.end_ms <= after.start_ms
    assert words[-1].end_ms < audio_ms


def test_marks_and_words_share_one_clock(engine):
    ssml = '<speak>Hello there. <break time="800ms"/><mark name="m"/>How are you?</speak>'
    plan, words, _pcm = timed(engine, ssml=ssml)
    second_start_ms = len(engine_pcm(engine, plan, upto=1)) / 2 / RATE * 1000
    hello, there, how = words[0], words[1], words[2]
    # The mark sits at the second segment's start; its first word starts after it, and the
    # first segment's words end before the 800 ms break.
    assert there.end_ms < second_start_ms - 700
    assert second_start_ms <= how.start_ms < second_start_ms + 200
    assert hello.word == "Hello"
    assert how.word == "How"


def engine_pcm(engine, plan, *, upto: int) -> bytes:
    segments = engine_segments(plan, language="en-US")
    return b"".join(c.pcm for c in engine.stream(segments, voice="joe") if c.segment < upto)


def test_the_text_heard_is_the_words_that_ended_by_the_playback_point(engine):
    text = "Your appointment is on Tuesday at three. Please bring your card."
    _plan, words, _pcm = timed(engine, text=text)
    clock = WordClock(RATE)
    clock.timed = words
    point = words[4].end_ms
    assert clock.heard(point) == "Your appointment is on Tuesday"
    assert clock.heard(point - 1) == "Your appointment is on"
    assert clock.heard(0) == ""


def test_an_unfinished_segments_words_are_estimated_from_its_speech_so_far(engine):
    text = "Please hold while I look up your account details for you."
    plan = prepare(text=text)
    [chunk] = list(engine.stream(engine_segments(plan, language="en-US"), voice="joe"))
    clock = WordClock(RATE)
    clock.begin(plan.segments[0], at=0)
    clock.add(chunk.pcm[: len(chunk.pcm) // 2])  # half its audio arrived, then the barge-in
    half_ms = len(chunk.pcm) // 4 * 1000 // RATE
    heard = clock.heard(half_ms).split()
    assert 2 <= len(heard) <= 9  # about half of its 11 words
    assert heard == text.split()[: len(heard)]
    assert clock.heard(0) == ""


def boundary_errors(engine, *, anchor: bool, alignment: bool = False) -> list[float]:
    """How far (ms) each estimated word boundary falls from the pause silence detection finds
    there: the end of the word before each pause, and the start of the word after it."""
    plan = prepare(text=PAUSED, locale="en-US")
    segments = engine_segments(plan, language="en-US", speed=0.6)
    clock = WordClock(RATE)
    clock.anchor = anchor
    clock.use_alignment = alignment
    pcm = bytearray()
    for chunk in engine.stream(segments, voice="joe"):
        if clock.segment is not plan.segments[chunk.segment]:
            clock.begin(plan.segments[chunk.segment], at=len(pcm) // 2)
        clock.add(chunk.pcm, spans(chunk))
        pcm += chunk.pcm
        if chunk.segment_end:
            clock.end()
    words = clock.timed
    gaps = pauses(bytes(pcm))
    assert len(gaps) == len(words) - 1  # one pause between each two words, no more
    errors = []
    for (gap_start, gap_end), before, after in zip(gaps, words, words[1:], strict=False):
        errors += [abs(before.end_ms - gap_start), abs(after.start_ms - gap_end)]
    return errors


def figures(errors: list[float]) -> str:
    return f"mean {np.mean(errors):.0f} ms, max {np.max(errors):.0f} ms"


def test_word_boundaries_against_silence_in_a_slow_paused_reading(engine):
    """The estimate's error, measured on a slow reading with a clear pause after each word
    (the figures docs/websocket.md reports): anchored to the audio's pauses, and from letters
    alone (what words between two pauses get)."""
    anchored = boundary_errors(engine, anchor=True)
    letters = boundary_errors(engine, anchor=False)
    print(
        f"\nword boundary error vs silence: anchored {figures(anchored)}; "
        f"letters alone {figures(letters)}"
    )
    assert np.mean(anchored) < 40
    assert np.max(anchored) < 100
    assert np.mean(letters) < 200


def test_the_patched_model_speaks_byte_identical_audio_and_reports_each_chunks_words(
    engine, unaligned
):
    plan = prepare(text="Thanks for calling. I don't know of the kind, twenty-four seven.")
    segments = engine_segments(plan, language="en-US", speed=0.8)
    patched = list(engine.stream(segments, voice="joe"))
    plain = list(unaligned.stream(segments, voice="joe"))
    assert engine.alignment
    assert not unaligned.alignment
    assert [c.pcm for c in patched] == [c.pcm for c in plain]
    for chunk in patched:
        words = chunk.extra["words"]
        assert words  # espeak's words with their sample spans, inside the chunk
        for start, end, sounds in words:
            assert 0 <= start < end <= len(chunk.pcm) // 2
            assert sounds >= 1
    assert all("words" not in c.extra for c in plain)


def test_aligned_timings_are_in_order_inside_the_audio_and_differ_from_the_estimate(
    engine, unaligned
):
    text = "Please hold while I check the details of the order for you, it won't take long."
    _plan, aligned, pcm = timed(engine, text=text)
    _plan, estimated, _pcm = timed(unaligned, text=text)
    audio_ms = len(pcm) / 2 / RATE * 1000
    assert [w.word for w in aligned] == text.split()
    assert aligned[0].start_ms > 0
    for before, after in itertools.pairwise(aligned):
        assert before.start_ms < before.end_ms <= after.start_ms
    assert aligned[-1].end_ms <= audio_ms
    assert aligned != estimated  # the engine's own alignment, not the estimate


def test_alignment_is_closer_to_the_silences_than_the_estimate(engine):
    """The alignment's error on the slow, paused reading (the figures docs/websocket.md
    reports), against the estimate's on the same audio: the model's durations alone are well
    closer than the estimate from letters alone (what an unpaused reading gets); snapped to the
    audio's pauses (what the clock does) they are as close as the pause-anchored estimate."""
    aligned = boundary_errors(engine, anchor=False, alignment=True)
    snapped = boundary_errors(engine, anchor=True, alignment=True)
    letters = boundary_errors(engine, anchor=False)
    anchored = boundary_errors(engine, anchor=True)
    print(
        f"\nalignment vs silence: durations alone {figures(aligned)}; snapped to pauses "
        f"{figures(snapped)} (estimate: letters {figures(letters)}, anchored {figures(anchored)})"
    )
    assert np.mean(aligned) < 0.7 * np.mean(letters)
    assert np.max(aligned) < 300
    assert np.mean(snapped) < 40
    assert np.max(snapped) < 100


def test_without_alignment_the_clock_falls_back_to_the_estimate(engine, unaligned, tmp_path):
    text = "Your appointment is on Tuesday at three, please bring your card."
    _plan, estimated, _pcm = timed(unaligned, text=text)
    # Patching cannot write its copy (the cache directory is a file): logged, alignment off.
    blocked = tmp_path / "not-a-directory"
    blocked.write_bytes(b"")
    broken = load_engine(
        "piper", noise_scale=0.0, noise_w_scale=0.0, aligned_dir=str(blocked / "cache")
    )
    assert not broken.alignment
    assert timed(broken, text=text)[1] == estimated
    # An alignment the engine reported as failed (None) also leaves the segment estimated.
    plan = prepare(text="Please bring your card.")
    [chunk] = list(engine.stream(engine_segments(plan, language="en-US"), voice="joe"))
    clocks = [WordClock(RATE), WordClock(RATE)]
    for clock, reported in zip(clocks, [None, NO_SPANS], strict=True):
        clock.begin(plan.segments[0], at=0)
        clock.add(chunk.pcm, reported)
    failed, estimate = clocks[0].end(), clocks[1].end()
    assert failed == estimate
    clock = WordClock(RATE)
    clock.begin(plan.segments[0], at=0)
    clock.add(chunk.pcm, chunk.extra["words"])
    assert clock.end() != estimate


def test_espeaks_run_together_words_pair_with_the_texts():
    """espeak says "of the" as one word: its span is shared by the two, by their letters."""
    tokens = ["out", "of", "the", "office."]
    words = [(0, 300, 3), (400, 700, 3), (800, 1500, 6)]
    assert align(tokens, words) == [(0, 300), (400, 520), (520, 700), (800, 1500)]
    assert align(tokens, []) is None


def test_an_unfinished_segments_words_come_from_the_alignment_that_came_with_it(engine):
    """A barge-in mid-sentence: the words heard by the playback point are those the engine's
    alignment (sent with the sentence's first piece) ends by then, the same as once it is
    whole; without it, the estimate from the speech so far."""
    text = "Please hold while I look up your account details for you."
    plan = prepare(text=text)
    [chunk] = list(engine.stream(engine_segments(plan, language="en-US"), voice="joe"))
    whole = WordClock(RATE)
    whole.anchor = False  # the durations alone: what a partial segment gets
    whole.begin(plan.segments[0], at=0)
    whole.add(chunk.pcm, chunk.extra["words"])
    timed_whole = whole.end()
    point = (timed_whole[5].end_ms + timed_whole[6].start_ms) // 2
    first_piece = chunk.pcm[: (point + 150) * RATE // 1000 * 2]
    clocks = [WordClock(RATE), WordClock(RATE)]
    for clock, reported in zip(clocks, [chunk.extra["words"], NO_SPANS], strict=True):
        clock.begin(plan.segments[0], at=0)
        clock.add(first_piece, reported)
    assert clocks[0].heard(point) == " ".join(text.split()[:6])
    assert clocks[0].heard(timed_whole[6].end_ms) == " ".join(text.split()[:7])
    estimated = [clocks[1].heard(w.end_ms) for w in timed_whole]
    aligned = [clocks[0].heard(w.end_ms) for w in timed_whole]
    assert aligned == [" ".join(text.split()[: n + 1]) for n in range(len(timed_whole))]
    assert estimated != aligned  # 62 ms a letter puts some ends elsewhere
