from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    assert schema["openapi"].startswith("3.")
    assert {
        "/v1/health",
        "/v1/health/live",
        "/v1/me",
        "/v1/voices",
        "/v1/voices/{voice_id}",
    } <= set(schema["paths"])


def test_the_schema_declares_the_api_key_and_precise_parsers():
    schema = yaml.safe_load(Client().get("/v1/schema/").content)
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    assert schema["paths"]["/v1/voices"]["get"]["security"] == [{"ApiKeyAuth": []}]
    create = schema["paths"]["/v1/voices"]["post"]["requestBody"]["content"]
    assert list(create) == ["application/json"]
    assert "requestBody" not in schema["paths"]["/v1/voices/{voice_id}"]["delete"]
    assert schema["paths"]["/v1/health"]["get"].get("security") in (None, [])


def test_every_operation_documents_its_errors_in_the_error_shape():
    schema = yaml.safe_load(Client().get("/v1/schema").content)
    error = schema["components"]["schemas"]["ErrorDetail"]
    assert set(error["properties"]) == {"type", "code", "message", "param", "request_id"}
    create = schema["paths"]["/v1/voices"]["post"]["responses"]
    assert {"400", "401", "403", "409", "413", "415", "429", "500"} <= set(create)
    body = create["409"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Error"}
    assert "404" in schema["paths"]["/v1/voices/{voice_id}"]["get"]["responses"]
    assert "401" not in schema["paths"]["/v1/health"]["get"]["responses"]


def test_swagger_ui_is_served_from_local_static_files():
    response = Client().get("/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html
    assert "unpkg.com" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html


def test_the_schema_says_what_generated_clients_need_to_read_each_answer():
    """sdk/: the generators type a body by its declared media type and its errors by status."""
    schema = yaml.safe_load(Client().get("/v1/schema").content)
    paths = schema["paths"]
    native = paths["/v1/synthesize"]["post"]
    audio = {
        k: v for k, v in native["responses"]["200"]["content"].items() if k != "text/event-stream"
    }
    assert {"audio/wav", "audio/mpeg", "audio/ogg", "audio/basic", "audio/x-alaw-basic"} <= set(
        audio
    )
    assert all(v["schema"] == {"type": "string", "format": "binary"} for v in audio.values())
    speech = paths["/v1/audio/speech"]["post"]["responses"]["200"]["content"]
    assert "audio/basic" not in speech  # OpenAI's formats only
    # `text` or `ssml` is needed, which no one field's `required` says.
    assert native["requestBody"]["required"] is True
    assert paths["/v1/text/preview"]["post"]["requestBody"]["required"] is True
    assert "required" not in paths["/v1/voices/{voice_id}"]["patch"]["requestBody"]
    # A CSV or PLS endpoint's errors are still the JSON error; a bad query parameter is a 400.
    usage = paths["/v1/usage"]["get"]["responses"]
    assert list(usage["200"]["content"]) == ["application/json", "text/csv"]
    assert list(usage["400"]["content"]) == ["application/json"]
    assert list(usage["401"]["content"]) == ["application/json"]
    pls = paths["/v1/pronunciations/{dictionary_id}/pls"]["get"]["responses"]
    assert list(pls["404"]["content"]) == ["application/json"]
    assert "400" not in paths["/v1/voices"]["get"]["responses"]
