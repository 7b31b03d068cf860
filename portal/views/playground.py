"""The playground: type, pick a voice, listen. Every role may (members hold `synthesize`); it
is a synthesis like the API's, admitted and billed to the tenant, the member counted as the
caller (`Principal.rate_subject`)."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.http import require_POST

from callwaiting_tts.errors import ApplicationError, error_response
from portal.access import member_view, page, seat
from portal.forms import PlaygroundForm
from synthesis.api import responses
from synthesis.audio.formats import FORMATS
from synthesis.services import Synthesis, SynthesisInput, synthesis_start
from synthesis.text.ssml import looks_like_ssml
from tenants.models import Scope
from tenants.principal import Principal
from voices.models import Voice
from voices.selectors import stock_voices, voice_list


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
def playground(request: HttpRequest) -> HttpResponse:
    form = PlaygroundForm(voices=_voices(seat(request).principal))
    return page(request, "portal/playground.html", {"form": form, "nav": "playground"})


@require_POST
@member_view(scope=Scope.SYNTHESIZE)
def speak(request: HttpRequest) -> HttpResponseBase:
    """The whole clip as MP3; an error in the API's JSON shape (the page's script shows it)."""
    principal = seat(request).principal
    form = PlaygroundForm(request.POST, voices=_voices(principal))
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return error_response(400, "invalid_request", f"{field}: {errors[0]}", request=request)
    text = form.cleaned_data["text"]
    ssml = looks_like_ssml(text)
    data = SynthesisInput(
        text=None if ssml else text,
        ssml=text if ssml else None,
        voice=form.cleaned_data["voice"],
        language=None,
        speed=form.cleaned_data["speed"],
        output_format="mp3",
        sample_rate=FORMATS["mp3"].default_rate,
        source="http",
    )
    try:
        synthesis, audio = async_to_sync(_speak)(
            principal, data, getattr(request, "request_id", "")
        )
    except ApplicationError as error:
        return error_response(error.status, error.code, error.message, request=request)
    return responses.whole(synthesis, audio)
