"""`POST /v1/text/preview`: what the engine will be given, per locale, for text and SSML; nothing
synthesized or billed. Runs in-process (no worker needed: nothing is synthesized)."""

from __future__ import annotations

import pytest

from billing.models import UsageRecord
from tenants.db import tenant_schema
from voices.models import Voice

pytestmark = pytest.mark.django_db

URL = "/v1/text/preview"


def preview(client, **body):
    return client.post(URL, body, content_type="application/json")


def spoken(answer) -> str:
    return " ".join(s["text"] for s in answer.json()["segments"]).lower()


def test_plain_text_is_normalized_for_the_requested_locale(api, tenant_a):
    client = api(tenant_a.api_key)
    text = "Pay ₦2,500.50 by 3/4/2025, or call +234 803 123 4567."
    nigeria = preview(client, text=text, language="en-NG")
    assert nigeria.status_code == 200, nigeria.content
    body = nigeria.json()
    assert "two thousand five hundred naira and fifty kobo" in spoken(nigeria)
    assert "april" in spoken(nigeria)  # day first
    assert "eight zero three" in spoken(nigeria)
    assert not any(ch.isdigit() for ch in spoken(nigeria))
    assert body["characters"] == len(text)
    assert sum(s["characters"] for s in body["segments"]) == len(text)
    assert {s["language"] for s in body["segments"]} == {"en-NG"}
    assert (body["voice"], body["engine"]) == ("joe", "piper")

    american = preview(client, text=text, language="en-US")
    assert "march" in spoken(american)  # month first
    assert {s["language"] for s in american.json()["segments"]} == {"en-US"}
    assert not UsageRecord.objects.exists()  # a preview bills nothing


@pytest.mark.parametrize(
    ("language", "text", "heard"),
    [
        (
            "en-US",
            "Your verification code is 482913. Call 1-800-555-0199 by 18:45.",
            "your verification code is four eight two, nine one three. call one, eight hundred, "
            "five five five, zero one nine nine by six forty five pm.",
        ),
        (
            "en-GB",
            "Your card ending 4242 was charged 50p. Ring 020 7946 0958, we're open 24/7.",
            "your card ending four two four two was charged fifty pence. ring zero two zero, "
            "seven nine four six, zero nine five eight, we're open twenty four seven.",
        ),
        (
            "en-NG",
            "Alh. Musa, dial *901*1# or send N 5,000 to account no. 0123456789.",
            "alhaji musa, dial star nine zero one star one hash or send five thousand naira to "
            "account number zero one two, three four five, six seven eight nine.",
        ),
    ],
)
def test_the_preview_shows_codes_numbers_and_times_read_for_a_call(
    api, tenant_a, language, text, heard
):
    answer = preview(api(tenant_a.api_key), text=text, language=language)
    assert answer.status_code == 200, answer.content
    assert spoken(answer) == heard
    body = answer.json()
    # one code is never spread over two segments: its groups are not clauses
    assert all(not s["text"].endswith(("two,", "eight,")) for s in body["segments"])
    assert sum(s["characters"] for s in body["segments"]) == len(text)


def test_the_first_segment_is_a_short_clause_and_sources_are_kept(api, tenant_a):
    text = "Thanks for calling Dr. Okafor's office, how can I help you today? Bye."
    answer = preview(api(tenant_a.api_key), text=text)
    segments = answer.json()["segments"]
    assert segments[0]["text"].lower().startswith("thanks for calling doctor okafor")
    assert segments[0]["text"].endswith(",")
    assert segments[0]["input_text"].startswith("Thanks for calling Dr. Okafor")
    assert segments[-1]["text"] == "Bye."


def test_ssml_breaks_marks_prosody_and_say_as_show_in_the_preview(api, tenant_a):
    ssml = (
        '<speak><mark name="start"/>Hello <break time="700ms"/>'
        '<prosody rate="150%" volume="-6dB">call <say-as interpret-as="telephone">'
        '2025551212</say-as></prosody><mark name="end"/></speak>'
    )
    answer = preview(api(tenant_a.api_key), ssml=ssml)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    first, second = body["segments"]
    assert first["text"] == "Hello"
    assert first["marks"] == ["start"]
    assert first["pause_after_ms"] == 700
    assert second["rate"] == pytest.approx(1.5)
    assert second["volume_db"] == pytest.approx(-6.0)
    assert "two zero two" in second["text"]
    assert "one two one two" in second["text"]
    assert second["marks_after"] == ["end"]
    assert body["characters"] == len("Hello call 2025551212")


def test_the_voice_language_chooses_the_locale_when_the_request_names_none(api, tenant_a):
    with tenant_schema(tenant_a.tenant.schema_name):
        Voice.objects.create(name="Lagos desk", base_voice="joe", language="en-NG")
    answer = preview(api(tenant_a.api_key), text="It is ₦10k.", voice="Lagos desk")
    assert answer.status_code == 200, answer.content
    assert {s["language"] for s in answer.json()["segments"]} == {"en-NG"}
    assert "ten thousand naira" in spoken(answer)


