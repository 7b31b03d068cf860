from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from callwaiting_tts.redis import get_redis, key
from tenants.audit import Actor
from tenants.auth import forget_key
from tenants.db import tenant_connection
from tenants.models import ApiKey, AuditLog
from tenants.services import api_key_revoke, tenant_reactivate, tenant_suspend

pytestmark = pytest.mark.django_db


def error_of(response, status):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"type", "code", "message", "param", "request_id"}
    return error


def test_it_accepts_the_key_in_each_supported_header(tenant_a):
    for header in (
        {"Authorization": f"Bearer {tenant_a.api_key}"},
        {"Authorization": f"bearer   {tenant_a.api_key}  "},
        {"X-API-Key": tenant_a.api_key},
        {"xi-api-key": tenant_a.api_key},
    ):
        response = Client(headers=header).get("/v1/me")
        assert response.status_code == 200, (header, response.content)
        assert response.json()["tenant"]["slug"] == tenant_a.tenant.slug


def test_me_names_the_tenant_key_and_scopes(api, tenant_a):
    raw = tenant_a.key_with("voices:read", "synthesize")
    body = api(raw).get("/v1/me").json()
    assert body["tenant"] == {
        "id": tenant_a.tenant.pk,
        "slug": tenant_a.tenant.slug,
        "name": tenant_a.tenant.name,
    }
    assert body["api_key"]["prefix"] == raw.split("_")[1]
    assert body["api_key"]["scopes"] == ["synthesize", "voices:read"]
    assert body["api_key"]["expires_at"] is None


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_authorization_header"),
        ({"Authorization": "Bearer"}, "invalid_authorization_header"),
        ({"Authorization": "Bearer not-a-key"}, "invalid_api_key"),
        ({"Authorization": "Bearer " + "x" * 5000}, "invalid_api_key"),
        ({"X-API-Key": "cw_zzzzzzzzzzzz_" + "a" * 43}, "invalid_api_key"),
        ({"xi-api-key": "cw_\u00e9\u00e9\u00e9_garbled"}, "invalid_api_key"),
    ],
)
def test_it_refuses_missing_garbled_and_unknown_keys_with_401(tenant_a, headers, code):
    response = Client(headers=headers).get("/v1/me")
    error = error_of(response, 401)
    assert error["code"] == code
    assert error["type"] == "authentication_error"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_the_right_prefix_with_a_wrong_secret(api, tenant_a):
    prefix = tenant_a.api_key.split("_")[1]
    error = error_of(api(f"cw_{prefix}_{'A' * 43}").get("/v1/me"), 401)
    assert error["code"] == "invalid_api_key"
    assert tenant_a.api_key not in error["message"]


def test_a_revoked_key_is_refused_on_the_next_request(api, tenant_a):
    raw = tenant_a.key_with("voices:read")
    client = api(raw)
    assert client.get("/v1/voices").status_code == 200  # warms the cached key record
    api_key_revoke(api_key=ApiKey.objects.get(prefix=raw.split("_")[1]), by=Actor.system())
    assert error_of(client.get("/v1/voices"), 401)["code"] == "api_key_revoked"


def test_an_expired_key_is_refused(api, tenant_a):
    raw = tenant_a.key_with("voices:read", expires_at=timezone.now() + timedelta(hours=1))
    assert api(raw).get("/v1/me").status_code == 200
    ApiKey.objects.filter(prefix=raw.split("_")[1]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    forget_key(raw.split("_")[1])
    assert error_of(api(raw).get("/v1/me"), 401)["code"] == "api_key_expired"


def test_a_suspended_tenants_keys_get_403_until_reactivated(api, tenant_a):
    client = api(tenant_a.api_key)
    assert client.get("/v1/me").status_code == 200
    tenant_suspend(tenant=tenant_a.tenant, by=Actor.system())
    error = error_of(client.get("/v1/me"), 403)
    assert error["code"] == "tenant_suspended"
    assert error["type"] == "permission_error"
    tenant_reactivate(tenant=tenant_a.tenant, by=Actor.system())
    assert client.get("/v1/me").status_code == 200


def test_authentication_writes_nothing_to_the_database(api, tenant_a, django_assert_num_queries):
    client = api(tenant_a.api_key)
    client.get("/v1/me")  # warm the cache
    audits = AuditLog.objects.count()
    with django_assert_num_queries(0):
        assert client.get("/v1/me").status_code == 200
    assert AuditLog.objects.count() == audits


def test_failed_attempts_write_nothing(tenant_a):
    audits, keys = AuditLog.objects.count(), ApiKey.objects.count()
    Client(headers={"Authorization": "Bearer nope"}).post(
        "/v1/voices", {}, content_type="application/json"
    )
    assert (AuditLog.objects.count(), ApiKey.objects.count()) == (audits, keys)


def test_last_used_is_buffered_in_redis_not_written_per_request(api, tenant_a):
    raw = tenant_a.key_with("voices:read")
    prefix = raw.split("_")[1]
    api(raw).get("/v1/me")
    api_key = ApiKey.objects.get(prefix=prefix)
    assert api_key.last_used_at is None
    assert get_redis().hget(key("apikey", "last_used"), str(api_key.pk)) is not None


@pytest.mark.usefixtures("one_brake_window")
@override_settings(AUTH_FAILURE_LIMIT_PER_MINUTE=3)
def test_repeated_failures_from_one_address_get_429(api, tenant_a):
    bad = Client(headers={"Authorization": "Bearer cw_aaaaaaaaaaaa_" + "b" * 43})
    for _ in range(3):
        assert bad.get("/v1/me").status_code == 401
    response = bad.get("/v1/me")
    error = error_of(response, 429)
    assert error["code"] == "too_many_failed_attempts"
    assert error["type"] == "rate_limit_error"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_the_schema_is_public_again_after_a_request(api, tenant_a):
    api(tenant_a.api_key).get("/v1/voices")
    assert tenant_connection().schema_name == "public"


def test_keys_are_stored_only_as_prefix_and_hash(tenant_a):
    api_key = ApiKey.objects.get(prefix=tenant_a.api_key.split("_")[1])
    secret = tenant_a.api_key.split("_", 2)[2]
    assert secret not in api_key.secret_hash
    assert len(api_key.secret_hash) == 64
    assert settings.API_KEY_PEPPER
