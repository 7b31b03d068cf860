"""resemblyzer's speaker encoder (GE2E, 3-layer LSTM), its shipped weights, without the package.

Why not `from resemblyzer import VoiceEncoder`: the package's `__init__` imports its `audio`
module, which imports `webrtcvad`, which imports `pkg_resources`; setuptools 81+ (the pinned 84)
no longer has it, so the import fails. Its mel spectrogram also goes through librosa, whose
numba-compiled helpers cost ~20 s on a cold process. So this module holds the same network
(`VoiceEncoder`: LSTM(40, 256, 3 layers) -> Linear(256, 256) -> ReLU -> L2 norm) and loads the
same `resemblyzer/pretrained.pt` (found without importing the package), and computes the same
mel spectrogram as `resemblyzer.audio.wav_to_mel_spectrogram` with numpy (librosa's defaults:
25 ms periodic Hann window, 10 ms hop, centred with zero padding, power 2, 40 Slaney mel bands
from 0 Hz to Nyquist, not log-scaled). A test compares the two mel computations' results.

Imports torch: import this module only inside functions of the analysis.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
HIDDEN = 256
EMBEDDING = 256
LAYERS = 3


def weights_path() -> Path:
    """`resemblyzer/pretrained.pt`, found without importing resemblyzer."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the resemblyzer package (speaker encoder weights) is not installed")
    return Path(spec.submodule_search_locations[0]) / "pretrained.pt"


class SpeakerEncoder(nn.Module):
    """The network of resemblyzer's `VoiceEncoder`, state-dict compatible with it."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
        self.linear = nn.Linear(HIDDEN, EMBEDDING)
        self.relu = nn.ReLU()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """(batch, frames, 40) mel windows -> (batch, 256) L2-normed embeddings."""
        _output, (hidden, _cell) = self.lstm(mels)
        raw = self.relu(self.linear(hidden[-1]))
        return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-12)


def load() -> SpeakerEncoder:
    """The encoder with resemblyzer's weights, on the CPU, in eval mode."""
    checkpoint = torch.load(weights_path(), map_location="cpu", weights_only=True)
    model = SpeakerEncoder()
    # strict=False as resemblyzer does: the checkpoint also holds the GE2E loss's scale and bias.
    missing, _unexpected = model.load_state_dict(checkpoint["model_state"], strict=False)
    if missing:
        raise RuntimeError(f"the speaker encoder weights lack {missing}")
    return model.eval()


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear to 1 kHz, logarithmic above."""
    linear = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    linear = mel * (200.0 / 3)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log_part, linear)


def mel_filters() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney-normed triangles, (40, 201)."""
    bins = np.linspace(0, RATE / 2, 1 + N_FFT // 2)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(RATE / 2.0)),
                                   N_MELS + 2))  # fmt: skip
    widths = np.diff(edges)
    ramps = edges[:, np.newaxis] - bins[np.newaxis, :]
    lower = -ramps[:-2] / widths[:-1, np.newaxis]
    upper = ramps[2:] / widths[1:, np.newaxis]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, np.newaxis]


_FILTERS = mel_filters()
_WINDOW = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann


def mel_spectrogram(audio16k: np.ndarray) -> np.ndarray:
    """(frames, 40) float32 mel power spectrogram of 16 kHz audio, as resemblyzer computes it."""
    padded = np.pad(audio16k.astype(np.float64), N_FFT // 2)
    count = 1 + (padded.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:count]
    power = np.abs(np.fft.rfft(frames * _WINDOW, axis=1)) ** 2
    return (power @ _FILTERS.T).astype(np.float32)
