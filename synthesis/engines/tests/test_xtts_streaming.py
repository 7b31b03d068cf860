"""XTTS's windowed decoding (synthesis/engines/xtts/vocoder.py) on the tiny random-weight model:
each latent decoded once with a bounded left context, and the streamed audio what a one-shot
decode of the same latents gives, seams included.

The bounds come from measurements on this model (docs/xtts.md): around a seam the streamed
audio is within 5e-5 of the one-shot decode at speed 1 and 3.3e-4 at half speed (the signal's
RMS is about 6e-3, its largest step from one sample to the next 0.02); without the held-back
tail and its cross-fade the error at a seam is 0.012 and makes a step of that size."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from synthesis.contract.segments import Segment
from synthesis.engines.loader import load_engine
from synthesis.engines.xtts import XttsEngine
from synthesis.engines.xtts.pieces import FIRST_CHUNK_TOKENS
from synthesis.engines.xtts.vocoder import HOLD, WindowedDecoder, chunk_schedule
from synthesis.engines.xtts_random import build_random_xtts

RATE = 24000
# 24 audio tokens a segment (27 - 3), read 6, 8, 8 then 2: three seams.
MAX_AUDIO_TOKENS = 27
CHUNK_TOKENS = 8
SPEAKER = "tiny-speaker-a"
# Streamed against one-shot, anywhere and around every seam (10x the measured worst at speed 1,
# 3x at half speed), and the least signal-to-error ratio in a window around a seam (measured:
# 73 dB at speed 1, 48 dB at half speed).
MAX_ERROR = 1e-3
MIN_SEAM_SNR_DB = 40.0
# The most a seam may add to a sample-to-sample step of the one-shot audio (a click): measured
# 1e-4; 0.012 without the cross-fade.
MAX_ADDED_STEP = 1e-3


pytestmark = pytest.mark.usefixtures("xtts_agreed_on_one_thread")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> XttsEngine:
    directory: Path = build_random_xtts(
        tmp_path_factory.mktemp("xtts"), max_audio_tokens=MAX_AUDIO_TOKENS
    )
    loaded = load_engine(
        "xtts",
        model_path=str(directory),
        device="cpu",
        do_sample=False,
        stream_chunk_size=CHUNK_TOKENS,
    )
    assert isinstance(loaded, XttsEngine)
    return loaded


class Spoken:
    """A segment's float pieces from the engine, the latents each decode was given, and the
    length of each generator call's input."""

    def __init__(self, engine: XttsEngine, speed: float) -> None:
        self.given: list[int] = []
        self.frames: list[int] = []
        decoder = engine._decoder
        generator = engine._model.hifigan_decoder.waveform_decoder
        latents: list[torch.Tensor] = []
        real_prepare, real_forward = decoder.prepare, generator.forward

        def prepare(stream: Any, new: torch.Tensor, *, last: bool) -> Any:
            latents.append(new.clone())
            self.given.append(int(new.shape[0]))
            return real_prepare(stream, new, last=last)

        def forward(x: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
            self.frames.append(int(x.shape[-1]))
            return real_forward(x, g=g)

        tensors = engine._speakers[SPEAKER]
        tokens = torch.IntTensor(engine._token_ids(Segment("Hello there."))).unsqueeze(0)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(decoder, "prepare", prepare)
            patch.setattr(generator, "forward", forward)
            self.length_scale = 1.0 / speed
            pieces = engine._pieces(tokens, tensors, length_scale=self.length_scale)
            self.pieces = [audio for audio, _last in pieces]
        self.audio = np.concatenate(self.pieces)
        self.latents = torch.cat(latents)
        self.one_shot = one_shot(engine, self.latents, self.length_scale)

    def seams(self) -> list[int]:
        return list(np.cumsum([len(p) for p in self.pieces])[:-1])


def one_shot(engine: XttsEngine, latents: torch.Tensor, length_scale: float) -> np.ndarray:
    """All latents through coqui's decoder at once, the speed as coqui's `length_scale`."""
    x = latents[None]
    with torch.inference_mode():
        if length_scale != 1.0:
            x = torch.nn.functional.interpolate(
                x.transpose(1, 2), scale_factor=length_scale, mode="linear"
            ).transpose(1, 2)
        wav = engine._model.hifigan_decoder(x, g=engine._speakers[SPEAKER][1])
    return wav.squeeze().numpy()


def seam_windows(seams: list[int]) -> list[slice]:
    """Around each seam: the held-back samples before it (the cross-fade lies among them) and
    a little after."""
    return [slice(max(0, seam - HOLD - 256), seam + 256) for seam in seams]


@pytest.fixture(scope="module")
def normal(engine: XttsEngine) -> Spoken:
    return Spoken(engine, speed=1.0)


@pytest.fixture(scope="module")
def slow(engine: XttsEngine) -> Spoken:
    return Spoken(engine, speed=0.5)


def stream_again(
    engine: XttsEngine, spoken: Spoken, decoder: WindowedDecoder
) -> tuple[np.ndarray, list[int]]:
    """The same latents, in the same pieces, through another windowed decoder."""
    stream = decoder.open(spoken.length_scale)
    embedding = engine._speakers[SPEAKER][1]
    pieces, start = [], 0
    with torch.inference_mode():
        for number, size in enumerate(spoken.given):
            new = spoken.latents[start : start + size]
            start += size
            last = number == len(spoken.given) - 1
            pieces.append(decoder.push(stream, new, embedding, last=last))
    return np.concatenate(pieces), list(np.cumsum([len(p) for p in pieces])[:-1])


def added_step(audio: np.ndarray, reference: np.ndarray, seams: list[int]) -> float:
    """The largest change a seam makes to a sample-to-sample step of `reference`."""
    error = np.diff(audio - reference)
    return max(float(np.abs(error[window]).max()) for window in seam_windows(seams))


# --- (a) the streamed audio is the one-shot decode ---------------------------------------


@pytest.mark.parametrize("which", ["normal", "slow"])
def test_the_streamed_audio_is_a_one_shot_decode_of_the_same_latents_seams_included(request, which):
    spoken: Spoken = request.getfixturevalue(which)
    assert len(spoken.seams()) == 3
    assert len(spoken.audio) == len(spoken.one_shot)  # 256 * floor(4T * 24000/22050) samples
    error = spoken.audio - spoken.one_shot
    assert np.abs(error).max() <= MAX_ERROR
    for window in seam_windows(spoken.seams()):
        assert np.abs(error[window]).max() <= MAX_ERROR
        signal = float((spoken.one_shot[window] ** 2).sum())
        assert 10 * np.log10(signal / max(float((error[window] ** 2).sum()), 1e-30)) >= (
            MIN_SEAM_SNR_DB
        )


# --- (b) each decoder call is bounded -----------------------------------------------------


@pytest.mark.parametrize("which", ["normal", "slow"])
def test_each_decoder_call_is_at_most_the_left_context_and_the_new_frames(engine, request, which):
    spoken: Spoken = request.getfixturevalue(which)
    decoder = engine._decoder
    stream = decoder.open(spoken.length_scale)
    # The left context: the frames the receptive field needs before the held-back samples.
    context = decoder.context + -(-HOLD // decoder.hop)
    assert decoder.context * decoder.hop >= decoder.receptive_field
    counts = np.cumsum(spoken.given)
    new = [decoder.frames_for(stream, int(n)) for n in counts]
    new = [new[0]] + [b - a for a, b in itertools.pairwise(new)]
    calls = [frames for frames in new if frames]  # a piece with no new frame is no call
    assert len(spoken.frames) == len(calls)
    for frames, fresh in zip(spoken.frames, calls, strict=True):
        assert frames <= context + fresh
    # Whatever the sentence's length: all calls together decode each frame once, plus context.
    assert sum(spoken.frames) <= len(spoken.one_shot) // decoder.hop + context * len(calls)


# --- (c) a small first piece, larger ones after ------------------------------------------


def test_the_first_piece_is_about_a_fifth_of_a_second_and_later_ones_are_longer(normal):
    assert normal.given[:3] == [FIRST_CHUNK_TOKENS, CHUNK_TOKENS, CHUNK_TOKENS]
    first, second, third = (len(piece) / RATE for piece in normal.pieces[:3])
    assert 0.15 <= first <= 0.25
    assert second > first
    assert third > first


def test_pieces_start_small_and_double_up_to_the_chunk_size():
    assert chunk_schedule(6, 20) == [6, 12, 20]
    assert chunk_schedule(6, 8) == [6, 8]
    assert chunk_schedule(5, 40) == [5, 10, 20, 40]
    assert chunk_schedule(6, 4) == [4]  # a chunk size smaller than the first piece wins
    assert chunk_schedule(1, 1) == [1]
    with pytest.raises(ValueError, match="at least 1 token"):
        chunk_schedule(0, 20)


# --- (d) no clicks --------------------------------------------------------------------------


def test_a_seam_adds_no_step_to_the_waveform(engine, normal, slow):
    assert added_step(normal.audio, normal.one_shot, normal.seams()) <= MAX_ADDED_STEP
    assert added_step(slow.audio, slow.one_shot, slow.seams()) <= MAX_ADDED_STEP


@pytest.mark.parametrize(
    "options",
    [{"hold": 0, "fade": 0}, {"context": 0, "hold": 0, "fade": 0}],
    ids=["without-cross-fade", "each-piece-alone"],
)
def test_without_the_cross_fade_the_same_check_hears_the_clicks(engine, normal, options):
    decoder = WindowedDecoder(engine._model.hifigan_decoder, **options)
    audio, seams = stream_again(engine, normal, decoder)
    assert added_step(audio, normal.one_shot, seams) > 5 * MAX_ADDED_STEP


# --- batched ------------------------------------------------------------------------------


def test_windows_of_several_streams_decode_in_one_call_as_each_does_alone(engine, normal):
    """Two streams at speed 1 and one at half speed, with two speakers: their first windows
    (from the audio's start, where zero padding would change it) share a call only with
    windows of their own length; every later round is one call."""
    decoder = WindowedDecoder(engine._model.hifigan_decoder)
    a, b = engine._speakers[SPEAKER][1], engine._speakers["tiny-speaker-b"][1]
    speakers, scales = [a, b, b], [1.0, 1.0, 2.0]
    alone = [decoder.open(scale) for scale in scales]
    together = [decoder.open(scale) for scale in scales]
    calls: list[int] = []
    real_forward = decoder._generator.forward

    def forward(x: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        calls.append(x.shape[0])
        return real_forward(x, g=g)

    latents = normal.latents
    with torch.inference_mode():
        for start, stop in [(0, 6), (6, 14), (14, 15)]:
            last = stop == 15
            expected = [
                decoder.push(stream, latents[start:stop], speaker, last=last)
                for stream, speaker in zip(alone, speakers, strict=True)
            ]
            windows = [decoder.prepare(s, latents[start:stop], last=last) for s in together]
            ready = [window for window in windows if window is not None]
            assert len(ready) == 3
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(decoder._generator, "forward", forward)
                audio = decoder.decode(ready, speakers)
            got = [
                decoder.finish(stream, window, wav)
                for stream, window, wav in zip(together, ready, audio, strict=True)
            ]
            for mine, theirs in zip(got, expected, strict=True):
                assert len(mine) == len(theirs)
                np.testing.assert_allclose(mine, theirs, atol=1e-5)
    assert calls == [2, 1, 3, 3]


# --- the receptive field ------------------------------------------------------------------


def test_the_decoder_reaches_no_further_than_the_receptive_field_the_context_assumes(engine):
    decoder = engine._decoder
    generator = engine._model.hifigan_decoder.waveform_decoder
    frames, at = 40, 20
    x = torch.randn(1, 256, frames, generator=torch.Generator().manual_seed(0))
    g = engine._speakers[SPEAKER][1]
    with torch.inference_mode():
        plain = generator(x, g=g)[0, 0]
        x[:, :, at] += 1.0
        nudged = generator(x, g=g)[0, 0]
    changed = torch.nonzero(plain != nudged).flatten()
    before = at * decoder.hop - int(changed.min())
    after = int(changed.max()) - ((at + 1) * decoder.hop - 1)
    assert max(before, after) <= decoder.receptive_field == 3699
    assert max(before, after) >= 0.8 * decoder.receptive_field  # measured: 3244
