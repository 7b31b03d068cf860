from __future__ import annotations

import socket

import pytest
from asgiref.testing import ApplicationCommunicator
from django.test import Client

from callwaiting_tts.asgi import application

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_health_is_200_when_postgres_redis_and_a_worker_answer(tts_worker):
    response = Client().get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": {"status": "ok"},
            "redis": {"status": "ok"},
            "tts_workers": {"status": "ok"},
        },
    }


def test_health_is_503_naming_the_workers_when_none_serves_an_engine(tts_worker, settings):
    settings.TTS_ENGINES = ["piper", "xtts"]  # the running worker serves piper only
    response = Client().get("/v1/health")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["tts_workers"] == {"status": "unavailable", "error": "NoWorkers"}
    assert checks["database"] == checks["redis"] == {"status": "ok"}


def test_health_is_503_naming_redis_when_redis_is_unreachable(settings):
    settings.REDIS_URL = f"redis://:hunter2@127.0.0.1:{closed_port()}/0"
    response = Client().get("/v1/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["status"] == "unavailable"
    assert body["checks"]["database"] == {"status": "ok"}
    assert b"hunter2" not in response.content
    assert b"127.0.0.1" not in response.content


def test_liveness_answers_without_touching_dependencies(settings, django_assert_num_queries):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    with django_assert_num_queries(0):
        response = Client().get("/v1/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_needs_no_key_but_a_bad_key_does_not_break_it(tts_worker):
    assert Client(headers={"Authorization": "Bearer junk"}).get("/v1/health").status_code == 200


def test_metrics_are_exported():
    Client().get("/v1/health/live")
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_method_total" in response.content


def test_the_landing_page_links_the_docs():
    response = Client().get("/")
    assert response.status_code == 200
    assert b'href="/v1/docs/"' in response.content


@pytest.mark.parametrize(
    "path",
    [
        "/static/css/site.css",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
    ],
)
async def test_the_asgi_app_serves_static_files_for_the_docs(path):
    # daphne runs callwaiting_tts.asgi, which serves static files itself (no CDN, no nginx needed).
    status, body = await asgi_get(path)
    assert status == 200
    assert len(body) > 100


async def asgi_get(path: str) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1),
    }
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await app.receive_output(timeout=10)
    body = b""
    while True:
        message = await app.receive_output(timeout=10)
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return start["status"], body
