"""The principal, the one carrier of the tenant, and the one way into a tenant's schema."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from rest_framework.exceptions import NotAuthenticated

from billing import admission
from billing.limits import limits_for
from tenants.auth import authenticate_api_key
from tenants.db import tenant_connection, tenant_schema
from tenants.models import Membership, Scope
from tenants.principal import Principal, principal_of, socket_principal

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def member_of(tenant_fixture, role: str) -> Membership:
    user = get_user_model().objects.create(username=f"{role}@{tenant_fixture.tenant.slug}.test")
    return Membership.objects.create(user=user, tenant=tenant_fixture.tenant, role=role)


def test_an_api_key_becomes_a_principal_of_its_tenant(tenant_a) -> None:
    principal = authenticate_api_key(tenant_a.api_key)
    tenant = tenant_a.tenant
    assert (principal.tenant_id, principal.schema_name) == (tenant.pk, tenant.schema_name)
    assert principal.key_id is not None
    assert principal.user_id is None
    assert principal.actor == f"api_key:{principal.prefix}"
    assert principal.rate_subject == ("key", principal.key_id)


@pytest.mark.parametrize(
    ("role", "can_admin", "can_synthesize"),
    [("owner", True, True), ("admin", True, True), ("member", False, True)],
)
def test_a_member_becomes_a_principal_with_the_scopes_of_their_role(
    tenant_a, role, can_admin, can_synthesize
) -> None:
    membership = member_of(tenant_a, role)
    principal = Principal.for_member(membership)
    assert principal.tenant_id == tenant_a.tenant.pk
    assert principal.schema_name == tenant_a.tenant.schema_name
    assert (principal.key_id, principal.user_id, principal.role) == (None, membership.user_id, role)
    assert principal.has_scope(Scope.ADMIN) is can_admin
    assert principal.has_scope(Scope.VOICES_WRITE) is can_admin
    assert principal.has_scope(Scope.SYNTHESIZE) is can_synthesize
    assert principal.actor == f"user:{membership.user_id}"
    assert principal.rate_subject == ("member", membership.user_id)


def test_a_principal_is_a_key_or_a_member_never_both_nor_neither() -> None:
    fields: dict = {
        "tenant_id": 1,
        "tenant_slug": "a",
        "tenant_name": "A",
        "schema_name": "t_a",
        "plan_id": 1,
        "scopes": frozenset(),
    }
    with pytest.raises(ValueError, match="either"):
        Principal(**fields)
    with pytest.raises(ValueError, match="either"):
        Principal(**fields, key_id=1, user_id=2)


async def test_a_member_is_rate_limited_per_member_as_a_key_is_per_key(tenant_a) -> None:
    membership = await database_sync_to_async(member_of)(tenant_a, "member")
    principal = await database_sync_to_async(Principal.for_member)(membership)
    limits = await database_sync_to_async(limits_for)(principal.tenant_id)
    admitted = await admission.admit(principal, characters=5, lease_id="m-1", limits=limits)
    try:
        assert admitted.allowed
        assert admitted.key_id is None
        client = admission._client()
        counted = admission.rate_key("member", membership.user_id)
        assert await client.zscore(counted, "m-1") is not None
    finally:
        await admission.settle(admitted, billed_characters=0)


def test_a_request_without_a_principal_is_not_authenticated() -> None:
    with pytest.raises(NotAuthenticated):
        principal_of(RequestFactory().get("/v1/me"))
    assert socket_principal({"principal": None}) is None


def test_the_schema_block_enters_and_restores(tenant_a) -> None:
    assert tenant_connection().schema_name == "public"
    with tenant_schema(tenant_a.tenant.schema_name):
        assert tenant_connection().schema_name == tenant_a.tenant.schema_name
    assert tenant_connection().schema_name == "public"


async def test_async_code_enters_the_schema_in_its_database_thread(tenant_a) -> None:
    def where() -> str:
        with tenant_schema(tenant_a.tenant.schema_name):
            return str(tenant_connection().schema_name)

    assert await database_sync_to_async(where)() == tenant_a.tenant.schema_name


def test_nothing_else_enters_a_schema_its_own_way() -> None:
    """`tenants.db` is the one way in: no schema_context, tenant_context, set_tenant or
    set_schema anywhere else (leaving for the public schema is not entering)."""
    forbidden = {"schema_context", "tenant_context", "set_tenant", "set_schema"}
    found = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in (".venv", "var") or relative == Path("tenants/db.py"):
            continue
        if "migrations" in relative.parts or any(p.startswith(".") for p in relative.parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node, "attr", None) or getattr(node, "id", None)
            if name in forbidden:
                found.append(f"{relative}:{getattr(node, 'lineno', 0)} {name}")
    assert not found, "\n".join(found)
