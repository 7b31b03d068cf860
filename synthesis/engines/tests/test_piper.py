"""The Piper engine on the real joe model: audio facts checked on real synthesized PCM."""

from __future__ import annotations

import os
import random
from collections.abc import Iterable

import numpy as np
import pytest

from synthesis.engines import load_engine
from synthesis.engines.base import Chunk, Conditioning, EngineError, Segment
from synthesis.engines.piper import PiperEngine

RATE = 22050
THREE_SENTENCES = "Hello there. How are you doing today? I am fine, thank you very much."
SENTENCES = ["Hello there.", "How are you doing today?", "I am fine, thank you very much."]
PARAGRAPH = (
    "Thanks for calling the clinic. Your appointment is confirmed for Tuesday at three thirty. "
    "Please arrive ten minutes early and bring your insurance card."
)


@pytest.fixture(scope="module")
def engine() -> PiperEngine:
    # No noise: the same text gives the same samples, so lengths and bytes can be compared.
    loaded = load_engine("piper", noise_scale=0.0, noise_w_scale=0.0)
    assert isinstance(loaded, PiperEngine)
    loaded.warm_up()
    return loaded


def chunks(engine: PiperEngine, *segments: Segment) -> list[Chunk]:
    return list(engine.stream(segments, voice="joe"))


def samples(items: Iterable[Chunk]) -> np.ndarray:
    return np.frombuffer(b"".join(chunk.pcm for chunk in items), dtype=np.int16)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_it_reports_its_sample_rate_and_voice(engine):
    assert engine.name == "piper"
    assert engine.sample_rate == RATE
    assert engine.languages == ("en",)
    [joe] = engine.voices()
    assert (joe.id, joe.name, joe.language) == ("joe", "Joe", "en-US")


def test_it_yields_one_chunk_per_sentence_deterministically(engine):
    first = chunks(engine, Segment(THREE_SENTENCES))
    second = chunks(engine, Segment(THREE_SENTENCES))

    assert len(first) == 3
    assert [chunk.pcm for chunk in first] == [chunk.pcm for chunk in second]
    assert [chunk.segment_end for chunk in first] == [False, False, True]
    assert all(chunk.segment == 0 and chunk.samples > RATE // 4 for chunk in first)


def test_it_gives_each_sentence_the_audio_it_has_alone(engine):
    together = [chunk.pcm for chunk in chunks(engine, Segment(THREE_SENTENCES))]
    alone = [chunks(engine, Segment(sentence))[0].pcm for sentence in SENTENCES]

    assert together == alone


def test_it_matches_piper_own_output(engine):
    from piper.config import SynthesisConfig

    config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, volume=0.7)
    expected = [c.audio_int16_bytes for c in engine._voice.synthesize(THREE_SENTENCES, config)]

    assert [c.pcm for c in chunks(engine, Segment(THREE_SENTENCES, volume=0.7))] == expected


@pytest.mark.parametrize(("speed", "ratio"), [(2.0, 0.5), (1.5, 1 / 1.5), (0.5, 2.0)])
def test_it_honours_speed(engine, speed, ratio):
    normal = len(samples(chunks(engine, Segment(PARAGRAPH))))
    changed = len(samples(chunks(engine, Segment(PARAGRAPH, speed=speed))))

    assert changed / normal == pytest.approx(ratio, rel=0.15)


def test_it_honours_volume(engine):
    full = samples(chunks(engine, Segment(PARAGRAPH)))
    half = samples(chunks(engine, Segment(PARAGRAPH, volume=0.5)))
    silent = samples(chunks(engine, Segment(PARAGRAPH, volume=0.0)))

    assert np.abs(full).max() == 32767  # each sentence is normalized to full scale
    assert np.abs(half).max() == pytest.approx(32767 / 2, abs=2)
    assert len(half) == len(full)
    assert not silent.any()


