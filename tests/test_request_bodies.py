"""Request bodies are read as written, on every endpoint that takes one: a field the endpoint does
not declare is a 400 naming it (not quietly ignored: `"fromat": "wav"` answered MP3), and in
JSON a value of the wrong type is a 400 naming the field (not coerced: `{"text": 123}` was
spoken). The walk over the OpenAPI schema's operations means a new endpoint cannot forget it.
In-process: everything here is refused before any synthesis."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import MULTIPART_CONTENT

from synthesis.api.serializers import SpeechSerializer

pytestmark = pytest.mark.django_db

UNKNOWN = "zz_not_a_field"


def _schema() -> dict[str, Any]:
    return yaml.safe_load(Client().get("/v1/schema/").content)


def _operations_with_a_body(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(path, method, media type) of every operation that takes a request body."""
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if body:
                found.append((path, method, next(iter(body["content"]))))
    return found


def _send(client: Client, method: str, path: str, media: str, body: dict[str, Any]) -> Any:
    if media == "multipart/form-data":
        return getattr(client, method)(path, body, content_type=MULTIPART_CONTENT)
    return getattr(client, method)(path, body, content_type=media)


def test_every_operation_with_a_body_refuses_an_unknown_field_naming_it(api, tenant_a):
    client = api(tenant_a.api_key)
    preset = client.post(
        "/v1/voices", {"name": "Walk", "base_voice": "joe"}, content_type="application/json"
    ).json()
    dictionary = client.post(
        "/v1/pronunciations",
        {"name": "Walk", "entries": [{"word": "Ngozi", "alias": "En-go-zee"}]},
        content_type="application/json",
    ).json()
    # A path parameter of a new operation needs an object here: the test says which.
    objects = {"{voice_id}": preset["id"], "{dictionary_id}": dictionary["id"]}
    schema = _schema()
    operations = _operations_with_a_body(schema)
    assert len(operations) >= 7  # synthesize, speech, preview, voices, upload, patch, keys
    for path, method, media in operations:
        url = path
        for placeholder, value in objects.items():
            url = url.replace(placeholder, value)
        assert "{" not in url, f"give the test an object for {path}"
        answer = _send(client, method, url, media, {UNKNOWN: "1"})
        error = answer.json()["error"]
        assert (answer.status_code, error["param"]) == (400, UNKNOWN), (method, path, error)
        assert error["code"] in ("unknown_field", "unknown_parameter"), (method, path, error)
        assert UNKNOWN in error["message"]


def test_the_schema_says_request_bodies_take_no_other_fields():
    schema = _schema()
    components = schema["components"]["schemas"]
    for path, method, media in _operations_with_a_body(schema):
        operation = schema["paths"][path][method]
        ref = operation["requestBody"]["content"][media]["schema"]["$ref"]
        component = components[ref.rsplit("/", 1)[1]]
        assert component["additionalProperties"] is False, (method, path)


