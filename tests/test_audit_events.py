"""Audit entries for the governance events across apps: voices created or deleted,
members added or removed (staff admin), and bursts of failed authentication."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model

from tenants.models import AuditLog, Membership

pytestmark = pytest.mark.django_db


def test_voices_created_and_deleted_through_the_api_are_audited(api, tenant_a):
    client = api(tenant_a.api_key)
    created = client.post(
        "/v1/voices", {"name": f"Desk {uuid.uuid4().hex[:6]}", "base_voice": "joe"},
        content_type="application/json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    voice_id = created.json()["id"]
    assert client.delete(f"/v1/voices/{voice_id}").status_code == 204
    entries = AuditLog.objects.filter(tenant=tenant_a.tenant, action__startswith="voice.")
    assert [e.action for e in entries.order_by("created_at")] == ["voice.create", "voice.delete"]
    prefix = tenant_a.api_key.split("_")[1]
    assert {e.actor for e in entries} == {f"api_key:{prefix}"}
    assert all(voice_id in e.target for e in entries)
    assert all(e.request_id for e in entries)


def test_a_burst_of_failed_authentication_is_audited_once(client, settings):
    settings.AUTH_FAILURE_LIMIT_PER_MINUTE = 3
    for _ in range(5):
        client.get("/v1/me", headers={"Authorization": "Bearer cw_aaaaaaaaaaaa_" + "b" * 43})
    [entry] = AuditLog.objects.filter(action="auth.failure_burst")
    assert entry.ip == "127.0.0.1"
    assert entry.tenant is None


def test_members_added_and_removed_by_staff_are_audited(tenant_a, staff, superuser):
    root = superuser
    member = get_user_model().objects.create_user(username=f"m-{uuid.uuid4().hex[:8]}")
    added = staff.post(
        "/admin/tenants/membership/add/",
        {"user": member.pk, "tenant": tenant_a.tenant.pk, "role": "member"},
    )
    assert added.status_code == 302, added.content[:500]
    membership = Membership.objects.get(user=member)
    removed = staff.post(f"/admin/tenants/membership/{membership.pk}/delete/", {"post": "yes"})
    assert removed.status_code == 302
    actions = list(
        AuditLog.objects.filter(tenant=tenant_a.tenant, action__startswith="member.")
        .order_by("created_at")
        .values_list("action", "actor")
    )
    assert actions == [("member.add", f"user:{root.pk}"), ("member.remove", f"user:{root.pk}")]