def test_it_appends_an_exact_pause_after_trimming_the_trailing_silence(engine):
    plain = chunks(engine, Segment(THREE_SENTENCES))
    paused = chunks(engine, Segment(THREE_SENTENCES, pause_after_ms=500))
    pause = RATE // 2

    assert [c.pcm for c in paused[:-1]] == [c.pcm for c in plain[:-1]]
    last = np.frombuffer(paused[-1].pcm, dtype=np.int16)
    assert not last[-pause:].any()
    speech = last[:-pause]
    assert np.abs(speech[-RATE // 10 :]).max() > 100  # audio again within 100 ms of the pause
    trimmed = plain[-1].samples - len(speech)
    assert 0 < trimmed < RATE // 2  # some of the trailing silence went, no speech did
    assert plain[-1].pcm.startswith(speech.tobytes())


def test_it_accepts_every_english_and_refuses_other_languages(engine):
    for language in ("en", "en-US", "en-GB", "en_NG", "EN-au"):
        assert chunks(engine, Segment("Yes.", language=language))

    for language in ("fr", "fr-FR", "de", "eng", ""):
        with pytest.raises(EngineError) as caught:
            engine.stream([Segment("Oui.", language=language)], voice="joe")
        assert caught.value.code == "unsupported_language"


def test_it_refuses_unknown_voices_and_cloning(engine):
    with pytest.raises(EngineError) as unknown:
        engine.stream([Segment("Hello.")], voice="nobody")
    assert unknown.value.code == "unknown_voice"

    conditioning = Conditioning(engine="piper", data=b"")
    with pytest.raises(EngineError) as cloning:
        engine.stream([Segment("Hello.")], voice="joe", conditioning=conditioning)
    assert cloning.value.code == "cloning_unsupported"

    with pytest.raises(EngineError) as preparing:
        engine.prepare_voice(b"\x00\x00" * RATE, RATE)
    assert preparing.value.code == "cloning_unsupported"


@pytest.mark.parametrize(("speed", "volume"), [(0.0, 1.0), (-1.0, 1.0), (1.0, -0.5)])
def test_it_refuses_impossible_speeds_and_volumes(engine, speed, volume):
    with pytest.raises(EngineError):
        engine.stream([Segment("Hello.", speed=speed, volume=volume)], voice="joe")


def test_segments_are_never_blank():
    with pytest.raises(ValueError, match="empty"):
        Segment("  ")


def test_a_segment_with_nothing_to_say_still_ends_with_its_pause(engine):
    result = chunks(
        engine,
        Segment("...", pause_after_ms=200),
        Segment("-"),
        Segment("Okay."),
    )

    assert [(c.segment, c.segment_end) for c in result] == [(0, True), (1, True), (2, True)]
    assert result[0].pcm == b"\x00\x00" * (RATE // 5)
    assert result[1].pcm == b""
    assert result[2].samples > 0


def test_it_tags_chunks_with_their_segment_and_its_parameters(engine):
    text = "One more thing. Then we are done."
    result = chunks(
        engine,
        Segment(text),
        Segment(text, speed=2.0, pause_after_ms=100),
        Segment(text, speed=0.5, volume=0.25),
    )

    assert [(c.segment, c.segment_end) for c in result] == [
        (0, False),
        (0, True),
        (1, False),
        (1, True),
        (2, False),
        (2, True),
    ]
    lengths = [len(samples(c for c in result if c.segment == i)) for i in range(3)]
    assert lengths[1] < lengths[0] < lengths[2]
    assert not samples(result[3:4])[-RATE // 10 :].any()
    peaks = [int(np.abs(samples(c for c in result if c.segment == i)).max()) for i in range(3)]
    assert peaks == [32767, 32767, pytest.approx(32767 / 4, abs=2)]


def test_it_streams_nothing_for_no_segments(engine):
    assert chunks(engine) == []


def test_it_can_be_stopped_after_the_first_chunk(engine):
    five = " ".join(["This is a sentence."] * 4 + ["This is the last one."])
    stream = engine.stream([Segment(five)], voice="joe")

    first = next(stream)
    stream.close()

    assert first.samples > 0
    assert not first.segment_end
    assert stream.gi_frame is None
    after = chunks(engine, Segment(five))
    assert len(after) == 5
    assert after[0].pcm == first.pcm


@pytest.mark.timeout(600)  # 45 requests with long ones: tens of seconds on a busy machine
def test_its_memory_stays_flat_over_many_requests(engine):
    rng = random.Random(7)
    words = ["the", "caller", "asked", "about", "billing", "refunds", "and", "delivery"]
    words += ["times", "while", "our", "agent", "checked", "each", "detail", "twice"]

    def request(lengths: list[int]) -> None:
        text = " ".join(rng.choice(words) for _ in range(rng.choice(lengths))) + "."
        speed = rng.choice([0.75, 1.0, 1.5])
        for _chunk in engine.stream([Segment(text, speed=speed)], voice="joe"):
            pass

    for _ in range(10):  # short ones only, so the long ones below are the longest yet
        request([2, 5, 10])
    before = rss_bytes()
    for _ in range(45):
        # About one in nine is a 50-word sentence: ~15 s of audio and hundreds of MB of
        # tensors at its peak, which onnxruntime's arena or glibc's heaps would otherwise keep.
        # (`make bench` measures a worker over 1,000 requests.)
        request([1, 3, 6, 12] * 2 + [50])

    assert rss_bytes() - before < 30 * 2**20
