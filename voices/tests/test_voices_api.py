from __future__ import annotations

import uuid

import pytest

from tenants.db import tenant_schema
from voices.models import Voice

pytestmark = pytest.mark.django_db

PRESET = {"name": "Front desk", "base_voice": "joe", "language": "en-US", "speed": 1.1}


def presets(response):
    assert response.status_code == 200, response.content
    return [v for v in response.json()["voices"] if v["type"] == "preset"]


def create_voice(api, tenant, **overrides):
    response = api(tenant.api_key).post(
        "/v1/voices", {**PRESET, **overrides}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "code", "message", "param", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["request_id"] == response["X-Request-ID"]
    return body["error"]


def test_it_creates_lists_retrieves_and_deletes_a_preset(api, tenant_a):
    voice = create_voice(api, tenant_a)
    assert voice["name"] == "Front desk"
    assert voice["type"] == "preset"
    assert voice["speed"] == pytest.approx(1.1)
    client = api(tenant_a.api_key)

    listed = presets(client.get("/v1/voices"))
    assert [v["id"] for v in listed] == [voice["id"]]
    assert client.get(f"/v1/voices/{voice['id']}").json()["name"] == "Front desk"

    assert client.delete(f"/v1/voices/{voice['id']}").status_code == 204
    assert presets(client.get("/v1/voices")) == []
    assert_error(client.get(f"/v1/voices/{voice['id']}"), 404, "not_found")


def test_the_list_shows_stock_voices_beside_presets(api, tenant_a):
    preset = create_voice(api, tenant_a)
    voices = api(tenant_a.api_key).get("/v1/voices").json()["voices"]
    stock = [v for v in voices if v["type"] == "stock"]
    assert stock == [
        {
            "id": "joe",
            "type": "stock",
            "name": "Joe",
            "language": "en-US",
            "description": stock[0]["description"],
            "sample_rate": 22050,
            "engine": "piper",
            "locale": "en-US",
            "accent": "American English",
            "gender": "male",
            "pack": None,
            "preview_url": "/v1/voices/joe/preview",
        }
    ]
    assert stock[0]["description"]
    mine = next(v for v in voices if v["id"] == preset["id"])
    assert (mine["sample_rate"], mine["engine"]) == (22050, "piper")


def test_a_preset_must_speak_a_language_its_base_voice_speaks(api, tenant_a):
    response = api(tenant_a.api_key).post(
        "/v1/voices", {**PRESET, "language": "fr"}, content_type="application/json"
    )
    assert assert_error(response, 400, "unsupported_language")["param"] == "language"


def test_it_stores_voices_in_the_tenants_own_schema(api, tenant_a, tenant_b):
    voice = create_voice(api, tenant_a)
    with tenant_schema(tenant_a.tenant.schema_name):
        assert Voice.objects.filter(pk=voice["id"]).exists()
    with tenant_schema(tenant_b.tenant.schema_name):
        assert not Voice.objects.filter(pk=voice["id"]).exists()


def test_outsider_cannot_see_retrieve_or_delete_anothers_voice(api, tenant_a, tenant_b):
    voice = create_voice(api, tenant_a)
    outsider = api(tenant_b.api_key)

    assert presets(outsider.get("/v1/voices")) == []
    assert_error(outsider.get(f"/v1/voices/{voice['id']}"), 404, "not_found")
    assert_error(outsider.delete(f"/v1/voices/{voice['id']}"), 404, "not_found")
    with tenant_schema(tenant_a.tenant.schema_name):
        assert Voice.objects.filter(pk=voice["id"]).exists()


def test_the_same_name_may_exist_in_two_tenants(api, tenant_a, tenant_b):
    create_voice(api, tenant_a)
    create_voice(api, tenant_b)


def test_it_refuses_a_duplicate_name_with_409(api, tenant_a):
    create_voice(api, tenant_a)
    response = api(tenant_a.api_key).post("/v1/voices", PRESET, content_type="application/json")
    assert assert_error(response, 409, "voice_exists")["param"] == "name"
    with tenant_schema(tenant_a.tenant.schema_name):
        assert Voice.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"base_voice": "joe"}, "name"),
        ({"name": "x"}, "base_voice"),
        ({"name": "x", "base_voice": "nobody"}, "base_voice"),
        ({"name": "x", "base_voice": "joe", "speed": 9}, "speed"),
        ({"name": "x", "base_voice": "joe", "speed": "fast"}, "speed"),
        ({"name": "x", "base_voice": "joe", "language": "xx-XX"}, "language"),
        ({"name": "a/b<script>", "base_voice": "joe"}, "name"),
        ({"name": "x" * 101, "base_voice": "joe"}, "name"),
    ],
)
def test_it_refuses_invalid_presets_and_stores_nothing(api, tenant_a, body, param):
    response = api(tenant_a.api_key).post("/v1/voices", body, content_type="application/json")
    error = assert_error(response, 400, response.json()["error"]["code"])
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    with tenant_schema(tenant_a.tenant.schema_name):
        assert Voice.objects.count() == 0


