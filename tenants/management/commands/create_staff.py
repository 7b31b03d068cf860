from __future__ import annotations

import secrets
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.validators import validate_email
from django.db import transaction

from tenants.audit import Actor, audit_record
from tenants.management.base import TenantCommand


class Command(TenantCommand):
    help = (
        "Create a staff member who signs in to Django admin (/admin/) with EMAIL and a generated "
        "password, printed once: change it after signing in (/admin/password_change/)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("email", help="The staff member's e-mail, also their username.")

    def run(self, **options: Any) -> dict[str, Any]:
        email = options["email"].strip()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not an e-mail address.") from None
        users = get_user_model()
        if users.objects.filter(username=email).exists():
            raise CommandError(
                f"A user {email!r} exists; `manage.py changepassword {email}` sets a password."
            )
        password = secrets.token_urlsafe(18)
        with transaction.atomic():
            # Staff run the whole platform: every model in admin (tenants, plans, keys, domains).
            user = users.objects.create_superuser(username=email, email=email, password=password)
            audit_record(by=Actor.cli(), action="staff.create", target=f"user:{user.pk}")
        return {"username": email, "password": password, "admin": "/admin/"}
