"""The languages a request may name: one list for every entry point (`POST /v1/synthesize` and
`/v1/text/preview`, the socket's `start`, voice presets and uploads, `manage.py clone_voice`,
the portal) and for the OpenAPI schema's enum (`callwaiting_tts.serializers.LanguageField`).

Derived, never written out: every language of the engine table (`synthesis.engines.catalog`,
whichever workers run, so the schema does not change with the deployment), each followed by
the regional tags the text front-end reads apart (English: en-US, en-GB, en-NG and the regions
read like en-GB, `synthesis.text.model.ENGLISH_TAGS`) or its engine names itself (XTTS's
`zh-cn`). A tag is matched in any case (`en-au`, `en_AU`) and kept as listed (`en-AU`).

Being listed is not being spoken: whether a voice speaks a language is the voice's answer at run
time (`voices.selectors.voice_resolve`: 400 `unsupported_language` naming both), so `es` with
the Piper voice is a clear refusal, not an unknown value. SSML's `xml:lang` is not held to this
list: SSML lets a document mark any span's language; a span in a language the engine does not
speak is read in the request's (docs/text-frontend.md). Pure: no Django.
"""

from __future__ import annotations

from synthesis.engines.catalog import ENGINES
from synthesis.text.model import ENGLISH_TAGS

# The regional tags listed under a language: the front-end's, and an engine's own names.
_REGIONAL = {"en": ENGLISH_TAGS, "zh": ("zh-CN",)}  # XTTS v2 names its Chinese `zh-cn`


def _languages() -> tuple[str, ...]:
    primaries = dict.fromkeys(language for spec in ENGINES.values() for language in spec.languages)
    return tuple(tag for language in primaries for tag in (language, *_REGIONAL.get(language, ())))


LANGUAGES: tuple[str, ...] = _languages()
_BY_KEY = {tag.lower(): tag for tag in LANGUAGES}


def request_language(value: object) -> str:
    """The listed tag `value` names (any case, `_` for `-`); ValueError naming the list for
    anything else."""
    if isinstance(value, str):
        found = _BY_KEY.get(value.strip().replace("_", "-").lower())
        if found is not None:
            return found
    shown = repr(value)[:40]
    raise ValueError(f"Unknown language {shown}: use one of {', '.join(LANGUAGES)}.")
