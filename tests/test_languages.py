"""One list of languages for every entry point (`synthesis.contract.languages`): HTTP, the
socket, voice presets and uploads, `manage.py clone_voice`, the portal and the schema's enum
accept the same tags, derived from the engine table and the front-end's English regions; SSML
reads a listed tag as the request's `language` does; a voice that cannot speak a listed
language refuses it at run time, naming both."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import CommandError
from django.test import Client
from rest_framework.exceptions import ValidationError

from callwaiting_tts.errors import ApplicationError
from portal.forms import PlaygroundForm
from synthesis.api.serializers import PreviewSerializer, SynthesizeSerializer
from synthesis.contract.languages import LANGUAGES
from synthesis.engines.catalog import ENGINES
from synthesis.management.commands.clone_voice import Command as CloneVoice
from synthesis.realtime.messages import parse_options
from synthesis.tests.sockets import (
    connect,
    disconnect_every_socket,  # noqa: F401  (autouse)
    until,
)
from synthesis.text.frontend import prepare
from synthesis.text.model import ENGLISH_TAGS, locale_for
from voices.api.serializers import (
    VoiceCreateSerializer,
    VoiceUpdateSerializer,
    VoiceUploadSerializer,
)

PREVIEW = "/v1/text/preview"
UNLISTED = ["xx", "sv-SE", "en-CA", "fr-FR", "", "english"]


def _preview(client, **body):
    return client.post(PREVIEW, body, content_type="application/json")


def _spoken(answer) -> str:
    return " ".join(s["text"] for s in answer.json()["segments"]).lower()


def _enum(schemas: dict, prop: dict) -> list[str] | None:
    """A property's enum, through `$ref` and `allOf` (drf-spectacular names shared enums)."""
    if "enum" in prop:
        return prop["enum"]
    if "$ref" in prop:
        return _enum(schemas, schemas[prop["$ref"].rsplit("/", 1)[1]])
    for part in prop.get("allOf", []):
        return _enum(schemas, part)
    return None


@pytest.mark.django_db
def test_the_schema_offers_every_language_of_the_engine_table_whatever_workers_run():
    """No worker runs here: the enum comes from the engine table, not from what is live."""
    schema = yaml.safe_load(Client().get("/v1/schema/").content)["components"]["schemas"]
    for component in (
        "SynthesizeRequest",
        "PreviewRequest",
        "VoiceCreateRequest",
        "VoiceUploadRequest",
        "PatchedVoiceUpdateRequest",
    ):
        assert _enum(schema, schema[component]["properties"]["language"]) == list(LANGUAGES)
    every_engine_language = {lang for spec in ENGINES.values() for lang in spec.languages}
    assert every_engine_language <= set(LANGUAGES)
    assert {"en-US", "en-GB", "en-NG", "en-AU", "en-IN"} <= set(LANGUAGES)


@pytest.mark.django_db
@pytest.mark.parametrize("tag", ["en-AU", "en-IN"])
def test_english_regions_the_front_end_reads_are_accepted_over_http(api, tenant_a, tag):
    answer = _preview(api(tenant_a.api_key), text="Due 3/4/2025.", language=tag)
    assert answer.status_code == 200, answer.content
    assert "april" in _spoken(answer)  # day first, read like en-GB


@pytest.mark.django_db
def test_ssml_and_the_request_language_read_a_listed_tag_alike(api, tenant_a):
    client = api(tenant_a.api_key)
    text = "Due 3/4/2025, call 0803 123 4567."
    for tag in ENGLISH_TAGS:
        by_field = _preview(client, text=text, language=tag)
        by_ssml = _preview(client, ssml=f'<speak xml:lang="{tag}">{text}</speak>')
        assert by_field.status_code == by_ssml.status_code == 200, (tag, by_field.content)
        assert by_field.json()["segments"] == by_ssml.json()["segments"], tag


