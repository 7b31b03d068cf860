"""Writes for tenants, memberships and API keys (keyword-only services), each audited."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django_tenants.utils import schema_exists

from callwaiting_tts.errors import ApplicationError
from tenants.audit import Actor, audit_record
from tenants.auth import forget_key, forget_keys
from tenants.db import tenant_connection
from tenants.keys import generate_key, hash_secret
from tenants.models import ALL_SCOPES, ApiKey, Membership, Tenant

logger = logging.getLogger(__name__)

_SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,40}$")


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    secret: str  # the full key, shown once


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    owner: User
    api_key: NewApiKey


def _schema_name(slug: str) -> str:
    return "t_" + slug.replace("-", "_")


def tenant_create(
    *,
    name: str,
    by: Actor,
    plan_id: int,
    slug: str | None = None,
    owner_email: str | None = None,
) -> NewTenant:
    """Creates the tenant row on plan `plan_id`, its migrated schema, an owner user and a first
    key with every scope. On failure nothing is left behind: no row, no schema. The plan is the
    caller's choice (billing's `plan_default` when it has none): tenants sits below billing."""
    slug = _clean_slug(slug or slugify(name)[:40])
    owner_email = _clean_email(owner_email or f"owner@{slug}.invalid")
    with transaction.atomic():
        tenant = Tenant.objects.create(
            name=name,
            slug=slug,
            schema_name=_schema_name(slug),
            plan_id=plan_id,
        )
    try:
        tenant.create_schema(verbosity=0)
        with transaction.atomic():
            owner = _owner_user(owner_email)
            Membership.objects.create(user=owner, tenant=tenant, role=Membership.Role.OWNER)
            key = api_key_create(tenant=tenant, name="default", scopes=ALL_SCOPES, by=by)
            audit_record(by=by, action="tenant.create", tenant=tenant, target=f"tenant:{slug}")
    except BaseException:
        _tenant_discard(tenant)
        raise
    return NewTenant(tenant=tenant, owner=owner, api_key=key)


def _clean_slug(slug: str) -> str:
    if not _SLUG_RE.match(slug):
        raise ApplicationError(
            f"Tenant slug {slug!r} must be 2-41 characters of a-z, 0-9 and '-', "
            "starting with a letter.",
            code="invalid_slug",
            param="slug",
        )
    if Tenant.objects.filter(slug=slug).exists():
        raise ApplicationError(
            f"A tenant with slug {slug!r} exists.", code="tenant_exists", param="slug", status=409
        )
    if schema_exists(_schema_name(slug)):
        # An orphan schema (a tenant row removed by hand): never adopt its data, never drop it.
        raise ApplicationError(
            f"Schema {_schema_name(slug)!r} exists without a tenant.",
            code="schema_exists",
            param="slug",
            status=409,
        )
    return slug


def _clean_email(email: str) -> str:
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError(
            f"{email!r} is not an e-mail address.", code="invalid_email", param="owner_email"
        ) from None
    if len(email) > 150:  # the username column's length
        raise ApplicationError(
            "The owner's e-mail is longer than 150 characters.",
            code="invalid_email",
            param="owner_email",
        )
    return email


def _owner_user(email: str) -> User:
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=email, defaults={"email": email})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _tenant_discard(tenant: Tenant) -> None:
    connection = tenant_connection()
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
    Tenant.objects.filter(pk=tenant.pk).delete()


def _clean_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise ApplicationError(
            f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(ALL_SCOPES)}.",
            code="invalid_scope",
            param="scopes",
        )
    if not scopes:
        raise ApplicationError(
            "An API key needs at least one scope.", code="invalid_scope", param="scopes"
        )
    return [s for s in ALL_SCOPES if s in scopes]


def api_key_create(
    *,
    tenant: Tenant,
    name: str,
    scopes: list[str],
    by: Actor,
    expires_at: datetime | None = None,
    created_by: User | None = None,
) -> NewApiKey:
    if not name.strip():
        raise ApplicationError("An API key needs a name.", code="invalid_name", param="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError(
            "expires_at must be in the future.", code="invalid_expiry", param="expires_at"
        )
    full, prefix, secret = generate_key()
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            tenant=tenant,
            name=name.strip()[:100],
            prefix=prefix,
            secret_hash=hash_secret(secret, settings.API_KEY_PEPPER),
            scopes=_clean_scopes(scopes),
            expires_at=expires_at,
            created_by=created_by,
        )
        audit_record(by=by, action="api_key.create", tenant=tenant, target=f"api_key:{prefix}")
    forget_key(prefix)  # drop a negative cache entry for this prefix, if any
    return NewApiKey(api_key=api_key, secret=full)


def api_key_revoke(*, api_key: ApiKey, by: Actor) -> ApiKey:
    if api_key.revoked_at is None:
        with transaction.atomic():
            api_key.revoked_at = timezone.now()
            api_key.save(update_fields=["revoked_at"])
            audit_record(
                by=by,
                action="api_key.revoke",
                tenant=api_key.tenant,
                target=f"api_key:{api_key.prefix}",
            )
    forget_key(api_key.prefix)
    return api_key


def _tenant_set_status(*, tenant: Tenant, status: str, action: str, by: Actor) -> Tenant:
    with transaction.atomic():
        tenant.status = status
        tenant.save(update_fields=["status"])
        audit_record(by=by, action=action, tenant=tenant, target=f"tenant:{tenant.slug}")
    forget_keys(list(tenant.api_keys.values_list("prefix", flat=True)))
    return tenant


def tenant_suspend(*, tenant: Tenant, by: Actor) -> Tenant:
    return _tenant_set_status(
        tenant=tenant, status=Tenant.Status.SUSPENDED, action="tenant.suspend", by=by
    )


def tenant_reactivate(*, tenant: Tenant, by: Actor) -> Tenant:
    return _tenant_set_status(
        tenant=tenant, status=Tenant.Status.ACTIVE, action="tenant.reactivate", by=by
    )


# --- Memberships (the portal's members page) ---------------------------------------------------


def _check_role(role: str) -> str:
    if role not in Membership.Role.values:
        raise ApplicationError(
            f"Unknown role {role!r}. Known: {', '.join(Membership.Role.values)}.",
            code="invalid_role",
            param="role",
        )
    return role


def _check_may_touch(*, by_role: str, role_before: str | None, role_after: str | None) -> None:
    """Only owners make, change or remove owners; members change nobody."""
    if by_role not in (Membership.Role.OWNER, Membership.Role.ADMIN):
        raise ApplicationError(
            "Only owners and admins manage members.", code="permission_denied", status=403
        )
    owner = Membership.Role.OWNER
    if by_role != owner and owner in (role_before, role_after):
        raise ApplicationError(
            "Only an owner can make, change or remove an owner.",
            code="permission_denied",
            param="role",
            status=403,
        )


def _check_an_owner_stays(membership: Membership, role_after: str | None) -> None:
    if membership.role != Membership.Role.OWNER or role_after == Membership.Role.OWNER:
        return
    # Locked: two owners demoting each other at once must not leave the tenant with none.
    owners = Membership.objects.select_for_update().filter(
        tenant_id=membership.tenant_id, role=Membership.Role.OWNER
    )
    if len(owners) <= 1:
        raise ApplicationError(
            "A tenant keeps at least one owner: make someone else owner first.",
            code="last_owner",
            param="role",
            status=409,
        )


def membership_invite(
    *, tenant: Tenant, email: str, role: str, by: Actor, by_role: str
) -> Membership:
    """Adds the person with `email` to `tenant` in `role`, making their user (without a
    password: they set one through a reset link) if they have none. 409 if already a member."""
    email = _clean_email(email)
    _check_may_touch(by_role=by_role, role_before=None, role_after=_check_role(role))
    with transaction.atomic():
        user = _owner_user(email)
        membership, created = Membership.objects.get_or_create(
            user=user, tenant=tenant, defaults={"role": role}
        )
        if not created:
            raise ApplicationError(
                f"{email} is a member already.", code="member_exists", param="email", status=409
            )
        audit_record(by=by, action="member.invite", tenant=tenant, target=f"user:{user.pk} {role}")
    return membership


def membership_set_role(
    *, membership: Membership, role: str, by: Actor, by_role: str
) -> Membership:
    _check_may_touch(by_role=by_role, role_before=membership.role, role_after=_check_role(role))
    with transaction.atomic():
        _check_an_owner_stays(membership, role)
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            by=by,
            action="member.role",
            tenant_id=membership.tenant_id,
            target=f"user:{membership.user_id} {role}",
        )
    return membership


def membership_remove(*, membership: Membership, by: Actor, by_role: str) -> None:
    _check_may_touch(by_role=by_role, role_before=membership.role, role_after=None)
    with transaction.atomic():
        _check_an_owner_stays(membership, None)
        membership.delete()
        audit_record(
            by=by,
            action="member.remove",
            tenant_id=membership.tenant_id,
            target=f"user:{membership.user_id}",
        )