def test_it_refuses_a_non_json_body(api, tenant_a):
    client = api(tenant_a.api_key)
    response = client.post("/v1/voices", "name=x", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "unsupported_media_type")
    response = client.post("/v1/voices", "{not json", content_type="application/json")
    assert_error(response, 400, "invalid_json")
    with tenant_schema(tenant_a.tenant.schema_name):
        assert Voice.objects.count() == 0


def test_it_answers_404_for_a_malformed_or_unknown_id(api, tenant_a):
    client = api(tenant_a.api_key)
    assert_error(client.get("/v1/voices/not-a-uuid"), 404, "not_found")
    assert_error(client.get(f"/v1/voices/{uuid.uuid4()}"), 404, "not_found")


def test_it_checks_scopes_per_method(api, tenant_a):
    voice = create_voice(api, tenant_a)
    reader = api(tenant_a.key_with("voices:read"))
    writer = api(tenant_a.key_with("voices:write"))
    synth = api(tenant_a.key_with("synthesize"))

    assert reader.get("/v1/voices").status_code == 200
    assert_error(
        reader.post("/v1/voices", {**PRESET, "name": "other"}, content_type="application/json"),
        403,
        "insufficient_scope",
    )
    assert_error(reader.delete(f"/v1/voices/{voice['id']}"), 403, "insufficient_scope")
    assert_error(writer.get("/v1/voices"), 403, "insufficient_scope")
    assert_error(synth.get(f"/v1/voices/{voice['id']}"), 403, "insufficient_scope")
    assert writer.delete(f"/v1/voices/{voice['id']}").status_code == 204


def test_the_admin_scope_implies_every_other(api, tenant_a):
    admin = api(tenant_a.key_with("admin"))
    assert admin.post("/v1/voices", PRESET, content_type="application/json").status_code == 201
    assert len(presets(admin.get("/v1/voices"))) == 1


def test_it_answers_with_and_without_a_trailing_slash(api, tenant_a):
    client = api(tenant_a.api_key)
    response = client.post("/v1/voices/", PRESET, content_type="application/json")
    assert response.status_code == 201
    voice_id = response.json()["id"]
    assert client.get("/v1/voices/").status_code == 200
    assert client.get(f"/v1/voices/{voice_id}/").status_code == 200
    assert client.delete(f"/v1/voices/{voice_id}/").status_code == 204


def test_it_refuses_a_wrong_method_with_405(api, tenant_a):
    assert_error(
        api(tenant_a.api_key).put("/v1/voices", PRESET, content_type="application/json"),
        405,
        "method_not_allowed",
    )


def test_a_change_to_a_voice_bumps_its_version_and_is_audited(api, tenant_a):
    from tenants.models import AuditLog

    voice = create_voice(api, tenant_a)
    client = api(tenant_a.api_key)
    path = f"/v1/voices/{voice['id']}"
    changed = client.patch(
        path, {"name": "Reception", "speed": 1.3}, content_type="application/json"
    )
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["name"], body["speed"], body["version"]) == (
        "Reception",
        pytest.approx(1.3),
        voice["version"] + 1,
    )
    same = client.patch(path, {"name": "Reception"}, content_type="application/json")
    assert same.json()["version"] == body["version"]  # nothing changed: no new version
    entry = AuditLog.objects.filter(action="voice.update", tenant=tenant_a.tenant).get()
    assert "name,speed" in entry.target


def test_a_change_is_checked_like_a_creation(api, tenant_a, tenant_b):
    first = create_voice(api, tenant_a)
    second = create_voice(api, tenant_a, name="Other")
    client = api(tenant_a.api_key)
    path = f"/v1/voices/{second['id']}"
    taken = client.patch(path, {"name": first["name"]}, content_type="application/json")
    assert_error(taken, 409, "voice_exists")
    unknown = client.patch(path, {"base_voice": "nobody"}, content_type="application/json")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["param"] == "base_voice"
    foreign = client.patch(path, {"language": "ja"}, content_type="application/json")
    assert foreign.status_code == 400
    assert foreign.json()["error"]["param"] == "language"
    outsider = api(tenant_b.api_key).patch(path, {"name": "Mine"}, content_type="application/json")
    assert_error(outsider, 404, "not_found")
    reader = api(tenant_a.key_with("voices:read"))
    assert_error(
        reader.patch(path, {"name": "X"}, content_type="application/json"),
        403,
        "insufficient_scope",
    )
    assert client.get(path).json()["name"] == "Other"


def test_making_a_voice_the_default_moves_the_default(api, tenant_a):
    first = create_voice(api, tenant_a, is_default=True)
    second = create_voice(api, tenant_a, name="Other")
    client = api(tenant_a.api_key)
    client.patch(
        f"/v1/voices/{second['id']}", {"is_default": True}, content_type="application/json"
    )
    assert client.get(f"/v1/voices/{first['id']}").json()["is_default"] is False
    assert client.get(f"/v1/voices/{second['id']}").json()["is_default"] is True
