"""The tenant management commands: one JSON line on stdout with `--json`, a key that really
authenticates, an audit record per action, and failures that exit non-zero, print nothing on
stdout and leave nothing behind."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection
from django.test import Client
from django.utils import timezone

from billing.models import Plan
from billing.services import plan_default
from tenants.audit import Actor
from tenants.db import tenant_connection
from tenants.models import ALL_SCOPES, ApiKey, AuditLog, Membership, Tenant
from tenants.services import tenant_create

pytestmark = pytest.mark.django_db

MANAGE_PY = str(settings.BASE_DIR / "manage.py")
PRESET = {"name": "Front desk", "base_voice": "joe"}


# --- helpers -----------------------------------------------------------------------------------


def run(command: str, *args: str) -> str:
    """Runs a command in-process; returns what it wrote on stdout."""
    stdout = io.StringIO()
    call_command(command, *args, stdout=stdout, stderr=io.StringIO())
    return stdout.getvalue()


def run_json(command: str, *args: str) -> dict:
    out = run(command, *args, "--json")
    assert out.endswith("\n")
    assert len(out.splitlines()) == 1, out
    parsed = json.loads(out)
    assert isinstance(parsed, dict)
    return parsed


def run_failing(command: str, *args: str, match: str) -> None:
    """The command raises CommandError (exit status 1 from manage.py) and prints nothing."""
    stdout = io.StringIO()
    with pytest.raises(CommandError, match=match):
        call_command(command, *args, "--json", stdout=stdout, stderr=io.StringIO())
    assert stdout.getvalue() == ""


def me(key: str):
    return Client(headers={"Authorization": f"Bearer {key}"}).get("/v1/me")


def assert_me(key: str, slug: str) -> dict:
    response = me(key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["tenant"]["slug"] == slug
    return body


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


def cli_audit(action: str, **filters: object) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=action, source=AuditLog.Source.CLI, **filters))


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        return cursor.fetchone() is not None


def drop_schema(name: str) -> None:
    tenant_connection().set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def unique_slug(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def fresh_tenant(stem: str = "cmd") -> tuple[Tenant, str]:
    """A tenant of this test only (its rows and schema go with the test's transaction), for
    tests that change its status: the session tenants' cached auth records must stay valid."""
    created = tenant_create(
        name=stem, slug=unique_slug(stem), by=Actor.system(), plan_id=plan_default().pk
    )
    return created.tenant, created.api_key.secret


def subprocess_env() -> dict[str, str]:
    """Environment for a `manage.py` subprocess that points at the test database and Redis."""
    db = connection.settings_dict
    credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    name = quote(db["NAME"])
    if db["HOST"].startswith("/"):  # a Unix socket directory
        url = f"postgresql://{credentials}@/{name}?host={quote(db['HOST'])}"
    else:
        url = f"postgresql://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_PREFIX": settings.REDIS_PREFIX,
    }


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, MANAGE_PY, *args],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
        check=False,
    )


# --- create_tenant -----------------------------------------------------------------------------


def test_it_creates_a_tenant_with_a_schema_and_a_working_key():
    slug = unique_slug("acme")
    result = run_json("create_tenant", "Acme Ltd", "--slug", slug)

    assert set(result) == {"tenant", "schema", "api_key"}
    assert result["tenant"] == slug
    assert result["schema"] == "t_" + slug.replace("-", "_")
    tenant = Tenant.objects.get(slug=slug)
    assert tenant.name == "Acme Ltd"
    assert tenant.schema_name == result["schema"]
    assert tenant.plan.slug == "default"
    assert schema_exists(result["schema"])
    assert Membership.objects.filter(tenant=tenant, role=Membership.Role.OWNER).count() == 1
    body = assert_me(result["api_key"], slug)
    assert body["api_key"]["scopes"] == sorted(ALL_SCOPES)
    [audit] = cli_audit("tenant.create", tenant=tenant)
    assert audit.actor == "cli"
    assert audit.target == f"tenant:{slug}"


def test_it_derives_the_slug_from_the_name_and_takes_a_plan_and_owner():
    plan = Plan.objects.create(slug=unique_slug("gold"), name="Gold")
    name = f"Widget Co {uuid.uuid4().hex[:6]}"
    result = run_json(
        "create_tenant", name, "--plan", plan.slug, "--owner-email", "boss@widget.example"
    )

    tenant = Tenant.objects.get(slug=result["tenant"])
    assert tenant.slug == name.lower().replace(" ", "-")
    assert tenant.plan == plan
    assert tenant.memberships.get().user.email == "boss@widget.example"
    assert_me(result["api_key"], tenant.slug)


