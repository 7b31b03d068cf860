from __future__ import annotations

import io
import json
import logging

import pytest
from django.test import Client, override_settings

from callwaiting_tts.logs import JsonFormatter

pytestmark = pytest.mark.django_db

PRESET = {"name": "Desk", "base_voice": "joe"}


def assert_shape(response, status, code=None, type_=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"type", "code", "message", "param", "request_id"}
    assert error["message"]
    assert error["request_id"] == response["X-Request-ID"]
    if code:
        assert error["code"] == code
    if type_:
        assert error["type"] == type_
    return error


def test_validation_error_names_the_param(api, tenant_a):
    response = api(tenant_a.api_key).post(
        "/v1/voices", {"base_voice": "joe"}, content_type="application/json"
    )
    error = assert_shape(response, 400, type_="invalid_request_error")
    assert error["param"] == "name"


def test_401_403_404_405_shapes(api, tenant_a):
    assert_shape(Client().get("/v1/voices"), 401, "missing_api_key", "authentication_error")
    reader = api(tenant_a.key_with("voices:read"))
    assert_shape(
        reader.post("/v1/voices", PRESET, content_type="application/json"),
        403,
        "insufficient_scope",
        "permission_error",
    )
    assert_shape(
        reader.get("/v1/voices/00000000-0000-0000-0000-000000000000"),
        404,
        "not_found",
        "not_found_error",
    )
    assert_shape(
        reader.patch("/v1/voices", {}, content_type="application/json"), 405, "method_not_allowed"
    )


def test_406_for_an_unservable_accept(api, tenant_a):
    response = api(tenant_a.api_key).get("/v1/voices", headers={"Accept": "text/csv"})
    assert_shape(response, 406, "not_acceptable")


def test_413_for_a_declared_oversized_body(api, tenant_a):
    with override_settings(API_MAX_BODY_BYTES=64):
        response = api(tenant_a.api_key).post(
            "/v1/voices", {**PRESET, "description": "x" * 100}, content_type="application/json"
        )
    assert_shape(response, 413, "request_too_large")


def test_413_when_the_body_exceeds_djangos_upload_limit(api, tenant_a):
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=64):
        response = api(tenant_a.api_key).post(
            "/v1/voices", {**PRESET, "description": "x" * 100}, content_type="application/json"
        )
    assert_shape(response, 413, "request_too_large")


def test_unknown_routes_answer_404_in_the_shape():
    assert_shape(Client().get("/v1/nothing-here"), 404, "not_found")
    assert_shape(Client().post("/nothing-here", {}), 404, "not_found")


@pytest.mark.urls("callwaiting_tts.tests.urls_failing")
@pytest.mark.parametrize("path", ["/v1/failing-api", "/failing-django"])
def test_unhandled_exceptions_answer_500_without_a_traceback(path):
    response = Client(raise_request_exception=False).get(path)
    error = assert_shape(response, 500, "internal_error", "api_error")
    assert b"secret-db-password" not in response.content
    assert b"Traceback" not in response.content
    assert error["param"] is None


@pytest.mark.urls("callwaiting_tts.tests.urls_failing")
def test_unhandled_exceptions_answer_json_even_in_debug(settings):
    settings.DEBUG = True
    response = Client(raise_request_exception=False).get("/v1/failing-api")
    assert_shape(response, 500, "internal_error")
    assert b"secret-db-password" not in response.content


def test_a_valid_request_id_is_kept_and_an_invalid_one_replaced(api, tenant_a):
    client = api(tenant_a.api_key)
    assert (
        client.get("/v1/me", headers={"X-Request-ID": "abc-123.x"})["X-Request-ID"] == "abc-123.x"
    )
    replaced = client.get("/v1/me", headers={"X-Request-ID": "bad id\n<script>"})["X-Request-ID"]
    assert replaced.startswith("req_")
    assert Client().get("/v1/health/live")["X-Request-ID"].startswith("req_")
    error = assert_shape(Client().get("/v1/me", headers={"X-Request-ID": "mine-1"}), 401)
    assert error["request_id"] == "mine-1"


def test_logs_are_json_lines_with_request_id_and_tenant(api, tenant_a):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("voices.services")
    logger.addHandler(handler)
    try:
        response = api(tenant_a.api_key).post(
            "/v1/voices",
            PRESET,
            content_type="application/json",
            headers={"X-Request-ID": "log-test-1"},
        )
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 201
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "voice created"
    assert line["request_id"] == "log-test-1"
    assert line["tenant"] == tenant_a.tenant.slug
    assert line["voice_id"] == response.json()["id"]
    assert line["level"] == "INFO"


def test_it_answers_503_with_retry_after_when_redis_is_out_of_reach(api, tenant_a, settings):
    """The key's record is read through the Redis cache: with Redis gone the request may succeed
    when repeated, so the answer is 503 `service_unavailable`, not 500 (chaos/ found the 500)."""
    from devstack.redis_server import free_port

    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    caches = {"default": {**settings.CACHES["default"], "LOCATION": closed}}
    with override_settings(CACHES=caches):
        response = api(tenant_a.api_key).get("/v1/voices")
    assert_shape(response, 503, "service_unavailable", "api_error")
    assert response["Retry-After"] == "2"
