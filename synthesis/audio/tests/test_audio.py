from __future__ import annotations

import hashlib
import importlib
import io
import itertools
import struct
import warnings
import wave

import av
import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
import soxr

from synthesis.audio import (
    FORMATS,
    AudioPipeline,
    Framer,
    Resampler,
    UnknownFormat,
    UnsupportedSampleRate,
    check_format,
    encode_whole,
    frame_bytes,
    frames,
    g711,
)
from synthesis.audio.mp3_info import crc16
from synthesis.audio.ogg import OggWriter, ogg_crc

Samples = npt.NDArray[np.int16]

ENGINE_RATE = 22050
LOSSLESS = {"pcm", "wav", "flac"}
# Raw MP3 and ADTS cannot signal encoder delay and padding, so decoders play them (samples).
CODEC_DELAY = {"mp3": 1105 + 1152, "aac": 1024 + 1024}
EVERY_FORMAT_AND_RATE = [(name, rate) for name, spec in FORMATS.items() for rate in spec.rates]


def tones(
    *freqs_and_levels: tuple[float, float], seconds: float = 1.5, rate: int = ENGINE_RATE
) -> Samples:
    t = np.arange(int(rate * seconds)) / rate
    mix = sum(level * np.sin(2 * np.pi * freq * t) for freq, level in freqs_and_levels)
    return (np.asarray(mix) * 32767).astype("<i2")


SIGNAL = tones((440, 0.4), (3000, 0.2))


def stream(name: str, rate: int, signal: Samples = SIGNAL) -> list[bytes]:
    """Feeds `signal` in uneven chunks, as an engine does; returns each call's output."""
    pipeline = AudioPipeline(ENGINE_RATE, name, rate)
    cuts = [0, 3000, 10000, len(signal)]
    fed = [pipeline.feed(signal[a:b].tobytes()) for a, b in itertools.pairwise(cuts)]
    return [*fed, pipeline.finish()]


def decode_av(data: bytes) -> tuple[Samples, int]:
    with av.open(io.BytesIO(data), "r") as container:
        decoded = list(container.decode(audio=0))
    samples = np.concatenate([frame.to_ndarray().reshape(-1) for frame in decoded])
    if samples.dtype.kind == "f":
        samples = np.clip(samples * 32768, -32768, 32767)
    return samples.astype(np.int16), decoded[0].sample_rate


def decode_soundfile(data: bytes) -> tuple[Samples, int]:
    samples, rate = sf.read(io.BytesIO(data), dtype="int16")
    return samples, rate


def decode(name: str, data: bytes, rate: int) -> tuple[Samples, int]:
    if name == "pcm":
        return np.frombuffer(data, dtype="<i2"), rate
    if name in ("mulaw", "alaw"):
        pcm = g711.ulaw_to_pcm(data) if name == "mulaw" else g711.alaw_to_pcm(data)
        return np.frombuffer(pcm, dtype="<i2"), rate
    # libsndfile has no AAC decoder; FFmpeg reads ADTS.
    if name == "aac":
        return decode_av(data)
    return decode_soundfile(data)


