"""Django admin's sign-in form carries the portal's brake on guessing passwords
(callwaiting_tts.signin): per client address and user name, for a quarter of an hour."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client, override_settings

from portal.throttle import note_sign_in_failure

PASSWORD = "x" * 20  # conftest's superuser
OFFICE = "198.51.100.7"


def sign_in(user: User, password: str, address: str = OFFICE) -> tuple[int, str]:
    response = Client(REMOTE_ADDR=address).post(
        "/admin/login/?next=/admin/", {"username": user.username, "password": password}
    )
    return response.status_code, response.content.decode()


def another_superuser() -> User:
    return get_user_model().objects.create_superuser(
        username="root-other", email="other@example.com", password=PASSWORD
    )


@override_settings(ADMIN_SIGNIN_FAILURE_LIMIT=3)
def test_admin_sign_in_stops_guessing_after_a_few_failures(superuser):
    for _ in range(3):
        status, page = sign_in(superuser, "guess")
        assert status == 200
        assert "Too many failed sign-ins" not in page
    status, page = sign_in(superuser, PASSWORD)
    assert status == 200  # refused, even with the right password
    assert "Too many failed sign-ins" in page


@override_settings(ADMIN_SIGNIN_FAILURE_LIMIT=3)
def test_the_brake_holds_one_name_at_one_address(superuser):
    for _ in range(3):
        sign_in(superuser, "guess")
    assert sign_in(another_superuser(), PASSWORD)[0] == 302  # another name, same address
    assert sign_in(superuser, PASSWORD, address="203.0.113.50")[0] == 302  # same name, elsewhere


@override_settings(ADMIN_SIGNIN_FAILURE_LIMIT=3, PORTAL_SIGNIN_FAILURE_LIMIT=3)
def test_the_portal_and_the_admin_count_apart(superuser):
    for _ in range(5):
        note_sign_in_failure(OFFICE, superuser.username)
    assert sign_in(superuser, PASSWORD)[0] == 302


@override_settings(ADMIN_SIGNIN_FAILURE_LIMIT=3)
def test_a_successful_sign_in_is_not_counted(superuser):
    for _ in range(4):
        assert sign_in(superuser, PASSWORD)[0] == 302
