"""What an XTTS worker checks before it imports torch or coqui: the licence, the checkpoint
directory, the device and the dtype, so a misconfigured worker fails in a moment with a message
that says what to fix; and the ids of the checkpoint's studio speakers."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

REQUIRED_FILES = ("model.pth", "config.json", "vocab.json", "speakers_xtts.pth")
LICENCE = (
    "The XTTS v2 weights are under the Coqui Public Model License (non-commercial use only, "
    "https://coqui.ai/cpml): the operator must hold the rights to use them. Set "
    "COQUI_TOS_AGREED=1 to confirm."
)
DTYPES = ("fp32", "fp16", "bf16")
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


class XttsConfigError(RuntimeError):
    """The XTTS engine cannot start as configured (licence, files, device, dtype)."""


def check_settings(model_path: str, device: str, dtype: str, stream_chunk_size: int) -> Path:
    """The checks that need neither torch nor coqui: the model directory it names."""
    if os.environ.get("COQUI_TOS_AGREED") != "1":
        raise XttsConfigError(LICENCE)
    if dtype not in DTYPES:
        raise XttsConfigError(f"XTTS_DTYPE must be one of {', '.join(DTYPES)}, not {dtype!r}")
    if not _DEVICE.fullmatch(device):
        raise XttsConfigError(f"XTTS_DEVICE must be auto, cpu, cuda or cuda:N, not {device!r}")
    if stream_chunk_size < 1:
        raise XttsConfigError(f"XTTS_STREAM_CHUNK_SIZE must be at least 1, not {stream_chunk_size}")
    fetch = "run `manage.py fetch_xtts_model DIR` and set TTS_MODEL_PATH=DIR"
    if not model_path:
        raise XttsConfigError(f"TTS_MODEL_PATH is not set: {fetch}")
    directory = Path(model_path)
    if not directory.is_dir():
        raise XttsConfigError(f"TTS_MODEL_PATH {directory} is not a directory: {fetch}")
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise XttsConfigError(f"{directory} lacks {', '.join(missing)}: {fetch}")
    return directory


def resolve_device(device: str, dtype: str) -> torch.device:
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise XttsConfigError(f"XTTS_DEVICE is {device} but torch sees no CUDA device")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise XttsConfigError(
                f"XTTS_DEVICE is {device} but torch sees {torch.cuda.device_count()} device(s)"
            )
        if dtype == "bf16" and not torch.cuda.is_bf16_supported():
            raise XttsConfigError("this GPU has no bf16: set XTTS_DTYPE to fp16 or fp32")
    elif dtype == "fp16":
        raise XttsConfigError("fp16 needs a GPU: on a CPU set XTTS_DTYPE to bf16 or fp32")
    return resolved


def voice_slug(name: str) -> str:
    """A studio speaker's voice id: "Claribel Dervla" → "claribel-dervla". Accents are dropped
    ("Camilla Holmström" → "camilla-holmstrom"); runs of anything but letters and digits
    become one "-"."""
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
    ).lower()
    return "-".join("".join(c if c.isalnum() else " " for c in folded).split())
