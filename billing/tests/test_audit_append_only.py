"""The audit log is append-only in PostgreSQL: no UPDATE or DELETE gets through, by the ORM or by
raw SQL, except the tenant_id → NULL that deleting a tenant performs (on_delete=SET_NULL)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import DatabaseError, connection, transaction

from tenants.audit import Actor, audit_record
from tenants.models import AuditLog, Tenant


@pytest.fixture
def entry(tenant_a) -> AuditLog:
    return audit_record(
        by=Actor.system(), action="test.append_only", tenant=tenant_a.tenant, target="x"
    )


def refused(change: Callable[[], object]) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        change()


def sql(statement: str, *params: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.mark.django_db
def test_it_refuses_queryset_update_and_delete(entry):
    rows = AuditLog.objects.filter(pk=entry.pk)
    refused(lambda: rows.update(target="rewritten"))
    refused(lambda: rows.update(tenant=None, target="rewritten"))
    refused(rows.delete)
    assert AuditLog.objects.get(pk=entry.pk).target == "x"


@pytest.mark.django_db
def test_it_refuses_save_and_delete_of_an_existing_entry(entry):
    entry.action = "test.rewritten"
    refused(entry.save)
    refused(entry.delete)
    assert AuditLog.objects.get(pk=entry.pk).action == "test.append_only"


@pytest.mark.django_db
def test_it_refuses_raw_sql(entry, tenant_b):
    refused(lambda: sql("UPDATE tenants_auditlog SET actor = 'someone' WHERE id = %s", entry.pk))
    refused(lambda: sql("DELETE FROM tenants_auditlog WHERE id = %s", entry.pk))
    # Moving an entry to another tenant, or nulling the tenant along with anything else.
    refused(
        lambda: sql(
            "UPDATE tenants_auditlog SET tenant_id = %s WHERE id = %s",
            tenant_b.tenant.pk,
            entry.pk,
        )
    )
    refused(
        lambda: sql(
            "UPDATE tenants_auditlog SET tenant_id = NULL, action = 'x' WHERE id = %s", entry.pk
        )
    )


@pytest.mark.django_db
def test_new_entries_are_still_written(tenant_a):
    before = AuditLog.objects.count()
    audit_record(by=Actor.system(), action="test.more", tenant=tenant_a.tenant)
    assert AuditLog.objects.count() == before + 1


def test_deleting_a_tenant_keeps_its_entries_without_the_tenant(make_tenant):
    tenant = make_tenant("gone").tenant
    entries = list(AuditLog.objects.filter(tenant=tenant).order_by("id"))
    assert entries  # tenant.create and api_key.create at least

    Tenant.objects.get(pk=tenant.pk).delete()

    after = list(AuditLog.objects.filter(pk__in=[e.pk for e in entries]).order_by("id"))
    assert [e.tenant_id for e in after] == [None] * len(entries)
    assert [(e.actor, e.action, e.target, e.created_at) for e in after] == [
        (e.actor, e.action, e.target, e.created_at) for e in entries
    ]
