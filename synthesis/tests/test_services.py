"""The one admission path's pieces that callers cannot see from outside: the engine's own
segment limit on every path, and the one job builder."""

from __future__ import annotations

from dataclasses import replace

import pytest
from channels.db import database_sync_to_async

from billing import admission
from callwaiting_tts.errors import ApplicationError
from synthesis.engines import catalog
from synthesis.realtime.context import Context, TextUnit
from synthesis.realtime.messages import Options
from synthesis.services import (
    SynthesisInput,
    plan_input,
    synthesis_admit,
    synthesis_grow,
    synthesis_job,
    synthesis_plan_unit,
)
from tenants.auth import authenticate_api_key

pytestmark = pytest.mark.django_db(transaction=True)
LIMIT = 60


def growing(**overrides) -> SynthesisInput:
    values = {
        "text": None,
        "ssml": None,
        "voice": None,
        "language": None,
        "speed": 1.0,
        "output_format": "pcm",
        "sample_rate": 24000,
        "source": "websocket",
    }
    return SynthesisInput(**(values | overrides))


async def _nothing(_message) -> None:
    return None


async def _report_nothing(_error, _context_id) -> None:
    return None


@pytest.fixture
def tenant(make_tenant):
    """A tenant of this test: a transactional test's flush removes the session's tenants A and
    B from the public schema, so a key of theirs would be found only while it is cached."""
    return make_tenant("services")


@pytest.fixture
def short_segments(monkeypatch):
    """The joe voice's engine, as if its row allowed only LIMIT characters a segment."""
    monkeypatch.setitem(catalog.ENGINES, "piper", replace(catalog.PIPER, segment_chars=LIMIT))


async def test_a_socket_context_cuts_its_text_under_the_engines_own_limit(
    make_tenant, short_segments
):
    tenant = await database_sync_to_async(make_tenant)("seglimit")
    principal = await database_sync_to_async(authenticate_api_key)(tenant.api_key)
    synthesis = await synthesis_admit(principal=principal, data=growing(), request_id="req_1")
    try:
        context = Context(
            context_id="c",
            options=Options(),
            synthesis=synthesis,
            send=_nothing,
            report=_report_nothing,
            send_ahead_ms=1000,
        )
        text = "and then we talk about it " * 8  # 208 characters, no sentence end
        await synthesis_grow(synthesis, len(text))
        context.add(text)
        context.flush()
        units = []
        while not context.items.empty():
            item = context.items.get_nowait()
            assert isinstance(item, TextUnit)
            units.append(item.text)
        assert len(units) >= 4
        assert all(len(unit.strip()) <= LIMIT for unit in units)
        plan = await synthesis_plan_unit(synthesis, "We open at nine, we close at five. " * 4)
        assert plan is not None
        assert all(len(segment.text) <= LIMIT for segment in plan.segments)
        assert await synthesis_plan_unit(synthesis, "   ") is None  # nothing to say
    finally:
        assert synthesis.admission is not None
        await admission.settle(synthesis.admission, billed_characters=0)


def test_http_input_is_cut_under_the_engines_own_limit(tenant, short_segments):
    from voices.selectors import voice_resolve

    principal = authenticate_api_key(tenant.api_key)
    voice = voice_resolve(principal=principal, ref=None, language=None, source="http")
    text = "Please hold while I look that up for you, it will only take a moment. " * 3
    plan = plan_input(growing(text=text, source="http"), voice=voice)
    assert len(plan.segments) > 3
    assert all(len(segment.text) <= LIMIT for segment in plan.segments)


async def test_every_job_names_the_tenants_schema_and_its_synthesis(make_tenant):
    tenant = await database_sync_to_async(make_tenant)("jobs")
    principal = await database_sync_to_async(authenticate_api_key)(tenant.api_key)
    data = growing(text="Hello there.", speed=2.0, source="http")
    synthesis = await synthesis_admit(principal=principal, data=data, request_id="req_2")
    try:
        first = synthesis_job(synthesis, synthesis.plan)
        second = synthesis_job(synthesis, synthesis.plan)
        assert first.schema_name == principal.schema_name == tenant.tenant.schema_name
        assert first.meta == {
            "tenant": principal.tenant_slug,
            "synthesis": str(synthesis.id),
            "chars": [segment.chars for segment in synthesis.plan.segments],
        }
        assert first.job_id != second.job_id  # a job id is claimed once; units each have one
        assert [s.speed for s in first.segments] == [2.0]
        assert (first.engine, first.voice) == ("piper", "joe")
    finally:
        assert synthesis.admission is not None
        await admission.settle(synthesis.admission, billed_characters=0)


