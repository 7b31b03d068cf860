"""GET /metrics answers the scraper only: METRICS_TOKEN as a Bearer token, or a peer address in
METRICS_ALLOWED_NETWORKS (loopback by default, not "any private address")."""

from __future__ import annotations

from django.test import Client, override_settings

TOKEN = "scrape-0123456789abcdefghijklmnopqrstuv"
METRIC = b"django_http_requests_total_by_method_total"


def scrape(address: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return Client(REMOTE_ADDR=address, headers=headers).get("/metrics")


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["request_id"] == response["X-Request-ID"]
    assert METRIC not in response.content


def test_loopback_scrapes_without_a_token():
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        response = scrape(address)
        assert response.status_code == 200, address
        assert METRIC in response.content


def test_a_private_address_is_not_enough():
    for address in ("10.1.2.3", "172.17.0.5", "192.168.1.9", "fd00::5"):
        assert_refused(scrape(address), 403, "metrics_forbidden")


@override_settings(METRICS_ALLOWED_NETWORKS=["10.42.0.0/16", "fd00::/8"])
def test_a_configured_network_scrapes():
    assert scrape("10.42.7.1").status_code == 200
    assert scrape("fd00::5").status_code == 200
    assert_refused(scrape("10.43.0.1"), 403, "metrics_forbidden")


@override_settings(METRICS_TOKEN=TOKEN)
def test_the_scrapers_token_opens_it_from_anywhere():
    assert scrape("203.0.113.9", TOKEN).status_code == 200
    wrong = scrape("203.0.113.9", TOKEN[:-1] + "x")
    assert_refused(wrong, 401, "metrics_unauthorized")
    assert wrong["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert_refused(scrape("203.0.113.9"), 401, "metrics_unauthorized")
    assert_refused(scrape("203.0.113.9", "é" * 10), 401, "metrics_unauthorized")


def test_no_token_is_configured_so_no_bearer_opens_it():
    assert_refused(scrape("203.0.113.9", ""), 403, "metrics_forbidden")
    assert_refused(scrape("203.0.113.9", "anything"), 403, "metrics_forbidden")
