"""OpenAPI: every operation documents the error responses it can give, in the one error shape,
so generated SDKs (and the OpenAI SDK) know the body of a 4xx/5xx."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from callwaiting_tts.serializers import InputSerializer


class ErrorDetailSerializer(serializers.Serializer[Any]):
    type = serializers.CharField(
        help_text="invalid_request_error, authentication_error, "
        "permission_error, not_found_error, rate_limit_error, api_error"
    )
    code = serializers.CharField(help_text="Machine-readable, e.g. invalid_api_key.")
    message = serializers.CharField()
    param = serializers.CharField(allow_null=True, help_text="The offending field, if any.")
    request_id = serializers.CharField(help_text="Also in the X-Request-ID header.")


class ErrorSerializer(serializers.Serializer[Any]):
    error = ErrorDetailSerializer()


_AUTHENTICATED = {
    "401": "Missing or invalid API key.",
    "403": "The key lacks the scope, or the tenant is suspended.",
    "429": "Too many requests or failed authentications.",
}
_WITH_BODY = {
    "400": "Invalid request.",
    "413": "Request body too large.",
    "415": "Unsupported content type.",
}
_WITH_QUERY = {"400": "Invalid query parameter."}


def _by_id(parameter: str, *operations: str) -> dict[str, Any]:
    return {
        f"{operation}_by_id": {
            "operationId": operation,
            "parameters": {parameter: "$response.body#/id"},
        }
        for operation in operations
    }


def _spoken_with(field: str, value: Any) -> dict[str, Any]:
    """A synthesis that uses the created object. Its body is the link's, not merged with a
    generated one (`x-schemathesis`, which SDK generators ignore): a fuzzed body would mostly
    be refused before the object is read, and the link is there to use it."""
    return {
        "operationId": "synthesize",
        "requestBody": {"text": "The fuzzer speaks.", field: value},
        "x-schemathesis": {"merge_body": False},
    }


_VOICE_LINKS = {
    # Not voices_preview: it plays a stock voice's sample, and a preset or clone has none.
    **_by_id("voice_id", "voices_retrieve", "voices_update", "voices_delete"),
    "synthesize_with_voice": _spoken_with("voice", "$response.body#/id"),
}
_DICTIONARY_LINKS = {
    **_by_id(
        "dictionary_id",
        "pronunciations_retrieve",
        "pronunciations_update",
        "pronunciations_export",
        "pronunciations_delete",
    ),
    "synthesize_with_dictionary": _spoken_with(
        "pronunciation_dictionaries", ["$response.body#/id"]
    ),
}
# OpenAPI links (operation id → status → links): what a created object's id can be used for
# next. Stateful fuzzing (tests/test_fuzz.py) follows them: create, read, change, use, delete.
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "voices_create": {"201": _VOICE_LINKS},
    "voices_upload": {"202": _VOICE_LINKS},
    "voices_retrieve": {"200": {"synthesize_with_voice": _VOICE_LINKS["synthesize_with_voice"]}},
    "voices_update": {"200": {"synthesize_with_voice": _VOICE_LINKS["synthesize_with_voice"]}},
    "pronunciations_create": {"201": _DICTIONARY_LINKS},
    "pronunciations_import": {"201": _DICTIONARY_LINKS},
    "keys_create": {"201": _by_id("key_id", "keys_retrieve", "keys_revoke")},
}


class ApiAutoSchema(AutoSchema):
    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        """A request body refuses fields it does not declare (`InputSerializer`): the schema
        says so, so that generated clients know."""
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        kind = serializer if isinstance(serializer, type) else type(serializer)
        if direction == "request" and issubclass(kind, InputSerializer):
            schema["additionalProperties"] = False
        return schema

    def _get_request_body(self, direction: Any = "request") -> dict[str, Any] | None:
        """Every POST reads a body. The synthesis inputs need `text` or `ssml`, which no single
        field's `required` says, so without this their generated clients take the body as
        optional."""
        body: dict[str, Any] | None = super()._get_request_body(direction)
        if body is not None and self.method == "POST":
            body["required"] = True
        return body

    def _get_parameters(self) -> list[dict[str, Any]]:
        # Read by `_get_response_bodies`, which `get_operation` calls after this.
        parameters: list[dict[str, Any]] = super()._get_parameters()
        self._reads_query = any(parameter["in"] == "query" for parameter in parameters)
        return parameters

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        errors: dict[str, str] = {"500": "Server error."}
        if self.get_auth():
            errors |= _AUTHENTICATED
        if getattr(self, "_reads_query", False):
            errors |= _WITH_QUERY
        if self.method in {"POST", "PUT", "PATCH"}:
            errors |= _WITH_BODY
        if "{" in self.path:
            errors["404"] = "Not found (also for another tenant's object)."
        for status, description in errors.items():
            if status not in responses:
                response = self._get_response_for_code(ErrorSerializer, status, direction=direction)
                responses[status] = {**response, "description": description}
        for status, links in LINKS.get(self.get_operation_id(), {}).items():
            responses[status]["links"] = links
        return _errors_as_json(responses)


def _errors_as_json(responses: dict[str, Any]) -> dict[str, Any]:
    """An error is the one JSON shape whatever the view renders on success (CSV, PLS, audio:
    `callwaiting_tts.errors` answers a `JsonResponse`); without this an endpoint's renderers
    would each be listed for its errors too (`text/csv` bodies of `Error`)."""
    for status, response in responses.items():
        content = response.get("content")
        if status[0] in "45" and content:
            response["content"] = {"application/json": next(iter(content.values()))}
    return responses
