"""Every portal page that names one of a tenant's objects is a 404 to another tenant's member,
every owner/admin page a 403 to a `member`, and every page but sign-in and password reset a
redirect to sign-in for a visitor. One sweep, so a page added later cannot forget its check."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from conftest import TenantFixture
from portal.tests.conftest import MakeMember, signed_in
from tenants.db import tenant_schema
from tenants.models import Membership
from voices.models import Voice

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(tenant_a: TenantFixture, make_member: MakeMember) -> dict[str, str]:
    """Paths to tenant A's key, membership, cloned voice and statement."""
    colleague = make_member(tenant_a.tenant, role="member")
    membership = Membership.objects.get(user=colleague, tenant=tenant_a.tenant)
    key = tenant_a.tenant.api_keys.first()
    assert key is not None
    with tenant_schema(tenant_a.tenant.schema_name):
        voice = Voice.objects.create(
            id=uuid.uuid4(),
            name="Ada",
            kind=Voice.Kind.CLONED,
            engine="xtts",
            language="en",
            status=Voice.Status.VALIDATED,
            version=1,
        )
    return {
        "key revoke": f"/portal/keys/{key.prefix}/revoke/",
        "member role": f"/portal/members/{membership.pk}/role/",
        "member remove": f"/portal/members/{membership.pk}/remove/",
        "voice": f"/portal/voices/{voice.pk}/",
        "voice clip": f"/portal/voices/{voice.pk}/clip/",
        "voice waveform": f"/portal/voices/{voice.pk}/waveform.svg",
        "voice delete": f"/portal/voices/{voice.pk}/delete/",
    }


# Actions without a page of their own (a form on the members page posts to them).
POST_ONLY = ("member role", "member remove")
# Files, read only.
READ_ONLY = ("voice clip", "voice waveform")
PAGES = (
    "/portal/",
    "/portal/keys/",
    "/portal/members/",
    "/portal/playground/",
    "/portal/usage/",
    "/portal/voices/",
    "/portal/voices/upload/",
)
# Owners and admins only: keys, members, cloning a voice.
ADMIN_PAGES = ("/portal/keys/", "/portal/members/", "/portal/voices/upload/")


def test_another_tenants_member_finds_none_of_a_tenants_objects(
    tenant_b: TenantFixture, make_member: MakeMember, objects: dict[str, str]
) -> None:
    outsider = signed_in(make_member(tenant_b.tenant))  # an owner, of another tenant
    for name, path in objects.items():
        asked = outsider.post(path) if name in POST_ONLY else outsider.get(path)
        assert asked.status_code == 404, name
        if name not in POST_ONLY and name not in READ_ONLY:
            assert outsider.post(path).status_code == 404, name


def test_a_member_is_refused_the_owner_and_admin_pages_and_actions(
    tenant_a: TenantFixture, make_member: MakeMember, objects: dict[str, str]
) -> None:
    member = signed_in(make_member(tenant_a.tenant, role="member"))
    for path in ADMIN_PAGES:
        assert member.get(path).status_code == 403, path
    for name in ("key revoke", "member role", "member remove", "voice delete"):
        assert member.post(objects[name]).status_code == 403, name
    for path in set(PAGES) - set(ADMIN_PAGES):
        assert member.get(path).status_code == 200, path  # what a member may read


def test_a_visitor_is_sent_to_sign_in_from_every_page(objects: dict[str, str]) -> None:
    visitor = Client()
    for name, path in [*((p, p) for p in PAGES), *objects.items()]:
        response = visitor.post(path) if name in POST_ONLY else visitor.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/portal/sign-in/"), path
