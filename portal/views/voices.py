"""Voices: the stock voices and the tenant's own, a cloned voice's upload (file and consent),
its validation report in words, and deleting one after a confirmation step. Everyone reads;
owners and admins (the `voices:write` scope) upload and delete, through voices' services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods

from callwaiting_tts.errors import ApplicationError
from portal.access import member_view, page, seat
from portal.forms import VoiceUploadForm
from tenants.audit import Actor
from tenants.models import Scope
from voices.consent import CURRENT as CONSENT
from voices.selectors import (
    stock_preview_audio,
    stock_voices,
    voice_clip,
    voice_clip_path,
    voice_consents,
    voice_get,
    voice_list,
    voice_status_detail,
    voice_waveform,
)
from voices.services import (
    consent_recording_required,
    voice_delete,
    voice_queue_validation,
    voice_upload,
)


@member_view(scope=Scope.VOICES_READ)
def voice_index(request: HttpRequest) -> HttpResponse:
    own = voice_list(principal=seat(request).principal)
    stock = sorted(stock_voices().values(), key=lambda v: (v.engine, v.name))
    return page(request, "portal/voices/list.html", {"own": own, "stock": stock, "nav": "voices"})


@member_view(scope=Scope.VOICES_READ)
def voice_detail(request: HttpRequest, voice_id: str) -> HttpResponse:
    principal = seat(request).principal
    voice = voice_get(principal=principal, voice_id=voice_id)
    context = {
        "voice": voice,
        "detail": voice_status_detail(voice),
        "report": voice.report or {},
        "consent": voice_consents(principal=principal, voice_ids=[str(voice.pk)]).get(
            str(voice.pk)
        ),
        "has_clip": bool(voice_clip_path(voice)),
        "nav": "voices",
    }
    return page(request, "portal/voices/detail.html", context)


def _audio(data: bytes, content_type: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Length"] = str(len(data))
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@member_view(scope=Scope.VOICES_READ)
def voice_clip_audio(request: HttpRequest, voice_id: str) -> HttpResponse:
    """A cloned voice's stored clip: the cleaned reference, or the upload until it is cleaned."""
    principal = seat(request).principal
    voice = voice_get(principal=principal, voice_id=voice_id)
    return _audio(*voice_clip(principal=principal, voice=voice))


@require_GET
@member_view(scope=Scope.VOICES_READ)
def voice_waveform_svg(request: HttpRequest, voice_id: str) -> HttpResponse:
    """The clip's waveform (`voices.selectors.voice_waveform`, cached per voice and version)."""
    principal = seat(request).principal
    voice = voice_get(principal=principal, voice_id=voice_id)
    response = HttpResponse(
        voice_waveform(principal=principal, voice=voice), content_type="image/svg+xml"
    )
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_GET
@member_view(scope=Scope.VOICES_READ)
def stock_preview(request: HttpRequest, voice_id: str) -> HttpResponse:
    """A stock voice's preview clip, the one `GET /v1/voices/{id}/preview` serves; 503 in plain
    words until a worker of its engine has made it."""
    try:
        data = stock_preview_audio(voice_id)
    except ApplicationError as error:
        if error.status == 404:
            raise
        return HttpResponse(error.message, status=error.status, content_type="text/plain")
    return _audio(data, "audio/wav")


def _upload_page(request: HttpRequest, form: VoiceUploadForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "consent": CONSENT,
        "recording_required": consent_recording_required(seat(request).principal.tenant_id),
        "max_mib": settings.VOICE_UPLOAD_MAX_BYTES // 2**20,
        "nav": "voices",
    }
    return page(request, "portal/voices/upload.html", context, status=status)


def _bytes(upload: UploadedFile | None) -> bytes | None:
    return upload.read() if upload is not None else None


@require_http_methods(["GET", "POST"])
@member_view(scope=Scope.VOICES_WRITE)
def voice_upload_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _upload_page(request, VoiceUploadForm())
    limit = settings.VOICE_UPLOAD_MAX_BYTES
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit:  # refused before it is read
        form = VoiceUploadForm()
        form.add_error(None, f"The upload is larger than {limit // 2**20} MiB.")
        return _upload_page(request, form, status=413)
    form = VoiceUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_page(request, form, status=400)
    principal = seat(request).principal
    data = form.cleaned_data
    try:
        voice = voice_upload(
            schema_name=principal.schema_name,
            tenant_id=principal.tenant_id,
            by=Actor.of(request, principal),
            name=data["name"],
            language=data["language"],
            description=data["description"],
            consent=data["consent"],
            audio=_bytes(data["file"]) or b"",
            consent_recording=_bytes(data["consent_recording"]),
        )
    except ApplicationError as error:
        form.add_error(error.param if error.param in form.fields else None, error.message)
        return _upload_page(request, form, status=400)
    voice_queue_validation(schema_name=principal.schema_name, voice=voice)
    messages.success(request, f"“{voice.name}” is uploaded; its clip is being checked.")
    return redirect("portal:voice", voice_id=str(voice.pk))


@require_http_methods(["GET", "POST"])
@member_view(scope=Scope.VOICES_WRITE)
def voice_delete_page(request: HttpRequest, voice_id: str) -> HttpResponse:
    """GET asks for confirmation; POST deletes the voice and its files."""
    principal = seat(request).principal
    voice = voice_get(principal=principal, voice_id=voice_id)
    if request.method != "POST":
        return page(request, "portal/voices/delete.html", {"voice": voice, "nav": "voices"})
    voice_delete(principal=principal, by=Actor.of(request, principal), voice_id=str(voice.pk))
    messages.success(request, f"“{voice.name}” is deleted.")
    return redirect("portal:voices")
