"""The cached key record and its tombstones (issue #14, point 12): a load that read the
database before a revocation or suspension and writes the cache after it must not bring the
old record back."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_init
from django.test import Client

from tenants.audit import Actor
from tenants.auth import ApiKeyError, authenticate_api_key, forget_key
from tenants.models import ApiKey
from tenants.services import api_key_revoke, tenant_reactivate, tenant_suspend


def prefix_of(raw: str) -> str:
    return raw.split("_")[1]


def code_of(response) -> str:
    return response.json()["error"]["code"]


@contextlib.contextmanager
def right_after_the_database_read_of(prefix: str, action: Callable[[], None]) -> Iterator[None]:
    """Runs `action` once, as soon as a load has read the key's row from the database and
    before that load writes the cache: the race, made deterministic."""
    done: list[bool] = []
    forget_key(prefix)  # the next load reads the database

    def race(sender, instance, **kwargs):
        if instance.prefix == prefix and not done:
            done.append(True)
            action()

    post_init.connect(race, sender=ApiKey)
    try:
        yield
    finally:
        post_init.disconnect(race, sender=ApiKey)
    assert done, "no load read the key from the database"


@pytest.mark.django_db
def test_a_revoked_key_stays_revoked_after_a_racing_load(tenant_a):
    raw = tenant_a.key_with("voices:read")
    api_key = ApiKey.objects.select_related("tenant").get(prefix=prefix_of(raw))

    def revoke() -> None:
        api_key_revoke(api_key=api_key, by=Actor.system())

    with right_after_the_database_read_of(prefix_of(raw), revoke):
        authenticate_api_key(raw)  # read before the revocation: this one request may pass
    response = Client(headers={"Authorization": f"Bearer {raw}"}).get("/v1/me")
    assert code_of(response) == "api_key_revoked"


@pytest.mark.django_db
def test_a_suspended_tenant_stays_suspended_after_a_racing_load(suspendable_tenant):
    tenant = suspendable_tenant
    with right_after_the_database_read_of(
        prefix_of(tenant.api_key), lambda: tenant_suspend(tenant=tenant.tenant, by=Actor.system())
    ):
        authenticate_api_key(tenant.api_key)
    with pytest.raises(ApiKeyError) as refused:
        authenticate_api_key(tenant.api_key)
    assert refused.value.code == "tenant_suspended"


@pytest.mark.django_db
def test_a_reactivated_tenants_key_works_and_is_cached_again(
    suspendable_tenant, django_assert_num_queries
):
    tenant = suspendable_tenant
    authenticate_api_key(tenant.api_key)
    tenant_suspend(tenant=tenant.tenant, by=Actor.system())
    with pytest.raises(ApiKeyError):
        authenticate_api_key(tenant.api_key)
    tenant_reactivate(tenant=tenant.tenant, by=Actor.system())
    assert authenticate_api_key(tenant.api_key).tenant_id == tenant.tenant.pk
    with django_assert_num_queries(0):  # the tombstone does not keep it out of the cache
        assert authenticate_api_key(tenant.api_key).tenant_id == tenant.tenant.pk


@pytest.mark.django_db(transaction=True)
def test_a_revocation_inside_a_transaction_holds_once_it_commits(make_tenant):
    """The service may be called inside a caller's transaction: a load on another connection
    between the tombstone and the commit still reads the key as usable."""
    tenant = make_tenant("race")
    raw = tenant.api_key
    api_key = ApiKey.objects.select_related("tenant").get(prefix=prefix_of(raw))

    loaded: list[str] = []

    def load_elsewhere() -> None:
        try:
            loaded.append(authenticate_api_key(raw).prefix)  # sees the row as it was
        finally:
            connection.close()

    with transaction.atomic():
        api_key_revoke(api_key=api_key, by=Actor.system())
        loader = threading.Thread(target=load_elsewhere)
        loader.start()
        loader.join()
    assert loaded == [prefix_of(raw)]
    with pytest.raises(ApiKeyError) as refused:
        authenticate_api_key(raw)
    assert refused.value.code == "api_key_revoked"


@pytest.fixture
def suspendable_tenant(tenant_b):
    """Tenant B (shared by the session), active again afterwards: the test's rollback restores
    its row, not the fixture's object or the cached record."""
    yield tenant_b
    tenant_reactivate(tenant=tenant_b.tenant, by=Actor.system())
