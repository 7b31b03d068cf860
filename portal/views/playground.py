"""The playground: type, pick a voice, listen. Every role may (members hold `synthesize`); it
is a synthesis like the API's, admitted and billed to the tenant, the member counted as the
caller (`Principal.rate_subject`).

With script, the page streams: `POST /portal/playground/` (session and CSRF, no API key in the
browser) validates the request like `/v1/synthesize` and keeps it in the cache under a one-time
random id for 60 s, bound to the member and tenant; the page's `<audio>` then GETs
`/portal/playground/stream/<id>/`, which streams MP3 as the synthesis service makes it (the
API's own streaming response). The POST also answers the text preview (what the engine will
say) and the same request as code. Without script, `speak/` answers the whole file."""

from __future__ import annotations

import dataclasses
import json
import secrets
import shlex
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from callwaiting_tts.errors import ApplicationError, error_response
from portal.access import member_view, page, seat
from portal.forms import PlaygroundForm
from synthesis.api import responses
from synthesis.api.serializers import SynthesizeSerializer
from synthesis.api.views import preview_body
from synthesis.audio.formats import FORMATS
from synthesis.services import Synthesis, SynthesisInput, synthesis_start, text_preview
from synthesis.text.ssml import looks_like_ssml
from tenants.models import Scope
from tenants.principal import Principal
from voices.models import Voice
from voices.selectors import stock_voices, voice_list

STREAM_TTL_SECONDS = 60
_CACHE_PREFIX = "portal:playground:stream:"


def _voices(principal: Principal) -> list[tuple[str, str]]:
    own = [
        (str(v.pk), f"{v.name} (yours)")
        for v in voice_list(principal=principal)
        if v.status == Voice.Status.READY
    ]
    stock = [(v.id, f"{v.name} · {v.locale or v.language}") for v in stock_voices().values()]
    return own + sorted(stock, key=lambda pair: pair[1])


async def _speak(
    principal: Principal, data: SynthesisInput, request_id: str
) -> tuple[Synthesis, bytes]:
    """The synthesis and its whole audio, on one event loop (its Redis clients belong to it)."""
    synthesis = await synthesis_start(principal=principal, data=data, request_id=request_id)
    return synthesis, await responses.whole_audio(synthesis)


@member_view(scope=Scope.SYNTHESIZE)
def playground(request: HttpRequest) -> HttpResponseBase:
    if request.method == "POST":
        return _prepare_stream(request)
    form = PlaygroundForm(voices=_voices(seat(request).principal))
    context = {"form": form, "nav": "playground", "snippet_names": SNIPPET_NAMES}
    return page(request, "portal/playground.html", context)


def _api_body(form: PlaygroundForm) -> dict[str, Any]:
    """The form as a `/v1/synthesize` body (what the snippets send)."""
    text = form.cleaned_data["text"]
    body: dict[str, Any] = {"ssml" if looks_like_ssml(text) else "text": text}
    body["voice"] = form.cleaned_data["voice"]
    if form.cleaned_data.get("language"):
        body["language"] = form.cleaned_data["language"]
    body["format"] = form.cleaned_data["format"]
    if form.cleaned_data["speed"] != 1.0:
        body["speed"] = form.cleaned_data["speed"]
    return body


def _invalid(request: HttpRequest, form: PlaygroundForm) -> HttpResponse:
    field, errors = next(iter(form.errors.items()))
    return error_response(400, "invalid_request", f"{field}: {errors[0]}", request=request)


def _prepare_stream(request: HttpRequest) -> HttpResponse:
    """Validates like the API, keeps the input for one GET of the stream; answers its URL, the
    text preview and the snippets (JSON), or an error in the API's JSON shape."""
    member = seat(request)
    form = PlaygroundForm(request.POST, voices=_voices(member.principal))
    if not form.is_valid():
        return _invalid(request, form)
    body = _api_body(form)
    serializer = SynthesizeSerializer(data=body)
    try:
        serializer.is_valid(raise_exception=True)
    except ValidationError as error:
        detail = error.detail
        field, messages = next(iter(detail.items())) if isinstance(detail, dict) else ("", detail)
        message = str(messages[0] if isinstance(messages, list) else messages)
        return error_response(400, "invalid_request", f"{field}: {message}", request=request)
    data = serializer.to_input()
    try:
        # Not metered: the stream this check precedes is admitted itself.
        voice, plan = text_preview(
            principal=member.principal, data=data, request_id="", metered=False
        )
    except ApplicationError as error:
        return error_response(error.status, error.code, error.message, request=request)
    token = secrets.token_urlsafe(24)
    cache.set(
        _CACHE_PREFIX + token,
        {"user": request.user.pk, "tenant": member.tenant.pk, "input": dataclasses.asdict(data)},
        STREAM_TTL_SECONDS,
    )
    return JsonResponse(
        {
            "stream_url": reverse("portal:stream", args=[token]),
            "preview": preview_body(plan, voice_id=voice.id, engine=voice.stock.engine),
            "snippets": snippets(request, body),
        },
        headers={"Cache-Control": "no-store"},
    )


