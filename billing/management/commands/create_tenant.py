from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from billing.models import DEFAULT_PLAN_SLUG, Plan
from billing.services import plan_default
from tenants.audit import Actor
from tenants.management.base import TenantCommand
from tenants.services import tenant_create


class Command(TenantCommand):
    """Lives in billing, above tenants: it chooses the new tenant's plan."""

    help = "Create a tenant: its schema, an owner user and a first API key with every scope."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("name")
        parser.add_argument("--slug", help="URL-safe id (default: from the name).")
        parser.add_argument("--plan", default=DEFAULT_PLAN_SLUG, help="Plan slug.")
        parser.add_argument("--owner-email", help="The owner's e-mail (login for the portal).")

    def run(self, **options: Any) -> dict[str, Any]:
        slug = options["plan"]
        plan = (
            plan_default() if slug == DEFAULT_PLAN_SLUG else Plan.objects.filter(slug=slug).first()
        )
        if plan is None:
            raise CommandError(f"No plan {options['plan']!r}.")
        created = tenant_create(
            name=options["name"],
            slug=options["slug"],
            plan_id=plan.pk,
            owner_email=options["owner_email"],
            by=Actor.cli(),
        )
        return {
            "tenant": created.tenant.slug,
            "schema": created.tenant.schema_name,
            "api_key": created.api_key.secret,
        }