def test_a_misspelt_field_is_refused_with_the_field_it_resembles(api, tenant_a):
    answer = api(tenant_a.api_key).post(
        "/v1/synthesize", {"text": "Hello.", "fromat": "wav"}, content_type="application/json"
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("unknown_field", "fromat")
    assert error["message"] == "Unknown field 'fromat'; did you mean 'format'?"
    assert error["type"] == "invalid_request_error"


def test_a_field_like_none_lists_the_fields_the_endpoint_takes(api, tenant_a):
    answer = api(tenant_a.api_key).post(
        "/v1/text/preview", {"text": "Hello.", "colour": "blue"}, content_type="application/json"
    )
    error = answer.json()["error"]
    assert (answer.status_code, error["param"]) == (400, "colour")
    assert "text, ssml, voice, language, lenient_ssml" in error["message"]


@pytest.mark.parametrize(
    ("path", "body", "param", "message"),
    [
        ("/v1/text/preview", {"text": 123}, "text", "expected a string, but got an integer"),
        ("/v1/text/preview", {"ssml": ["<speak/>"]}, "ssml", "expected a string, but got an array"),
        ("/v1/text/preview", {"text": "hi", "lenient_ssml": "yes"}, "lenient_ssml", "a boolean"),
        ("/v1/text/preview", {"text": "hi", "voice": 7}, "voice", "expected a string"),
        ("/v1/text/preview", {"text": "hi", "language": 1}, "language", "expected a string"),
        ("/v1/synthesize", {"text": "hi", "speed": "1.5"}, "speed", "a number, but got a string"),
        ("/v1/synthesize", {"text": "hi", "stream": 0}, "stream", "a boolean, but got an integer"),
        ("/v1/synthesize", {"text": "hi", "sample_rate": "16000"}, "sample_rate", "an integer"),
        (
            "/v1/synthesize",
            {"text": "hi", "format": "pcm", "sample_rate": 16000.0},
            "sample_rate",
            "expected an integer, but got a decimal number",
        ),
        ("/v1/synthesize", {"text": "hi", "speed": True}, "speed", "a number, but got a boolean"),
        ("/v1/voices", {"name": "A", "base_voice": "joe", "speed": "1"}, "speed", "a number"),
        ("/v1/voices", {"name": "A", "base_voice": "joe", "is_default": 1}, "is_default", "bool"),
        ("/v1/voices", {"name": 5, "base_voice": "joe"}, "name", "expected a string"),
        ("/v1/keys", {"name": "k", "expires_in_days": "30"}, "expires_in_days", "an integer"),
        ("/v1/keys", {"name": "k", "scopes": ["synthesize", 1]}, "scopes", "'scopes[1]'"),
    ],
)
def test_a_json_value_of_the_wrong_type_is_refused_naming_the_field(
    api, tenant_a, path, body, param, message
):
    answer = api(tenant_a.api_key).post(path, body, content_type="application/json")
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_type", param)
    assert error["message"].startswith(f"Invalid type for '{param}")
    assert message in error["message"]


def test_a_patch_refuses_unknown_fields_and_wrong_types_and_changes_nothing(api, tenant_a):
    client = api(tenant_a.api_key)
    voice = client.post(
        "/v1/voices", {"name": "Patchy", "base_voice": "joe"}, content_type="application/json"
    ).json()
    path = f"/v1/voices/{voice['id']}"
    typo = client.patch(path, {"sped": 1.2}, content_type="application/json")
    assert (typo.status_code, typo.json()["error"]["param"]) == (400, "sped")
    assert "did you mean 'speed'?" in typo.json()["error"]["message"]
    wrong = client.patch(path, {"speed": "1.2"}, content_type="application/json")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, "invalid_type")
    assert client.get(path).json()["version"] == voice["version"]


def test_a_multipart_upload_still_reads_its_string_values(api, tenant_a):
    """Form fields are strings by nature: `consent=true` is not a wrong type. The clip is
    refused for what it is (too short), after the fields were read."""
    answer = api(tenant_a.api_key).post(
        "/v1/voices/upload",
        {
            "name": "Ada",
            "language": "en",
            "consent": "true",
            "file": SimpleUploadedFile("clip.wav", b"not audio", content_type="audio/wav"),
        },
    )
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["param"] == "file"


# --- the OpenAI-compatible endpoint -----------------------------------------------------------

OPENAI_BODY = {"model": "tts-1", "input": "Hello.", "voice": "alloy"}


def test_the_openai_endpoint_refuses_an_unknown_argument_as_openai_does(api, tenant_a):
    answer = api(tenant_a.api_key).post(
        "/v1/audio/speech", {**OPENAI_BODY, "fromat": "wav"}, content_type="application/json"
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["message"] == "Unrecognized request argument supplied: fromat"
    assert (error["type"], error["param"]) == ("invalid_request_error", "fromat")


def test_the_openai_endpoint_names_a_wrong_type_as_openai_does(api, tenant_a):
    answer = api(tenant_a.api_key).post(
        "/v1/audio/speech", {**OPENAI_BODY, "speed": "2"}, content_type="application/json"
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_type", "speed")
    assert (
        error["message"] == "Invalid type for 'speed': expected a number, but got a string instead."
    )


def test_every_field_openai_documents_for_speech_is_accepted():
    """OpenAI's reference for `POST /audio/speech`: model, input, voice (a name or a custom
    voice object `{"id"}`), instructions, response_format, speed, stream_format."""
    body = {
        "model": "gpt-4o-mini-tts",
        "input": "Hello.",
        "voice": {"id": "joe"},
        "instructions": "Speak warmly.",
        "response_format": "wav",
        "speed": 1,
        "stream_format": "audio",
    }
    serializer = SpeechSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["voice"] == "joe"
    assert serializer.validated_data["speed"] == 1.0
    odd = SpeechSerializer(data={**body, "voice": {"id": "joe", "name": "x"}})
    assert not odd.is_valid()
    assert str(odd.errors["voice"][0]) == "Unrecognized request argument supplied: voice.name"
