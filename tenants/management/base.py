"""Shared behaviour of the tenant management commands: `--json` prints exactly one JSON line on
standard output; everything else (logs, migration chatter) goes to standard error; a failure
exits non-zero with nothing on standard output."""

from __future__ import annotations

import contextlib
import json
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from callwaiting_tts.errors import ApplicationError
from tenants.models import Tenant


class TenantCommand(BaseCommand):
    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON line.")

    def handle(self, *args: Any, **options: Any) -> None:
        real_stdout = self.stdout
        try:
            with contextlib.redirect_stdout(sys.stderr):
                result = self.run(**options)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        if options["json"]:
            real_stdout.write(json.dumps(result, default=str))
        else:
            real_stdout.write(self.render(result))

    def run(self, **options: Any) -> dict[str, Any]:
        raise NotImplementedError

    def render(self, result: dict[str, Any]) -> str:
        return "\n".join(f"{key}: {value}" for key, value in result.items())


def tenant_by_ref(ref: str) -> Tenant:
    tenant = (
        Tenant.objects.filter(slug=ref).first() or Tenant.objects.filter(schema_name=ref).first()
    )
    if tenant is None:
        raise CommandError(f"No tenant {ref!r} (give its slug or schema name).")
    return tenant
