"""A safe SSML 1.1 reader: document → `Item`s (see `synthesis.text.model`).

    parse_ssml(document, lenient=False, limits=DEFAULT_LIMITS, max_characters=None)
        -> ParsedSsml

Strict mode (the default) rejects anything it cannot honour: unknown elements and attributes,
unparseable or out-of-range values, elements in the wrong place, and vendor extensions
(`amazon:*`, `alexa:*`, `google:*`, `mstts:*`, `<par>`, `<seq>`, `<media>`: `ssml_unsupported`).
Lenient mode drops unknown and vendor elements (their text is still spoken) and ignores invalid
attributes, with a warning for each; malformed XML and the limits still raise.
With `max_characters` (the caller's input limit) the reading stops with `InputTooLong` at the
span whose billed characters pass it, and the size limit follows it (`ssml_max_bytes`).
The tenant-facing reference is docs/ssml.md. Pure Python, standard library only.

One layer a file, each importing only those listed before it:

    errors      SsmlError, Limits, the size limit for a character limit
    vocabulary  element and attribute names, vendor names, say-as types and formats
    values      attribute values: parsed and checked
    document    open elements' frames; the items, warnings and counts produced so far
    elements    what each element does to the items
    reader      expat, the safety limits, positions of errors, the stack of open elements
"""

from __future__ import annotations

from .errors import (
    BYTES_PER_CHARACTER,
    DEFAULT_LIMITS,
    MARKUP_BYTES,
    Limits,
    SsmlError,
    ssml_max_bytes,
)
from .reader import ParsedSsml, looks_like_ssml, parse_ssml
from .values import BREAK_STRENGTH_MS
from .vocabulary import ALPHABETS, DATE_FORMATS, SAY_AS_TYPES

__all__ = [
    "ALPHABETS",
    "BREAK_STRENGTH_MS",
    "BYTES_PER_CHARACTER",
    "DATE_FORMATS",
    "DEFAULT_LIMITS",
    "MARKUP_BYTES",
    "SAY_AS_TYPES",
    "Limits",
    "ParsedSsml",
    "SsmlError",
    "looks_like_ssml",
    "parse_ssml",
    "ssml_max_bytes",
]