def test_bad_ssml_is_a_400_with_line_and_column_and_bills_nothing(api, tenant_a):
    answer = preview(api(tenant_a.api_key), ssml="<speak>\n  <break time='forever'/></speak>")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "ssml"
    assert "line 2" in error["message"].lower()
    assert "column" in error["message"].lower()
    assert not UsageRecord.objects.exists()


@pytest.mark.parametrize(
    ("ssml", "named"),
    [
        ('<speak><break time="999999s"/></speak>', "10"),
        ("<speak>" + "x" * 200_000 + "</speak>", "bytes"),
        ("<speak>" + "<emphasis>" * 300 + "deep" + "</emphasis>" * 300 + "</speak>", "nested"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><speak>&a;</speak>', "DOCTYPE"),
    ],
)
def test_limits_and_unsafe_documents_are_named_in_the_400(api, tenant_a, ssml, named):
    answer = preview(api(tenant_a.api_key), ssml=ssml)
    assert answer.status_code == 400, answer.content
    assert named.lower() in answer.json()["error"]["message"].lower()


def test_unknown_tags_are_refused_unless_lenient(api, tenant_a):
    client = api(tenant_a.api_key)
    ssml = "<speak>Hello <whisper>there</whisper> friend.</speak>"
    strict = preview(client, ssml=ssml)
    assert strict.status_code == 400
    assert "whisper" in strict.json()["error"]["message"]
    lenient = preview(client, ssml=ssml, lenient_ssml=True)
    assert lenient.status_code == 200, lenient.content
    assert spoken(lenient) == "hello there friend."
    assert lenient.json()["warnings"]


def test_text_with_angle_brackets_is_plain_text(api, tenant_a):
    answer = preview(api(tenant_a.api_key), text="If a < b & c, stop.")
    assert answer.status_code == 200
    assert "less than" in spoken(answer)
    assert "and" in spoken(answer)


def test_the_preview_needs_a_key_with_the_synthesize_scope(api, tenant_a, client):
    assert client.post(URL, {"text": "hi"}, content_type="application/json").status_code == 401
    reader = api(tenant_a.key_with("voices:read"))
    answer = preview(reader, text="hi")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "insufficient_scope"


def test_another_tenants_preset_is_unknown(api, tenant_a, tenant_b):
    with tenant_schema(tenant_a.tenant.schema_name):
        preset = Voice.objects.create(name="Private", base_voice="joe")
    answer = preview(api(tenant_b.api_key), text="hi", voice=str(preset.pk))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "unknown_voice"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "text"),
        ({"text": "a", "ssml": "<speak>b</speak>"}, "text"),
        ({"text": "   "}, "text"),
        ({"ssml": "<speak><break time='1s'/></speak>"}, "ssml"),
        ({"text": "hi", "language": "xx-YY"}, "language"),
    ],
)
def test_bad_bodies_are_400s_naming_the_field(api, tenant_a, body, param):
    answer = preview(api(tenant_a.api_key), **body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["param"] == param


def test_an_alias_and_phonemes_bill_what_is_spoken_and_count_toward_the_limit(
    api, tenant_a, settings
):
    client = api(tenant_a.api_key)
    alias = "the World Wide Web Consortium, which writes the standards of the web"
    answer = preview(client, ssml=f'<speak><sub alias="{alias}">x</sub></speak>')
    assert answer.status_code == 200, answer.content
    assert answer.json()["characters"] == len(alias)
    assert sum(s["characters"] for s in answer.json()["segments"]) == len(alias)
    ph = "ðə ˈwɜːld ˈwaɪd ˈwɛb kənˈsɔːʃiəm"
    answer = preview(client, ssml=f'<speak><phoneme alphabet="ipa" ph="{ph}">W3C</phoneme></speak>')
    assert answer.json()["characters"] == len(ph)

    settings.TTS_MAX_INPUT_CHARACTERS = len(alias) - 1
    answer = preview(client, ssml=f'<speak><sub alias="{alias}">x</sub></speak>')
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("input_too_long", "ssml")
    assert str(len(alias) - 1) in error["message"]


def test_an_alias_over_its_cap_is_refused_even_when_lenient(api, tenant_a):
    ssml = f'<speak><sub alias="{"a" * 50_000}"> </sub></speak>'
    for lenient in (False, True):
        answer = preview(api(tenant_a.api_key), ssml=ssml, lenient_ssml=lenient)
        assert answer.status_code == 400, answer.content
        assert answer.json()["error"]["param"] == "ssml"
        assert answer.json()["error"]["code"] in ("ssml_too_large", "ssml_alias_too_long")
    ssml = f'<speak><sub alias="{"a" * 1_000}"> </sub></speak>'
    for lenient in (False, True):
        answer = preview(api(tenant_a.api_key), ssml=ssml, lenient_ssml=lenient)
        assert answer.status_code == 400, answer.content
        assert answer.json()["error"]["code"] == "ssml_alias_too_long"
        assert "alias" in answer.json()["error"]["message"]
