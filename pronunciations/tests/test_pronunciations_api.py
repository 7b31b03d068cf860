"""`/v1/pronunciations`: CRUD, PLS import and export, the starter list, validation, plan limits,
scopes, audit, another tenant's dictionary, and the dictionaries a preview is read with.
In-process (nothing is synthesized here: tests/test_pronunciations_audio.py hears them)."""

from __future__ import annotations

import uuid

import pytest

from billing.limits import forget_limits
from billing.models import TenantPlanOverride
from pronunciations.models import PronunciationDictionary
from pronunciations.selectors import forget_default_dictionary
from tenants.db import tenant_schema
from tenants.models import AuditLog

pytestmark = pytest.mark.django_db

URL = "/v1/pronunciations"
NGOZI = {"word": "Ngozi", "alias": "En-go-zee"}
NNAMDI = {"word": "Nnamdi", "phonemes": "nˈɑːmdi"}


@pytest.fixture(autouse=True)
def _no_default_cached_across_tests(tenant_a, tenant_b):
    """The session's tenants outlive each test's rows, not the cached default dictionary."""
    yield
    for tenant in (tenant_a, tenant_b):
        forget_default_dictionary(tenant.tenant.schema_name)


def assert_error(response, status, code, param=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "code", "message", "param", "request_id"}
    assert body["error"]["code"] == code, body
    assert body["error"]["request_id"] == response["X-Request-ID"]
    if param is not None:
        assert body["error"]["param"] == param, body
    return body["error"]


def create(client, **overrides):
    body = {"name": "Front desk", "language": "en", "entries": [NGOZI, NNAMDI], **overrides}
    return client.post(URL, body, content_type="application/json")


def created(client, **overrides):
    response = create(client, **overrides)
    assert response.status_code == 201, response.content
    return response.json()


def count(tenant) -> int:
    with tenant_schema(tenant.tenant.schema_name):
        return PronunciationDictionary.objects.count()


def preview(client, **body):
    answer = client.post("/v1/text/preview", body, content_type="application/json")
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_it_creates_lists_retrieves_updates_and_deletes_a_dictionary(api, tenant_a):
    client = api(tenant_a.api_key)
    made = created(client)
    assert made["entries"] == [NGOZI, NNAMDI]
    assert (made["name"], made["language"], made["version"], made["entry_count"]) == (
        "Front desk",
        "en",
        1,
        2,
    )
    listed = client.get(URL).json()["pronunciation_dictionaries"]
    assert [d["id"] for d in listed] == [made["id"]]
    assert "entries" not in listed[0]
    assert client.get(f"{URL}/{made['id']}").json()["entries"] == [NGOZI, NNAMDI]

    changed = client.patch(
        f"{URL}/{made['id']}",
        {"entries": [{"word": "Tunde", "alias": "Toon-day"}], "language": "en-NG"},
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["entries"] == [{"word": "Tunde", "alias": "Toon-day"}]
    assert (changed.json()["language"], changed.json()["version"]) == ("en-NG", 2)

    assert client.delete(f"{URL}/{made['id']}").status_code == 204
    assert client.get(URL).json()["pronunciation_dictionaries"] == []
    assert_error(client.get(f"{URL}/{made['id']}"), 404, "not_found")


def test_create_update_and_delete_are_audited(api, tenant_a):
    client = api(tenant_a.api_key)
    made = created(client)
    client.patch(f"{URL}/{made['id']}", {"name": "Desk"}, content_type="application/json")
    client.delete(f"{URL}/{made['id']}")
    entries = AuditLog.objects.filter(tenant=tenant_a.tenant, action__startswith="pronunciation.")
    assert [e.action for e in entries.order_by("created_at")] == [
        "pronunciation.create",
        "pronunciation.update",
        "pronunciation.delete",
    ]
    prefix = tenant_a.api_key.split("_")[1]
    assert {e.actor for e in entries} == {f"api_key:{prefix}"}
    assert all(made["id"] in e.target for e in entries)


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"entries": [{"word": "Ngozi"}]}, "invalid_entry", "entries[0].alias"),
        (
            {"entries": [NGOZI, {"word": "Ngozi", "alias": "x", "phonemes": "ŋ"}]},
            "invalid_entry",
            "entries[1].alias",
        ),
        ({"entries": [{"word": "Ngozi", "phonemes": 't@"meI'}]}, "invalid_entry", None),
        ({"entries": [{"word": "Ngozi!", "alias": "x"}]}, "invalid_entry", "entries[0].word"),
        ({"entries": [{"word": "Ngozi", "alias": "x", "tone": "high"}]}, "unknown_field", None),
        ({"entries": [{"word": 7, "alias": "x"}]}, "invalid_type", None),
        ({"entries": {"Ngozi": "x"}}, "not_a_list", "entries"),
        ({"entries": [NGOZI, {"word": "ngozi", "alias": "y"}]}, "duplicate_word", "entries"),
        ({"language": "klingon"}, "invalid_choice", "language"),
        ({"name": ""}, "blank", "name"),
        ({"colour": "blue"}, "unknown_field", "colour"),
    ],
)
def test_a_bad_body_is_refused_in_the_error_shape_and_leaves_nothing(
    api, tenant_a, body, code, param
):
    response = create(api(tenant_a.api_key), **body)
    error = assert_error(response, 400, code, param)
    assert error["message"]
    assert count(tenant_a) == 0
    assert not AuditLog.objects.filter(tenant=tenant_a.tenant, action__startswith="pronun")


