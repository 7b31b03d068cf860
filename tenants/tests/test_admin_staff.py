"""Staff in Django admin: create a tenant (through `tenant_create`: schema, owner, first key),
mint API keys (through `api_key_create`), each secret shown once on the answer to the form;
manage tenants' domains (their portal hosts); `manage.py create_staff`."""

from __future__ import annotations

import json
import re
import uuid
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_exists

from billing.services import plan_default
from tenants.models import ApiKey, AuditLog, Domain, Membership, Tenant
from tenants.selectors import tenant_for_host

pytestmark = pytest.mark.django_db

SECRET_RE = re.compile(r'<code id="api-key-secret"[^>]*>(cw_[^<]+)</code>')


def me(key: str):
    return Client(headers={"Authorization": f"Bearer {key}"}).get("/v1/me")


def shown_secret(response) -> str:
    assert response.status_code == 200, response.content.decode()[:3000]
    [secret] = SECRET_RE.findall(response.content.decode())
    assert "no-store" in response["Cache-Control"]
    return secret


def assert_never_shown(client: Client, secret: str, paths: list[str]) -> None:
    api_key = ApiKey.objects.get(prefix=secret.split("_")[1])
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        assert secret not in html, path
        assert secret.split("_", 2)[2] not in html, path
        assert api_key.secret_hash not in html, path


def tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )
        return {row[0] for row in cursor.fetchall()}


def all_schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_name FROM information_schema.schemata")
        return {row[0] for row in cursor.fetchall()}


def slug() -> str:
    return f"st-{uuid.uuid4().hex[:8]}"


def tenant_form(**fields: object) -> dict[str, object]:
    return {"name": "Acme Calls", "plan": plan_default().pk, "owner_email": "", **fields}


# --- creating a tenant -------------------------------------------------------------------------


def test_staff_create_a_tenant_and_see_its_first_key_once(staff, superuser):
    new = slug()
    assert staff.get("/admin/tenants/tenant/add/").status_code == 200

    response = staff.post(
        "/admin/tenants/tenant/add/", tenant_form(slug=new, owner_email="Boss@Acme.example")
    )
    secret = shown_secret(response)

    tenant = Tenant.objects.get(slug=new)
    assert tenant.schema_name == "t_" + new.replace("-", "_")
    assert tenant.plan == plan_default()
    assert schema_exists(tenant.schema_name)
    assert {"voices_voice", "django_migrations"} <= tables_in(tenant.schema_name)
    owner = Membership.objects.get(tenant=tenant)
    assert owner.role == Membership.Role.OWNER
    assert owner.user.email == "Boss@Acme.example"

    body = me(secret)
    assert body.status_code == 200
    assert body.json()["tenant"]["slug"] == new
    for action in ("tenant.create", "api_key.create"):
        [audit] = AuditLog.objects.filter(action=action, tenant=tenant)
        assert (audit.actor, audit.source) == (f"user:{superuser.pk}", AuditLog.Source.ADMIN)

    api_key = ApiKey.objects.get(tenant=tenant)
    assert_never_shown(
        staff,
        secret,
        [
            "/admin/tenants/tenant/",
            f"/admin/tenants/tenant/{tenant.pk}/change/",
            "/admin/tenants/apikey/",
            f"/admin/tenants/apikey/{api_key.pk}/change/",
            "/admin/tenants/auditlog/",
            "/admin/",
        ],
    )


def test_the_slug_defaults_to_the_name_and_the_owner_email_is_optional(staff):
    name = f"Zeta {uuid.uuid4().hex[:6]}"
    shown_secret(staff.post("/admin/tenants/tenant/add/", tenant_form(name=name, slug="")))
    tenant = Tenant.objects.get(name=name)
    assert tenant.slug == name.lower().replace(" ", "-")
    assert Membership.objects.get(tenant=tenant).user.email == f"owner@{tenant.slug}.invalid"


def test_the_add_form_starts_on_the_default_plan(staff):
    html = staff.get("/admin/tenants/tenant/add/").content.decode()
    assert f'<option value="{plan_default().pk}" selected>' in html


def assert_refused(response, field: str, schemas_before: set[str], tenants_before: int) -> str:
    assert response.status_code == 200
    assert SECRET_RE.search(response.content.decode()) is None
    errors = response.context["form"].errors
    assert field in errors, errors
    assert Tenant.objects.count() == tenants_before
    assert all_schemas() == schemas_before
    return " ".join(errors[field])


