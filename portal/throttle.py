"""The portal's sign-in brake: failed sign-ins per client address and e-mail (and per address
alone, higher) for a quarter of an hour (callwaiting_tts.signin, shared with Django admin's)."""

from __future__ import annotations

from django.conf import settings

from callwaiting_tts import signin


def sign_in_blocked(client: str, email: str) -> bool:
    return signin.sign_in_blocked(
        "portal", client, email, limit=settings.PORTAL_SIGNIN_FAILURE_LIMIT
    )


def note_sign_in_failure(client: str, email: str) -> None:
    signin.note_sign_in_failure("portal", client, email)
