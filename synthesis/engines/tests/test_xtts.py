"""The XTTS engine on a tiny random-weight XTTS built by the test: coqui's real loading,
streaming and cloning code runs on CPU (the real weights cannot be fetched here, and would need a
GPU). Random weights speak noise, so these check structure, bytes and behaviour, not sound."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load, save

from synthesis.contract.segments import Chunk, Conditioning, Segment
from synthesis.engines.base import EngineError, LoadedConditioning, pcm_s16le
from synthesis.engines.catalog import XTTS
from synthesis.engines.loader import load_engine
from synthesis.engines.xtts import XttsConfigError, XttsEngine, voice_slug
from synthesis.engines.xtts.pieces import FIRST_CHUNK_TOKENS
from synthesis.engines.xtts_random import build_random_xtts, random_config

RATE = 24000
# 14 audio tokens a segment (17 - 3), read 6 then 8 at a time: two pieces, and a third with the
# held-back end of the audio once the generator says it is done.
MAX_AUDIO_TOKENS = 17
CHUNK_TOKENS = 8
PIECES = [False, False, True]
SPEAKER = "tiny-speaker-a"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_random_xtts(
        tmp_path_factory.mktemp("xtts"),
        speakers=("Tiny Speaker A", "Camilla Holmström"),
        max_audio_tokens=MAX_AUDIO_TOKENS,
    )


pytestmark = pytest.mark.usefixtures("xtts_agreed_on_one_thread")


def load_xtts(model_dir: Path, **options: Any) -> XttsEngine:
    defaults: dict[str, Any] = {"device": "cpu", "do_sample": False}
    engine = load_engine(
        "xtts", model_path=str(model_dir), stream_chunk_size=CHUNK_TOKENS, **defaults | options
    )
    assert isinstance(engine, XttsEngine)
    return engine


@pytest.fixture(scope="module")
def engine(model_dir: Path) -> XttsEngine:
    return load_xtts(model_dir)


def chunks(engine: XttsEngine, *segments: Segment, **kwargs: Any) -> list[Chunk]:
    return list(engine.stream(segments, voice=kwargs.pop("voice", SPEAKER), **kwargs))


def samples(items: list[Chunk]) -> np.ndarray:
    return np.frombuffer(b"".join(chunk.pcm for chunk in items), dtype=np.int16)


def voiced(seconds: float, rate: int = RATE) -> bytes:
    """A synthetic voice: a 140 Hz buzz with harmonics, a syllable rhythm, and breath noise."""
    t = np.arange(int(seconds * rate)) / rate
    buzz = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 9))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    noise = np.random.default_rng(0).standard_normal(t.size)
    audio = 0.15 * buzz * envelope + 0.01 * noise
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


# --- refusing to start ---------------------------------------------------------------------


def test_it_refuses_without_the_licence_agreement(model_dir, monkeypatch):
    monkeypatch.delenv("COQUI_TOS_AGREED")
    with pytest.raises(XttsConfigError, match="Coqui Public Model License") as caught:
        XttsEngine(model_path=str(model_dir))
    assert "COQUI_TOS_AGREED=1" in str(caught.value)
    assert "non-commercial" in str(caught.value)


def test_it_names_the_files_a_model_directory_lacks(model_dir, tmp_path):
    (tmp_path / "config.json").write_bytes((model_dir / "config.json").read_bytes())
    (tmp_path / "vocab.json").write_bytes((model_dir / "vocab.json").read_bytes())
    with pytest.raises(XttsConfigError) as caught:
        XttsEngine(model_path=str(tmp_path))
    message = str(caught.value)
    assert "model.pth, speakers_xtts.pth" in message
    assert "manage.py fetch_xtts_model DIR" in message
    with pytest.raises(XttsConfigError, match="TTS_MODEL_PATH is not set"):
        XttsEngine()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"dtype": "int8"}, "XTTS_DTYPE must be one of fp32, fp16, bf16"),
        ({"device": "tpu"}, "XTTS_DEVICE must be auto, cpu, cuda or cuda:N"),
        ({"stream_chunk_size": 0}, "XTTS_STREAM_CHUNK_SIZE must be at least 1"),
        ({"device": "cpu", "dtype": "fp16"}, "on a CPU set XTTS_DTYPE to bf16 or fp32"),
        ({"device": "cpu", "use_deepspeed": True}, "use_deepspeed needs a CUDA device"),
    ],
)
def test_it_refuses_settings_it_cannot_honour(model_dir, options, expected):
    with pytest.raises(XttsConfigError, match=expected):
        XttsEngine(model_path=str(model_dir), **options)


def test_it_refuses_a_gpu_it_does_not_have(model_dir):
    with pytest.raises(XttsConfigError, match="XTTS_DEVICE is cuda:99 but torch sees"):
        XttsEngine(model_path=str(model_dir), device="cuda:99")


# --- what it is -----------------------------------------------------------------------------


def test_it_is_what_its_catalog_row_says(engine):
    engine.check_against(XTTS)
    assert (engine.name, engine.sample_rate, engine.languages) == ("xtts", RATE, XTTS.languages)


def test_its_voices_are_the_checkpoint_studio_speakers(engine):
    voices = engine.voices()
    assert [(v.id, v.name) for v in voices] == [
        ("tiny-speaker-a", "Tiny Speaker A"),
        ("camilla-holmstrom", "Camilla Holmström"),
    ]
    assert all(v.language == "en" and v.languages == XTTS.languages for v in voices)
    assert all(v.description == "XTTS v2 studio speaker (multilingual)" for v in voices)


def test_a_speaker_name_becomes_a_plain_id():
    assert voice_slug("Claribel Dervla") == "claribel-dervla"
    assert voice_slug("  Alma María ") == "alma-maria"
    assert voice_slug("Dr. X__Y 2") == "dr-x-y-2"


def test_it_warms_up(engine):
    engine.warm_up()


# --- streaming ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_segments(engine) -> list[Chunk]:
    return chunks(
        engine,
        Segment("Hello there.", pause_before_ms=50, pause_after_ms=120),
        Segment("How are you?", pause_after_ms=300),
    )


def test_it_streams_each_segment_in_pieces_and_ends_each_once(two_segments):
    assert [chunk.segment for chunk in two_segments] == sorted(c.segment for c in two_segments)
    for index in (0, 1):
        mine = [chunk for chunk in two_segments if chunk.segment == index]
        assert [chunk.segment_end for chunk in mine] == PIECES  # 6, 8 tokens, then the end
        assert all(chunk.samples > 0 for chunk in mine)


def test_a_segment_carries_its_pauses_as_exact_silence(two_segments):
    first, last = [chunk for chunk in two_segments if chunk.segment == 0][:: len(PIECES) - 1]
    start = np.frombuffer(first.pcm, dtype=np.int16)
    assert not start[: RATE * 50 // 1000].any()
    assert start[RATE * 50 // 1000 :].any()
    end = np.frombuffer(last.pcm, dtype=np.int16)
    assert not end[-RATE * 120 // 1000 :].any()
    assert end[: -RATE * 120 // 1000].any()
    assert not samples(two_segments[-1:])[-RATE * 300 // 1000 :].any()


def test_greedy_streams_repeat_exactly(engine, two_segments):
    again = chunks(
        engine,
        Segment("Hello there.", pause_before_ms=50, pause_after_ms=120),
        Segment("How are you?", pause_after_ms=300),
    )
    assert [c.pcm for c in again] == [c.pcm for c in two_segments]


def test_it_speaks_coqui_inference_streams_latents_decoded_once(engine, monkeypatch):
    """The engine runs coqui's streaming steps itself, but decodes each latent once (with a
    bounded context) where coqui decodes all so far for each chunk: its audio must be coqui's
    last, whole-sentence decode, up to the seams' bound (test_xtts_streaming.py), with the
    same (greedy) settings and speed."""
    from transformers import LogitsProcessorList

    from synthesis.engines.xtts.engine import _MostLikelyOnly

    decoder = engine._model.hifigan_decoder
    decoded: list[torch.Tensor] = []
    real_forward = decoder.forward

    def spy(*args: Any, **kwargs: Any) -> Any:
        decoded.append(real_forward(*args, **kwargs))
        return decoded[-1]

    latent, embedding = engine._speakers[SPEAKER]
    with monkeypatch.context() as patch:
        patch.setattr(decoder, "forward", spy)
        for _piece in engine._model.inference_stream(
            "Good morning.",
            "en",
            latent,
            embedding,
            stream_chunk_size=CHUNK_TOKENS,
            speed=1.25,
            do_sample=False,
            repetition_penalty=engine._config.repetition_penalty,
            logits_processor=LogitsProcessorList([_MostLikelyOnly()]),
        ):
            pass
    whole = np.frombuffer(pcm_s16le(decoded[-1].squeeze().numpy(), 1.0), dtype=np.int16)
    ours = samples(chunks(engine, Segment("Good morning.", speed=1.25)))
    assert len(ours) == len(whole)
    assert np.abs(ours.astype(int) - whole).max() <= 33  # 1e-3 of full scale


def test_interleaved_streams_sound_as_they_do_alone(engine):
    """The worker serves several requests on one model a chunk at a time. Coqui keeps the
    prompt of the stream in flight on the model; a stream with a longer prompt in between
    must not shift another's positions (with coqui's own loop this fails, or raises
    IndexError)."""
    short, long = Segment("Hi."), Segment("A much longer sentence, with many more tokens!")
    alone = [[c.pcm for c in chunks(engine, segment)] for segment in (short, long)]
    streams = [engine.stream([short], voice=SPEAKER), engine.stream([long], voice=SPEAKER)]
    together: list[list[bytes]] = [[], []]
    for _round in range(len(PIECES)):
        for number, stream in enumerate(streams):
            together[number].append(next(stream).pcm)
    assert together == alone


def test_closing_the_stream_stops_the_gpt_and_frees_its_generator(engine, monkeypatch):
    gpt = engine._model.gpt
    generators: list[Any] = []
    real_get_generator = gpt.get_generator

    def spy_get_generator(**kwargs: Any) -> Any:
        generators.append(real_get_generator(**kwargs))
        return generators[-1]

    steps = []
    real_forward = gpt.gpt_inference.forward

    def counting_forward(*args: Any, **kwargs: Any) -> Any:
        steps.append(1)
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(gpt, "get_generator", spy_get_generator)
    monkeypatch.setattr(gpt.gpt_inference, "forward", counting_forward)

    stream = engine.stream([Segment("Hello there."), Segment("And more.")], voice=SPEAKER)
    first = next(stream)
    assert (first.segment, first.segment_end, len(steps)) == (0, False, FIRST_CHUNK_TOKENS)
    [generator] = generators
    assert generator.gi_frame is not None  # suspended mid-segment, holding its KV cache

    stream.close()

    assert generator.gi_frame is None  # closed: its frame and KV cache are gone
    assert next(stream, None) is None
    assert len(steps) == FIRST_CHUNK_TOKENS
    assert len(generators) == 1


def test_it_checks_voice_and_languages_when_called_not_when_iterated(engine):
    with pytest.raises(EngineError) as caught:
        engine.stream([Segment("Hello.")], voice="nobody")
    assert caught.value.code == "unknown_voice"
    with pytest.raises(EngineError) as caught:
        engine.stream([Segment("Hello."), Segment("Hej.", language="sv-SE")], voice=SPEAKER)
    assert caught.value.code == "unsupported_language"
    with pytest.raises(EngineError) as caught:
        engine.stream([Segment("Hello.", volume=-1.0)], voice=SPEAKER)
    assert caught.value.code == "invalid_volume"


def test_it_gives_the_tokenizer_the_primary_language(engine, monkeypatch):
    seen = []
    tokenizer = engine._model.tokenizer
    real_encode = tokenizer.encode

    def spy(text: str, lang: str) -> list[int]:
        seen.append((text, lang))
        return real_encode(text, lang)

    monkeypatch.setattr(tokenizer, "encode", spy)
    stream = engine.stream(
        [Segment("Bonjour.", language="fr-FR"), Segment("你好", language="zh-CN")],
        voice="camilla-holmstrom",
    )
    next(stream)
    stream.close()
    assert seen == [("bonjour.", "fr"), ("你好", "zh")]  # the tokenizer makes "zh" its "zh-cn"
    assert real_encode("你好", "zh")[0] == tokenizer.tokenizer.token_to_id("[zh-cn]")


def test_text_xtts_cannot_read_is_refused_when_the_stream_is_asked_for(engine):
    # num2words has no Hindi decimals: coqui's tokenizer raises NotImplementedError. Refused
    # by stream() itself, so the worker answers with an error instead of accepting the job.
    with pytest.raises(EngineError) as caught:
        engine.stream([Segment("Hello."), Segment("2.5", language="hi")], voice=SPEAKER)
    assert caught.value.code == "unsupported_text"
    assert "'hi'" in str(caught.value)


def test_volume_speed_and_pitch_shape_the_audio(engine):
    plain = samples(chunks(engine, Segment("Hello there.")))
    quiet = samples(chunks(engine, Segment("Hello there.", volume=0.5)))
    fast = samples(chunks(engine, Segment("Hello there.", speed=2.0)))
    higher = samples(chunks(engine, Segment("Hello there.", pitch_st=4.0)))

    assert len(quiet) == len(plain)
    assert np.abs(quiet.astype(int) - plain.astype(int) // 2).max() <= 1
    assert 0.45 < len(fast) / len(plain) < 0.56
    # Made slower by the pitch factor, then resampled back: about the same duration.
    assert 0.95 < len(higher) / len(plain) < 1.05
    assert not np.array_equal(higher[: len(plain) // 2], plain[: len(plain) // 2])


def test_it_speaks_the_written_text_of_phoneme_parts(engine):
    with_ipa = Segment("tomato", parts=(("ipa", "təˈmɑːtoʊ"),))
    assert (
        samples(chunks(engine, with_ipa)).tobytes()
        == samples(chunks(engine, Segment("tomato"))).tobytes()
    )


# --- cloned voices --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cloned(engine) -> Conditioning:
    return engine.prepare_voice(voiced(3.0), RATE)


def test_a_reference_clip_becomes_safetensors_conditioning(engine, cloned):
    assert cloned.engine == "xtts"
    assert not cloned.data.startswith(b"\x80")  # a pickle starts with its protocol opcode
    tensors = load(cloned.data)
    assert set(tensors) == {"gpt_cond_latent", "speaker_embedding"}
    assert tuple(tensors["gpt_cond_latent"].shape) == (1, 32, 256)
    assert tuple(tensors["speaker_embedding"].shape) == (1, 512, 1)
    assert all(t.dtype == torch.float32 for t in tensors.values())
    (length,) = struct.unpack("<Q", cloned.data[:8])
    header = json.loads(cloned.data[8 : 8 + length])
    assert header["__metadata__"] == {"engine": "xtts", "format": "1"}


def test_conditioning_loads_back_and_speaks(engine, cloned):
    loaded = engine.load_conditioning(cloned)
    latent, _embedding = loaded.value
    assert torch.equal(latent, load(cloned.data)["gpt_cond_latent"])
    assert loaded.nbytes == 4 * (32 * 256 + 512)

    voice_chunks = chunks(engine, Segment("Hello there."), voice="ignored", conditioning=loaded)
    assert [c.segment_end for c in voice_chunks] == PIECES
    assert (
        samples(voice_chunks).tobytes()
        != samples(chunks(engine, Segment("Hello there."))).tobytes()
    )


def test_the_same_clip_gives_the_same_conditioning(engine, cloned):
    # The tensors, not the bytes: safetensors writes its metadata keys in no fixed order.
    again, before = load(engine.prepare_voice(voiced(3.0), RATE).data), load(cloned.data)
    assert all(torch.equal(again[name], before[name]) for name in before)


@pytest.mark.parametrize(
    "audio",
    [voiced(0.5), b"\x00\x00" * RATE * 3, b""],
    ids=["half a second", "silence", "nothing"],
)
def test_a_reference_without_a_voice_to_take_is_refused(engine, audio):
    with pytest.raises(EngineError) as caught:
        engine.prepare_voice(audio, RATE)
    assert caught.value.code == "reference_unusable"


def foreign(cloned: Conditioning) -> list[Conditioning]:
    tensors = load(cloned.data)
    meta = {"engine": "xtts", "format": "1"}

    def blob(metadata: dict[str, str] = meta, **changes: torch.Tensor) -> bytes:
        return save(tensors | changes, metadata=metadata)

    return [
        Conditioning("piper", cloned.data),
        Conditioning("xtts", b"not safetensors at all"),
        Conditioning("xtts", cloned.data[:-10]),
        Conditioning("xtts", pickle.dumps(tensors)),
        Conditioning("xtts", blob(metadata={"engine": "other", "format": "1"})),
        Conditioning("xtts", blob(gpt_cond_latent=torch.zeros(1, 32, 1024))),
        Conditioning("xtts", blob(speaker_embedding=torch.zeros(1, 256, 1))),
        Conditioning("xtts", blob(gpt_cond_latent=torch.zeros(1, 32, 256, dtype=torch.float16))),
        Conditioning("xtts", save({"gpt_cond_latent": tensors["gpt_cond_latent"]}, metadata=meta)),
    ]


def test_foreign_or_damaged_conditioning_is_refused(engine, cloned):
    for conditioning in foreign(cloned):
        with pytest.raises(EngineError) as caught:
            engine.load_conditioning(conditioning)
        assert caught.value.code == "conditioning_invalid", conditioning.data[:40]


def test_a_stream_refuses_conditioning_it_did_not_load(engine):
    with pytest.raises(EngineError) as caught:
        engine.stream([Segment("Hi.")], voice=SPEAKER, conditioning=LoadedConditioning("x", 1))
    assert caught.value.code == "conditioning_invalid"


# --- compute dtype --------------------------------------------------------------------------


def test_bf16_runs_under_autocast_on_a_cpu(model_dir, engine, monkeypatch):
    bf16 = load_xtts(model_dir, dtype="bf16")
    dtypes = set()
    decoder = bf16._model.hifigan_decoder.waveform_decoder
    real_forward = decoder.forward

    def spy(*args: Any, **kwargs: Any) -> Any:
        wav = real_forward(*args, **kwargs)
        dtypes.add(wav.dtype)
        return wav

    monkeypatch.setattr(decoder, "forward", spy)
    spoken = chunks(bf16, Segment("Hello there.", pause_after_ms=100))

    assert dtypes == {torch.bfloat16}
    assert next(bf16._model.parameters()).dtype == torch.float32  # the weights stay fp32
    assert [c.segment_end for c in spoken] == PIECES
    fp32 = samples(chunks(engine, Segment("Hello there.", pause_after_ms=100)))
    assert len(samples(spoken)) == len(fp32)
    assert samples(spoken).any()


# --- the random model itself ----------------------------------------------------------------


def test_the_random_model_builds_the_same_files_every_time(model_dir, tmp_path):
    again = build_random_xtts(
        tmp_path,
        speakers=("Tiny Speaker A", "Camilla Holmström"),
        max_audio_tokens=MAX_AUDIO_TOKENS,
    )
    for name in ("model.pth", "config.json", "vocab.json", "speakers_xtts.pth"):
        assert (again / name).read_bytes() == (model_dir / name).read_bytes(), name


def test_the_full_size_config_is_xtts_v2s_shape():
    args = random_config("full").model_args
    assert (args.gpt_layers, args.gpt_n_model_channels, args.gpt_n_heads) == (30, 1024, 16)
    assert (args.decoder_input_dim, args.gpt_max_audio_tokens) == (1024, 605)
    assert (args.gpt_max_text_tokens, args.gpt_max_prompt_tokens) == (402, 70)
    assert (args.gpt_num_audio_tokens, args.gpt_start_audio_token) == (1026, 1024)
    assert args.gpt_stop_audio_token == 1025
    assert args.gpt_use_perceiver_resampler


def test_the_random_model_has_a_command_line(tmp_path, capsys):
    from synthesis.engines.xtts_random import main

    assert main([str(tmp_path), "--max-audio-tokens", "8", "--speaker", "Bench Voice"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_args"]["gpt_max_audio_tokens"] == 8
    speakers = torch.load(tmp_path / "speakers_xtts.pth", weights_only=True)
    assert list(speakers) == ["Bench Voice"]