async def test_a_context_past_its_length_is_refused_and_nothing_is_counted(make_tenant):
    tenant = await database_sync_to_async(make_tenant)("grow")
    principal = await database_sync_to_async(authenticate_api_key)(tenant.api_key)
    synthesis = await synthesis_admit(principal=principal, data=growing(), request_id="req_3")
    try:
        await synthesis_grow(synthesis, synthesis.max_characters - 1)
        with pytest.raises(ApplicationError, match="at most") as refused:
            await synthesis_grow(synthesis, 2)
        assert refused.value.code == "input_too_long"
        assert synthesis.grown == synthesis.max_characters - 1
    finally:
        assert synthesis.admission is not None
        await admission.settle(synthesis.admission, billed_characters=0)


def _cloned_voice(tenant) -> str:
    from tenants.db import tenant_schema
    from voices.models import Voice

    with tenant_schema(tenant.tenant.schema_name):
        voice = Voice.objects.create(
            name="Clone",
            kind=Voice.Kind.CLONED,
            engine="xtts",
            language="en",
            status=Voice.Status.READY,
            version=3,
            conditioning_path=f"tenants/{tenant.tenant.schema_name}/voices/x/c.safetensors",
        )
    return str(voice.pk)


async def test_an_xtts_job_names_the_cloned_voices_conditioning_and_each_spans_language(
    make_tenant,
):
    tenant = await database_sync_to_async(make_tenant)("xttsjob")
    voice_id = await database_sync_to_async(_cloned_voice)(tenant)
    principal = await database_sync_to_async(authenticate_api_key)(tenant.api_key)
    ssml = (
        '<speak xml:lang="en-US">Your total is 12 dollars. '
        '<lang xml:lang="fr-FR">Merci, 12 euros.</lang></speak>'
    )
    data = growing(ssml=ssml, voice=voice_id, source="http")
    synthesis = await synthesis_admit(principal=principal, data=data, request_id="req_x")
    try:
        job = synthesis_job(synthesis, synthesis.plan)
        assert (job.engine, job.voice) == ("xtts", voice_id)
        assert job.conditioning is not None
        assert (job.conditioning.voice_id, job.conditioning.version) == (voice_id, 3)
        by_language = {s.language: s.text for s in job.segments}
        assert "twelve" in by_language["en"]  # the voice's English, read by our front-end
        assert by_language["fr-FR"] == "Merci, 12 euros."  # French is left to XTTS
    finally:
        assert synthesis.admission is not None
        await admission.settle(synthesis.admission, billed_characters=0)


def test_each_language_is_cut_under_its_own_xtts_limit(tenant):
    from voices.selectors import voice_resolve

    voice_id = _cloned_voice(tenant)
    principal = authenticate_api_key(tenant.api_key)
    voice = voice_resolve(principal=principal, ref=voice_id, language="zh-CN", source="http")
    text = "我们的诊所每天早上九点开门晚上五点关门如果您需要改约请随时给我们打电话" * 4
    plan = plan_input(growing(text=text, language="zh-CN", source="http"), voice=voice)
    assert len(plan.segments) > 1
    assert all(len(s.text) <= catalog.XTTS.segment_limit("zh") == 82 for s in plan.segments)
    english = voice_resolve(principal=principal, ref=voice_id, language="en", source="http")
    plan = plan_input(growing(text="Hello there. " * 30, source="http"), voice=english)
    assert all(len(s.text) <= 250 for s in plan.segments)


def test_piper_keeps_the_requests_english_tag_for_a_french_span(tenant):
    from synthesis.contract.plan import engine_segments
    from voices.selectors import voice_resolve

    principal = authenticate_api_key(tenant.api_key)
    voice = voice_resolve(principal=principal, ref="joe", language=None, source="http")
    ssml = '<speak>Hello. <lang xml:lang="fr-FR">Bonjour.</lang></speak>'
    plan = plan_input(growing(ssml=ssml, source="http"), voice=voice)
    segments = engine_segments(plan, language=voice.language, languages=catalog.PIPER.languages)
    assert {s.language for s in segments} == {"en-US"}