def test_it_refuses_a_duplicate_slug_and_writes_nothing(tenant_a):
    tenants, audits = Tenant.objects.count(), AuditLog.objects.count()
    run_failing("create_tenant", "Again", "--slug", tenant_a.tenant.slug, match="exists")
    assert Tenant.objects.count() == tenants
    assert AuditLog.objects.count() == audits
    assert_me(tenant_a.api_key, tenant_a.tenant.slug)  # the existing tenant is untouched


@pytest.mark.parametrize("slug", ["Upper", "1digit", "a", "under_score", "sp ace", "x" * 42])
def test_it_refuses_a_bad_slug_and_writes_nothing(slug):
    tenants, audits = Tenant.objects.count(), AuditLog.objects.count()
    run_failing("create_tenant", "Bad", "--slug", slug, match="slug")
    assert Tenant.objects.count() == tenants
    assert AuditLog.objects.count() == audits


def test_it_refuses_an_unknown_plan_and_writes_nothing():
    slug = unique_slug("noplan")
    run_failing(
        "create_tenant", "No plan", "--slug", slug, "--plan", "no-such-plan", match="no-such-plan"
    )
    assert not Tenant.objects.filter(slug=slug).exists()
    assert not schema_exists("t_" + slug.replace("-", "_"))


@pytest.mark.parametrize("email", ["o" * 200 + "@example.com", "not-an-email"])
def test_a_bad_owner_email_is_refused_before_anything_is_written(email):
    slug = unique_slug("bademail")
    tenants = Tenant.objects.count()
    stdout = io.StringIO()
    with pytest.raises(CommandError, match="e-mail"):
        call_command(
            "create_tenant",
            "Bad",
            "--slug",
            slug,
            "--owner-email",
            email,
            "--json",
            stdout=stdout,
            stderr=io.StringIO(),
        )
    assert stdout.getvalue() == ""
    assert Tenant.objects.count() == tenants
    assert not schema_exists("t_" + slug.replace("-", "_"))


def test_a_failure_after_the_schema_was_built_leaves_nothing_behind():
    slug = unique_slug("broken")
    tenants, users = Tenant.objects.count(), Membership.objects.count()
    # A real database failure in the owner step, after the tenant row and its schema exist:
    # a trigger refuses the membership insert (rolled back with the test's transaction).
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_membership() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'membership refused'; END $$;"
            "CREATE TRIGGER refuse_membership BEFORE INSERT ON tenants_membership "
            "FOR EACH ROW EXECUTE FUNCTION refuse_membership();"
        )
    stdout = io.StringIO()
    with pytest.raises(DatabaseError, match="membership refused"):
        call_command(
            "create_tenant", "Broken", "--slug", slug, "--json", stdout=stdout, stderr=io.StringIO()
        )
    assert stdout.getvalue() == ""
    assert Tenant.objects.count() == tenants
    assert Membership.objects.count() == users
    assert not schema_exists("t_" + slug.replace("-", "_"))
    assert not cli_audit("tenant.create", target=f"tenant:{slug}")


# --- create_api_key ----------------------------------------------------------------------------


def test_it_creates_an_api_key_that_authenticates(tenant_a):
    slug = tenant_a.tenant.slug
    result = run_json("create_api_key", slug, "--name", "ci")

    assert set(result) == {"tenant", "prefix", "name", "scopes", "expires_at", "api_key"}
    assert result["tenant"] == slug
    assert result["name"] == "ci"
    assert result["scopes"] == ALL_SCOPES
    assert result["expires_at"] is None
    assert result["api_key"].startswith(f"cw_{result['prefix']}_")
    body = assert_me(result["api_key"], slug)
    assert body["api_key"]["prefix"] == result["prefix"]
    assert body["api_key"]["name"] == "ci"
    stored = ApiKey.objects.get(prefix=result["prefix"])
    assert stored.tenant == tenant_a.tenant
    assert result["api_key"].split("_", 2)[2] not in stored.secret_hash
    [audit] = cli_audit("api_key.create", tenant=tenant_a.tenant)
    assert audit.target == f"api_key:{result['prefix']}"


