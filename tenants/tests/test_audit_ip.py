"""The audit log's address column takes only addresses (issue #14, point 11): a request whose
client address is not one is answered as any other, and audited without it."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from tenants.audit import Actor, audit_record
from tenants.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("203.0.113.9", "203.0.113.9"),
        (" 2001:DB8::1 ", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("not-an-ip", None),
        ("unknown", None),
        ("203.0.113.9, 10.0.0.1", None),
        ("", None),
        (None, None),
    ],
)
def test_an_audit_entry_keeps_only_a_valid_address(given, stored):
    by = Actor(actor="test", source=AuditLog.Source.SYSTEM, ip=given)
    entry = audit_record(by=by, action="test.ip")
    entry.refresh_from_db()
    assert entry.ip == stored


def test_an_audited_request_from_an_odd_address_is_answered_normally(tenant_a):
    client = Client(headers={"Authorization": f"Bearer {tenant_a.api_key}"}, REMOTE_ADDR="bogus")
    response = client.post("/v1/keys", {"name": "odd"}, content_type="application/json")
    assert response.status_code == 201, response.content
    entry = AuditLog.objects.get(target=f"api_key:{response.json()['prefix']}")
    assert entry.ip is None


@pytest.mark.usefixtures("one_brake_window")
@override_settings(AUTH_FAILURE_LIMIT_PER_MINUTE=2)
def test_a_failure_burst_from_no_known_address_is_audited_without_one(tenant_a):
    guesser = Client(headers={"Authorization": "Bearer not-a-key"}, REMOTE_ADDR="")
    assert [guesser.get("/v1/me").status_code for _ in range(3)] == [401, 401, 429]
    burst = AuditLog.objects.get(action="auth.failure_burst")
    assert (burst.actor, burst.ip) == ("ip:unknown", None)
