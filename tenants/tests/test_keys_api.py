from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml
from django.test import Client
from django.utils import timezone

from tenants.models import ApiKey, AuditLog

pytestmark = pytest.mark.django_db

KEY_FIELDS = {
    "id",
    "prefix",
    "name",
    "scopes",
    "status",
    "created_at",
    "last_used_at",
    "expires_at",
    "revoked_at",
}


def post_json(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def assert_error(response, status, code, param=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"type", "code", "message", "param", "request_id"}
    assert error["code"] == code
    assert error["param"] == param
    assert error["request_id"] == response["X-Request-ID"]
    return error


def prefix_of(raw_key: str) -> str:
    return raw_key.split("_")[1]


def create_key(client, **body):
    response = post_json(client, "/v1/keys", {"name": "ci", **body})
    assert response.status_code == 201, response.content
    return response.json()


def test_create_list_get_revoke_round_trip(api, tenant_a):
    admin = api(tenant_a.key_with("admin"))
    created = create_key(admin, name="Deploy bot", scopes=["synthesize", "voices:read"])
    assert set(created) == KEY_FIELDS | {"secret"}
    assert created["secret"].startswith(f"cw_{created['id']}_")
    assert created["id"] == created["prefix"]
    assert created["name"] == "Deploy bot"
    assert created["scopes"] == ["synthesize", "voices:read"]
    assert created["status"] == "active"
    assert created["revoked_at"] is None
    assert created["expires_at"] is None

    listed = admin.get("/v1/keys").json()["keys"]
    mine = next(k for k in listed if k["id"] == created["id"])
    assert {k: v for k, v in created.items() if k != "secret"} == mine
    assert listed[0]["id"] == created["id"]  # newest first

    path = f"/v1/keys/{created['id']}"
    fetched = admin.get(path)
    assert fetched.status_code == 200
    assert fetched.json() == mine

    revoked = admin.delete(path)
    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revoked_at"] is not None
    assert admin.get(path).json()["status"] == "revoked"
    row = ApiKey.objects.get(prefix=created["id"])
    assert row.revoked_at is not None


def test_the_secret_authenticates_until_revoked_then_never_again(api, tenant_a):
    admin = api(tenant_a.key_with("admin"))
    created = create_key(admin, scopes=["voices:read"])
    new_client = api(created["secret"])

    me = new_client.get("/v1/me")
    assert me.status_code == 200, me.content
    assert me.json()["api_key"]["prefix"] == created["id"]
    assert me.json()["api_key"]["scopes"] == ["voices:read"]
    # The successful request is what last_used_at shows (buffered, not yet flushed).
    assert admin.get(f"/v1/keys/{created['id']}").json()["last_used_at"] is not None

    assert admin.delete(f"/v1/keys/{created['id']}").status_code == 200
    # The cached key record was dropped: the very next request is refused.
    assert_error(new_client.get("/v1/me"), 401, "api_key_revoked")
    assert_error(new_client.get("/v1/voices"), 401, "api_key_revoked")


def test_revoking_twice_answers_the_same_and_audits_once(api, tenant_a):
    admin = api(tenant_a.key_with("admin"))
    created = create_key(admin)
    path = f"/v1/keys/{created['id']}"
    first = admin.delete(path)
    second = admin.delete(path)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    target = f"api_key:{created['id']}"
    assert AuditLog.objects.filter(action="api_key.revoke", target=target).count() == 1


def test_a_key_may_revoke_itself(api, tenant_a):
    raw = tenant_a.key_with("admin")
    client = api(raw)
    response = client.delete(f"/v1/keys/{prefix_of(raw)}")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked"
    assert_error(client.get("/v1/keys"), 401, "api_key_revoked")


def test_never_a_secret_or_hash_in_list_or_get(api, tenant_a):
    admin = api(tenant_a.key_with("admin"))
    created = create_key(admin)
    secret_part = created["secret"].split("_", 2)[2]
    stored_hash = ApiKey.objects.get(prefix=created["id"]).secret_hash
    for response in (admin.get("/v1/keys"), admin.get(f"/v1/keys/{created['id']}")):
        assert response.status_code == 200
        text = response.content.decode()
        assert secret_part not in text
        assert stored_hash not in text
        assert "secret" not in text
    for key in admin.get("/v1/keys").json()["keys"]:
        assert set(key) == KEY_FIELDS


def test_without_scopes_a_key_gets_every_scope_but_admin(api, tenant_a):
    created = create_key(api(tenant_a.key_with("admin")))
    assert created["scopes"] == ["synthesize", "voices:read", "voices:write", "usage:read"]


def test_an_admin_key_may_mint_an_admin_key(api, tenant_a):
    created = create_key(api(tenant_a.key_with("admin")), scopes=["admin"])
    assert created["scopes"] == ["admin"]
    assert api(created["secret"]).get("/v1/keys").status_code == 200


def test_expiry_in_days_or_at_a_time(api, tenant_a):
    admin = api(tenant_a.key_with("admin"))
    before = timezone.now()
    in_days = create_key(admin, expires_in_days=30)
    expires = ApiKey.objects.get(prefix=in_days["id"]).expires_at
    assert expires is not None
    assert before + timedelta(days=30) <= expires <= timezone.now() + timedelta(days=30)

    when = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    at = create_key(admin, expires_at=when.isoformat())
    assert ApiKey.objects.get(prefix=at["id"]).expires_at == when
    assert at["status"] == "active"


def test_an_expired_key_is_listed_as_expired(api, tenant_a):
    admin = api(tenant_a.key_with("admin"))
    created = create_key(admin, expires_in_days=1)
    ApiKey.objects.filter(prefix=created["id"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert admin.get(f"/v1/keys/{created['id']}").json()["status"] == "expired"


def test_a_key_without_admin_is_refused_on_every_method(api, tenant_a):
    target = prefix_of(tenant_a.key_with("synthesize"))
    for scopes in (("synthesize",), ("voices:read", "voices:write", "usage:read")):
        client = api(tenant_a.key_with(*scopes))
        assert_error(client.get("/v1/keys"), 403, "insufficient_scope")
        assert_error(post_json(client, "/v1/keys", {"name": "x"}), 403, "insufficient_scope")
        assert_error(client.get(f"/v1/keys/{target}"), 403, "insufficient_scope")
        assert_error(client.delete(f"/v1/keys/{target}"), 403, "insufficient_scope")
    assert ApiKey.objects.get(prefix=target).revoked_at is None
    assert_error(api("cw_" + "a" * 12 + "_" + "b" * 43).get("/v1/keys"), 401, "invalid_api_key")


def test_another_tenants_keys_are_not_found_and_never_listed(api, tenant_a, tenant_b):
    theirs_raw = tenant_b.key_with("synthesize")
    theirs = prefix_of(theirs_raw)
    b_prefixes = set(ApiKey.objects.filter(tenant=tenant_b.tenant).values_list("prefix", flat=True))
    assert theirs in b_prefixes
    admin_a = api(tenant_a.key_with("admin"))

    listed = {k["id"] for k in admin_a.get("/v1/keys").json()["keys"]}
    assert listed
    assert listed == set(
        ApiKey.objects.filter(tenant=tenant_a.tenant).values_list("prefix", flat=True)
    )
    assert not listed & b_prefixes

    assert_error(admin_a.get(f"/v1/keys/{theirs}"), 404, "not_found")
    assert_error(admin_a.delete(f"/v1/keys/{theirs}"), 404, "not_found")
    assert ApiKey.objects.get(prefix=theirs).revoked_at is None
    assert api(theirs_raw).get("/v1/me").status_code == 200
    assert not AuditLog.objects.filter(action="api_key.revoke", target=f"api_key:{theirs}")

    # Row ids and garbage are no way in either.
    row_id = ApiKey.objects.get(prefix=theirs).pk
    for bogus in (str(row_id), "zzzzzzzzzzzz", "x" * 300, "%20"):
        assert_error(admin_a.get(f"/v1/keys/{bogus}"), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"name": "x", "scopes": ["synthesize", "root"]}, "invalid_scope", "scopes"),
        ({"name": "x", "scopes": []}, "invalid_scope", "scopes"),
        ({"name": "x", "scopes": "admin"}, "not_a_list", "scopes"),
        ({"name": ""}, "blank", "name"),
        ({"name": "   "}, "blank", "name"),
        ({"name": "n" * 101}, "max_length", "name"),
        ({}, "required", "name"),
        ({"name": "x", "expires_in_days": 0}, "min_value", "expires_in_days"),
        ({"name": "x", "expires_in_days": "soon"}, "invalid_type", "expires_in_days"),
        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "invalid_expiry", "expires_at"),
        ({"name": "x", "expires_at": "tomorrow"}, "invalid", "expires_at"),
        (
            {"name": "x", "expires_in_days": 3, "expires_at": "2999-01-01T00:00:00Z"},
            "invalid_expiry",
            "expires_in_days",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, tenant_a, body, code, param):
    admin = api(tenant_a.key_with("admin"))
    before = ApiKey.objects.count()
    # DRF's own "invalid" code is rendered as the generic invalid_request.
    expected = "invalid_request" if code == "invalid" else code
    assert_error(post_json(admin, "/v1/keys", body), 400, expected, param)
    assert ApiKey.objects.count() == before


def test_a_body_that_is_not_json_is_refused(api, tenant_a):
    admin = api(tenant_a.key_with("admin"))
    response = admin.post("/v1/keys", {"name": "form"})  # multipart
    assert_error(response, 415, "unsupported_media_type")
    assert_error(admin.post("/v1/keys", "{", content_type="application/json"), 400, "invalid_json")


def test_create_and_revoke_are_audited_with_the_calling_key_as_actor(api, tenant_a):
    caller = tenant_a.key_with("admin")
    actor = f"api_key:{prefix_of(caller)}"
    admin = api(caller)
    created = create_key(admin)
    target = f"api_key:{created['id']}"
    create_row = AuditLog.objects.get(action="api_key.create", target=target)
    assert (create_row.actor, create_row.source, create_row.tenant_id) == (
        actor,
        AuditLog.Source.API,
        tenant_a.tenant.pk,
    )
    assert create_row.request_id

    response = admin.delete(f"/v1/keys/{created['id']}")
    revoke_row = AuditLog.objects.get(action="api_key.revoke", target=target)
    assert (revoke_row.actor, revoke_row.source, revoke_row.tenant_id) == (
        actor,
        AuditLog.Source.API,
        tenant_a.tenant.pk,
    )
    assert revoke_row.request_id == response["X-Request-ID"]


def test_routes_answer_with_a_trailing_slash(api, tenant_a):
    admin = api(tenant_a.key_with("admin"))
    created = post_json(admin, "/v1/keys/", {"name": "slash"})
    assert created.status_code == 201, created.content
    assert created["Location"] == f"/v1/keys/{created.json()['id']}"
    assert admin.get(f"/v1/keys/{created.json()['id']}/").status_code == 200


def test_the_schema_documents_the_keys_endpoints_with_json_only():
    schema = yaml.safe_load(Client().get("/v1/schema").content)
    listing, detail = schema["paths"]["/v1/keys"], schema["paths"]["/v1/keys/{key_id}"]
    assert set(listing) == {"get", "post"}
    assert set(detail) >= {"get", "delete"}
    assert list(listing["post"]["requestBody"]["content"]) == ["application/json"]
    assert "requestBody" not in detail["delete"]
    assert {"201", "400", "401", "403", "415"} <= set(listing["post"]["responses"])
    assert "404" in detail["get"]["responses"]
    assert "404" in detail["delete"]["responses"]
    created = listing["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/NewApiKey"}
    components = schema["components"]["schemas"]
    assert "secret" in components["NewApiKey"]["properties"]
    assert "secret" not in components["ApiKey"]["properties"]
    assert "secret_hash" not in components["ApiKey"]["properties"]
