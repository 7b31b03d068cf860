"""The one error shape, `{"error": {"type", "code", "message", "param", "request_id"}}` (a superset
of OpenAI's), for DRF views, Django's own error handlers and middleware alike."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from redis.exceptions import RedisError
from rest_framework import exceptions as drf

from callwaiting_tts import tts_metrics
from callwaiting_tts.logs import request_id_var

logger = logging.getLogger(__name__)

_TYPE_BY_STATUS = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}

# Validation codes whose messages name their field themselves ("Unknown field 'fromat'; ...",
# OpenAI's "Unrecognized request argument supplied: fromat"): not prefixed with it again.
SELF_NAMING_CODES = frozenset({"unknown_field", "unknown_parameter", "invalid_type"})
# Redis or PostgreSQL out of reach (stopped, restarting, failing over): the request may succeed
# when repeated, so it is a 503 with Retry-After, not a 500 (chaos/, the fault suite).
UNAVAILABLE = (RedisError, OperationalError, InterfaceError)
UNAVAILABLE_RETRY_AFTER_SECONDS = 2


class ApplicationError(Exception):
    """Raised by services for a request the caller can fix; rendered in the error shape."""

    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid_request",
        param: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}  # e.g. Retry-After and X-RateLimit-* on a 429
        if status is not None:
            self.status = status


def error_type(status: int) -> str:
    if status in _TYPE_BY_STATUS:
        return _TYPE_BY_STATUS[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(
    *, status: int, code: str, message: str, param: str | None, request_id: str | None
) -> dict[str, Any]:
    """`{"error": {...}}`: the body of an HTTP error and the `error` of a WebSocket message.
    The type follows the status, on both."""
    return {
        "error": {
            "type": error_type(status),
            "code": code,
            "message": message,
            "param": param,
            "request_id": request_id,
        }
    }


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    param: str | None = None,
    request: HttpRequest | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    request_id = getattr(request, "request_id", None) or request_id_var.get()
    path = request.path if request is not None else ""
    tts_metrics.count_error(code, "openai" if path.startswith("/v1/audio/") else "http")
    body = error_body(status=status, code=code, message=message, param=param, request_id=request_id)
    return JsonResponse(body, status=status, headers=headers)


def _first_validation_error(detail: Any, path: str = "") -> tuple[str | None, str, str]:
    """Walks DRF's nested validation detail to its first leaf: (param, message, code)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # an item of a list (DRF keys list errors by index)
                return _first_validation_error(value, f"{path}[{key}]")
            field = "" if key == "non_field_errors" else str(key)
            return _first_validation_error(value, f"{path}.{field}".strip(".") if field else path)
    if isinstance(detail, list) and detail:
        for index, value in enumerate(detail):
            # A list of items' errors holds an empty one for each valid item: skip those.
            if isinstance(value, dict | list) and value:
                return _first_validation_error(value, f"{path}[{index}]")
        return _first_validation_error(detail[0], path)
    code = getattr(detail, "code", None) or "invalid"
    message = str(detail)
    named = path and code not in SELF_NAMING_CODES
    return (path or None, f"{path}: {message}" if named else message, str(code))


def _render_api_exception(exc: drf.APIException, request: HttpRequest | None) -> JsonResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, drf.ValidationError):
        param, message, code = _first_validation_error(exc.detail)
        return error_response(
            400,
            code if code != "invalid" else "invalid_request",
            message,
            param=param,
            request=request,
        )
    wait = getattr(exc, "wait", None)
    if isinstance(exc, drf.Throttled) and wait is not None:
        headers["Retry-After"] = str(max(1, int(wait)))
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
        exc.status_code = 401
    detail = exc.detail
    code = getattr(detail, "code", None) or exc.default_code
    codes = {"parse_error": "invalid_json", "not_authenticated": "missing_api_key"}
    return error_response(
        exc.status_code,
        codes.get(str(code), str(code)),
        str(detail),
        request=request,
        headers=headers,
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> JsonResponse:
    """DRF's EXCEPTION_HANDLER: every exception from a view leaves in the error shape."""
    request = context.get("request")
    django_request = getattr(request, "_request", request)
    if isinstance(exc, ApplicationError):
        return error_response(
            exc.status,
            exc.code,
            exc.message,
            param=exc.param,
            request=django_request,
            headers=exc.headers,
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound("Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return error_response(
            413, "request_too_large", "Request body is too large.", request=django_request
        )
    elif isinstance(exc, SuspiciousOperation):
        return error_response(400, "bad_request", "Bad request.", request=django_request)
    if isinstance(exc, drf.APIException):
        return _render_api_exception(exc, django_request)
    if isinstance(exc, UNAVAILABLE):
        return unavailable(exc, django_request)
    logger.exception("unhandled exception in API view")
    return error_response(
        500, "internal_error", "The server failed to process the request.", request=django_request
    )


def service_unavailable(
    message: str = "A backing service is unavailable; retry shortly.",
) -> ApplicationError:
    """The 503 for Redis or PostgreSQL out of reach, raised where the service catches the loss
    itself (mid-stream, on a socket); `unavailable` renders the ones it does not catch."""
    return ApplicationError(
        message,
        code="service_unavailable",
        status=503,
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
    )


def redis_lost() -> ApplicationError:
    return service_unavailable("The service lost its Redis during synthesis; retry shortly.")


def unavailable(exc: Exception, request: HttpRequest | None) -> JsonResponse:
    logger.warning("a backing service is unavailable", extra={"error": type(exc).__name__})
    return error_response(
        503,
        "service_unavailable",
        "A backing service is unavailable; retry shortly.",
        request=request,
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
    )


# Django's own handlers (urls.handler400/403/404/500): routes outside DRF answer the same shape.
def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return error_response(
            413, "request_too_large", "Request body is too large.", request=request
        )
    return error_response(400, "bad_request", "Bad request.", request=request)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(
        403, "permission_denied", "You do not have permission to do this.", request=request
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(404, "not_found", f"No route for {request.path}.", request=request)


def server_error(request: HttpRequest) -> JsonResponse:
    return error_response(
        500, "internal_error", "The server failed to process the request.", request=request
    )