def spectrum_peaks(samples: Samples, rate: int) -> tuple[float, float]:
    """The strongest frequency, and the 3 kHz level relative to 440 Hz in dB."""
    magnitude = np.abs(np.fft.rfft(samples.astype(float) * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)

    def near(freq: float) -> float:
        return float(magnitude[np.abs(freqs - freq) < 20].max())

    return float(freqs[np.argmax(magnitude)]), 20 * np.log10(near(3000) / near(440))


def rms(samples: npt.NDArray[np.generic]) -> float:
    return float(np.sqrt(np.mean(samples.astype(float) ** 2)))


@pytest.mark.parametrize(("name", "rate"), EVERY_FORMAT_AND_RATE)
def test_it_streams_every_format_and_rate(name: str, rate: int) -> None:
    samples, decoded_rate = decode(name, b"".join(stream(name, rate)), rate)
    reference = soxr.resample(SIGNAL, ENGINE_RATE, rate, quality="HQ")

    assert decoded_rate == rate
    seconds, expected = len(samples) / rate, len(SIGNAL) / ENGINE_RATE
    assert expected * 0.98 <= seconds <= expected * 1.02 + CODEC_DELAY.get(name, 0) / rate
    if name in LOSSLESS:
        # Streamed and one-shot soxr round differently by a least significant bit or two.
        assert len(samples) == len(reference)
        assert np.abs(samples.astype(int) - reference).max() <= 2
        return
    peak, relative_3k = spectrum_peaks(samples, rate)
    assert peak == pytest.approx(440, abs=5)
    assert relative_3k == pytest.approx(-6.0, abs=1.5)
    assert rms(samples) == pytest.approx(rms(reference), rel=0.15)


@pytest.mark.parametrize("name", ["mulaw", "alaw"])
def test_it_keeps_the_waveform_in_g711(name: str) -> None:
    rate = FORMATS[name].default_rate
    samples, _ = decode(name, b"".join(stream(name, rate)), rate)
    reference = soxr.resample(SIGNAL, ENGINE_RATE, rate, quality="HQ")

    noise = samples.astype(float) - reference
    assert 20 * np.log10(rms(reference) / rms(noise)) > 30  # 8-bit companding gives ~38 dB


@pytest.mark.parametrize("name", [name for name, spec in FORMATS.items() if spec.streamable])
def test_it_sends_audio_before_finish(name: str) -> None:
    pipeline = AudioPipeline(ENGINE_RATE, name, FORMATS[name].default_rate)

    assert pipeline.feed(tones((440, 0.5), seconds=1.0).tobytes())


def streaminfo(flac: bytes) -> tuple[int, int, int, bytes]:
    """STREAMINFO's minimum and maximum frame sizes, total samples and MD5."""
    assert flac[:4] == b"fLaC"
    assert flac[4] & 0x7F == 0  # the first metadata block is STREAMINFO
    block = flac[8:42]
    total = int.from_bytes(block[10:18], "big") & (1 << 36) - 1
    return int.from_bytes(block[4:7], "big"), int.from_bytes(block[7:10], "big"), total, block[18:]


def test_it_sends_flac_only_at_finish_with_its_length_md5_and_frame_sizes() -> None:
    chunks = stream("flac", 24000)

    assert chunks[:-1] == [b"", b"", b""]
    flac = chunks[-1]
    samples, _ = decode_soundfile(flac)
    min_frame, max_frame, total, md5 = streaminfo(flac)
    assert total == len(samples) == 36000 == sf.info(io.BytesIO(flac)).frames
    # FLAC's checksum of the decoded samples, not a security measure.
    assert md5 == hashlib.md5(samples.astype("<i2").tobytes(), usedforsecurity=False).digest()
    assert 0 < min_frame <= max_frame
    assert len(decode_av(flac)[0]) == 36000


def test_it_flushes_an_ogg_page_for_every_chunk() -> None:
    pipeline = AudioPipeline(48000, "opus", 48000)
    sent, fed = b"", 0
    for seconds in (0.5, 2.0, 0.3):
        chunk = tones((440, 0.5), seconds=seconds, rate=48000)
        sent += pipeline.feed(chunk.tobytes())
        fed += len(chunk)

        pre_skip = struct.unpack_from("<H", sent, sent.find(b"OpusHead") + 10)[0]
        granule = struct.unpack_from("<q", sent, sent.rfind(b"OggS") + 6)[0]
        # All of it has left but the encoder's partly filled 20 ms frame.
        assert granule - pre_skip > fed - 960


def test_it_writes_ogg_opus_that_ffmpeg_and_libsndfile_read_sample_exact() -> None:
    pipeline = AudioPipeline(48000, "opus", 48000)
    # 8 s in one chunk is 400 packets: more than one page's 255 segments.
    data = pipeline.feed(tones((440, 0.5), seconds=8.0, rate=48000).tobytes()) + pipeline.finish()

    # Both check page CRCs; both honour pre-skip and the end granule.
    assert len(decode_soundfile(data)[0]) == 8 * 48000
    assert len(decode_av(data)[0]) == 8 * 48000


def read_ogg(data: bytes) -> tuple[list[bytes], list[tuple[int, int]]]:
    """The packets in an Ogg stream, and each page's flags and granule position."""
    packets, pages, partial, offset = [], [], b"", 0
    while offset < len(data):
        count = data[offset + 26]
        lacing = data[offset + 27 : offset + 27 + count]
        pages.append((data[offset + 5], struct.unpack_from("<q", data, offset + 6)[0]))
        body = offset + 27 + count
        for value in lacing:
            partial += data[body : body + value]
            body += value
            if value < 255:
                packets.append(partial)
                partial = b""
        offset = body
    return packets, pages


def test_it_continues_a_packet_across_pages() -> None:
    writer = OggWriter(serial=1)
    big, small, exact = bytes(range(256)) * 300, b"x", b"y" * 510

    data = writer.pages([(big, 10), (small, 20)]) + writer.pages([(exact, 30)], last=True)

    # 302 segments of `big` fill the first page, which ends no packet, hence granule -1.
    assert read_ogg(data) == ([big, small, exact], [(0x02, -1), (0x01, 20), (0x04, 30)])


def test_it_band_limits_before_downsampling() -> None:
    above_new_nyquist = tones((6000, 0.5))
    resampler = Resampler(ENGINE_RATE, 8000)

    out = resampler.process(above_new_nyquist.tobytes()) + resampler.flush()

    level = 20 * np.log10(rms(np.frombuffer(out, "<i2")) / rms(above_new_nyquist))
    naive = 20 * np.log10(rms(above_new_nyquist[::3]) / rms(above_new_nyquist))
    assert level < -40
    assert naive > -3  # keeping every third sample would fold 6 kHz to 1.35 kHz at full level


def test_it_carries_a_split_sample_to_the_next_chunk() -> None:
    pcm = SIGNAL.tobytes()
    whole, split = Resampler(ENGINE_RATE, 16000), Resampler(ENGINE_RATE, 16000)

    one = whole.process(pcm) + whole.flush()
    two = split.process(pcm[:1001]) + split.process(pcm[1001:]) + split.flush()

    # soxr's int16 output differs by an LSB or two with other chunk boundaries; a lost byte
    # would turn the rest into noise.
    assert len(one) == len(two)
    assert np.abs(np.frombuffer(one, "<i2") - np.frombuffer(two, "<i2").astype(int)).max() <= 2


def test_it_passes_pcm_through_at_the_engine_rate() -> None:
    assert b"".join(stream("pcm", ENGINE_RATE)) == SIGNAL.tobytes()


@pytest.mark.parametrize("name", list(FORMATS))
def test_it_finishes_a_stream_that_got_no_audio(name: str) -> None:
    pipeline = AudioPipeline(ENGINE_RATE, name, FORMATS[name].default_rate)

    assert isinstance(pipeline.finish(), bytes)


def test_it_streams_a_wav_header_of_unknown_length_that_decoders_accept() -> None:
    data = b"".join(stream("wav", 24000))

    assert data[4:8] == data[40:44] == b"\xff\xff\xff\xff"
    assert len(decode_soundfile(data)[0]) == 36000
    assert len(decode_av(data)[0]) == 36000
    with wave.open(io.BytesIO(data)) as reader:
        assert len(reader.readframes(10**9)) == 72000


def test_it_writes_exact_lengths_in_whole_files() -> None:
    wav = encode_whole(SIGNAL.tobytes(), ENGINE_RATE, "wav", 24000)
    flac = encode_whole(SIGNAL.tobytes(), ENGINE_RATE, "flac", 24000)

    assert struct.unpack_from("<I", wav, 40)[0] == 72000 == len(wav) - 44
    assert struct.unpack_from("<I", wav, 4)[0] == len(wav) - 8
    assert sf.info(io.BytesIO(flac)).frames == 36000
    assert len(decode_soundfile(flac)[0]) == 36000


def centre_of_energy(samples: npt.NDArray[np.generic]) -> int:
    """Where half of the signal's energy has gone by: moves with the audio, not with its ends."""
    energy = np.cumsum(samples.astype(float) ** 2)
    return int(np.searchsorted(energy, energy[-1] / 2))


@pytest.mark.parametrize("rate", FORMATS["mp3"].rates)
def test_a_whole_mp3_decodes_to_exactly_the_samples_encoded_in_place(rate: int) -> None:
    burst = np.concatenate([np.zeros(4410, "<i2"), SIGNAL[:11025], np.zeros(6615, "<i2")])
    mp3 = encode_whole(burst.tobytes(), ENGINE_RATE, "mp3", rate)
    reference = soxr.resample(burst, ENGINE_RATE, rate, quality="HQ")

    assert sf.info(io.BytesIO(mp3)).frames == len(reference)
    for samples, decoded_rate in (decode_soundfile(mp3), decode_av(mp3)):
        assert decoded_rate == rate
        assert len(samples) == len(reference)
        # LAME's 576 samples of delay are cut from the start, not only counted: the audio sits
        # where it was, within a millisecond (a lossy codec moves energy a little).
        assert abs(centre_of_energy(samples) - centre_of_energy(reference)) <= rate // 1000


def test_it_checksums_the_lame_tag_with_crc16_arc() -> None:
    assert crc16(b"123456789") == 0xBB3D  # the catalogued check value
    assert crc16(b"") == 0


def test_it_names_the_field_and_the_allowed_values() -> None:
    with pytest.raises(UnknownFormat) as unknown:
        check_format("ogg", 24000)
    with pytest.raises(UnsupportedSampleRate) as rate:
        check_format("mulaw", 16000)

    assert unknown.value.field == "format"
    assert str(unknown.value).startswith("format:")
    assert "pcm, wav, mp3, opus, flac, aac, mulaw, alaw" in str(unknown.value)
    assert rate.value.field == "sample_rate"
    assert str(rate.value) == "sample_rate: 16000 Hz is not available for mulaw; allowed: 8000"
    assert isinstance(rate.value, ValueError)


def test_it_fills_in_the_default_rate() -> None:
    assert check_format("pcm") == ("pcm", 24000)
    assert check_format("opus") == ("opus", 48000)
    assert check_format("pcm", default=22050) == ("pcm", 22050)
    assert check_format("mulaw", default=22050) == ("mulaw", 8000)
    assert check_format("wav", 44100, default=22050) == ("wav", 44100)


def test_it_frames_telephony_audio_in_20_ms() -> None:
    framer = Framer.for_format("mulaw", 8000)
    ulaw = g711.pcm_to_ulaw(SIGNAL[:1000].tobytes())

    out = framer.push(ulaw[:100]) + framer.push(ulaw[100:450]) + framer.push(ulaw[450:])
    tail = framer.finish()

    assert frame_bytes("mulaw", 8000) == 160
    assert frame_bytes("pcm", 8000) == 320
    assert [len(frame) for frame in out] == [160] * 6
    assert tail == [ulaw[960:] + b"\xff" * 120]
    assert b"".join(out) == ulaw[:960]
    assert frames(b"\x01" * 170, 160, pad=0xD5) == [b"\x01" * 160, b"\x01" * 10 + b"\xd5" * 150]
    # A-law has no zero code; 0xD5 is the smallest step, +8.
    assert g711.ulaw_to_pcm(b"\xff") == b"\x00\x00"
    assert g711.alaw_to_pcm(b"\xd5") == b"\x08\x00"


def test_it_encodes_g711_exactly_like_audioop() -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            audioop = importlib.import_module("audioop")
    except ModuleNotFoundError:
        pytest.skip("audioop was removed in Python 3.13; nothing to compare against")
    every_sample = np.arange(-32768, 32768, dtype="<i2").tobytes()
    random = np.random.default_rng(7).integers(-32768, 32768, 50000, dtype=np.int16).tobytes()
    every_code = bytes(range(256))

    for pcm in (every_sample, random):
        assert g711.pcm_to_ulaw(pcm) == audioop.lin2ulaw(pcm, 2)
        assert g711.pcm_to_alaw(pcm) == audioop.lin2alaw(pcm, 2)
    assert g711.ulaw_to_pcm(every_code) == audioop.ulaw2lin(every_code, 2)
    assert g711.alaw_to_pcm(every_code) == audioop.alaw2lin(every_code, 2)


def test_it_checksums_ogg_pages_like_libogg() -> None:
    def bitwise(data: bytes) -> int:
        crc = 0
        for byte in data:
            crc ^= byte << 24
            for _ in range(8):
                crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
                crc &= 0xFFFFFFFF
        return crc

    data = np.random.default_rng(3).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    assert ogg_crc(data) == bitwise(data)
    assert ogg_crc(b"") == 0


@pytest.mark.parametrize(
    ("format", "rate", "light"),
    [
        ("pcm", 22050, True),  # the engine's rate: samples pass through
        ("wav", 22050, True),  # a header, then the samples
        ("pcm", 16000, False),  # resampled
        ("mulaw", 8000, False),
        ("mp3", 22050, False),
        ("opus", 48000, False),
    ],
)
def test_only_a_pass_through_pipeline_is_light(format: str, rate: int, light: bool) -> None:
    pipeline = AudioPipeline(22050, format, rate)
    assert pipeline.light is light
    if light:  # light means the samples come out as they went in (after a WAV's header)
        pcm = (np.arange(441, dtype="<i2") * 7).tobytes()
        assert pipeline.feed(pcm).endswith(pcm)
