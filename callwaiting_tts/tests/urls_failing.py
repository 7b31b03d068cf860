"""The project's routes plus two that fail, to test how unhandled exceptions are answered."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from callwaiting_tts import urls


class FailingApiView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> HttpResponse:
        raise RuntimeError("secret-db-password in a traceback")


def failing_django_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret-db-password in a traceback")


urlpatterns: list[URLPattern | URLResolver] = [
    path("v1/failing-api", FailingApiView.as_view()),
    path("failing-django", failing_django_view),
    *urls.urlpatterns,
]
handler400, handler403 = urls.handler400, urls.handler403
handler404, handler500 = urls.handler404, urls.handler500
