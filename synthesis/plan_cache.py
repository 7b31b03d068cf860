"""The text front-end's plans of inputs said again and again, kept in the process.

The front-end is a pure function of its arguments (the text or SSML, the locale, leniency, the
engine's segment limit, the input limit and the pronunciation dictionaries' entries), and an
agent sends the same greeting thousands of times: a repeated input gets its plan from here, on
the event loop, instead of a thread round trip and the front-end's CPU (about 0.6 ms of a
phrase-cache hit's first audio here, docs/phrase-cache.md). A least-recently-used map of at most
`TTS_PLAN_CACHE_ENTRIES` plans (0: off) of inputs up to `MAX_INPUT_CHARACTERS`; what is not
planned (an error) is not kept. A dictionary edit changes its entries, so the key: nothing to
invalidate. A plan handed out is a copy whose lists are its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import replace

from django.conf import settings

from synthesis.text.lexicon import Lexicon
from synthesis.text.model import Plan

# Longer inputs are rarely repeated word for word, and would crowd the map.
MAX_INPUT_CHARACTERS = 2000


class PlanCache:
    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._plans: OrderedDict[Hashable, Plan] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable | None) -> Plan | None:
        if key is None:
            return None
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                return None
            self._plans.move_to_end(key)
        return _copy(plan)

    def put(self, key: Hashable | None, plan: Plan) -> None:
        if key is None or self.entries <= 0:
            return
        with self._lock:
            self._plans[key] = _copy(plan)
            self._plans.move_to_end(key)
            while len(self._plans) > self.entries:
                self._plans.popitem(last=False)

    def __len__(self) -> int:
        return len(self._plans)

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()


def _copy(plan: Plan) -> Plan:
    return replace(plan, segments=list(plan.segments), warnings=list(plan.warnings))


def plan_key(
    *,
    text: str | None,
    ssml: str | None,
    language: str,
    lenient: bool,
    engine: str,
    max_characters: int | None,
    lexicon: Lexicon | None,
) -> Hashable | None:
    """Everything the plan depends on; None when it is not to be kept (too long, or a
    dictionary that cannot be hashed)."""
    source = text if text is not None else ssml
    if source is None or len(source) > MAX_INPUT_CHARACTERS:
        return None
    key = (
        text,
        ssml,
        language,
        lenient,
        engine,
        max_characters,
        lexicon.dictionaries if lexicon is not None else None,
    )
    try:
        hash(key)
    except TypeError:
        return None
    return key


_PLANS: PlanCache | None = None


def plans() -> PlanCache:
    """The process's plan cache (sized by the settings when first used)."""
    global _PLANS
    if _PLANS is None or _PLANS.entries != settings.TTS_PLAN_CACHE_ENTRIES:
        _PLANS = PlanCache(settings.TTS_PLAN_CACHE_ENTRIES)
    return _PLANS
