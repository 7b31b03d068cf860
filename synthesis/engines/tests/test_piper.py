"""The Piper engine on the real joe model: audio facts checked on real synthesized PCM."""

from __future__ import annotations

import os
import random
from collections.abc import Iterable

import numpy as np
import pytest

from synthesis.contract.segments import Chunk, Conditioning, Segment
from synthesis.engines.base import EngineError
from synthesis.engines.loader import load_engine
from synthesis.engines.piper import MAX_CALL_PHONEMES, PiperEngine

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
    expected = [
        c.audio_int16_bytes for c in engine._voices["joe"].synthesize(THREE_SENTENCES, config)
    ]

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


def quiet_runs(pcm: np.ndarray, threshold: float = 0.005) -> list[tuple[int, int]]:
    """The runs of samples below `threshold` of full scale, as [start, end) (silence detection
    the way the SSML conformance run measures breaks)."""
    quiet = np.abs(pcm.astype(np.float32)) < threshold * 32767
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.view(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def quiet_ms_around(pcm: np.ndarray, position: int) -> float:
    """The length in ms of the silent run that holds sample `position`."""
    [(start, end)] = [(a, b) for a, b in quiet_runs(pcm) if a <= position < b]
    return (end - start) * 1000 / RATE


def test_it_appends_an_exact_pause_after_trimming_the_trailing_silence(engine):
    plain = chunks(engine, Segment(THREE_SENTENCES))
    paused = chunks(engine, Segment(THREE_SENTENCES, pause_after_ms=500))

    assert [c.pcm for c in paused[:-1]] == [c.pcm for c in plain[:-1]]
    last = np.frombuffer(paused[-1].pcm, dtype=np.int16)
    assert quiet_ms_around(last, len(last) - 1) == pytest.approx(500, abs=1)  # to the end
    assert plain[-1].pcm.startswith(last[: len(last) - RATE * 470 // 1000].tobytes())


@pytest.mark.parametrize("pause", [100, 500, 1500, 3000])
def test_a_break_between_segments_is_exactly_that_much_silence(engine, pause):
    result = chunks(
        engine,
        Segment("Mary had a little lamb", pause_after_ms=pause),
        Segment("Whose fleece was white."),
    )
    boundary = sum(c.samples for c in result if c.segment == 0)
    assert quiet_ms_around(samples(result), boundary) == pytest.approx(pause, abs=3)


def test_a_pause_before_the_first_segment_is_exact(engine):
    audio = samples(chunks(engine, Segment("Hello.", pause_before_ms=800)))
    assert quiet_ms_around(audio, 0) == pytest.approx(800, abs=3)
    assert np.abs(audio[: RATE * 780 // 1000]).max() == 0


def test_pitch_moves_the_pitch_and_keeps_the_duration(engine):
    def zero_crossings_per_second(audio: np.ndarray) -> float:
        voiced = audio[np.abs(audio) > 500]
        return float(np.count_nonzero(np.diff(np.signbit(voiced)))) / (len(voiced) / RATE)

    normal = samples(chunks(engine, Segment(PARAGRAPH)))
    higher = samples(chunks(engine, Segment(PARAGRAPH, pitch_st=4)))
    lower = samples(chunks(engine, Segment(PARAGRAPH, pitch_st=-4)))

    for shifted in (higher, lower):
        assert len(shifted) / len(normal) == pytest.approx(1.0, rel=0.12)
    assert zero_crossings_per_second(higher) > 1.1 * zero_crossings_per_second(normal)
    assert zero_crossings_per_second(lower) < 0.9 * zero_crossings_per_second(normal)


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


def test_it_refuses_impossible_volumes(engine):
    # (An impossible speed never gets this far: `Segment` refuses it.)
    with pytest.raises(EngineError) as caught:
        engine.stream([Segment("Hello.", volume=-0.5)], voice="joe")
    assert caught.value.code == "invalid_volume"


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
    assert result[0].pcm == b"\x00\x00" * (RATE // 5)  # no speech around it: all of it
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
    # 100 ms of quiet at the join: 90 at the end of segment 1, 10 before segment 2's speech.
    end_of_1 = samples(result[3:4])
    assert quiet_ms_around(end_of_1, len(end_of_1) - 1) == pytest.approx(90, abs=1)
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


def test_ipa_parts_are_spoken_as_given(engine):
    written = Segment("You say pecan pie.")
    as_ipa = Segment(
        "You say pecan pie.",
        parts=(("text", "You say"), ("ipa", "pɪˈkɑːn"), ("text", "pie.")),
    )
    other_ipa = Segment(
        "You say pecan pie.",
        parts=(("text", "You say"), ("ipa", "ˈpiːkæn"), ("text", "pie.")),
    )
    plain, spoken, other = (samples(chunks(engine, s)) for s in (written, as_ipa, other_ipa))
    assert spoken.size > 0
    assert spoken.tobytes() != other.tobytes()  # the IPA decides the sound
    assert len(spoken) / len(plain) == pytest.approx(1.0, rel=0.3)


def test_ipa_symbols_the_voice_lacks_are_left_out(engine):
    segment = Segment("Hi.", parts=(("ipa", "h☃aɪ"),))
    clean = Segment("Hi.", parts=(("ipa", "haɪ"),))
    assert samples(chunks(engine, segment)).tobytes() == samples(chunks(engine, clean)).tobytes()


def test_parts_survive_the_job_message():
    import msgpack

    from synthesis.contract.jobs import Job

    segment = Segment("Hi.", parts=(("ipa", "haɪ"),))
    job = Job(
        job_id="j",
        reply="r",
        engine="piper",
        voice="joe",
        segments=[segment],
        window=4,
        deadline=0.0,
    )
    wire = msgpack.unpackb(msgpack.packb(job.to_message()))  # as the channel layer carries it
    assert Job.from_message(wire).segments == [segment]


# 195 characters: about the longest sentence the front-end gives Piper (its 200-character limit).
LONG_SENTENCE = (
    "The caller asked about billing refunds and delivery times while our agent checked each "
    "detail twice, then the caller asked about billing refunds and delivery times while our "
    "agent checked."
)


def spy_calls(engine: PiperEngine, monkeypatch) -> list[float]:
    """Each engine call's phonemes times its length scale: the audio one call synthesizes (and
    the memory it needs) grows with both."""
    seen: list[float] = []
    real = engine._sentence_audio

    def spy(voice, phonemes, config):
        seen.append(len(phonemes) * config.length_scale)
        return real(voice, phonemes, config)

    monkeypatch.setattr(engine, "_sentence_audio", spy)
    return seen


def test_a_long_sentence_at_normal_speed_is_still_one_call(engine, monkeypatch):
    seen = spy_calls(engine, monkeypatch)
    assert len(chunks(engine, Segment(LONG_SENTENCE))) == 1
    assert len(seen) == 1
    assert seen[0] <= MAX_CALL_PHONEMES


@pytest.mark.parametrize("pitch_st", [0.0, 12.0])
def test_slow_speech_is_synthesized_in_bounded_calls(engine, monkeypatch, pitch_st):
    # At the slowest speed (and a pitch shift, which synthesizes longer audio first) one call
    # for the whole sentence made 43 s of audio and took 0.8-1.7 GB for a moment.
    normal = len(samples(chunks(engine, Segment(LONG_SENTENCE))))
    seen = spy_calls(engine, monkeypatch)
    slow = chunks(engine, Segment(LONG_SENTENCE, speed=0.25, pitch_st=pitch_st))
    assert len(seen) > 1
    assert max(seen) <= MAX_CALL_PHONEMES
    assert len(slow) == len(seen)  # one chunk per call: the worker can stop between them
    assert len(samples(slow)) / normal == pytest.approx(4.0, rel=0.2)  # all of it is there


def test_a_long_phoneme_span_is_synthesized_in_bounded_calls(engine, monkeypatch):
    seen = spy_calls(engine, monkeypatch)
    ipa = " ".join(["ˈwʌn", "tˈuː", "θɹˈiː", "fˈɔːɹ"] * 70)  # about 1,100 symbols
    spoken = chunks(engine, Segment("numbers", parts=(("ipa", ipa),)))
    assert len(seen) > 1
    assert max(seen) <= MAX_CALL_PHONEMES
    assert [c.segment_end for c in spoken] == [False] * (len(spoken) - 1) + [True]
