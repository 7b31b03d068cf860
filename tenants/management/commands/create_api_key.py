from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.utils import timezone

from tenants.audit import Actor
from tenants.management.base import TenantCommand, tenant_by_ref
from tenants.models import ALL_SCOPES
from tenants.services import api_key_create


class Command(TenantCommand):
    help = "Create an API key for a tenant. The key is printed once and never stored."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("tenant", help="Tenant slug or schema name.")
        parser.add_argument("--name", default="default")
        parser.add_argument(
            "--scopes",
            default=",".join(ALL_SCOPES),
            help=f"Comma-separated, of: {', '.join(ALL_SCOPES)}.",
        )
        parser.add_argument("--expires-in-days", type=int, help="Expire after N days.")

    def run(self, **options: Any) -> dict[str, Any]:
        tenant = tenant_by_ref(options["tenant"])
        days = options["expires_in_days"]
        created = api_key_create(
            tenant=tenant,
            name=options["name"],
            by=Actor.cli(),
            scopes=[s.strip() for s in options["scopes"].split(",") if s.strip()],
            expires_at=timezone.now() + timedelta(days=days) if days is not None else None,
        )
        key = created.api_key
        return {
            "tenant": tenant.slug,
            "prefix": key.prefix,
            "name": key.name,
            "scopes": key.scopes,
            "expires_at": key.expires_at,
            "api_key": created.secret,
        }
