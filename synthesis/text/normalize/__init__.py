"""Locale-aware English text normalization (written form -> spoken form) for the TTS engines.

    normalize("Dr. Ade paid ₦2,500.50 on 3/4/2025", "en-NG")
    -> "Doctor Ade paid two thousand five hundred naira and fifty kobo on the third of April
       twenty twenty five"

Pure Python, standard library only. Locales: en-US, en-GB, en-NG (anything else reads like
en-US).
"""

from __future__ import annotations

from .core import LOCALES, normalize
from .dates import DATE_FORMATS
from .say_as import SAY_AS_TYPES, say_as
from .symbols import MISREAD_SYMBOLS

__all__ = ["DATE_FORMATS", "LOCALES", "MISREAD_SYMBOLS", "SAY_AS_TYPES", "normalize", "say_as"]
