"""Members: who belongs to the tenant, in which role; invite (a set-password e-mail goes to a
new person), change a role, remove after a confirmation step. Owners and admins only; only
owners touch owners, and a tenant keeps one owner (tenants' services decide)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from callwaiting_tts.errors import ApplicationError
from portal.access import member_view, page, seat
from portal.forms import FirstPasswordResetForm, MemberInviteForm, MemberRoleForm
from portal.selectors import membership_get, membership_list
from tenants.audit import Actor
from tenants.models import Scope
from tenants.services import membership_invite, membership_remove, membership_set_role


def _list(request: HttpRequest, form: MemberInviteForm, status: int = 200) -> HttpResponse:
    members = membership_list(principal=seat(request).principal)
    context = {"members": members, "form": form, "roles": MemberRoleForm.base_fields["role"]}
    return page(request, "portal/members/list.html", {**context, "nav": "members"}, status=status)


def _send_set_password_mail(request: HttpRequest, email: str) -> None:
    form = FirstPasswordResetForm({"email": email})
    if form.is_valid():
        form.save(
            request=request,
            use_https=request.is_secure(),
            email_template_name="portal/accounts/invite_email.txt",
            subject_template_name="portal/accounts/invite_subject.txt",
            extra_email_context={"tenant": seat(request).tenant.name},
        )


@require_http_methods(["GET", "POST"])
@member_view(scope=Scope.ADMIN)
def member_list(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _list(request, MemberInviteForm())
    form = MemberInviteForm(request.POST)
    if not form.is_valid():
        return _list(request, form, status=400)
    me = seat(request)
    try:
        membership = membership_invite(
            tenant=me.tenant,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            by=Actor.of(request, me.principal),
            by_role=me.membership.role,
        )
    except ApplicationError as error:
        form.add_error(error.param if error.param in form.fields else None, error.message)
        return _list(request, form, status=error.status)
    if not membership.user.has_usable_password():
        _send_set_password_mail(request, membership.user.email)
    messages.success(request, f"{membership.user.email} is a {membership.role} now.")
    return redirect("portal:members")


@require_POST
@member_view(scope=Scope.ADMIN)
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    me = seat(request)
    membership = membership_get(principal=me.principal, membership_id=membership_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role.")
        return redirect("portal:members")
    try:
        membership_set_role(
            membership=membership,
            role=form.cleaned_data["role"],
            by=Actor.of(request, me.principal),
            by_role=me.membership.role,
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("portal:members")
    messages.success(request, f"{membership.user.email} is a {membership.role} now.")
    return redirect("portal:members")


@require_http_methods(["GET", "POST"])
@member_view(scope=Scope.ADMIN)
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    """GET asks for confirmation; POST removes the membership (the user stays)."""
    me = seat(request)
    membership = membership_get(principal=me.principal, membership_id=membership_id)
    if request.method != "POST":
        context = {"member": membership, "nav": "members"}
        return page(request, "portal/members/remove.html", context)
    try:
        membership_remove(
            membership=membership, by=Actor.of(request, me.principal), by_role=me.membership.role
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("portal:members")
    messages.success(request, f"{membership.user.email} is no longer a member.")
    return redirect("portal:members")
