"""Deeply nested JSON is refused before it is parsed: a 400 `invalid_json` on every JSON
endpoint (the decoder recurses once per level and about 1,000 levels were a 500)."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from callwaiting_tts.parsers import MAX_JSON_DEPTH, JSONParser, JsonRefused, loads
from pronunciations.models import PronunciationDictionary
from tenants.db import tenant_schema
from voices.models import Voice

DEEP = "[" * 1000 + "]" * 1000  # about 2 KB


def nested(depth: int) -> str:
    return '{"a": ' * (depth - 1) + "[1]" + "}" * (depth - 1)


def test_it_takes_documents_up_to_the_limit():
    assert loads(nested(MAX_JSON_DEPTH)) is not None
    assert loads('{"text": "[[[[{{{{ brackets in a string \\" ]]", "n": [1, {"b": []}]}') == {
        "text": '[[[[{{{{ brackets in a string " ]]',
        "n": [1, {"b": []}],
    }


@pytest.mark.parametrize(
    "text",
    [
        DEEP,
        nested(MAX_JSON_DEPTH + 1),
        "[" * 100_000,  # never closed: the decoder would recurse before it noticed
        "{" * 40 + '"' + "]" * 40,
    ],
)
def test_it_refuses_what_nests_too_deep_or_cannot_balance(text):
    with pytest.raises(JsonRefused):
        loads(text)


def test_a_refusal_is_a_value_error_like_any_bad_json():
    assert issubclass(JsonRefused, ValueError)
    with pytest.raises(json.JSONDecodeError):
        loads("{'single': 'quotes'}")
    # An unterminated string of escapes: one linear pass, then the decoder refuses it.
    with pytest.raises(json.JSONDecodeError):
        loads('"' + '\\"' * 200_000)


# --- every JSON endpoint ------------------------------------------------------------------------


def _api_views() -> list[tuple[str, type[APIView]]]:
    """(route, view class) of every API view under /v1/."""
    found: list[tuple[str, type[APIView]]] = []

    def walk(patterns: list, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                view = getattr(entry.callback, "view_class", None)
                if isinstance(view, type) and issubclass(view, APIView):
                    found.append((prefix + str(entry.pattern), view))

    walk(get_resolver().url_patterns, "/")
    return [(route, view) for route, view in found if route.startswith("/v1/")]


def json_endpoints() -> list[tuple[str, str]]:
    """(method, route) of every API view method that parses a JSON body."""
    endpoints = []
    for route, view in _api_views():
        parsers = view().get_parsers()
        if not any(parser.media_type == "application/json" for parser in parsers):
            continue
        for method in ("post", "put", "patch"):
            if hasattr(view, method):
                endpoints.append((method, route))
    return endpoints


def test_the_json_endpoints_are_the_ones_expected():
    found = set(json_endpoints())
    assert ("post", "/v1/synthesize") in found
    assert ("patch", "/v1/voices/<str:voice_id>") in found
    assert len(found) >= 6


@pytest.mark.parametrize(("method", "route"), json_endpoints())
def test_every_json_endpoint_parses_with_the_bounded_parser(method, route):
    view = dict(_api_views())[route]
    for parser in view().get_parsers():
        if parser.media_type == "application/json":
            assert isinstance(parser, JSONParser)


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "route"), json_endpoints())
def test_a_deeply_nested_body_is_a_400_on_every_json_endpoint(api, tenant_a, method, route):
    with tenant_schema(tenant_a.tenant.schema_name):
        voice = Voice.objects.create(name="Deep", base_voice="joe")
        dictionary = PronunciationDictionary.objects.create(name="Deep")
    url = re.sub(r"<str:voice_id>", str(voice.pk), route)
    url = re.sub(r"<str:dictionary_id>", str(dictionary.pk), url)
    assert "<" not in url, f"no id to fill {url} with"
    client = api(tenant_a.api_key)
    response = getattr(client, method)(url, DEEP, content_type="application/json")
    assert response.status_code == 400, (url, response.content)
    error = response.json()["error"]
    assert error["code"] == "invalid_json"
    assert str(MAX_JSON_DEPTH) in error["message"]


@pytest.mark.django_db
def test_an_ordinary_body_still_parses(api, tenant_a):
    body = {"name": "Desk front", "base_voice": "joe", "description": "{[(" * 20}
    response = api(tenant_a.api_key).post(
        "/v1/voices", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["description"] == body["description"]
