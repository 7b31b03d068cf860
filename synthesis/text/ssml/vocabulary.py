"""The SSML the reader knows: elements, the attributes each takes, the words some attributes
choose from, and which names are vendor extensions (refused in strict mode, dropped in lenient).
"""

from __future__ import annotations

# The normalizer's own lists, so that <say-as> accepts exactly what `say_as` reads.
from synthesis.text.normalize import DATE_FORMATS as DATE_FORMATS
from synthesis.text.normalize import SAY_AS_TYPES as SAY_AS_TYPES

SSML_NAMESPACE = "http://www.w3.org/2001/10/synthesis"
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"

TIME_FORMATS = frozenset({"hms12", "hms24"})
ALPHABETS = frozenset({"ipa", "x-sampa"})
EMPHASIS_LEVELS = frozenset({"strong", "moderate", "reduced", "none"})
VOICE_GENDERS = frozenset({"male", "female", "neutral"})
FETCH_HINTS = frozenset({"prefetch", "safe"})

VENDOR_PREFIXES = frozenset({"amazon", "alexa", "google", "mstts"})
VENDOR_ELEMENTS = frozenset({"par", "seq", "media"})

# Attributes each SSML element takes (besides xmlns declarations and xml:id, which any takes).
ATTRIBUTES: dict[str, frozenset[str]] = {
    "speak": frozenset({"version", "xml:lang", "xml:base", "onlangfailure", "xsi:schemaLocation"}),
    "p": frozenset({"xml:lang"}),
    "s": frozenset({"xml:lang"}),
    "break": frozenset({"time", "strength"}),
    "prosody": frozenset({"rate", "pitch", "volume", "duration", "contour", "range"}),
    "emphasis": frozenset({"level"}),
    "say-as": frozenset({"interpret-as", "format", "detail"}),
    "sub": frozenset({"alias"}),
    "phoneme": frozenset({"alphabet", "ph"}),
    "lang": frozenset({"xml:lang", "onlangfailure"}),
    "voice": frozenset(
        {
            "name",
            "gender",
            "age",
            "variant",
            "languages",
            "language",
            "xml:lang",
            "required",
            "ordering",
            "onvoicefailure",
        }
    ),
    "mark": frozenset({"name"}),
    "audio": frozenset(
        {
            "src",
            "fetchtimeout",
            "fetchhint",
            "maxage",
            "maxstale",
            "clipBegin",
            "clipEnd",
            "repeatCount",
            "repeatDur",
            "soundLevel",
            "speed",
        }
    ),
    "desc": frozenset({"xml:lang"}),
    "token": frozenset({"role", "xml:lang"}),
    "w": frozenset({"role", "xml:lang"}),
    "meta": frozenset({"name", "http-equiv", "content"}),
    "metadata": frozenset(),
    "lexicon": frozenset({"uri", "type", "fetchtimeout", "fetchhint", "maxage", "maxstale"}),
    "lookup": frozenset({"ref"}),
}
PROSODY_ATTRIBUTES = ATTRIBUTES["prosody"]
HEAD_ELEMENTS = frozenset({"meta", "metadata", "lexicon"})
LANG_FAILURE = frozenset({"changevoice", "ignoretext", "ignorelang", "processorchoice"})
VOICE_FAILURE = frozenset({"priorityselect", "keepexisting", "processorchoice"})
VOICE_FEATURES = frozenset({"name", "languages", "language", "gender", "age", "variant"})
