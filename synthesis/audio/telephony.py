"""Fixed-duration frames for telephony transports (20 ms: 160 bytes of 8 kHz G.711)."""

from __future__ import annotations

from synthesis.audio import g711

FRAME_MS = 20
_BYTES_PER_SAMPLE = {"mulaw": 1, "alaw": 1, "pcm": 2}
# The byte that decodes to zero: a padded tail must be silence, not a click.
_SILENCE = {"mulaw": g711.ULAW_SILENCE, "alaw": g711.ALAW_SILENCE, "pcm": 0}


def frame_bytes(format: str, sample_rate: int, frame_ms: int = FRAME_MS) -> int:
    """Bytes in one frame of `format` (mulaw, alaw or pcm) at `sample_rate`."""
    return sample_rate * frame_ms // 1000 * _BYTES_PER_SAMPLE[format]


def silence_byte(format: str) -> int:
    return _SILENCE[format]


def frames(data: bytes, size: int, *, pad: int = 0) -> list[bytes]:
    """`data` cut into frames of `size` bytes, the last one padded with `pad`."""
    framer = Framer(size, pad=pad)
    return framer.push(data) + framer.finish()


class Framer:
    """Emits whole frames as bytes arrive and keeps the remainder for the next push."""

    def __init__(self, size: int, *, pad: int = 0) -> None:
        if size <= 0:
            raise ValueError("frame size must be positive")
        self.size = size
        self._pad = bytes([pad])
        self._rest = b""

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of their frame."""
        return len(self._rest)

    @classmethod
    def for_format(cls, format: str, sample_rate: int, frame_ms: int = FRAME_MS) -> Framer:
        return cls(frame_bytes(format, sample_rate, frame_ms), pad=silence_byte(format))

    def push(self, data: bytes) -> list[bytes]:
        buffer = self._rest + data
        whole = len(buffer) - len(buffer) % self.size
        self._rest = buffer[whole:]
        return [buffer[start : start + self.size] for start in range(0, whole, self.size)]

    def finish(self) -> list[bytes]:
        """The remainder as one last frame, padded with silence; nothing if there is none."""
        rest, self._rest = self._rest, b""
        return [rest + self._pad * (self.size - len(rest))] if rest else []
