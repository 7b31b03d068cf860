"""Pronunciation dictionaries heard: daphne, a real worker process, real Piper audio. A word with
an alias sounds exactly as the alias written in its place; a word with phonemes exactly as the
same word in an SSML <phoneme>; and both differ from the word read by default. Over HTTP, the
OpenAI-compatible endpoint and the socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.synth import context_audio, post
from tests.test_realtime import _server_done_with_its_sockets  # noqa: F401  (autouse)

pytestmark = pytest.mark.django_db(transaction=True)

RAW_PCM = {"format": "pcm", "sample_rate": 22050}
NAME = "Please hold for Ngozi."
SAID = "Please hold for En-go-zee."  # NAME with the alias in its place
NGOZI = {"word": "Ngozi", "alias": "En-go-zee"}
NNAMDI_IPA = "nˈɑːmdi"


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("lexicon")


def dictionary(service, key: str, **body: Any) -> str:
    answer = post(
        service.url,
        "/v1/pronunciations",
        key,
        {"name": "Names", "entries": [NGOZI, {"word": "Nnamdi", "phonemes": NNAMDI_IPA}], **body},
    )
    assert answer.status == 201, answer.body
    return str(answer.json()["id"])


def speak(service, key: str, path: str = "/v1/synthesize", **body: Any) -> bytes:
    answer = post(service.url, path, key, {**RAW_PCM, **body} if path == "/v1/synthesize" else body)
    assert answer.status == 200, answer.body
    assert answer.body
    return answer.body


def test_http_synthesis_says_the_alias_and_the_phonemes(service, tenant, tts_worker):
    key = tenant.api_key
    named = [dictionary(service, key)]
    with_alias = speak(service, key, text=NAME, pronunciation_dictionaries=named)
    assert with_alias == speak(service, key, text=SAID, pronunciation_dictionaries=[])
    assert with_alias != speak(service, key, text=NAME, pronunciation_dictionaries=[])

    with_phonemes = speak(service, key, text="Call Nnamdi now.", pronunciation_dictionaries=named)
    ssml = f'<speak>Call <phoneme alphabet="ipa" ph="{NNAMDI_IPA}">Nnamdi</phoneme> now.</speak>'
    assert with_phonemes == speak(service, key, ssml=ssml, pronunciation_dictionaries=[])
    assert with_phonemes != speak(service, key, text="Call Nnamdi now.")  # no default


def test_the_openai_endpoint_uses_the_tenants_default_dictionary(service, tenant, tts_worker):
    key = tenant.api_key
    dictionary(service, key, is_default=True)
    body = {"model": "tts-1", "voice": "alloy", "response_format": "pcm"}
    by_default = speak(service, key, "/v1/audio/speech", input=NAME, **body)
    direct = speak(service, key, "/v1/audio/speech", input=SAID, **body)
    unread = speak(
        service, key, "/v1/audio/speech", input=NAME, pronunciation_dictionaries=[], **body
    )
    assert by_default == direct
    assert by_default != unread


def test_another_tenants_dictionary_is_not_found_by_a_synthesis(service, make_tenant):
    owner, outsider = make_tenant("lexicon-own"), make_tenant("lexicon-out")
    theirs = [dictionary(service, owner.api_key)]
    for path, body in (
        ("/v1/synthesize", {"text": NAME}),
        ("/v1/audio/speech", {"model": "tts-1", "voice": "alloy", "input": NAME}),
    ):
        answer = post(
            service.url, path, outsider.api_key, {**body, "pronunciation_dictionaries": theirs}
        )
        assert answer.status == 404, answer.body
        error = answer.error()
        assert (error["code"], error["param"]) == ("not_found", "pronunciation_dictionaries")


async def test_socket_contexts_use_the_default_or_the_named_dictionaries(
    service, make_tenant, tts_worker
):
    from channels.db import database_sync_to_async

    tenant = await database_sync_to_async(make_tenant)("lexicon-ws")
    outsider = await database_sync_to_async(make_tenant)("lexicon-out")
    key = tenant.api_key
    await asyncio.to_thread(dictionary, service, key, is_default=True)
    theirs = await asyncio.to_thread(dictionary, service, outsider.api_key)
    headers = {"X-API-Key": key}
    async with connect(f"{service.ws_url}/v1/stream", additional_headers=headers) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        by_default, done = await context_audio(ws, "a", text=NAME)
        assert done["type"] == "done"
        assert done["characters"] == len(NAME)  # billed as written, not as said
        direct, _ = await context_audio(ws, "b", text=SAID, pronunciation_dictionaries=[])
        unread, _ = await context_audio(ws, "c", text=NAME, pronunciation_dictionaries=[])
        assert by_default == direct
        assert by_default != unread

        start = {"type": "start", "context_id": "d", "text": NAME}
        await ws.send(json.dumps({**start, "pronunciation_dictionaries": [theirs]}))
        refused = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert (refused["type"], refused["context_id"]) == ("error", "d")
        assert refused["error"]["code"] == "not_found"
        assert refused["error"]["param"] == "pronunciation_dictionaries"
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"
