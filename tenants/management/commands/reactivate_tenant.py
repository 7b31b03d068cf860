from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from tenants.audit import Actor
from tenants.management.base import TenantCommand, tenant_by_ref
from tenants.services import tenant_reactivate


class Command(TenantCommand):
    help = "Reactivate a suspended tenant."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("tenant", help="Tenant slug or schema name.")

    def run(self, **options: Any) -> dict[str, Any]:
        tenant = tenant_reactivate(tenant=tenant_by_ref(options["tenant"]), by=Actor.cli())
        return {"tenant": tenant.slug, "status": tenant.status}