def test_it_finds_the_tenant_by_its_schema_name_too(tenant_b):
    result = run_json("create_api_key", tenant_b.tenant.schema_name)
    assert result["tenant"] == tenant_b.tenant.slug
    assert_me(result["api_key"], tenant_b.tenant.slug)


def test_a_key_gets_only_the_scopes_asked_for(tenant_a):
    result = run_json("create_api_key", tenant_a.tenant.slug, "--scopes", "voices:read")
    assert result["scopes"] == ["voices:read"]

    client = Client(headers={"Authorization": f"Bearer {result['api_key']}"})
    assert client.get("/v1/voices").status_code == 200
    response = client.post("/v1/voices", PRESET, content_type="application/json")
    assert_error(response, 403, "insufficient_scope")


def test_it_sets_an_expiry_in_the_future(tenant_a):
    result = run_json("create_api_key", tenant_a.tenant.slug, "--expires-in-days", "30")
    expires_at = ApiKey.objects.get(prefix=result["prefix"]).expires_at
    assert expires_at is not None
    expected = timezone.now() + timedelta(days=30)
    assert abs((expires_at - expected).total_seconds()) < 60
    assert assert_me(result["api_key"], tenant_a.tenant.slug)["api_key"]["expires_at"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--scopes", "voices:read,root"], "root"),
        (["--scopes", ","], "at least one scope"),
        (["--expires-in-days", "0"], "future"),
        (["--expires-in-days", "-3"], "future"),
        (["--name", "  "], "name"),
    ],
)
def test_it_refuses_a_bad_key_and_writes_nothing(tenant_a, args, match):
    keys, audits = ApiKey.objects.count(), AuditLog.objects.count()
    run_failing("create_api_key", tenant_a.tenant.slug, *args, match=match)
    assert ApiKey.objects.count() == keys
    assert AuditLog.objects.count() == audits


def test_it_refuses_a_key_for_an_unknown_tenant():
    keys = ApiKey.objects.count()
    run_failing("create_api_key", "no-such-tenant", match="no-such-tenant")
    assert ApiKey.objects.count() == keys


# --- revoke_api_key ----------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["prefix", "whole key"])
def test_a_revoked_key_is_refused_on_the_very_next_request(tenant_a, by):
    key = tenant_a.key_with(*ALL_SCOPES)
    prefix = key.split("_")[1]
    assert_me(key, tenant_a.tenant.slug)  # the auth record is now cached

    result = run_json("revoke_api_key", prefix if by == "prefix" else key)

    assert set(result) == {"tenant", "prefix", "revoked_at"}
    assert result["tenant"] == tenant_a.tenant.slug
    assert result["prefix"] == prefix
    assert result["revoked_at"]
    assert ApiKey.objects.get(prefix=prefix).revoked_at is not None
    assert_error(me(key), 401, "api_key_revoked")
    assert_me(tenant_a.api_key, tenant_a.tenant.slug)  # the tenant's other keys still work
    [audit] = cli_audit("api_key.revoke", tenant=tenant_a.tenant)
    assert audit.target == f"api_key:{prefix}"


def test_it_refuses_to_revoke_an_unknown_key(tenant_a):
    audits = AuditLog.objects.count()
    run_failing("revoke_api_key", "nosuchprefix", match="nosuchprefix")
    assert AuditLog.objects.count() == audits
    assert_me(tenant_a.api_key, tenant_a.tenant.slug)


# --- suspend_tenant / reactivate_tenant --------------------------------------------------------


def test_a_suspended_tenant_is_refused_until_reactivated():
    tenant, key = fresh_tenant("susp")
    assert_me(key, tenant.slug)  # warm the cached auth record

    result = run_json("suspend_tenant", tenant.slug)
    assert result == {"tenant": tenant.slug, "status": "suspended"}
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.SUSPENDED
    assert_error(me(key), 403, "tenant_suspended")
    assert len(cli_audit("tenant.suspend", tenant=tenant)) == 1

    result = run_json("reactivate_tenant", tenant.schema_name)
    assert result == {"tenant": tenant.slug, "status": "active"}
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE
    assert_me(key, tenant.slug)
    assert len(cli_audit("tenant.reactivate", tenant=tenant)) == 1


@pytest.mark.parametrize("command", ["suspend_tenant", "reactivate_tenant"])
def test_it_refuses_an_unknown_tenant(command):
    audits = AuditLog.objects.count()
    run_failing(command, "no-such-tenant", match="no-such-tenant")
    assert AuditLog.objects.count() == audits


