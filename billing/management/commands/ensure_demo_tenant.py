from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings

from billing.models import Plan
from tenants.audit import Actor
from tenants.management.base import TenantCommand
from tenants.models import ALL_SCOPES, Tenant
from tenants.services import api_key_create, tenant_create

DEMO_SLUG = "demo"


class Command(TenantCommand):
    """Lives in billing, above tenants: the demo tenant is on a plan of its own."""

    help = "Ensure the demo tenant (plan allowing 100 concurrent streams) and mint a fresh key."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)

    def run(self, **options: Any) -> dict[str, Any]:
        plan, _ = Plan.objects.get_or_create(
            slug="demo",
            defaults={"name": "Demo", "max_concurrent_streams": 100, "requests_per_minute": 6000},
        )
        tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
        if tenant is None:
            created = tenant_create(
                name=settings.DEMO_TENANT_NAME,
                slug=DEMO_SLUG,
                plan_id=plan.pk,
                owner_email="demo@example.com",
                by=Actor.cli(),
            )
            tenant, secret = created.tenant, created.api_key.secret
        else:
            secret = api_key_create(
                tenant=tenant, name="demo", scopes=ALL_SCOPES, by=Actor.cli()
            ).secret
        return {"tenant": tenant.slug, "schema": tenant.schema_name, "api_key": secret}

    def render(self, result: dict[str, Any]) -> str:
        return f"Demo tenant '{result['tenant']}' API key: {result['api_key']}"