@member_view(scope=Scope.SYNTHESIZE)
def stream(request: HttpRequest, token: str) -> HttpResponseBase:
    """The prepared request's MP3, streamed as it is made; once only, for its member and tenant
    (anything else, or later than 60 s, is the portal's 404)."""
    member = seat(request)
    key = _CACHE_PREFIX + token
    kept = cache.get(key)
    if (
        not isinstance(kept, dict)
        or kept.get("user") != request.user.pk
        or kept.get("tenant") != member.tenant.pk
    ):
        raise Http404
    if not cache.delete(key):  # someone else's GET took it first
        raise Http404
    data = SynthesisInput(**kept["input"])
    try:
        synthesis = async_to_sync(synthesis_start)(
            principal=member.principal, data=data, request_id=getattr(request, "request_id", "")
        )
    except ApplicationError as error:
        return error_response(error.status, error.code, error.message, request=request)
    return responses.streamed(synthesis)


@require_POST
@member_view(scope=Scope.SYNTHESIZE)
def speak(request: HttpRequest) -> HttpResponseBase:
    """The whole clip as MP3 (the page without script); an error in the API's JSON shape."""
    principal = seat(request).principal
    form = PlaygroundForm(request.POST, voices=_voices(principal))
    if not form.is_valid():
        return _invalid(request, form)
    text = form.cleaned_data["text"]
    ssml = looks_like_ssml(text)
    data = SynthesisInput(
        text=None if ssml else text,
        ssml=text if ssml else None,
        voice=form.cleaned_data["voice"],
        language=form.cleaned_data.get("language") or None,
        speed=form.cleaned_data["speed"],
        output_format=form.cleaned_data["format"],
        sample_rate=FORMATS[form.cleaned_data["format"]].default_rate,
        source="http",
    )
    try:
        synthesis, audio = async_to_sync(_speak)(
            principal, data, getattr(request, "request_id", "")
        )
    except ApplicationError as error:
        return error_response(error.status, error.code, error.message, request=request)
    return responses.whole(synthesis, audio)


# --- the same request as code ----------------------------------------------------------------

KEY_VARIABLE = "CALLWAITING_API_KEY"
SNIPPET_NAMES = [
    ("curl", "curl (/v1/synthesize)"),
    ("python", "Python, httpx streaming"),
    ("openai", "OpenAI SDK (/v1/audio/speech)"),
]


def snippets(request: HttpRequest, body: dict[str, Any]) -> dict[str, str]:
    """curl, Python (httpx, streaming) and the OpenAI SDK for `body`; the key stays a
    placeholder (`$CALLWAITING_API_KEY`)."""
    url = request.build_absolute_uri("/v1/synthesize")
    base = request.build_absolute_uri("/v1")
    as_json = json.dumps(body, ensure_ascii=True)
    file = f"speech.{FORMATS[body['format']].extension}"
    curl = "\n".join(
        [
            f"curl -N {shlex.quote(url)} \\",
            f'  -H "Authorization: Bearer ${KEY_VARIABLE}" \\',
            '  -H "Content-Type: application/json" \\',
            f"  -d {shlex.quote(as_json)} \\",
            f"  -o {file}",
        ]
    )
    python = "\n".join(
        [
            "import os",
            "",
            "import httpx",
            "",
            f"body = {json.dumps(body, ensure_ascii=True, indent=4)}",
            f'headers = {{"Authorization": f"Bearer {{os.environ[{KEY_VARIABLE!r}]}}"}}',
            f"with httpx.stream({'POST'!r}, {url!r}, json=body, headers=headers, timeout=60) as r:",
            "    r.raise_for_status()",
            f'    with open({file!r}, "wb") as out:',
            "        for chunk in r.iter_bytes():  # audio as it is made",
            "            out.write(chunk)",
        ]
    )
    text = body.get("text", body.get("ssml", ""))
    speech = [
        f"    model={settings.OPENAI_MODELS[0]!r},",
        f"    voice={body['voice']!r},",
        f"    input={json.dumps(text, ensure_ascii=True)},",
        f"    response_format={body['format']!r},",
    ]
    if "speed" in body:
        speech.append(f"    speed={body['speed']!r},")
    openai = "\n".join(
        [
            "import os",
            "",
            "from openai import OpenAI",
            "",
            f"client = OpenAI(base_url={base!r}, api_key=os.environ[{KEY_VARIABLE!r}])",
            "with client.audio.speech.with_streaming_response.create(",
            *speech,
            ") as response:",
            f"    response.stream_to_file({file!r})",
        ]
    )
    return {"curl": curl, "python": python, "openai": openai}
