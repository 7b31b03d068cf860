from __future__ import annotations

from typing import Any

from tenants.audit import Actor, audit_record
from tenants.management.base import TenantCommand
from tenants.models import Tenant


class Command(TenantCommand):
    help = "List tenants with their status, plan and schema."

    def run(self, **options: Any) -> dict[str, Any]:
        tenants = [
            {
                "tenant": t.slug,
                "name": t.name,
                "schema": t.schema_name,
                "status": t.status,
                "plan": t.plan.slug,
                "created_at": t.created_at,
            }
            for t in Tenant.objects.select_related("plan")
        ]
        audit_record(by=Actor.cli(), action="tenant.list", target=f"{len(tenants)} tenants")
        return {"tenants": tenants}

    def render(self, result: dict[str, Any]) -> str:
        rows = [
            f"{t['tenant']:<24} {t['status']:<10} {t['plan']:<12} {t['schema']}"
            for t in result["tenants"]
        ]
        return "\n".join(rows) if rows else "No tenants."
