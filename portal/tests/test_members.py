"""The members page: invite, change a role, remove; only owners touch owners, one owner stays;
members and outsiders refused; CSRF; audited."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core import mail

from conftest import TenantFixture
from portal.tests.conftest import MakeMember, assert_strict_page, signed_in
from tenants.models import AuditLog, Membership

pytestmark = pytest.mark.django_db


def _membership(tenant: TenantFixture, user: User) -> Membership:
    return Membership.objects.get(tenant=tenant.tenant, user=user)


def test_it_lists_members_to_owners_and_admins_only(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    admin = make_member(tenant_a.tenant, role="admin")
    html = assert_strict_page(signed_in(admin).get("/portal/members/"))
    assert admin.email in html
    assert f'for="role-{_membership(tenant_a, admin).pk}"' in html
    member = signed_in(make_member(tenant_a.tenant, role="member"))
    assert member.get("/portal/members/").status_code == 403
    assert (
        member.post("/portal/members/", {"email": "x@example.com", "role": "admin"}).status_code
        == 403
    )


def test_it_invites_a_new_person_who_sets_a_password_by_mail(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    owner = make_member(tenant_a.tenant)
    response = signed_in(owner).post(
        "/portal/members/", {"email": "new.person@example.com", "role": "member"}
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(email="new.person@example.com")
    assert _membership(tenant_a, user).role == "member"
    assert not user.has_usable_password()
    assert len(mail.outbox) == 1
    assert "/portal/password-reset/" in str(mail.outbox[0].body)
    assert tenant_a.tenant.name in mail.outbox[0].subject
    audit = AuditLog.objects.get(action="member.invite", target=f"user:{user.pk} member")
    assert (audit.actor, audit.source) == (f"user:{owner.pk}", "portal")


def test_it_refuses_inviting_a_member_twice(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    owner = signed_in(make_member(tenant_a.tenant))
    member = make_member(tenant_a.tenant, role="member")
    response = owner.post("/portal/members/", {"email": member.email, "role": "admin"})
    assert response.status_code == 409
    assert "a member already" in assert_strict_page(response)


def test_an_admin_cannot_make_or_touch_owners(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    owner = make_member(tenant_a.tenant)
    admin = signed_in(make_member(tenant_a.tenant, role="admin"))
    invite = admin.post("/portal/members/", {"email": "boss@example.com", "role": "owner"})
    assert invite.status_code == 403
    owned = _membership(tenant_a, owner)
    admin.post(f"/portal/members/{owned.pk}/role/", {"role": "member"})
    admin.post(f"/portal/members/{owned.pk}/remove/")
    owned.refresh_from_db()
    assert owned.role == "owner"


def test_it_changes_a_role_and_keeps_one_owner(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    Membership.objects.filter(tenant=tenant_a.tenant, role="owner").delete()
    owner = make_member(tenant_a.tenant)
    client = signed_in(owner)
    other = _membership(tenant_a, make_member(tenant_a.tenant, role="member"))
    client.post(f"/portal/members/{other.pk}/role/", {"role": "admin"})
    other.refresh_from_db()
    assert other.role == "admin"
    assert AuditLog.objects.filter(action="member.role", target__endswith=" admin").exists()
    mine = _membership(tenant_a, owner)
    response = client.post(f"/portal/members/{mine.pk}/role/", {"role": "member"}, follow=True)
    assert "at least one owner" in assert_strict_page(response)
    mine.refresh_from_db()
    assert mine.role == "owner"


def test_it_removes_a_member_after_confirming(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant))
    gone = make_member(tenant_a.tenant, role="member")
    membership = _membership(tenant_a, gone)
    assert "Remove member" in assert_strict_page(
        client.get(f"/portal/members/{membership.pk}/remove/")
    )
    response = client.post(f"/portal/members/{membership.pk}/remove/", follow=True)
    assert "no longer a member" in assert_strict_page(response)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert signed_in(gone).get("/portal/").status_code == 403  # no tenant left
    assert AuditLog.objects.filter(action="member.remove", target=f"user:{gone.pk}").exists()


def test_an_outsider_cannot_touch_another_tenants_members(
    tenant_a: TenantFixture, tenant_b: TenantFixture, make_member: MakeMember
) -> None:
    victim = _membership(tenant_a, make_member(tenant_a.tenant, role="member"))
    outsider = signed_in(make_member(tenant_b.tenant))
    assert victim.user.email not in outsider.get("/portal/members/").content.decode()
    assert outsider.get(f"/portal/members/{victim.pk}/remove/").status_code == 404
    assert outsider.post(f"/portal/members/{victim.pk}/remove/").status_code == 404
    assert outsider.post(f"/portal/members/{victim.pk}/role/", {"role": "owner"}).status_code == 404
    victim.refresh_from_db()
    assert victim.role == "member"


def test_member_forms_need_their_csrf_token(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    owner = make_member(tenant_a.tenant)
    other = _membership(tenant_a, make_member(tenant_a.tenant, role="member"))
    client = signed_in(owner, enforce_csrf_checks=True)
    assert (
        client.post("/portal/members/", {"email": "a@example.com", "role": "member"}).status_code
        == 403
    )
    assert client.post(f"/portal/members/{other.pk}/role/", {"role": "admin"}).status_code == 403
    assert client.post(f"/portal/members/{other.pk}/remove/").status_code == 403
    other.refresh_from_db()
    assert other.role == "member"
