from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from tenants.audit import Actor
from tenants.keys import parse_key
from tenants.management.base import TenantCommand
from tenants.models import ApiKey
from tenants.services import api_key_revoke


class Command(TenantCommand):
    help = "Revoke an API key (by its prefix or the whole key); effective on the next request."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("key", help="The key's prefix, or the whole key.")

    def run(self, **options: Any) -> dict[str, Any]:
        parsed = parse_key(options["key"])
        prefix = parsed.prefix if parsed else options["key"]
        api_key = ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
        if api_key is None:
            raise CommandError(f"No API key with prefix {prefix!r}.")
        api_key_revoke(api_key=api_key, by=Actor.cli())
        return {
            "tenant": api_key.tenant.slug,
            "prefix": api_key.prefix,
            "revoked_at": api_key.revoked_at,
        }