def test_a_duplicate_slug_is_a_form_error_and_nothing_is_created(staff, tenant_a):
    schemas, tenants = all_schemas(), Tenant.objects.count()
    response = staff.post("/admin/tenants/tenant/add/", tenant_form(slug=tenant_a.tenant.slug))
    assert "already exists" in assert_refused(response, "slug", schemas, tenants)
    assert not AuditLog.objects.filter(action="tenant.create", source="admin").exists()


def test_the_services_refusals_are_form_errors(staff):
    schemas, tenants = all_schemas(), Tenant.objects.count()
    # The slug field's validator lets a leading digit through; tenant_create does not.
    response = staff.post("/admin/tenants/tenant/add/", tenant_form(slug="9lives"))
    assert "starting with a letter" in assert_refused(response, "slug", schemas, tenants)

    # An orphan schema (a tenant row removed by hand) is never adopted, nor dropped.
    orphan = slug()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "t_{orphan.replace("-", "_")}"')
    schemas = all_schemas()
    response = staff.post("/admin/tenants/tenant/add/", tenant_form(slug=orphan))
    assert "exists without a tenant" in assert_refused(response, "slug", schemas, tenants)


def test_a_bad_plan_or_email_is_a_form_error(staff):
    schemas, tenants = all_schemas(), Tenant.objects.count()
    response = staff.post("/admin/tenants/tenant/add/", tenant_form(slug=slug(), plan=987654))
    assert_refused(response, "plan", schemas, tenants)
    response = staff.post(
        "/admin/tenants/tenant/add/", tenant_form(slug=slug(), owner_email="not-an-email")
    )
    assert_refused(response, "owner_email", schemas, tenants)


def test_tenants_still_cannot_be_deleted_in_the_admin(staff, tenant_a):
    pk = tenant_a.tenant.pk
    assert staff.get(f"/admin/tenants/tenant/{pk}/delete/").status_code == 403


# --- minting a key -----------------------------------------------------------------------------


