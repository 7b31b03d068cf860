"""The reference-clip verdict and clean-up on real speech, no mocks.

Speech is Piper's joe voice (a real speaker) and Debian's espeak-ng (a second, different one);
the damage (noise, clipping, pauses, level) is added to it here. Audio is made once per session:
Piper costs seconds on a small machine. No database.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile
import soxr

from synthesis.contract.segments import Segment
from voices.analysis import (
    MIN_QUALITY_SCORE,
    TARGET_LUFS,
    THRESHOLDS,
    Reason,
    Report,
    analyze,
    clean_reference,
    encoder,
    levels,
    speaker_similarity,
    speakers,
    vad,
)
from voices.analysis.analyze import reasons_for, score_of
from voices.analysis.clean import EDGE_PAD_SECONDS, speech_span
from voices.analysis.thresholds import SPEAKER_CUT, markdown_table

ESPEAK = "/usr/bin/espeak-ng"
DOC = Path(__file__).resolve().parents[2] / "docs" / "voice-quality.md"

JOE_SENTENCES = (
    "Thanks for calling the front desk, how can I help you today?",
    "Our office opens at nine in the morning and closes at six in the evening.",
    "If you would like to book an appointment, please tell me the day that suits you.",
    "I can also send a confirmation message to your phone once it is booked.",
    "Please hold for a moment while I check the calendar for you.",
)
OTHER_SENTENCES = (
    "The weather today is mild with a light breeze from the west.",
    "Remember to bring your receipt when you return the package.",
    "We will call you back as soon as the technician is available.",
    "Your order number has twelve digits and starts with a four.",
)


# --- audio, made once ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def piper():
    from synthesis.engines.piper import PiperEngine

    return PiperEngine()


@pytest.fixture(scope="session")
def rate(piper) -> int:
    return int(piper.sample_rate)


def _joe(piper, sentences, speed: float = 1.0) -> np.ndarray:
    """Float32 mono in [-1, 1]: the engine's chunks are PCM s16le."""
    chunks = piper.stream([Segment(text, speed=speed) for text in sentences], voice="joe")
    pcm = b"".join(chunk.pcm for chunk in chunks)
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


@pytest.fixture(scope="session")
def joe(piper) -> np.ndarray:
    """~17 s of joe: five sentences, the natural pauses between them."""
    return _joe(piper, JOE_SENTENCES)


@pytest.fixture(scope="session")
def joe_other(piper) -> np.ndarray:
    """Joe on other sentences, faster and slower than normal (~25 s)."""
    return np.concatenate(
        [_joe(piper, OTHER_SENTENCES, speed=1.3), _joe(piper, OTHER_SENTENCES, speed=0.8)]
    )


@pytest.fixture(scope="session")
def espeak(rate, tmp_path_factory) -> list[np.ndarray]:
    """The other sentences spoken by espeak-ng (en-us), one array per sentence, at joe's rate."""
    if shutil.which(ESPEAK) is None:
        pytest.fail(
            f"{ESPEAK} is missing: the two-speaker tests need Debian's espeak-ng "
            "(apt-get install espeak-ng)"
        )
    folder = tmp_path_factory.mktemp("espeak")
    out = []
    for index, text in enumerate(OTHER_SENTENCES):
        path = folder / f"{index}.wav"
        subprocess.run([ESPEAK, "-v", "en-us", "-w", str(path), text], check=True)
        audio, source_rate = soundfile.read(path, dtype="float32")
        out.append(np.asarray(soxr.resample(audio, source_rate, rate), dtype=np.float32))
    return out


@pytest.fixture(scope="session")
def spliced(piper, espeak) -> np.ndarray:
    """Joe and espeak-ng taking turns, sentence by sentence (~20 s)."""
    parts = []
    for index in range(3):
        parts += [_joe(piper, JOE_SENTENCES[index : index + 1]), espeak[index]]
    return np.concatenate(parts)


