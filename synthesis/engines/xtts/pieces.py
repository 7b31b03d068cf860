"""What XTTS's pieces of float audio become as chunks, whichever path made them (the engine's
own stream or the worker's batch), and how large the pieces are."""

from __future__ import annotations

import numpy as np
import soxr

from synthesis.contract.segments import Chunk, Segment
from synthesis.engines.base import pcm_s16le, pitch_factor, silence

# A segment's first piece, in GPT tokens: 6 latents are 6656 samples, of which 4608 (0.19 s)
# go out at once and the rest (vocoder.HOLD) with the next piece. Later pieces double up to
# XTTS_STREAM_CHUNK_SIZE (`vocoder.chunk_schedule`).
FIRST_CHUNK_TOKENS = 6


class SegmentAudio:
    """What one segment's pieces of float audio become as chunks, in either streaming path: a
    pitch shift resamples the audio as it streams (one resampler per segment, so no seam at
    chunk edges), XTTS having been made to speak that much slower first (`length_scale`), so
    the duration stays; volume is a plain gain (XTTS audio is not normalized, unlike Piper's);
    the pause before goes with the first chunk that has audio, the pause after with the last,
    which alone is `segment_end`."""

    def __init__(self, index: int, segment: Segment, sample_rate: int) -> None:
        self.index, self.segment, self.sample_rate = index, segment, sample_rate
        factor = pitch_factor(segment.pitch_st)
        self._shifter = PitchShift(factor, sample_rate) if factor != 1.0 else None
        self.length_scale = 1.0 / max(segment.speed / factor, 0.05)
        self._before = silence(sample_rate, segment.pause_before_ms)

    def chunk(self, audio: np.ndarray, *, last: bool) -> Chunk | None:
        """The chunk for the segment's next piece, None where it has no sample yet."""
        if self._shifter is not None:
            audio = self._shifter.push(audio, last=last)
        pcm = pcm_s16le(audio, self.segment.volume)
        if last:
            pause = silence(self.sample_rate, self.segment.pause_after_ms)
            return Chunk(pcm=self._before + pcm + pause, segment=self.index, segment_end=True)
        if not pcm:
            return None
        chunk = Chunk(pcm=self._before + pcm, segment=self.index)
        self._before = b""
        return chunk


class PitchShift:
    """A pitch shift by resampling, for audio that arrives in pieces: played back faster by the
    factor (the audio was made longer by it beforehand), the pitch rises and the duration
    stays. One soxr stream per segment, so pieces join without a seam."""

    def __init__(self, factor: float, sample_rate: int) -> None:
        self._stream = soxr.ResampleStream(sample_rate * factor, sample_rate, 1, dtype="float32")

    def push(self, audio: np.ndarray, *, last: bool) -> np.ndarray:
        out = self._stream.resample_chunk(audio.astype(np.float32), last=last)
        return np.asarray(out, dtype=np.float32)