def test_staff_mint_a_key_shown_once_that_authenticates_and_is_audited(staff, superuser, tenant_a):
    tenant = tenant_a.tenant
    change = staff.get(f"/admin/tenants/tenant/{tenant.pk}/change/").content.decode()
    assert f"/admin/tenants/apikey/add/?tenant={tenant.pk}" in change
    form = staff.get(f"/admin/tenants/apikey/add/?tenant={tenant.pk}")
    assert form.status_code == 200
    assert f'<option value="{tenant.pk}" selected>' in form.content.decode()

    response = staff.post(
        "/admin/tenants/apikey/add/",
        {
            "tenant": tenant.pk,
            "name": "ivr backend",
            "scopes": ["synthesize", "voices:read"],
            "expires_in_days": "30",
        },
    )
    secret = shown_secret(response)
    api_key = ApiKey.objects.get(prefix=secret.split("_")[1])
    assert (api_key.tenant, api_key.name) == (tenant, "ivr backend")
    assert api_key.scopes == ["synthesize", "voices:read"]
    assert api_key.created_by == superuser
    assert api_key.expires_at is not None
    assert 29 < (api_key.expires_at - api_key.created_at).total_seconds() / 86400 <= 30

    body = me(secret)
    assert body.status_code == 200
    assert body.json()["tenant"]["slug"] == tenant.slug
    [audit] = AuditLog.objects.filter(action="api_key.create", target=f"api_key:{api_key.prefix}")
    assert (audit.actor, audit.source, audit.tenant) == (
        f"user:{superuser.pk}",
        AuditLog.Source.ADMIN,
        tenant,
    )
    assert_never_shown(
        staff,
        secret,
        [
            "/admin/tenants/apikey/",
            f"/admin/tenants/apikey/{api_key.pk}/change/",
            f"/admin/tenants/apikey/{api_key.pk}/history/",
            f"/admin/tenants/tenant/{tenant.pk}/change/",
        ],
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["everything"]}, "scopes"),
        ({"name": " "}, "name"),
        ({"expires_in_days": "0"}, "expires_in_days"),
        ({"tenant": "987654"}, "tenant"),
    ],
)
def test_a_bad_key_form_is_refused_and_mints_nothing(staff, tenant_a, fields, field):
    keys = ApiKey.objects.count()
    data = {"tenant": tenant_a.tenant.pk, "name": "x", "scopes": ["synthesize"], **fields}
    response = staff.post("/admin/tenants/apikey/add/", data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert SECRET_RE.search(response.content.decode()) is None
    assert ApiKey.objects.count() == keys


def test_a_forged_key_row_cannot_be_posted(staff, tenant_a):
    keys = ApiKey.objects.count()
    forged = {"tenant": tenant_a.tenant.pk, "name": "x", "prefix": "x", "secret_hash": "x"}
    staff.post("/admin/tenants/apikey/add/", forged)  # no scopes: refused
    assert ApiKey.objects.count() == keys
    assert not ApiKey.objects.filter(prefix="x").exists()


# --- domains -----------------------------------------------------------------------------------


def domain_form(tenant: Tenant, domain: str, primary: bool = False) -> dict[str, object]:
    return {"domain": domain, "tenant": tenant.pk, **({"is_primary": "on"} if primary else {})}


def test_staff_add_edit_and_delete_domains_and_they_select_the_portal_tenant(
    staff, superuser, tenant_a
):
    tenant = tenant_a.tenant
    host = f"Portal-{uuid.uuid4().hex[:6]}.Acme.Example."
    stored = host.lower().rstrip(".")
    assert staff.get("/admin/tenants/domain/").status_code == 200
    assert staff.get("/admin/tenants/domain/add/").status_code == 200
    response = staff.post("/admin/tenants/domain/add/", domain_form(tenant, host))
    assert response.status_code == 302, response.content.decode()[:3000]
    first = Domain.objects.get(domain=stored)
    assert first.tenant == tenant
    assert first.is_primary  # the tenant's first domain
    [audit] = AuditLog.objects.filter(action="domain.add", tenant=tenant)
    assert (audit.actor, audit.source) == (f"user:{superuser.pk}", AuditLog.Source.ADMIN)
    assert audit.target == f"domain:{stored} primary"

    assert tenant_for_host(stored.upper() + ":8443") == tenant
    assert tenant_for_host(stored + ".") == tenant
    assert tenant_for_host("elsewhere.example") is None
    assert tenant_for_host("[::1]:8000") is None
    assert tenant_for_host("") is None

    # A second primary demotes the first.
    second = f"calls-{uuid.uuid4().hex[:6]}.acme.example"
    staff.post("/admin/tenants/domain/add/", domain_form(tenant, second, primary=True))
    first.refresh_from_db()
    assert not first.is_primary
    assert Domain.objects.get(domain=second).is_primary
    assert tenant_for_host(stored) == tenant  # every domain selects it, primary or not

    # Edit: rename the first.
    renamed = f"renamed-{uuid.uuid4().hex[:6]}.acme.example"
    response = staff.post(
        f"/admin/tenants/domain/{first.pk}/change/", domain_form(tenant, renamed.upper())
    )
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.domain == renamed
    assert AuditLog.objects.filter(action="domain.change", target=f"domain:{renamed}").exists()
    assert tenant_for_host(stored) is None

    # Deleting the primary promotes the remaining one.
    primary = Domain.objects.get(domain=second)
    response = staff.post(f"/admin/tenants/domain/{primary.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Domain.objects.filter(pk=primary.pk).exists()
    first.refresh_from_db()
    assert first.is_primary
    assert AuditLog.objects.filter(action="domain.remove", target=f"domain:{second} primary")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "acme",
        "http://acme.example",
        "acme.example:8000",
        "acme.example/portal",
        "under_score.example",
        "-dash.example",
        "a..example",
        "*.acme.example",
        "10.0.0.1",
        "x" * 64 + ".example",
    ],
)
def test_a_domain_must_be_a_host_name(staff, tenant_a, bad):
    response = staff.post("/admin/tenants/domain/add/", domain_form(tenant_a.tenant, bad))
    assert response.status_code == 200
    assert "domain" in response.context["adminform"].form.errors
    assert not Domain.objects.exists()


def test_a_domain_is_unique_whatever_its_case(staff, tenant_a, tenant_b):
    Domain.objects.create(domain="taken.acme.example", tenant=tenant_a.tenant)
    response = staff.post(
        "/admin/tenants/domain/add/", domain_form(tenant_b.tenant, "TAKEN.acme.example")
    )
    assert response.status_code == 200
    assert "already exists" in str(response.context["adminform"].form.errors["domain"])
    assert Domain.objects.count() == 1


