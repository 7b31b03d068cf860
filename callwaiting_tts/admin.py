"""Admin building blocks shared by the apps, and the staff sign-in form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest

from callwaiting_tts import signin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Records staff may read but never add, change or delete (audit log, usage)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StaffSignInForm(AdminAuthenticationForm):
    """Django admin's sign-in form with the portal's brake (callwaiting_tts.signin): failed
    sign-ins per client address and user name, ADMIN_SIGNIN_FAILURE_LIMIT in a quarter of an
    hour. A blocked form checks no password at all, so guessing on stops teaching anything."""

    def clean(self) -> dict[str, Any]:
        client = str(self.request.META.get("REMOTE_ADDR") or "") if self.request else ""
        username = str(self.data.get("username", ""))
        limit = settings.ADMIN_SIGNIN_FAILURE_LIMIT
        if signin.sign_in_blocked("admin", client, username, limit=limit):
            raise forms.ValidationError(
                "Too many failed sign-ins. Wait a quarter of an hour before trying again.",
                code="throttled",
            )
        try:
            return super().clean()
        except forms.ValidationError:
            signin.note_sign_in_failure("admin", client, username)
            raise
