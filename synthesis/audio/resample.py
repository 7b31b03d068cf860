"""Streaming sample-rate conversion of s16le mono PCM with soxr (band-limited, never decimation)."""

from __future__ import annotations

import numpy as np
import soxr


class Resampler:
    """Converts a chunked PCM stream from `in_rate` to `out_rate`; equal rates pass through.

    Chunks may split a sample: an odd trailing byte waits for the next chunk.
    """

    def __init__(self, in_rate: int, out_rate: int, *, quality: str = "HQ") -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._carry = b""
        self._stream = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality=quality)
        )

    @property
    def identity(self) -> bool:
        """Equal rates: samples pass through as they are."""
        return self._stream is None

    def process(self, pcm: bytes) -> bytes:
        whole = self._whole_samples(pcm)
        if self._stream is None or not whole:
            return whole
        samples = np.frombuffer(whole, dtype="<i2")
        return self._stream.resample_chunk(samples).astype("<i2", copy=False).tobytes()

    def flush(self) -> bytes:
        """The resampler's delayed tail; call once, after the last chunk."""
        self._carry = b""
        if self._stream is None:
            return b""
        tail = self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        return tail.astype("<i2", copy=False).tobytes()

    def _whole_samples(self, pcm: bytes) -> bytes:
        data = self._carry + pcm if self._carry else pcm
        cut = len(data) - len(data) % 2
        self._carry = data[cut:]
        return data[:cut] if cut != len(data) else data