@pytest.fixture(scope="session")
def report_of(rate):
    """analyze() with its result cached per case name: several tests read one report."""
    cache: dict[str, Report] = {}

    def get(name: str, samples: np.ndarray, at: int | None = None) -> Report:
        if name not in cache:
            cache[name] = analyze(samples, at or rate)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def clean_joe(report_of, joe) -> Report:
    return report_of("joe", joe)


def _with_noise(clean: np.ndarray, snr_db: float, seed: int = 7) -> np.ndarray:
    """White noise at `snr_db` below the speech's power (samples above -40 dBFS)."""
    speech_power = float(np.mean(np.square(clean[np.abs(clean) > 0.01])))
    noise = np.random.default_rng(seed).normal(0.0, 1.0, clean.size)
    noise *= math.sqrt(speech_power / 10 ** (snr_db / 10))
    return (clean + noise).astype(np.float32)


def _music(rate: int, seconds: float = 15.0) -> np.ndarray:
    """No voice: a I-V-vi-IV progression of chords (three harmonic tones each, six partials per
    tone) struck on every beat at 120 bpm with a decaying envelope, and a bass note."""
    progression = ((261.63, 329.63, 392.00), (196.00, 246.94, 293.66),
                   (220.00, 261.63, 329.63), (174.61, 220.00, 261.63))  # fmt: skip
    beat = 0.5
    t = np.arange(int(rate * beat)) / rate
    envelope = np.exp(-t * 5.0)
    bars = []
    for index in range(int(seconds / beat)):
        chord = progression[(index // 4) % 4]
        note = np.zeros_like(t)
        for root in (*chord, chord[0] / 2):
            for partial in range(1, 7):
                note += np.sin(2 * np.pi * root * partial * t) / partial**1.5
        bars.append(note * envelope)
    music = np.concatenate(bars)
    return (0.3 * music / np.max(np.abs(music))).astype(np.float32)


def _at_lufs(audio: np.ndarray, rate: int, lufs: float) -> np.ndarray:
    measured = pyloudnorm.Meter(rate).integrated_loudness(audio.astype(np.float64))
    return (audio * 10 ** ((lufs - measured) / 20)).astype(np.float32)


def _codes(report: Report) -> set[str]:
    return {reason.code for reason in report.reasons}


def _reason(report: Report, code: str) -> Reason:
    return next(reason for reason in report.reasons if reason.code == code)


# --- the VAD and the encoder ---------------------------------------------------------------


def test_the_vad_finds_an_inserted_silence_where_it_is(joe, rate):
    """Two pieces of joe with exactly 2 s of digital silence between them: the longest gap
    between segments covers that silence (less the VAD's hangover and 30 ms pads, under 150 ms
    a side) and no more than the pieces' own edge silences, found where the VAD puts the
    pieces' own speech ends (Piper's noise moves them from run to run: a cut at 3.2 s may fall
    in the comma's pause)."""
    first, second = joe[: int(rate * 3.2)], joe[-int(rate * 3.0) :]
    gap = np.zeros(rate * 2, dtype=np.float32)
    segments = vad.speech_segments(np.concatenate([first, gap, second]), rate)
    gaps = [(a[1], b[0]) for a, b in itertools.pairwise(segments)]
    start, end = max(gaps, key=lambda pair: pair[1] - pair[0])
    speech_ends = vad.speech_segments(first, rate)[-1][1]
    speech_starts = 3.2 + 2.0 + vad.speech_segments(second, rate)[0][0]
    assert start <= 3.2 + 0.15
    assert end >= 5.2 - 0.15
    assert abs(start - speech_ends) <= 0.15
    assert abs(end - speech_starts) <= 0.15
    assert len(segments) >= 2


def test_the_vad_hears_no_speech_in_silence_or_music(rate):
    assert vad.speech_segments(np.zeros(rate * 3, dtype=np.float32), rate) == []
    music_speech = sum(end - start for start, end in vad.speech_segments(_music(rate), rate))
    assert music_speech < 1.5


def test_the_mel_spectrogram_is_resemblyzers():
    """The encoder's input is computed as resemblyzer computes it (librosa), so its weights see
    what they were trained on."""
    import librosa  # resemblyzer's own dependency, pinned

    audio = np.random.default_rng(3).normal(0.0, 0.1, 16000 * 2).astype(np.float32)
    expected = librosa.feature.melspectrogram(
        y=audio, sr=16000, n_fft=400, hop_length=160, n_mels=40
    ).T
    ours = encoder.mel_spectrogram(audio)
    assert ours.shape == expected.shape
    assert np.max(np.abs(ours - expected)) <= 1e-5 * np.max(expected)


# --- the verdict -----------------------------------------------------------------------------


def test_clean_joe_is_usable_with_a_high_score(clean_joe, joe, rate):
    report = clean_joe
    assert report.usable
    assert report.quality_score >= 85
    assert all(not reason.blocking and reason.points <= 5 for reason in report.reasons)
    assert report.duration_seconds == pytest.approx(joe.size / rate)
    assert report.sample_rate == rate
    assert report.channels == 1
    assert 12.0 <= report.speech_seconds <= report.duration_seconds
    assert report.speech_ratio >= 0.8
    assert report.longest_pause_seconds < 1.0  # Piper's pauses between sentences
    assert report.clipping_ratio == 0.0
    assert report.snr_db is not None
    assert report.snr_db > 40
    assert report.loudness_lufs is not None
    assert -26 < report.loudness_lufs < -16
    assert not report.multiple_speakers
    assert report.speaker_consistency is not None
    assert report.speaker_consistency > 0.7


def test_joe_at_other_speeds_and_sentences_stays_one_speaker(report_of, joe, joe_other):
    report = report_of("joe+other", np.concatenate([joe, joe_other]))
    assert not report.multiple_speakers
    assert "more_than_one_speaker" not in _codes(report)
    assert "too_long" in _codes(report)  # ~42 s: the only thing wrong with it
    assert report.usable


def test_two_speakers_spliced_are_caught(report_of, spliced):
    report = report_of("spliced", spliced)
    assert report.multiple_speakers
    assert not report.usable
    reason = report.reasons[0]  # blocking reasons come first
    assert (reason.code, reason.blocking, reason.points) == ("more_than_one_speaker", True, 0)
    assert report.quality_score == 0  # a clip that cannot be used does not score


def test_a_short_second_speaker_is_caught(report_of, joe, espeak):
    """Joe for most of the clip and espeak-ng for a quarter of it, at the end."""
    report = report_of("mostly-joe", np.concatenate([joe, espeak[0], espeak[1]]))
    assert report.multiple_speakers
    assert not report.usable


def test_speaker_similarity_separates_the_voices(joe, joe_other, espeak, rate):
    same = speaker_similarity(joe, rate, joe_other, rate)
    different = speaker_similarity(joe, rate, np.concatenate(espeak), rate)
    assert same > SPEAKER_CUT + 0.05
    assert different < SPEAKER_CUT - 0.1
    # The rate of each clip is its own: joe resampled to 16 kHz is still joe.
    joe16k = np.asarray(soxr.resample(joe, rate, 16000), dtype=np.float32)
    assert speaker_similarity(joe16k, 16000, joe, rate) > 0.95


@pytest.mark.parametrize(("snr", "points"), [(5.0, 40), (18.0, 15)])
def test_noise_is_a_reason_and_costs_points(report_of, joe, clean_joe, snr, points):
    report = report_of(f"snr{snr}", _with_noise(joe, snr))
    assert _reason(report, "noisy").points == points
    assert report.snr_db is not None
    assert report.snr_db < snr + 1
    assert report.noise_floor_dbfs is not None
    assert report.noise_floor_dbfs > (clean_joe.noise_floor_dbfs or -120.0) + 20
    assert report.quality_score <= clean_joe.quality_score - points
    assert "dB above it" in _reason(report, "noisy").message


def test_clipping_is_a_reason(report_of, joe, clean_joe):
    report = report_of("clipped", np.clip(joe * 8.0, -1.0, 1.0))
    reason = _reason(report, "clipping")
    assert report.clipping_ratio > THRESHOLDS["clipping_heavy"].limit
    assert reason.points == THRESHOLDS["clipping_heavy"].points
    assert report.quality_score < clean_joe.quality_score
    # Clipped, then turned down: the flat tops are still there.
    quieter = report_of("clipped-quieter", np.clip(joe * 8.0, -1.0, 1.0) * 0.5)
    assert "clipping" in _codes(quieter)


def test_a_peak_at_full_scale_is_not_clipping(joe):
    """A clean clip peak-normalized to exactly 1.0 touches full scale at one crest."""
    normalized = joe / np.max(np.abs(joe))
    assert levels.clipping_ratio(normalized[:, np.newaxis]) < THRESHOLDS["clipping"].limit


def test_music_has_no_usable_speech(report_of, rate):
    report = report_of("music", _music(rate))
    assert report.speech_seconds < THRESHOLDS["too_short_blocking"].limit
    assert not report.usable
    assert report.reasons[0].blocking
    assert report.reasons[0].code in {"no_speech", "too_short"}


def test_silence_has_no_speech_and_nothing_else_to_say(report_of, rate):
    report = report_of("silence", np.zeros((rate * 5, 1), dtype=np.float32))
    assert [reason.code for reason in report.reasons] == ["no_speech"]
    assert not report.usable
    assert report.speech_seconds == 0.0
    assert report.speech_segments == ()
    assert report.loudness_lufs is None
    assert report.snr_db is None
    assert report.noise_floor_dbfs == levels.FLOOR_DBFS
    assert report.speaker_consistency is None
    assert not report.multiple_speakers


def test_an_empty_clip_is_a_report_not_an_error(rate):
    report = analyze(np.zeros((0, 1), dtype=np.float32), rate)
    assert report.duration_seconds == 0.0
    assert not report.usable
    assert _codes(report) == {"no_speech"}


def test_four_seconds_of_speech_is_too_short_but_usable(report_of, joe, rate):
    report = report_of("4s", joe[: rate * 4])
    assert 3.0 <= report.speech_seconds <= 4.0
    reason = _reason(report, "too_short")
    assert not reason.blocking
    assert reason.points == THRESHOLDS["too_short"].points
    assert "10 to 30 s" in reason.message
    assert report.usable


def test_under_three_seconds_of_speech_blocks(report_of, joe, rate):
    report = report_of("2s", joe[: int(rate * 2.2)])
    reason = _reason(report, "too_short")
    assert reason.blocking
    assert reason.points == 0
    assert not report.usable


def test_a_long_pause_is_a_reason(report_of, joe, rate):
    half = joe.size // 2
    pause = np.zeros(int(rate * 3.5), dtype=np.float32)
    report = report_of("pause", np.concatenate([joe[:half], pause, joe[half:]]))
    assert report.longest_pause_seconds > 3.5
    assert "long_pause" in _codes(report)
    assert report.usable


def test_a_quiet_clip_is_a_reason(report_of, joe, rate):
    report = report_of("quiet", _at_lufs(joe, rate, -45.0))
    assert report.loudness_lufs == pytest.approx(-45.0, abs=0.5)
    assert "too_quiet" in _codes(report)
    assert "noisy" not in _codes(report)  # quiet is not noisy: the SNR is what it was


def test_stereo_is_measured_per_channel_and_mixed_for_speech(report_of, clean_joe, joe):
    stereo = np.stack([joe, joe * 0.5], axis=1)
    report = report_of("stereo", stereo)
    assert report.channels == 2
    assert report.speech_seconds == pytest.approx(clean_joe.speech_seconds, abs=0.2)
    assert report.usable
    assert not report.multiple_speakers


def test_telephone_rate_is_a_reason(report_of, joe, rate):
    narrow = np.asarray(soxr.resample(joe, rate, 8000), dtype=np.float32)
    report = report_of("8k", narrow, 8000)
    assert "low_sample_rate" in _codes(report)
    assert report.speech_seconds > 12.0  # the VAD still hears it all


def test_reasons_are_worst_first_and_the_score_is_what_they_cost():
    measures = {
        "speech_seconds": 6.0, "duration_seconds": 20.0, "speech_ratio": 0.3,
        "longest_pause_seconds": 4.0, "clipping_ratio": 0.02, "snr_db": 8.0,
        "noise_floor_dbfs": -30.0, "loudness_lufs": -20.0, "sample_rate": 44100.0,
        "speaker_separation": 0.5,
    }  # fmt: skip
    reasons = reasons_for(measures)
    codes = [reason.code for reason in reasons]
    assert codes[0] == "more_than_one_speaker"
    assert codes.count("noisy") == 1
    assert _reason_points(reasons, "noisy") == 40
    points = [reason.points for reason in reasons[1:]]
    assert points == sorted(points, reverse=True)
    assert score_of(reasons) == 0  # blocked
    unblocked = reasons[1:]
    assert score_of(unblocked) == max(0, 100 - sum(points))
    assert score_of(unblocked[-2:]) == 100 - sum(points[-2:])


def _reason_points(reasons: tuple[Reason, ...], code: str) -> int:
    return next(reason.points for reason in reasons if reason.code == code)


def test_the_report_round_trips_through_json(report_of, joe, rate):
    report = report_of("snr18.0", _with_noise(joe, 18.0))
    data = report.as_json()
    text = json.dumps(data, allow_nan=False)
    assert set(data) == {
        "duration_seconds", "sample_rate", "channels", "speech_seconds", "speech_ratio",
        "longest_pause_seconds", "clipping_ratio", "noise_floor_dbfs", "snr_db",
        "loudness_lufs", "multiple_speakers", "speaker_consistency", "quality_score",
        "reasons", "usable",
    }  # fmt: skip
    back = Report.from_json(json.loads(text))
    assert back.as_json() == data
    assert back.speech_segments == ()
    assert back.reasons == report.reasons
    assert data["snr_db"] == round(report.snr_db or 0.0, 1)


def test_bad_input_is_an_error(rate):
    with pytest.raises(ValueError, match="sample rate"):
        analyze(np.zeros((100, 1), dtype=np.float32), 0)
    with pytest.raises(ValueError, match="shaped"):
        analyze(np.zeros((2, 2, 2), dtype=np.float32), rate)


# --- the clean-up ----------------------------------------------------------------------------


def _true_peak_dbfs(audio: np.ndarray, rate: int) -> float:
    return 20 * math.log10(levels.true_peak(audio, rate))


def test_the_clean_reference_is_trimmed_resampled_and_normalized(joe, clean_joe, rate):
    padded = np.concatenate([np.zeros(rate * 2, dtype=np.float32), joe, np.zeros(rate * 3)])
    target = 24000
    out = clean_reference(np.stack([padded, padded], axis=1), rate, target_rate=target)
    assert out.ndim == 1
    assert out.dtype == np.float32
    segments = clean_joe.speech_segments
    span = segments[-1][1] - segments[0][0]
    assert out.size / target == pytest.approx(span + 2 * EDGE_PAD_SECONDS, abs=0.1)
    loudness = pyloudnorm.Meter(target).integrated_loudness(out.astype(np.float64))
    assert loudness == pytest.approx(TARGET_LUFS, abs=1.0)
    assert _true_peak_dbfs(out, target) <= -1.0
    assert np.max(np.abs(out)) <= 1.0


def test_the_clean_reference_uses_the_reports_segments(joe, clean_joe, rate):
    with_report = clean_reference(joe, rate, target_rate=22050, report=clean_joe)
    from_stored = clean_reference(
        joe, rate, target_rate=22050, report=Report.from_json(clean_joe.as_json())
    )
    assert np.allclose(with_report, from_stored, atol=1e-6)


def test_a_quiet_clipped_or_clicking_clip_comes_out_at_the_target(joe, rate):
    clicks = joe * 0.05
    clicks[:: rate // 3] += 0.6  # made loud, these would peak far over full scale: limited
    for audio in (_at_lufs(joe, rate, -45.0), np.clip(joe * 8.0, -1.0, 1.0), clicks):
        out = clean_reference(audio, rate, target_rate=rate)
        loudness = pyloudnorm.Meter(rate).integrated_loudness(out.astype(np.float64))
        assert loudness == pytest.approx(TARGET_LUFS, abs=1.0)
        assert _true_peak_dbfs(out, rate) <= -1.0


def test_a_long_clip_is_cut_to_thirty_seconds(joe, joe_other, rate):
    long = np.concatenate([joe, joe_other])  # ~42 s of speech
    out = clean_reference(long, rate, target_rate=16000)
    assert 20.0 <= out.size / 16000 <= THRESHOLDS["max_reference_seconds"].limit


def test_the_cut_ends_at_a_late_pause_or_at_the_limit():
    # All the speech fits: speech plus the pads.
    assert speech_span([(1.0, 10.0)], 12.0) == pytest.approx((0.8, 10.2))
    # Too long: the last pause within 30 s that keeps at least 20 s.
    assert speech_span([(1.0, 5.0), (6.0, 25.0), (26.0, 40.0)], 45.0) == pytest.approx((0.8, 25.2))
    # The only pause in reach is at 2 s: cut hard at 30 s rather than keep 2 s.
    assert speech_span([(0.0, 2.0), (3.0, 45.0)], 46.0) == pytest.approx((0.0, 30.0))
    # No speech: the clip itself, at most 30 s.
    assert speech_span([], 50.0) == (0.0, 30.0)


def test_silence_cleans_to_silence_without_error(rate):
    out = clean_reference(np.zeros(rate * 2, dtype=np.float32), rate, target_rate=24000)
    assert out.size == 24000 * 2
    assert not np.any(out)


def test_reading_a_report_loads_no_model_runtime():
    """A web process reads a stored report without onnxruntime, soxr, pyloudnorm or torch."""
    code = (
        "import sys\n"
        "from voices.analysis import Report, THRESHOLDS\n"
        "Report.from_json\n"
        "heavy = {'onnxruntime', 'soxr', 'pyloudnorm', 'torch', 'numpy'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


# --- the table and its doc -------------------------------------------------------------------


def test_the_doc_shows_the_thresholds_table():
    """docs/voice-quality.md holds the table between its markers exactly as THRESHOLDS renders
    it: change a limit, a penalty or a message and this fails until the doc says the same."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- thresholds:begin -->\n(.*?)<!-- thresholds:end -->", text, re.S)
    assert found, "docs/voice-quality.md lacks the thresholds markers"
    assert found.group(1).strip() == markdown_table().strip()
    for name, row in THRESHOLDS.items():
        assert f"`{name}`" in found.group(1)
        assert f"{row.limit:g}" in found.group(1)


def test_the_table_is_consistent():
    checks = [row for row in THRESHOLDS.values() if row.kind == "check"]
    for row in checks:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", row.code)
        assert row.blocking or row.points > 0
        assert row.message
        assert row.measure
        row.describe(1.0)  # the template formats
    assert 0 < MIN_QUALITY_SCORE < 100
    # A clip with any single non-blocking problem is still usable: only several together fail it.
    assert max(row.points for row in checks if not row.blocking) < 100 - MIN_QUALITY_SCORE
    assert speakers.MIN_WINDOWS >= 2