def test_a_name_in_use_is_a_conflict(api, tenant_a):
    client = api(tenant_a.api_key)
    created(client)
    assert_error(create(client), 409, "dictionary_exists", "name")
    assert count(tenant_a) == 1


def test_one_dictionary_is_the_default_the_newest_flagged_wins(api, tenant_a):
    client = api(tenant_a.api_key)
    first = created(client, name="One", is_default=True)
    second = created(client, name="Two", is_default=True)
    listed = client.get(URL).json()["pronunciation_dictionaries"]
    defaults = {d["id"]: d["is_default"] for d in listed}
    assert defaults == {first["id"]: False, second["id"]: True}


def test_the_plans_limits_on_dictionaries_and_entries_are_clear_403s(api, tenant_a):
    TenantPlanOverride.objects.create(
        tenant=tenant_a.tenant, max_pronunciation_dictionaries=1, max_pronunciation_entries=2
    )
    forget_limits(tenant_a.tenant.pk)
    try:
        client = api(tenant_a.api_key)
        made = created(client)
        error = assert_error(create(client, name="Second"), 403, "dictionary_limit_reached")
        assert "1 pronunciation dictionary" in error["message"]
        three = [NGOZI, NNAMDI, {"word": "Tunde", "alias": "Toon-day"}]
        patch = client.patch(
            f"{URL}/{made['id']}", {"entries": three}, content_type="application/json"
        )
        error = assert_error(
            patch,
            403,
            "too_many_entries",
            "entries",
        )
        assert "at most 2 entries" in error["message"]
        assert client.get(f"{URL}/{made['id']}").json()["entries"] == [NGOZI, NNAMDI]
        assert count(tenant_a) == 1
    finally:
        forget_limits(tenant_a.tenant.pk)  # the override rolls back; the cached limits must too


def test_a_pls_document_imports_and_exports_round_trip(api, tenant_a):
    client = api(tenant_a.api_key)
    made = created(client, language="en-NG")
    exported = client.get(f"{URL}/{made['id']}/pls")
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("application/pls+xml")
    document = exported.content.decode()
    assert 'xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"' in document
    imported = client.post(
        f"{URL}/import", {"name": "Copy", "pls": document}, content_type="application/json"
    )
    assert imported.status_code == 201, imported.content
    copy = imported.json()
    assert (copy["entries"], copy["language"]) == ([NGOZI, NNAMDI], "en-NG")
    assert AuditLog.objects.filter(tenant=tenant_a.tenant, action="pronunciation.import").exists()


def test_the_nigerian_starter_list_imports_with_one_call(api, tenant_a):
    client = api(tenant_a.api_key)
    answer = client.post(
        f"{URL}/import",
        {"name": "Nigerian names", "starter": "nigerian-names", "is_default": True},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["entry_count"] >= 40
    assert body["is_default"] is True
    words = {e["word"] for e in body["entries"]}
    assert {"Oluwaseun", "Abuja", "Ikeja"} <= words
    shown = preview(client, text="Welcome to Ikeja, Oluwaseun.")
    assert shown["pronunciation_dictionaries"] == [body["id"]]
    ipa = [p["value"] for s in shown["segments"] for p in s["parts"] if p["type"] == "ipa"]
    assert ipa == ["iːkˈeɪdʒɑː", "oʊluːwɑːʃˈeɪuːn"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"pls": "<lexicon><lexeme><grapheme>x</grapheme>"}, 400, "invalid_pls"),
        ({"pls": '<!DOCTYPE l [<!ENTITY a "b">]><lexicon/>'}, 400, "pls_dtd_forbidden"),
        ({"pls": "<lexicon/>", "starter": "nigerian-names"}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
        ({"starter": "klingon-names"}, 400, "invalid_choice"),
    ],
)
def test_a_bad_import_is_refused_and_leaves_nothing(api, tenant_a, body, status, code):
    answer = api(tenant_a.api_key).post(
        f"{URL}/import", {"name": "Bad", **body}, content_type="application/json"
    )
    assert_error(answer, status, code)
    assert count(tenant_a) == 0


def test_a_pls_document_over_the_size_limit_is_a_413(api, tenant_a, settings):
    settings.PRONUNCIATION_PLS_MAX_BYTES = 1000
    document = "<lexicon>" + " " * 2000 + "</lexicon>"
    answer = api(tenant_a.api_key).post(
        f"{URL}/import", {"name": "Big", "pls": document}, content_type="application/json"
    )
    assert_error(answer, 413, "pls_too_large", "pls")
    assert count(tenant_a) == 0


