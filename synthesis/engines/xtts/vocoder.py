"""XTTS's HiFi-GAN decoder run on the GPT latents as they come, each once (plus a bounded left
context), instead of over all latents so far for every chunk.

Coqui's `inference_stream` re-decodes every latent of the sentence for each chunk and cross-fades
the new audio into the old: the decoder's cost grows with the square of the sentence. Here a
chunk's latents are decoded in a window that starts a fixed number of decoder frames before the
first sample still to be emitted, so each call costs the same whatever came before.

What the decoder does with T latents (`HifiDecoder.forward`, coqui-tts 0.28):
  1. (the engine's speed) linear interpolation by `length_scale`: floor(T * length_scale) frames;
  2. linear interpolation by `ar_mel_length_compression / output_hop_length` (1024/256 = 4);
  3. linear interpolation by `output_sample_rate / input_sample_rate` (24000/22050);
  4. the HiFi-GAN generator, `hop` = 8*8*2*2 = 256 samples per frame of its input.
So a latent is 1024 * 24000/22050 = 1114.56 samples at 24 kHz (46.4 ms, 21.5 latents a second)
at speed 1, and T latents are exactly 256 * floor(4T * 24000/22050) samples. A window cannot
simply interpolate its own latents: 24000/22050 puts its frames between the one-shot decode's
(they line up only every 147 latents). So the three interpolations are computed here on the
one-shot decode's grid, as torch computes them (`align_corners=False`, the given scale factor,
float32 positions), for just the frames of the window: a window's decoder input is the one-shot
decode's input for those frames, except the last few frames of a window that is not the
segment's last (they interpolate towards latents not made yet, and are redone by the next window).

The generator is convolutions only, so an output sample depends on a bounded span of its input:
`receptive_field` adds up its kernels (conv_pre 7, transposed convolutions 16/16/4/4 with strides
8/8/2/2, residual blocks of kernels 3/7/11 with dilations 1/3/5) to 3699 samples each side (a
perturbation measures 3244; the influence above 1e-3 of the signal's scale reaches ~830). A window
therefore begins `context` = ceil(3699 / 256) = 15 frames (3840 samples; about 3.4 latents at
speed 1) before the first sample it emits; those frames' samples are dropped, and the samples
after them are what a one-shot decode gives. At its right end a window lacks what follows: its
last `hold` samples are not emitted but held back, and the next window's audio replaces them,
cross-faded over the first `fade` samples with a raised cosine (the two weights sum to one: the
old and new audio are the same waveform, nearly, so constant amplitude is right, not constant
power). The held samples go out with the next piece; the segment's last window emits them all.

Batching: a stream's state (`DecoderStream`: its last latents, what it has emitted, its held
tail) stays apart from the decode. `prepare` turns a stream's new latents into a `Window` of
decoder input; `decode` runs any number of windows, of any streams, in one generator call (each
with its own speaker embedding; shorter windows are padded with zeros on the left, where their
output is dropped anyway; a window from a stream's first frame has no such margin and shares a
call only with windows of its length); `finish` cross-fades a window's audio into its stream and
returns what can be played. `push` is the three for one stream.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from TTS.tts.layers.xtts.hifigan_decoder import HifiDecoder

# Samples of a window's right end held back for the next window (85 ms at 24 kHz), and the
# first of them cross-faded with its audio: the cross-fade ends 1024 samples before the old
# window's edge, where its audio is still what a one-shot decode gives. docs/xtts.md.
HOLD = 2048
FADE = 1024


@dataclass
class DecoderStream:
    """One stream's decoding state: its latents from the first the next window may need
    (global index `first`), how many it has been given, what it has emitted and its held-back
    tail. Nothing in it is shared with another stream or with a decode call."""

    length_scale: float = 1.0
    latents: torch.Tensor | None = None
    first: int = 0
    count: int = 0
    emitted: int = 0
    tail: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    ended: bool = False


@dataclass(frozen=True)
class Window:
    """Decoder input for frames `start` to `start + frames.shape[-1]` of a stream, `[C, M]`."""

    frames: torch.Tensor
    start: int


class WindowedDecoder:
    """Decodes streams of XTTS GPT latents with `decoder` (the model's `hifigan_decoder`)."""

    def __init__(
        self,
        decoder: HifiDecoder,
        *,
        context: int | None = None,
        hold: int = HOLD,
        fade: int = FADE,
    ) -> None:
        if not 0 <= fade <= hold:
            raise ValueError(f"fade must be between 0 and hold ({hold}), not {fade}")
        self._generator = decoder.waveform_decoder
        self.hop = math.prod(int(up.stride[0]) for up in self._generator.ups)
        self.receptive_field = receptive_field(self._generator)
        self.context = math.ceil(self.receptive_field / self.hop) if context is None else context
        self.hold, self.fade = hold, fade
        # The decoder's own interpolations (the speed's comes first, per stream).
        self._scales = [decoder.ar_mel_length_compression / decoder.output_hop_length]
        if decoder.output_sample_rate != decoder.input_sample_rate:
            self._scales.append(decoder.output_sample_rate / decoder.input_sample_rate)

    def open(self, length_scale: float = 1.0) -> DecoderStream:
        return DecoderStream(length_scale=length_scale)

    def frames_for(self, stream: DecoderStream, latents: int) -> int:
        """The decoder frames (each `hop` samples) that `latents` latents come to."""
        return _sizes(latents, self._stages(stream))[-1]

    def push(
        self, stream: DecoderStream, latents: torch.Tensor, speaker: torch.Tensor, *, last: bool
    ) -> np.ndarray:
        """`latents` (`[n, C]`) decoded into `stream`: the float32 samples it can emit now."""
        window = self.prepare(stream, latents, last=last)
        audio = self.decode([window], [speaker])[0] if window is not None else None
        return self.finish(stream, window, audio)

    def prepare(self, stream: DecoderStream, latents: torch.Tensor, *, last: bool) -> Window | None:
        """Takes the stream's new latents (`[n, C]`, n may be 0) and returns the window to
        decode for them, or None where there is nothing to decode (pass None on to `finish`)."""
        if stream.ended:
            raise ValueError("this stream has had its last latents")
        stream.ended = last
        if latents.shape[0]:
            kept = stream.latents
            stream.latents = latents if kept is None else _cat(kept, latents)
            stream.count += int(latents.shape[0])
        stages = self._stages(stream)
        sizes = _sizes(stream.count, stages)
        stop = sizes[-1]
        start = max(0, stream.emitted // self.hop - self.context)
        if stream.latents is None or stop * self.hop <= stream.emitted + len(stream.tail):
            return None  # no new sample: a flush (last) or too few latents for a frame
        # Back from the frames wanted to the latents they need, one interpolation at a time.
        spans = [(start, stop)]
        for scale, size in zip(reversed(stages), reversed(sizes[:-1]), strict=True):
            first, end = spans[0]
            low = max(0, math.floor((first + 0.5) / scale - 0.5) - 1)
            high = min(size, math.floor((end - 0.5) / scale - 0.5) + 3)
            spans.insert(0, (low, high))
        low, high = spans[0]
        if low < stream.first:
            raise AssertionError(f"latent {low} is needed but the stream kept from {stream.first}")
        x = stream.latents[low - stream.first : high - stream.first].transpose(0, 1)
        offset = low
        for scale, size, span in zip(stages, sizes[:-1], spans[1:], strict=True):
            x = _interpolate(x, offset=offset, available=size, scale=scale, span=span)
            offset = span[0]
        # Later windows start no earlier: the latents before this one's are never needed again.
        stream.latents = stream.latents[low - stream.first :]
        stream.first = low
        return Window(frames=x, start=start)

    def decode(
        self, windows: Sequence[Window], speakers: Sequence[torch.Tensor]
    ) -> list[torch.Tensor]:
        """The audio of each window (`[M * hop]`), `speakers` each one's speaker embedding
        (`[1, d, 1]` or `[d, 1]`). Windows are padded with zeros on the left to one length and
        decoded in one generator call, except windows that begin at a stream's first frame:
        there the audio's true start is, and padding would change it, so they share a call
        only with windows of their own length (a segment's first pieces, at one speed, all
        have one length)."""
        groups: dict[int, list[int]] = {}
        for number, window in enumerate(windows):
            key = window.frames.shape[-1] if window.start == 0 else -1
            groups.setdefault(key, []).append(number)
        audio: dict[int, torch.Tensor] = {}
        for members in groups.values():
            decoded = self._decode([windows[n] for n in members], [speakers[n] for n in members])
            audio.update(zip(members, decoded, strict=True))
        return [audio[number] for number in range(len(windows))]

    def _decode(
        self, windows: Sequence[Window], speakers: Sequence[torch.Tensor]
    ) -> list[torch.Tensor]:
        import torch

        longest = max(w.frames.shape[-1] for w in windows)
        batch = torch.stack(
            [torch.nn.functional.pad(w.frames, (longest - w.frames.shape[-1], 0)) for w in windows]
        )
        g = torch.stack([s.reshape(s.shape[-2], 1) for s in speakers]).to(batch.dtype)
        wav = self._generator(batch, g=g)[:, 0]
        return [wav[i, (longest - w.frames.shape[-1]) * self.hop :] for i, w in enumerate(windows)]

    def finish(
        self, stream: DecoderStream, window: Window | None, audio: torch.Tensor | None
    ) -> np.ndarray:
        """The samples the stream can emit after `window` decoded to `audio` (both None where
        `prepare` gave no window). After the stream's last latents, all the rest."""
        tail = stream.tail
        if window is None or audio is None:
            fresh = np.zeros(0, dtype=np.float32)
            fresh, tail = tail, fresh
        else:
            samples = audio.detach().float().cpu().numpy()
            fresh = samples[stream.emitted - window.start * self.hop :].copy()
            # Only audio already emitted needs a smooth continuation. Until then (and from a
            # window too short to reach past the held samples) the new samples replace the held
            # ones whole: they are the better ones, further from a window's edge.
            emits = stream.ended or len(fresh) > self.hold
            faded = min(self.fade, len(tail), len(fresh)) if emits and stream.emitted else 0
            if faded:
                rise = _rise(faded)
                fresh[:faded] = tail[:faded] * (1.0 - rise) + fresh[:faded] * rise
        if stream.ended:
            out, tail = fresh, np.zeros(0, dtype=np.float32)
            stream.latents = None
        else:
            keep = min(self.hold, len(fresh))
            out, tail = fresh[: len(fresh) - keep], fresh[len(fresh) - keep :]
        stream.tail = tail
        stream.emitted += len(out)
        return out

    def _stages(self, stream: DecoderStream) -> list[float]:
        speed = [stream.length_scale] if stream.length_scale != 1.0 else []
        return speed + self._scales


def chunk_schedule(first: int, size: int) -> list[int]:
    """The GPT tokens of a segment's pieces, in order, until `size` repeats: `first`, then
    doubling up to `size`. A small first piece is the first audio soon; each later piece about
    as long as all the audio before it is made while that audio plays, so a stream made at any
    speed faster than real time never runs dry; larger pieces mean fewer decoder calls."""
    if first < 1 or size < 1:
        raise ValueError("piece sizes must be at least 1 token")
    pieces = [min(first, size)]
    while pieces[-1] < size:
        pieces.append(min(size, pieces[-1] * 2))
    return pieces


def receptive_field(generator: torch.nn.Module) -> int:
    """How far (in output samples, either way) an output sample of coqui's HiFi-GAN generator
    can depend on its input: an upper bound, from its kernels, strides and dilations."""
    ups = list(generator.ups)  # type: ignore[arg-type]
    blocks = list(generator.resblocks)  # type: ignore[arg-type]
    per_stage = len(blocks) // len(ups)
    rate = math.prod(int(up.stride[0]) for up in ups)  # output samples per input frame
    reach = _radius(generator.conv_pre) * rate  # type: ignore[arg-type]
    for stage, up in enumerate(ups):
        stride, kernel = int(up.stride[0]), int(up.kernel_size[0])
        reach += math.ceil(kernel / stride) * rate  # one input frame reaches kernel/stride
        rate //= stride
        mine = blocks[stage * per_stage : (stage + 1) * per_stage]
        reach += max(sum(_radius(c) for c in _convs(b)) for b in mine) * rate
    return reach + _radius(generator.conv_post)  # type: ignore[arg-type]


def _convs(module: torch.nn.Module) -> list[torch.nn.Module]:
    import torch

    return [m for m in module.modules() if isinstance(m, torch.nn.Conv1d)]


def _radius(conv: torch.nn.Module) -> int:
    return (int(conv.kernel_size[0]) - 1) // 2 * int(conv.dilation[0])  # type: ignore[index]


def _sizes(count: int, scales: Sequence[float]) -> list[int]:
    """The length after each interpolation, as torch computes it: floor(length * scale)."""
    sizes = [count]
    for scale in scales:
        sizes.append(math.floor(float(sizes[-1] * scale)))
    return sizes


def _interpolate(
    x: torch.Tensor, *, offset: int, available: int, scale: float, span: tuple[int, int]
) -> torch.Tensor:
    """Outputs `span` of `torch.nn.functional.interpolate(whole, scale_factor=scale,
    mode="linear")` where `whole` has `available` frames of which `x` (`[C, L]`) holds those
    from `offset` on: torch's float32 source positions, clamped at both ends."""
    import torch

    step = torch.tensor(1.0 / scale, dtype=torch.float32)
    index = torch.arange(span[0], span[1], device=x.device)
    source = ((index.to(torch.float32) + 0.5) * step - 0.5).clamp_min(0.0)
    before = source.floor().to(torch.int64).clamp_max(available - 1)
    weight = (source - before).clamp(0.0, 1.0).to(x.device, x.dtype)
    after = torch.where(before < available - 1, before + 1, before)
    return x[:, before - offset] * (1 - weight) + x[:, after - offset] * weight


def _cat(kept: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.cat([kept, new.to(kept.dtype)], dim=0)


def _rise(length: int) -> np.ndarray:
    """A raised-cosine fade-in of `length` samples, from just above 0 to just below 1."""
    t = (np.arange(length, dtype=np.float32) + 0.5) / length
    return (0.5 - 0.5 * np.cos(np.pi * t)).astype(np.float32)
