"""The portal through Django's test client: every page and action, its roles, its tenant
checks, CSRF, the CSP and the audit trail."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client, override_settings

from conftest import TenantFixture
from portal.tests.conftest import PASSWORD, MakeMember, assert_strict_page, signed_in
from tenants.models import ApiKey, AuditLog, Membership

pytestmark = pytest.mark.django_db


def _me(key: str) -> int:
    return Client(headers={"Authorization": f"Bearer {key}"}).get("/v1/me").status_code


def _create_key(client: Client, name: str = "agent", **extra: object) -> str:
    data = {"name": name, "scopes": ["synthesize", "voices:read"], **extra}
    response = client.post("/portal/keys/", data)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    html = assert_strict_page(response)
    found = re.search(r'id="new-secret"[^>]*value="([^"]+)"', html)
    assert found, "the secret is shown"
    return found.group(1)


# --- signing in -------------------------------------------------------------------------------


def test_it_shows_the_sign_in_page_under_the_csp() -> None:
    response = Client().get("/portal/sign-in/")
    html = assert_strict_page(response)
    assert 'for="id_username"' in html
    assert 'for="id_password"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_it_signs_a_member_in_with_email_and_password(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    user = make_member(tenant_a.tenant)
    client = Client()
    response = client.post("/portal/sign-in/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/portal/"
    home = assert_strict_page(client.get("/portal/"))
    assert tenant_a.tenant.name in home
    assert "Characters this month" in home


def test_it_refuses_a_wrong_password(tenant_a: TenantFixture, make_member: MakeMember) -> None:
    user = make_member(tenant_a.tenant)
    response = Client().post("/portal/sign-in/", {"username": user.email, "password": "nope"})
    assert response.status_code == 200
    assert "correct" in assert_strict_page(response)


@override_settings(PORTAL_SIGNIN_FAILURE_LIMIT=3)
def test_it_stops_guessing_after_a_few_failures(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    user = make_member(tenant_a.tenant)
    for _ in range(3):
        Client().post("/portal/sign-in/", {"username": user.email, "password": "guess"})
    right = Client().post("/portal/sign-in/", {"username": user.email, "password": PASSWORD})
    assert right.status_code == 200  # refused, even with the right password
    assert "Too many failed sign-ins" in assert_strict_page(right)
    other = make_member(tenant_a.tenant)
    ok = Client().post("/portal/sign-in/", {"username": other.email, "password": PASSWORD})
    assert ok.status_code == 302  # another account from the same address still signs in


def test_it_sends_anonymous_visitors_to_sign_in() -> None:
    for path in ("/portal/", "/portal/keys/", "/portal/keys/1/revoke/"):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/sign-in/?next=")


def test_it_signs_out_by_post_only(tenant_a: TenantFixture, make_member: MakeMember) -> None:
    client = signed_in(make_member(tenant_a.tenant))
    assert client.get("/portal/sign-out/").status_code == 405
    assert client.post("/portal/sign-out/").status_code == 302
    assert client.get("/portal/").status_code == 302


def test_it_lets_a_new_owner_set_a_first_password_by_email(tenant_a: TenantFixture) -> None:
    owner = Membership.objects.get(tenant=tenant_a.tenant, role="owner").user
    assert not owner.has_usable_password()  # create_tenant makes owners without one
    response = Client().post("/portal/password-reset/", {"email": owner.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = str(mail.outbox[0].body)
    link = re.search(r"https?://[^/]+(/portal/password-reset/\S+)", body)
    assert link, body
    client = Client()
    form = client.get(link.group(1), follow=True)
    assert_strict_page(form)
    new = "a fresh owner passphrase 9"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302
    signed = Client().post("/portal/sign-in/", {"username": owner.email, "password": new})
    assert signed.status_code == 302


def test_it_sends_no_reset_mail_to_an_unknown_address(db: None) -> None:
    response = Client().post("/portal/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302  # the same answer: no account enumeration
    assert mail.outbox == []


# --- pages and roles ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_it_shows_the_keys_page_to_owners_and_admins(
    tenant_a: TenantFixture, make_member: MakeMember, role: str
) -> None:
    client = signed_in(make_member(tenant_a.tenant, role=role))
    html = assert_strict_page(client.get("/portal/keys/"))
    prefix = ApiKey.objects.filter(tenant=tenant_a.tenant).first()
    assert prefix is not None
    assert prefix.prefix in html
    assert 'for="id_name"' in html


def test_it_refuses_keys_to_a_member(tenant_a: TenantFixture, make_member: MakeMember) -> None:
    client = signed_in(make_member(tenant_a.tenant, role="member"))
    key = ApiKey.objects.filter(tenant=tenant_a.tenant).first()
    assert key is not None
    assert "API keys" not in assert_strict_page(client.get("/portal/"))  # not in the navigation
    assert client.get("/portal/keys/").status_code == 403
    assert client.post("/portal/keys/", {"name": "x", "scopes": ["admin"]}).status_code == 403
    assert client.post(f"/portal/keys/{key.prefix}/revoke/").status_code == 403
    assert ApiKey.objects.filter(tenant=tenant_a.tenant, name="x").count() == 0
    key.refresh_from_db()
    assert key.revoked_at is None


def test_a_user_of_no_tenant_gets_no_portal(make_member: MakeMember) -> None:
    client = signed_in(make_member())
    assert client.get("/portal/").status_code == 403


# --- keys -------------------------------------------------------------------------------------


def test_it_creates_a_key_shown_once_and_audited(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    user = make_member(tenant_a.tenant, role="admin")
    client = signed_in(user)
    secret = _create_key(client, name="phone agent", expires_in_days="30")
    assert _me(secret) == 200
    key = ApiKey.objects.get(tenant=tenant_a.tenant, name="phone agent")
    assert key.scopes == ["synthesize", "voices:read"]
    assert key.created_by == user
    assert key.expires_at is not None
    audit = AuditLog.objects.get(action="api_key.create", target=f"api_key:{key.prefix}")
    assert (audit.actor, audit.source, audit.tenant_id) == (
        f"user:{user.pk}",
        "portal",
        tenant_a.tenant.pk,
    )
    assert secret not in client.get("/portal/keys/").content.decode()  # never again


def test_it_explains_an_invalid_key_form(tenant_a: TenantFixture, make_member: MakeMember) -> None:
    client = signed_in(make_member(tenant_a.tenant))
    response = client.post("/portal/keys/", {"name": " ", "scopes": ["nonsense"]})
    assert response.status_code == 400
    html = assert_strict_page(response)
    assert "This field is required." in html
    assert "not one of the available choices" in html


def test_it_revokes_a_key_after_confirming(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    user = make_member(tenant_a.tenant)
    client = signed_in(user)
    secret = _create_key(client)
    key = ApiKey.objects.get(tenant=tenant_a.tenant, name="agent")
    confirm = client.get(f"/portal/keys/{key.prefix}/revoke/")
    assert "Revoke key" in assert_strict_page(confirm)
    key.refresh_from_db()
    assert key.revoked_at is None  # asking is not revoking
    response = client.post(f"/portal/keys/{key.prefix}/revoke/", follow=True)
    assert "is revoked" in assert_strict_page(response)
    assert _me(secret) == 401
    audit = AuditLog.objects.get(action="api_key.revoke", target=f"api_key:{key.prefix}")
    assert (audit.actor, audit.source) == (f"user:{user.pk}", "portal")


def test_it_confirms_in_a_fragment_for_htmx(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant))
    key = ApiKey.objects.filter(tenant=tenant_a.tenant).first()
    assert key is not None
    response = client.get(f"/portal/keys/{key.prefix}/revoke/", headers={"HX-Request": "true"})
    html = assert_strict_page(response)
    assert "<html" not in html
    assert 'role="alertdialog"' in html


def test_an_outsider_cannot_see_or_revoke_another_tenants_key(
    tenant_a: TenantFixture, tenant_b: TenantFixture, make_member: MakeMember
) -> None:
    outsider = signed_in(make_member(tenant_b.tenant))
    key = ApiKey.objects.filter(tenant=tenant_a.tenant).first()
    assert key is not None
    assert key.prefix not in outsider.get("/portal/keys/").content.decode()
    assert outsider.get(f"/portal/keys/{key.prefix}/revoke/").status_code == 404
    response = outsider.post(f"/portal/keys/{key.prefix}/revoke/")
    assert response.status_code == 404
    assert_strict_page(response)
    key.refresh_from_db()
    assert key.revoked_at is None


def test_every_form_needs_its_csrf_token(tenant_a: TenantFixture, make_member: MakeMember) -> None:
    user = make_member(tenant_a.tenant)
    client = signed_in(user, enforce_csrf_checks=True)
    key = ApiKey.objects.filter(tenant=tenant_a.tenant).first()
    assert key is not None
    posts = {
        "/portal/keys/": {"name": "x", "scopes": ["synthesize"]},
        f"/portal/keys/{key.prefix}/revoke/": {},
        "/portal/switch-tenant/": {"tenant": str(tenant_a.tenant.pk)},
        "/portal/sign-out/": {},
    }
    for path, data in posts.items():
        assert client.post(path, data).status_code == 403, path
    anonymous = Client(enforce_csrf_checks=True)
    credentials = {"username": user.email, "password": PASSWORD}
    assert anonymous.post("/portal/sign-in/", credentials).status_code == 403
    assert anonymous.post("/portal/password-reset/", {"email": user.email}).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
    assert not ApiKey.objects.filter(name="x").exists()


# --- tenants ----------------------------------------------------------------------------------


def test_it_switches_between_a_members_tenants(
    tenant_a: TenantFixture, tenant_b: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant, tenant_b.tenant))
    home = assert_strict_page(client.get("/portal/"))
    assert 'id="tenant-switch"' in home
    assert 'for="tenant-switch"' in home
    response = client.post("/portal/switch-tenant/", {"tenant": str(tenant_b.tenant.pk)})
    assert response.status_code == 302
    b_key = ApiKey.objects.filter(tenant=tenant_b.tenant).first()
    assert b_key is not None
    assert b_key.prefix in client.get("/portal/keys/").content.decode()


def test_it_ignores_a_switch_to_a_tenant_not_yours(
    tenant_a: TenantFixture, tenant_b: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant))
    client.post("/portal/switch-tenant/", {"tenant": str(tenant_b.tenant.pk)})
    b_key = ApiKey.objects.filter(tenant=tenant_b.tenant).first()
    assert b_key is not None
    assert b_key.prefix not in client.get("/portal/keys/").content.decode()


def test_a_removed_membership_ends_access_on_the_next_request(
    tenant_a: TenantFixture, tenant_b: TenantFixture, make_member: MakeMember
) -> None:
    user = make_member(tenant_a.tenant, tenant_b.tenant)
    client = signed_in(user)
    client.post("/portal/switch-tenant/", {"tenant": str(tenant_b.tenant.pk)})
    Membership.objects.filter(user=user, tenant=tenant_b.tenant).delete()
    b_key = ApiKey.objects.filter(tenant=tenant_b.tenant).first()
    assert b_key is not None
    assert b_key.prefix not in client.get("/portal/keys/").content.decode()
    assert client.get(f"/portal/keys/{b_key.prefix}/revoke/").status_code == 404


# --- static files -----------------------------------------------------------------------------


def test_it_serves_its_static_files(db: None) -> None:
    for path in ("/static/portal/portal.css", "/static/portal/portal.js",
                 "/static/django_htmx/htmx-2.min.js"):  # fmt: skip
        response = Client().get(path)
        assert response.status_code == 200, path


def test_a_tenants_portal_domain_preselects_it_for_its_members_only(
    tenant_a: TenantFixture, tenant_b: TenantFixture, make_member: MakeMember
) -> None:
    from tenants.models import Domain

    Domain.objects.create(domain="portal.beta.localhost", tenant=tenant_b.tenant, is_primary=True)
    b_key = ApiKey.objects.filter(tenant=tenant_b.tenant).first()
    assert b_key is not None
    both = signed_in(make_member(tenant_a.tenant, tenant_b.tenant))
    on_b = both.get("/portal/keys/", HTTP_HOST="portal.beta.localhost")
    assert b_key.prefix in on_b.content.decode()  # B's domain: B, though A sorts first
    assert b_key.prefix not in both.get("/portal/keys/").content.decode()
    only_a = signed_in(make_member(tenant_a.tenant))
    refused = only_a.get("/portal/keys/", HTTP_HOST="portal.beta.localhost")
    assert b_key.prefix not in refused.content.decode()  # a domain grants nothing
