from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from tenants.audit import Actor
from tenants.management.base import TenantCommand, tenant_by_ref
from tenants.services import tenant_suspend


class Command(TenantCommand):
    help = "Suspend a tenant: its keys are refused from the next request on."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("tenant", help="Tenant slug or schema name.")

    def run(self, **options: Any) -> dict[str, Any]:
        tenant = tenant_suspend(tenant=tenant_by_ref(options["tenant"]), by=Actor.cli())
        return {"tenant": tenant.slug, "status": tenant.status}