# --- list_tenants ------------------------------------------------------------------------------


def test_it_lists_tenants(tenant_a, tenant_b):
    result = run_json("list_tenants")

    assert set(result) == {"tenants"}
    by_slug = {t["tenant"]: t for t in result["tenants"]}
    assert {tenant_a.tenant.slug, tenant_b.tenant.slug} <= set(by_slug)
    row = by_slug[tenant_a.tenant.slug]
    assert set(row) == {"tenant", "name", "schema", "status", "plan", "created_at"}
    assert row["schema"] == tenant_a.tenant.schema_name
    assert row["status"] == "active"
    assert row["plan"] == tenant_a.tenant.plan.slug
    assert len(cli_audit("tenant.list")) == 1


def test_it_lists_tenants_as_text(tenant_a):
    out = run("list_tenants")
    assert tenant_a.tenant.slug in out
    assert not out.lstrip().startswith("{")


# --- ensure_demo_tenant ------------------------------------------------------------------------


def test_ensure_demo_tenant_is_idempotent_and_mints_a_new_key_each_time():
    # In this non-transactional test the demo schema is created inside the test's transaction
    # and goes away with its rollback.
    first = run_json("ensure_demo_tenant")
    assert set(first) == {"tenant", "schema", "api_key"}
    assert first["tenant"] == "demo"
    assert first["schema"] == "t_demo"
    assert schema_exists("t_demo")

    second = run_json("ensure_demo_tenant")
    assert second["tenant"] == "demo"
    assert second["schema"] == "t_demo"
    assert second["api_key"] != first["api_key"]

    assert Tenant.objects.filter(slug="demo").count() == 1
    tenant = Tenant.objects.get(slug="demo")
    assert tenant.plan.max_concurrent_streams == 100
    assert Plan.objects.filter(slug="demo").count() == 1
    assert_me(first["api_key"], "demo")
    assert_me(second["api_key"], "demo")
    assert len(cli_audit("tenant.create", tenant=tenant)) <= 1
    assert len(cli_audit("api_key.create", tenant=tenant)) == 2


def test_ensure_demo_tenant_prints_the_key_as_text():
    out = run("ensure_demo_tenant")
    assert out.startswith("Demo tenant 'demo' API key: cw_")
    key = out.strip().rsplit(" ", 1)[1]
    assert_me(key, "demo")


# --- the real manage.py, in a subprocess -------------------------------------------------------
# These tests commit (the subprocess has its own connection), so they are transactional.


@pytest.mark.django_db(transaction=True)
def test_the_real_command_prints_one_json_line_and_builds_the_schema():
    plan_default()  # a transactional test before this one may have flushed the default plan
    slug = unique_slug("subproc")
    schema = "t_" + slug.replace("-", "_")
    try:
        done = manage("create_tenant", "Subprocess Ltd", "--slug", slug, "--json")

        assert done.returncode == 0, done.stderr
        assert done.stdout.endswith("\n")
        assert len(done.stdout.splitlines()) == 1, done.stdout
        result = json.loads(done.stdout)
        assert set(result) == {"tenant", "schema", "api_key"}
        assert result == {"tenant": slug, "schema": schema, "api_key": result["api_key"]}
        assert schema_exists(schema)
        tenant = Tenant.objects.get(slug=slug)
        assert len(cli_audit("tenant.create", tenant=tenant)) == 1
        assert_me(result["api_key"], slug)
    finally:
        drop_schema(schema)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("case", "args", "message"),
    [
        ("duplicate slug", [], "exists"),
        ("bad slug", ["--slug", "Not A Slug!"], "slug"),
        ("unknown plan", ["--plan", "no-such-plan"], "no-such-plan"),
        ("owner fails", ["--owner-email", "o" * 200 + "@example.com"], "Error"),
    ],
)
def test_the_real_command_fails_with_nothing_on_stdout(make_tenant, case, args, message):
    plan_default()
    slug = make_tenant("dup").tenant.slug if case == "duplicate slug" else unique_slug("fail")
    if "--slug" not in args:
        args = ["--slug", slug, *args]
    tenants = Tenant.objects.count()

    done = manage("create_tenant", "Failing", *args, "--json")

    assert done.returncode != 0
    assert done.stdout == ""
    assert message in done.stderr
    assert Tenant.objects.count() == tenants
    if case != "duplicate slug":
        assert not schema_exists("t_" + slug.replace("-", "_"))
