"""XTTS v2 (coqui-tts): the GPU engine, in worker processes only.

config.py        the checks made before torch and coqui are imported; studio speaker ids
engine.py        XttsEngine: loading, stock voices, streaming
conditioning.py  cloned voices' conditioning: computed, stored as safetensors, loaded back
"""

from synthesis.engines.xtts.config import XttsConfigError, voice_slug
from synthesis.engines.xtts.engine import XttsEngine

__all__ = ["XttsConfigError", "XttsEngine", "voice_slug"]