@pytest.mark.django_db
def test_a_tag_is_matched_in_any_case_and_kept_as_listed(api, tenant_a):
    client = api(tenant_a.api_key)
    preset = client.post(
        "/v1/voices",
        {"name": "Sydney", "base_voice": "joe", "language": "en_au"},
        content_type="application/json",
    )
    assert preset.status_code == 201, preset.content
    assert preset.json()["language"] == "en-AU"


@pytest.mark.django_db
@pytest.mark.parametrize("tag", ["es", "ja", "zh-CN"])
def test_a_listed_language_the_voice_cannot_speak_is_refused_naming_both(api, tenant_a, tag):
    client = api(tenant_a.api_key)
    answer = _preview(client, text="Hola.", language=tag)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("unsupported_language", "language")
    assert f"'{tag}'" in error["message"]
    assert "'joe'" in error["message"]
    preset = client.post(
        "/v1/voices",
        {"name": "Madrid", "base_voice": "joe", "language": tag},
        content_type="application/json",
    )
    assert preset.status_code == 400
    error = preset.json()["error"]
    assert (error["code"], error["param"]) == ("unsupported_language", "language")
    assert f"'{tag}'" in error["message"]
    assert "'joe'" in error["message"]


def _accepts_drf(serializer_class, tag: str) -> str | None:
    field = serializer_class().fields["language"]
    try:
        return field.run_validation(tag)
    except ValidationError:
        return None


def _accepts_socket(tag: str) -> str | None:
    try:
        return parse_options({"language": tag}).language
    except ApplicationError as error:
        return None if error.param == "language" else "refused naming another field"


def _accepts_clone_voice(tag: str) -> str | None:
    parser = CloneVoice().create_parser("manage.py", "clone_voice")
    try:
        return parser.parse_args(["acme", "Ada", "clip.wav", "--language", tag]).language
    except CommandError:
        return None


@pytest.mark.django_db
def test_every_entry_point_accepts_the_same_tags():
    portal = {code for code, _ in PlaygroundForm(voices=[]).fields["language"].choices if code}
    assert portal == set(LANGUAGES)
    for tag in [*LANGUAGES, *(t.lower() for t in LANGUAGES)]:
        listed = next(t for t in LANGUAGES if t.lower() == tag.lower())
        for serializer in (
            SynthesizeSerializer,
            PreviewSerializer,
            VoiceCreateSerializer,
            VoiceUpdateSerializer,
            VoiceUploadSerializer,
        ):
            assert _accepts_drf(serializer, tag) == listed, (serializer.__name__, tag)
        assert _accepts_socket(tag) == listed, tag
        assert _accepts_clone_voice(tag) == listed, tag
    for tag in UNLISTED:
        assert _accepts_drf(SynthesizeSerializer, tag) is None, tag
        assert _accepts_drf(VoiceCreateSerializer, tag) is None, tag
        assert _accepts_socket(tag) is None, tag
        assert _accepts_clone_voice(tag) is None, tag


def test_ssml_reads_every_listed_english_tag_in_the_requests_locale():
    """`xml:lang` takes any tag (SSML marks spans freely); for the listed English ones its
    reading is the one `language` gives."""
    text = "Pay ₦2,500 by 3/4/2025."
    for tag in ENGLISH_TAGS:
        from_ssml = prepare(ssml=f'<speak xml:lang="{tag}">{text}</speak>')
        from_field = prepare(text=text, locale=locale_for(tag))
        assert [s.text for s in from_ssml.segments] == [s.text for s in from_field.segments]
        assert {s.language for s in from_ssml.segments} == {locale_for(tag)}


@pytest.fixture
def socket_tenant(make_tenant):
    return make_tenant("lang")


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_an_unlisted_language_and_stays_open(socket_tenant):
    comm = await connect(socket_tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "context_id": "c", "language": "xx", "text": "Hi"})
    error = (await until(comm, "error"))["error"]
    assert (error["code"], error["param"]) == ("invalid_request", "language")
    assert "Unknown language 'xx'" in error["message"]
    await comm.send_json_to({"type": "ping"})
    assert (await until(comm, "pong"))["type"] == "pong"
