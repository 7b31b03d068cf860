"""HTTP middleware that belongs to no product area: request ids and API path handling."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from callwaiting_tts.async_middleware import Middleware, is_api
from callwaiting_tts.errors import error_response
from callwaiting_tts.logs import request_id_var, tenant_var

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


class RequestIdMiddleware(Middleware):
    """Keeps a well-formed incoming `X-Request-ID`, else makes one; echoes it on every response."""

    def before(self, request: HttpRequest) -> None:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        request._log_context = (request_id_var.set(request_id), tenant_var.set(None))  # type: ignore[attr-defined]

    def after(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        return response

    def finish(self, request: HttpRequest) -> None:
        id_token, tenant_token = request._log_context  # type: ignore[attr-defined]
        request_id_var.reset(id_token)
        tenant_var.reset(tenant_token)


# The one endpoint whose body is a file: its own, larger cap (VOICE_UPLOAD_MAX_BYTES).
UPLOAD_PATH = "/v1/voices/upload"


class ApiPathMiddleware(Middleware):
    """For `/v1/...`: one route answers with and without a trailing slash (no redirect, so POST
    stays POST), and an oversized declared body is refused before anything reads it."""

    def before(self, request: HttpRequest) -> HttpResponseBase | None:
        if is_api(request):
            if len(request.path_info) > 4 and request.path_info.endswith("/"):
                request.path_info = request.path_info.rstrip("/")
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if request.path_info == UPLOAD_PATH and length > settings.VOICE_UPLOAD_MAX_BYTES:
                return error_response(
                    413,
                    "file_too_large",
                    f"The upload is larger than {settings.VOICE_UPLOAD_MAX_BYTES // 2**20} MiB; "
                    "30 s of speech fits in far less (WAV, FLAC, MP3, M4A, Ogg or WebM).",
                    request=request,
                )
            if request.path_info != UPLOAD_PATH and length > settings.API_MAX_BODY_BYTES:
                return error_response(
                    413,
                    "request_too_large",
                    f"Request body is larger than {settings.API_MAX_BODY_BYTES} bytes.",
                    request=request,
                )
        return None