def inline_form(tenant: Tenant, rows: list[dict[str, object]], initial: int = 0) -> dict:
    form: dict[str, object] = {
        "name": tenant.name,
        "slug": tenant.slug,
        "plan": tenant.plan_id,
        "domains-TOTAL_FORMS": str(len(rows)),
        "domains-INITIAL_FORMS": str(initial),
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    for index, row in enumerate(rows):
        for name, value in row.items():
            form[f"domains-{index}-{name}"] = value
        form[f"domains-{index}-tenant"] = tenant.pk
    return form


def test_domains_are_managed_on_the_tenant_page_with_one_primary(staff, tenant_a):
    tenant = tenant_a.tenant
    page = f"/admin/tenants/tenant/{tenant.pk}/change/"
    two_primaries = [
        {"domain": "one.acme.example", "is_primary": "on"},
        {"domain": "two.acme.example", "is_primary": "on"},
    ]
    response = staff.post(page, inline_form(tenant, two_primaries))
    assert response.status_code == 200
    assert "one primary domain" in response.content.decode()
    assert not Domain.objects.exists()

    response = staff.post(
        page, inline_form(tenant, [two_primaries[0], {"domain": "Two.Acme.Example"}])
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert dict(Domain.objects.values_list("domain", "is_primary")) == {
        "one.acme.example": True,
        "two.acme.example": False,
    }
    assert AuditLog.objects.filter(action="domain.add", tenant=tenant).count() == 2

    response = staff.post(page, inline_form(tenant, [{"domain": "bad_host"}]))
    assert response.status_code == 200
    assert Domain.objects.count() == 2


# --- who may enter -----------------------------------------------------------------------------

NEW_PAGES = [
    "/admin/tenants/tenant/add/",
    "/admin/tenants/apikey/add/",
    "/admin/tenants/domain/",
    "/admin/tenants/domain/add/",
]


@pytest.mark.parametrize("path", NEW_PAGES)
def test_a_non_staff_user_is_refused_on_the_new_pages(path, tenant_a):
    user = get_user_model().objects.create_user(
        username=f"plain-{uuid.uuid4().hex[:8]}", password="x" * 20
    )
    client = Client()
    client.force_login(user)
    tenants, keys = Tenant.objects.count(), ApiKey.objects.count()
    data = {
        **tenant_form(slug=slug()),
        "tenant": tenant_a.tenant.pk,
        "scopes": ["admin"],
        "domain": "sneaky.example",
    }
    for response in (client.get(path), client.post(path, data), Client().post(path, data)):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert (Tenant.objects.count(), ApiKey.objects.count()) == (tenants, keys)
    assert not Domain.objects.exists()


@pytest.mark.parametrize("path", NEW_PAGES)
def test_staff_without_the_permission_are_refused(path, tenant_a):
    user = get_user_model().objects.create_user(
        username=f"clerk-{uuid.uuid4().hex[:8]}", password="x" * 20, is_staff=True
    )
    client = Client()
    client.force_login(user)
    assert client.get(path).status_code == 403
    tenants = Tenant.objects.count()
    assert (
        client.post(path, {**tenant_form(slug=slug()), "tenant": tenant_a.tenant.pk}).status_code
        == 403
    )
    assert Tenant.objects.count() == tenants


# --- signing in --------------------------------------------------------------------------------


def test_create_staff_prints_a_password_that_signs_in_to_the_admin():
    email = f"ops-{uuid.uuid4().hex[:6]}@callwaiting.example"
    out = StringIO()
    call_command("create_staff", email, "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["username"] == email
    user = get_user_model().objects.get(username=email)
    assert (user.is_staff, user.is_superuser, user.email) == (True, True, email)
    assert result["password"] not in user.password  # hashed

    client = Client()
    assert client.login(username=email, password=result["password"])
    assert client.get("/admin/tenants/tenant/add/").status_code == 200
    assert AuditLog.objects.filter(action="staff.create", target=f"user:{user.pk}").exists()

    with pytest.raises(CommandError, match="exists"):
        call_command("create_staff", email, "--json", stdout=StringIO())
    with pytest.raises(CommandError, match="e-mail"):
        call_command("create_staff", "nobody", "--json", stdout=StringIO())
