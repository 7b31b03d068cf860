"""The staff admin: tenants can be suspended and reactivated, keys revoked (both effective on
the next API request), key secrets are never shown on the key's pages, and the audit log is
read-only. Creating tenants and keys, and domains: test_admin_staff.py."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from billing.services import plan_default
from tenants.audit import Actor, audit_record
from tenants.models import ALL_SCOPES, ApiKey, AuditLog, Tenant
from tenants.services import api_key_create, tenant_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh():
    """A tenant of this test only (rolled back with it): status changes must not leave the
    session tenants' cached auth records suspended for later tests."""
    created = tenant_create(
        name="Admin test",
        slug=f"adm-{uuid.uuid4().hex[:8]}",
        by=Actor.system(),
        plan_id=plan_default().pk,
    )
    return created.tenant, created.api_key.secret


def me(key: str):
    return Client(headers={"Authorization": f"Bearer {key}"}).get("/v1/me")


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


def admin_action(client: Client, model: str, action: str, *pks: int):
    response = client.post(
        f"/admin/tenants/{model}/", {"action": action, "_selected_action": [str(pk) for pk in pks]}
    )
    assert response.status_code == 302, response.content
    return response


# --- tenants -----------------------------------------------------------------------------------


def test_the_tenant_changelist_and_change_page_show_the_tenant(staff, tenant_a):
    tenant = tenant_a.tenant
    response = staff.get("/admin/tenants/tenant/")
    assert response.status_code == 200
    assert tenant.slug in response.content.decode()

    response = staff.get(f"/admin/tenants/tenant/{tenant.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert tenant.slug in html
    assert tenant.schema_name in html


def test_the_suspend_and_reactivate_actions_take_effect_on_the_next_request(
    staff, superuser, fresh
):
    tenant, key = fresh
    assert me(key).status_code == 200  # the auth record is now cached

    admin_action(staff, "tenant", "suspend", tenant.pk)
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.SUSPENDED
    assert_error(me(key), 403, "tenant_suspended")
    [audit] = AuditLog.objects.filter(action="tenant.suspend", tenant=tenant)
    assert audit.source == AuditLog.Source.ADMIN
    assert audit.actor == f"user:{superuser.pk}"

    admin_action(staff, "tenant", "reactivate", tenant.pk)
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE
    response = me(key)
    assert response.status_code == 200
    assert response.json()["tenant"]["slug"] == tenant.slug
    [audit] = AuditLog.objects.filter(action="tenant.reactivate", tenant=tenant)
    assert audit.source == AuditLog.Source.ADMIN


def test_tenants_cannot_be_deleted_in_the_admin_nor_added_bypassing_the_service(staff, tenant_a):
    # Adding goes through tenant_create (tests/test_admin_staff.py); a form missing what it
    # needs (here the plan) creates nothing.
    tenants = Tenant.objects.count()
    assert staff.post("/admin/tenants/tenant/add/", {"name": "x", "slug": "x"}).status_code == 200
    pk = tenant_a.tenant.pk
    assert staff.get(f"/admin/tenants/tenant/{pk}/delete/").status_code == 403
    assert staff.post(f"/admin/tenants/tenant/{pk}/delete/", {"post": "yes"}).status_code == 403
    assert Tenant.objects.count() == tenants


# --- API keys ----------------------------------------------------------------------------------


def test_api_key_pages_never_show_the_secret_or_its_hash(staff, tenant_a):
    secret = tenant_a.key_with(*ALL_SCOPES)
    api_key = ApiKey.objects.get(prefix=secret.split("_")[1])

    listing = staff.get("/admin/tenants/apikey/")
    assert listing.status_code == 200
    change = staff.get(f"/admin/tenants/apikey/{api_key.pk}/change/")
    assert change.status_code == 200
    for response in (listing, change):
        html = response.content.decode()
        assert api_key.prefix in html
        assert api_key.secret_hash not in html
        assert secret not in html
        assert secret.split("_", 2)[2] not in html


def test_the_revoke_action_takes_effect_on_the_next_request(staff, superuser, tenant_a):
    key = tenant_a.key_with(*ALL_SCOPES)
    api_key = ApiKey.objects.get(prefix=key.split("_")[1])
    assert me(key).status_code == 200  # the auth record is now cached

    admin_action(staff, "apikey", "revoke", api_key.pk)
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert_error(me(key), 401, "api_key_revoked")
    assert me(tenant_a.api_key).status_code == 200  # only the selected key
    [audit] = AuditLog.objects.filter(action="api_key.revoke", target=f"api_key:{api_key.prefix}")
    assert audit.source == AuditLog.Source.ADMIN
    assert audit.actor == f"user:{superuser.pk}"
    assert audit.tenant == tenant_a.tenant


def test_api_keys_cannot_be_deleted_in_the_admin_nor_forged(staff, tenant_a):
    # Minting goes through api_key_create (tests/test_admin_staff.py): a posted prefix and hash
    # are not fields of its form, and without scopes it mints nothing.
    keys = ApiKey.objects.count()
    forged = {"tenant": tenant_a.tenant.pk, "name": "x", "prefix": "x", "secret_hash": "x"}
    assert staff.post("/admin/tenants/apikey/add/", forged).status_code == 200
    pk = ApiKey.objects.filter(tenant=tenant_a.tenant).earliest("created_at").pk
    assert staff.get(f"/admin/tenants/apikey/{pk}/delete/").status_code == 403
    assert ApiKey.objects.count() == keys


def test_the_api_key_change_form_cannot_change_the_key(staff, tenant_a):
    created = api_key_create(
        tenant=tenant_a.tenant, name="fixed", scopes=["voices:read"], by=Actor.system()
    )
    api_key = created.api_key
    before = (api_key.name, api_key.prefix, api_key.secret_hash, api_key.scopes)
    staff.post(
        f"/admin/tenants/apikey/{api_key.pk}/change/",
        {
            "name": "renamed",
            "prefix": "hijacked",
            "secret_hash": "0" * 64,
            "scopes": "admin",
            "revoked_at": "",
        },
    )
    api_key.refresh_from_db()
    assert (api_key.name, api_key.prefix, api_key.secret_hash, api_key.scopes) == before
    assert me(created.secret).status_code == 200


# --- audit log ---------------------------------------------------------------------------------


@pytest.fixture
def audit_row(tenant_a):
    return audit_record(
        by=Actor.cli(), action="tenant.list", tenant=tenant_a.tenant, target="checked"
    )


def test_the_audit_log_can_be_listed_and_viewed(staff, audit_row):
    response = staff.get("/admin/tenants/auditlog/")
    assert response.status_code == 200
    assert "checked" in response.content.decode()
    assert staff.get(f"/admin/tenants/auditlog/{audit_row.pk}/change/").status_code == 200


def test_the_audit_log_is_read_only(staff, audit_row):
    rows = AuditLog.objects.count()
    assert staff.get("/admin/tenants/auditlog/add/").status_code == 403
    forged = {"actor": "x", "action": "forged", "target": "forged", "source": "admin"}
    assert staff.post("/admin/tenants/auditlog/add/", forged).status_code == 403

    page = f"/admin/tenants/auditlog/{audit_row.pk}"
    assert staff.post(f"{page}/change/", forged).status_code == 403
    audit_row.refresh_from_db()
    assert audit_row.actor == "cli"
    assert (audit_row.action, audit_row.target) == ("tenant.list", "checked")

    assert staff.get(f"{page}/delete/").status_code == 403
    assert staff.post(f"{page}/delete/", {"post": "yes"}).status_code == 403
    staff.post(
        "/admin/tenants/auditlog/",
        {"action": "delete_selected", "_selected_action": [str(audit_row.pk)], "post": "yes"},
    )
    assert AuditLog.objects.filter(pk=audit_row.pk).exists()
    assert AuditLog.objects.count() == rows


# --- who may enter -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/", "/admin/tenants/tenant/", "/admin/tenants/apikey/"])
def test_a_non_staff_user_is_sent_to_the_login_page(path):
    user = get_user_model().objects.create_user(
        username=f"plain-{uuid.uuid4().hex[:8]}", password="x" * 20
    )
    client = Client()
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")

    anonymous = Client().get(path)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/")


def test_a_non_staff_user_cannot_run_admin_actions(fresh):
    tenant, _ = fresh
    user = get_user_model().objects.create_user(
        username=f"plain-{uuid.uuid4().hex[:8]}", password="x" * 20
    )
    client = Client()
    client.force_login(user)
    response = client.post(
        "/admin/tenants/tenant/", {"action": "suspend", "_selected_action": [str(tenant.pk)]}
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE


def test_staff_can_require_consent_recordings_and_it_is_audited(staff, tenant_a):
    tenant = tenant_a.tenant
    form = {
        "name": tenant.name,
        "slug": tenant.slug,
        "plan": tenant.plan_id,
        "require_consent_recording": "on",
        "domains-TOTAL_FORMS": "0",
        "domains-INITIAL_FORMS": "0",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    response = staff.post(f"/admin/tenants/tenant/{tenant.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    tenant.refresh_from_db()
    assert tenant.require_consent_recording is True
    entry = AuditLog.objects.filter(action="tenant.consent_recording", tenant=tenant).get()
    assert entry.target == f"tenant:{tenant.slug} required"
