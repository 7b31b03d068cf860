"""The failed-authentication brake (issue #14, point 10): it refuses only keys that do not
verify, and counts failures per client address and per key prefix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from tenants.audit import Actor
from tenants.models import ApiKey, AuditLog
from tenants.services import api_key_revoke

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tenant_a", "one_brake_window")]

NAT = "198.51.100.7"


def from_address(address: str, raw_key: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {raw_key}"}, REMOTE_ADDR=address)


def code_of(response) -> str:
    return response.json()["error"]["code"]


def wrong_secret_for(raw_key: str) -> str:
    return f"cw_{raw_key.split('_')[1]}_{'W' * 43}"


@override_settings(AUTH_FAILURE_LIMIT_PER_MINUTE=3)
def test_a_valid_key_is_accepted_from_an_address_past_its_failure_budget(tenant_a):
    guesser = from_address(NAT, "cw_aaaaaaaaaaaa_" + "b" * 43)
    assert [guesser.get("/v1/me").status_code for _ in range(4)] == [401, 401, 401, 429]

    assert from_address(NAT, tenant_a.api_key).get("/v1/me").status_code == 200
    assert code_of(guesser.get("/v1/me")) == "too_many_failed_attempts"


@override_settings(AUTH_FAILURE_LIMIT_PER_MINUTE=3)
def test_guessing_secrets_for_one_key_is_braked_across_addresses(tenant_a):
    raw = tenant_a.key_with("voices:read")
    guesses = [
        from_address(f"203.0.113.{n}", wrong_secret_for(raw)).get("/v1/me") for n in range(1, 6)
    ]
    assert [r.status_code for r in guesses] == [401, 401, 401, 429, 429]
    assert 1 <= int(guesses[-1]["Retry-After"]) <= 60

    # The key's owner is not refused, and the guessers' addresses are free for other keys.
    assert from_address("203.0.113.1", raw).get("/v1/me").status_code == 200
    other = from_address("203.0.113.1", wrong_secret_for(tenant_a.api_key)).get("/v1/me")
    assert code_of(other) == "invalid_api_key"
    burst = AuditLog.objects.get(action="auth.failure_burst")
    assert burst.tenant_id == tenant_a.tenant.pk
    assert f"api_key:{raw.split('_')[1]}" in burst.target


@pytest.mark.parametrize("unusable", ["revoked", "expired"])
@override_settings(AUTH_FAILURE_LIMIT_PER_MINUTE=3)
def test_a_revoked_or_expired_key_does_not_use_up_its_address_budget(tenant_a, unusable):
    raw = tenant_a.key_with("voices:read", expires_at=timezone.now() + timedelta(hours=1))
    api_key = ApiKey.objects.get(prefix=raw.split("_")[1])
    if unusable == "revoked":
        api_key_revoke(api_key=api_key, by=Actor.system())
    else:
        ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now())
    stale_script = from_address(NAT, raw)
    codes = [code_of(stale_script.get("/v1/me")) for _ in range(4)]
    assert codes == [f"api_key_{unusable}"] * 3 + ["too_many_failed_attempts"]

    # Its neighbours behind the same address still get the ordinary answers.
    assert code_of(from_address(NAT, "cw_aaaaaaaaaaaa_" + "b" * 43).get("/v1/me")) == (
        "invalid_api_key"
    )
    assert from_address(NAT, tenant_a.api_key).get("/v1/me").status_code == 200


@override_settings(AUTH_FAILURE_LIMIT_PER_MINUTE=2)
def test_a_malformed_key_counts_against_its_address_only(tenant_a):
    garbled = from_address(NAT, "not-a-key")
    assert [garbled.get("/v1/me").status_code for _ in range(3)] == [401, 401, 429]
    assert from_address("192.0.2.44", "not-a-key").get("/v1/me").status_code == 401