def test_reading_needs_voices_read_and_writing_voices_write(api, tenant_a):
    made = created(api(tenant_a.api_key))
    reader = api(tenant_a.key_with("voices:read"))
    synthesizer = api(tenant_a.key_with("synthesize"))
    assert reader.get(URL).status_code == 200
    assert reader.get(f"{URL}/{made['id']}/pls").status_code == 200
    assert_error(create(reader, name="Other"), 403, "insufficient_scope")
    assert_error(reader.delete(f"{URL}/{made['id']}"), 403, "insufficient_scope")
    assert_error(synthesizer.get(URL), 403, "insufficient_scope")
    assert_error(synthesizer.get(f"{URL}/{made['id']}"), 403, "insufficient_scope")


def test_another_tenants_dictionary_is_not_found_everywhere(api, tenant_a, tenant_b):
    made = created(api(tenant_a.api_key))
    outsider = api(tenant_b.api_key)
    path = f"{URL}/{made['id']}"
    assert outsider.get(URL).json()["pronunciation_dictionaries"] == []
    assert_error(outsider.get(path), 404, "not_found")
    assert_error(outsider.get(f"{path}/pls"), 404, "not_found")
    assert_error(
        outsider.patch(path, {"name": "Mine"}, content_type="application/json"), 404, "not_found"
    )
    assert_error(outsider.delete(path), 404, "not_found")
    answer = outsider.post(
        "/v1/text/preview",
        {"text": "Hi Ngozi.", "pronunciation_dictionaries": [made["id"]]},
        content_type="application/json",
    )
    assert_error(answer, 404, "not_found", "pronunciation_dictionaries")
    # Synthesis (a database thread under daphne): tests/test_pronunciations_audio.py.
    assert api(tenant_a.api_key).get(path).json()["name"] == "Front desk"  # untouched
    assert_error(outsider.get(f"{URL}/{uuid.uuid4()}"), 404, "not_found")
    assert_error(outsider.get(f"{URL}/not-a-uuid"), 404, "not_found")


def test_the_cached_default_follows_every_change(api, tenant_a):
    client = api(tenant_a.api_key)
    assert preview(client, text="Hi Ngozi.")["pronunciation_dictionaries"] == []  # cached: none
    made = created(client, is_default=True)
    assert preview(client, text="Hi Ngozi.")["segments"][0]["text"] == "Hi En-go-zee."
    entries = [{"word": "Ngozi", "alias": "Nnn-go"}]
    client.patch(f"{URL}/{made['id']}", {"entries": entries}, content_type="application/json")
    assert preview(client, text="Hi Ngozi.")["segments"][0]["text"] == "Hi Nnn-go."
    client.patch(f"{URL}/{made['id']}", {"is_default": False}, content_type="application/json")
    assert preview(client, text="Hi Ngozi.")["pronunciation_dictionaries"] == []
    client.patch(f"{URL}/{made['id']}", {"is_default": True}, content_type="application/json")
    assert preview(client, text="Hi Ngozi.")["pronunciation_dictionaries"] == [made["id"]]
    client.delete(f"{URL}/{made['id']}")
    assert preview(client, text="Hi Ngozi.")["segments"][0]["text"] == "Hi Ngozi."


def test_the_preview_reads_with_the_named_dictionaries_or_the_default(api, tenant_a):
    client = api(tenant_a.api_key)
    named = created(client, name="Named")
    default = created(
        client, name="Default", is_default=True, entries=[{"word": "Ngozi", "alias": "Nnn-go"}]
    )
    text = "Ask Ngozi for Nnamdi."
    plain = preview(client, text=text, pronunciation_dictionaries=[])
    assert plain["segments"][0]["text"] == text
    assert plain["pronunciation_dictionaries"] == []

    by_default = preview(client, text=text)
    assert by_default["pronunciation_dictionaries"] == [default["id"]]
    assert by_default["segments"][0]["text"] == "Ask Nnn-go for Nnamdi."

    both = preview(client, text=text, pronunciation_dictionaries=[named["id"], default["id"]])
    [segment] = both["segments"]
    assert segment["text"] == "Ask En-go-zee for Nnamdi."  # the first named wins Ngozi
    assert segment["input_text"].startswith("Ask Ngozi")
    assert {"type": "ipa", "value": "nˈɑːmdi"} in segment["parts"]
    assert segment["characters"] == both["characters"] == len(text)  # billing as written


def test_a_request_names_at_most_five_dictionaries(api, tenant_a):
    answer = api(tenant_a.api_key).post(
        "/v1/text/preview",
        {"text": "Hi.", "pronunciation_dictionaries": [str(uuid.uuid4()) for _ in range(6)]},
        content_type="application/json",
    )
    assert_error(answer, 400, "max_length", "pronunciation_dictionaries")


def test_the_schema_documents_the_endpoints(client):
    import yaml

    schema = yaml.safe_load(client.get("/v1/schema").content)
    assert {
        "/v1/pronunciations",
        "/v1/pronunciations/import",
        "/v1/pronunciations/{dictionary_id}",
        "/v1/pronunciations/{dictionary_id}/pls",
    } <= set(schema["paths"])
    body = schema["components"]["schemas"]["SynthesizeRequest"]
    assert "pronunciation_dictionaries" in body["properties"]
