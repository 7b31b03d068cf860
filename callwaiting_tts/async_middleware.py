"""The middleware chain without a thread round trip per hook under daphne.

Django runs a `MiddlewareMixin` middleware in an async chain by sending each of its hooks
through `sync_to_async`: a thread round trip for `process_request`, another for
`process_response`, another for `process_view`. With the chain in settings that was some twenty
round trips per request, about 2 ms of an API request's time on this machine, and a sync-only
middleware (WhiteNoise's) turned the rest of the chain synchronous, so the view ran in a thread
too. The subclasses here keep Django's and the libraries' behaviour and change only where the
hooks run:

- `InlineHooks`: hooks that do no I/O (headers, counters, checks on the request) run on the
  event loop itself. Used for django-prometheus's, Security, Common and X-Frame-Options.
- `BrowserOnly`: what only browser pages use (sessions, CSRF, the signed-in user, messages)
  is skipped on the API's paths (`/v1/`), which authenticate with API keys and answer JSON or
  audio; elsewhere it runs as Django runs it, in a thread where it may touch the database.
- `StaticFiles`: WhiteNoise, able to run in an async chain (the lookup is a dict read; serving
  a file opens it in a thread).

In a synchronous chain (the test client, WSGI) every class behaves exactly as its base.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import MethodType
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django_prometheus.middleware import PrometheusAfterMiddleware, PrometheusBeforeMiddleware
from whitenoise.middleware import WhiteNoiseMiddleware

API_PREFIX = "/v1/"


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


class Middleware:
    """Base of this project's middleware: sync or async as its chain is, never a thread of its
    own. `before` may answer instead of the view; `after` sees every response; `finish` runs
    however the request ends. None of them may do I/O."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def before(self, request: HttpRequest) -> HttpResponseBase | None:
        return None

    def after(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        return response

    def finish(self, request: HttpRequest) -> None:
        return None

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._acall(request)
        try:
            response = self.before(request) or self.get_response(request)
            return self.after(request, response)
        finally:
            self.finish(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        try:
            response = self.before(request) or await self.get_response(request)
            return self.after(request, response)
        finally:
            self.finish(request)


class InlineHooks:
    """For a `MiddlewareMixin` whose hooks do no I/O: in an async chain they run on the event
    loop, not each in a thread."""

    get_response: Any
    async_mode: bool

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)  # type: ignore[call-arg]
        if not self.async_mode:
            return
        # The handler adapts a sync `process_view` or `process_template_response` with
        # `sync_to_async`; an async one runs as it is.
        for name in ("process_view", "process_template_response"):
            hook = getattr(self, name, None)
            if hook is not None:
                setattr(self, name, _on_the_loop(self, hook))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


def _on_the_loop(owner: object, hook: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`hook` as a coroutine method of `owner` (Django names a hook's class in its errors)."""

    async def run(_owner: object, *args: Any) -> Any:
        return hook(*args)

    return MethodType(run, owner)


class BrowserOnly:
    """For a `MiddlewareMixin` that only browser pages need: on API paths the request passes
    straight through (no hook, no thread); elsewhere it runs as Django runs it."""

    get_response: Callable[[HttpRequest], Any]
    async_mode: bool

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)  # type: ignore[call-arg]
        view_hook = getattr(self, "process_view", None)
        if view_hook is None:
            return
        if self.async_mode:
            in_thread = sync_to_async(view_hook, thread_sensitive=True)

            async def process_view(_owner: object, request: HttpRequest, *args: Any) -> Any:
                return None if is_api(request) else await in_thread(request, *args)

            self.process_view = MethodType(process_view, self)
        else:

            def process_view_sync(_owner: object, request: HttpRequest, *args: Any) -> Any:
                return None if is_api(request) else view_hook(request, *args)

            self.process_view = MethodType(process_view_sync, self)

    def __call__(self, request: HttpRequest) -> Any:
        if is_api(request):
            return self.get_response(request)  # a coroutine in an async chain
        return super().__call__(request)  # type: ignore[misc]


class PrometheusBefore(InlineHooks, PrometheusBeforeMiddleware):
    pass


class PrometheusAfter(InlineHooks, PrometheusAfterMiddleware):
    pass


class Security(InlineHooks, SecurityMiddleware):
    pass


class Common(InlineHooks, CommonMiddleware):
    pass


class XFrameOptions(InlineHooks, XFrameOptionsMiddleware):
    pass


class Sessions(BrowserOnly, SessionMiddleware):
    pass


class Csrf(BrowserOnly, CsrfViewMiddleware):
    pass


class Authentication(BrowserOnly, AuthenticationMiddleware):
    pass


class Messages(BrowserOnly, MessageMiddleware):
    pass


class StaticFiles(WhiteNoiseMiddleware):
    """WhiteNoise in an async chain as well as a sync one."""

    async_capable = True

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest) -> Any:
        if self.autorefresh:  # development: a look at the disk
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)
