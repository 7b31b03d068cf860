"""Signing in and out, password resets (Django's views, the portal's templates) and the
tenant switcher."""

from __future__ import annotations

from django.contrib.auth import views as auth
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from portal.access import SESSION_TENANT, member_view, seat
from portal.forms import FirstPasswordResetForm, SignInForm

sign_in = auth.LoginView.as_view(
    template_name="portal/accounts/sign_in.html",
    authentication_form=SignInForm,
    redirect_authenticated_user=True,
)
sign_out = auth.LogoutView.as_view()
password_reset = auth.PasswordResetView.as_view(
    template_name="portal/accounts/password_reset.html",
    form_class=FirstPasswordResetForm,
    email_template_name="portal/accounts/password_reset_email.txt",
    subject_template_name="portal/accounts/password_reset_subject.txt",
    success_url=reverse_lazy("portal:password-reset-done"),
)
password_reset_done = auth.PasswordResetDoneView.as_view(
    template_name="portal/accounts/password_reset_done.html"
)
password_reset_confirm = auth.PasswordResetConfirmView.as_view(
    template_name="portal/accounts/password_reset_confirm.html",
    success_url=reverse_lazy("portal:password-reset-complete"),
)
password_reset_complete = auth.PasswordResetCompleteView.as_view(
    template_name="portal/accounts/password_reset_complete.html"
)


@require_POST
@member_view()
def switch_tenant(request: HttpRequest) -> HttpResponse:
    """Remembers the chosen tenant if the member belongs to it; every request checks again."""
    wanted = request.POST.get("tenant", "")
    chosen = next((m for m in seat(request).memberships if str(m.tenant_id) == wanted), None)
    if chosen is not None:
        request.session[SESSION_TENANT] = chosen.tenant_id
    return redirect("portal:home")
