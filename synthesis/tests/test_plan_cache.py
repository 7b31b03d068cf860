"""Plans of repeated inputs kept in the process (`synthesis.plan_cache`): a repeated input is
planned once, its plan equal to a fresh one; anything that changes the reading is a new key."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import override_settings

from synthesis import services
from synthesis.plan_cache import MAX_INPUT_CHARACTERS, PlanCache, plan_key, plans
from synthesis.services import synthesis_admit, synthesis_finish
from synthesis.tests.test_usage_durability import http_input
from synthesis.text.lexicon import Dictionary, Entry, Lexicon
from synthesis.text.model import Plan, TextSegment
from tenants.auth import authenticate_api_key

pytestmark = pytest.mark.django_db(transaction=True)

GREETING = "Thanks for calling Riverside Dental. How can I help you today?"


@pytest.fixture
def who(make_tenant):
    return authenticate_api_key(make_tenant("plans").api_key)


@pytest.fixture
def planned(monkeypatch) -> list[str]:
    """The inputs the front-end was run on."""
    seen: list[str] = []
    real = services.plan_input

    def watched(data, **kwargs):
        seen.append(data.text or data.ssml)
        return real(data, **kwargs)

    monkeypatch.setattr(services, "plan_input", watched)
    return seen


async def _admitted_plan(who, text: str = GREETING, **overrides) -> Plan:
    synthesis = await synthesis_admit(
        principal=who, data=http_input(text, **overrides), request_id="plans"
    )
    await database_sync_to_async(synthesis_finish)(synthesis, status="cancelled")
    return synthesis.plan


async def test_a_repeated_input_is_planned_once_and_alike(who, planned) -> None:
    first = await _admitted_plan(who)
    second = await _admitted_plan(who)
    assert planned == [GREETING]
    assert second == first
    assert second.segments is not first.segments  # its own lists: nothing shared to mutate
    await _admitted_plan(who, language="en-GB")  # another locale reads differently
    await _admitted_plan(who, text=GREETING + " Bye.")
    assert len(planned) == 3


async def test_the_cache_can_be_turned_off(who, planned) -> None:
    with override_settings(TTS_PLAN_CACHE_ENTRIES=0):
        await _admitted_plan(who)
        await _admitted_plan(who)
    assert len(planned) == 2


def _key(lexicon: Lexicon | None = None, text: str = GREETING) -> object:
    return plan_key(
        text=text,
        ssml=None,
        language="en-US",
        lenient=False,
        engine="piper",
        max_characters=5000,
        lexicon=lexicon,
    )


def test_a_dictionary_edit_is_another_key_and_long_inputs_are_not_kept() -> None:
    before = Lexicon([Dictionary("d1", "en", (Entry("Riverside", alias="river side"),))])
    edited = Lexicon([Dictionary("d1", "en", (Entry("Riverside", alias="rivver side"),))])
    same = Lexicon([Dictionary("d1", "en", (Entry("Riverside", alias="river side"),))])
    assert _key(before) != _key(edited)
    assert _key(before) == _key(same)
    assert _key(None) != _key(before)
    assert _key(text="x" * (MAX_INPUT_CHARACTERS + 1)) is None


def test_the_least_recently_used_go_first() -> None:
    cache = PlanCache(2)
    plan = Plan(segments=[TextSegment(text="hi", source="hi", language="en-US")], characters=2)
    for name in ("a", "b"):
        cache.put(name, plan)
    assert cache.get("a") == plan  # a is now the most recent
    cache.put("c", plan)
    assert cache.get("b") is None
    assert cache.get("a") == plan
    assert len(cache) == 2
    taken = cache.get("a")
    assert taken is not None
    taken.segments.clear()
    assert cache.get("a") == plan  # a caller's change does not reach the kept plan
    assert plans() is plans()
