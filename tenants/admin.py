"""Staff admin. Tenants and API keys are created, status changed and keys revoked through the
services, so the schema is built, the key cache invalidated and an audit record written; a new
key's secret is shown once, on the answer to the form that made it (never stored, never shown
again); domains (the tenants' portal hosts) are checked and audited; the audit log is
read-only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.text import slugify

from callwaiting_tts.admin import ReadOnlyModelAdmin
from callwaiting_tts.errors import ApplicationError
from tenants.audit import Actor, audit_record
from tenants.models import ALL_SCOPES, ApiKey, AuditLog, Domain, Membership, Scope, Tenant
from tenants.services import (
    NewApiKey,
    api_key_create,
    api_key_revoke,
    tenant_create,
    tenant_reactivate,
    tenant_suspend,
)


def staff_actor(request: HttpRequest) -> Actor:
    return Actor.from_request(
        request, actor=f"user:{request.user.pk}", source=AuditLog.Source.ADMIN
    )


def _secret_page(
    request: HttpRequest, admin_site: admin.AdminSite, new_key: NewApiKey, *, title: str
) -> HttpResponse:
    """The one page that ever shows a key's secret: the answer to the POST that made it, never
    cached, never stored (no message, no session), never reachable again."""
    api_key = new_key.api_key
    context = {
        **admin_site.each_context(request),
        "title": title,
        "opts": Tenant._meta,
        "tenant": api_key.tenant,
        "api_key": api_key,
        "secret": new_key.secret,
        "tenant_url": reverse("admin:tenants_tenant_change", args=[api_key.tenant_id]),
        "api_key_url": reverse("admin:tenants_apikey_change", args=[api_key.pk]),
    }
    response = TemplateResponse(request, "admin/tenants/secret_once.html", context)
    add_never_cache_headers(response)
    return response


def _form_page(
    request: HttpRequest, model_admin: admin.ModelAdmin, form: forms.BaseForm, *, title: str
) -> HttpResponse:
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "form": form,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "admin/tenants/create_form.html", context)


def _add_service_error(form: forms.BaseForm, error: ApplicationError) -> None:
    """A service's refusal as a form error, on the field it names where the form has it."""
    form.add_error(error.param if error.param in form.fields else None, error.message)


# --- domains ------------------------------------------------------------------------------------


class DomainForm(forms.ModelForm):
    # A new row starts unchecked: the tenant's first domain becomes primary anyway
    # (DomainMixin.save), and a second one would otherwise start as a second primary.
    is_primary = forms.BooleanField(
        required=False,
        initial=False,
        label="Primary",
        help_text="The tenant's main portal host; checking it demotes the tenant's other one.",
    )

    class Meta:
        model = Domain
        fields = ["domain", "tenant", "is_primary"]
        help_texts = {
            "domain": "A host name of the tenant's portal (portal.acme.com): /portal/ on it "
            "pre-selects the tenant. It routes nothing else; the API finds the tenant by key.",
        }


class DomainInlineFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        primaries = [
            form
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("is_primary")
        ]
        if len(primaries) > 1:
            raise ValidationError("A tenant has one primary domain: check Primary on one row only.")


class DomainInline(admin.TabularInline):
    model = Domain
    form = DomainForm
    formset = DomainInlineFormSet
    extra = 0


def _audit_domain(request: HttpRequest, domain: Domain, action: str) -> None:
    audit_record(
        by=staff_actor(request),
        action=action,
        tenant_id=domain.tenant_id,
        target=f"domain:{domain.domain}{' primary' if domain.is_primary else ''}",
    )


def _keep_a_primary(tenant_id: int) -> None:
    """After a primary domain is removed, the tenant's oldest remaining one takes its place."""
    domains = Domain.objects.filter(tenant_id=tenant_id)
    if not domains.filter(is_primary=True).exists():
        first = domains.order_by("pk").first()
        if first is not None:
            domains.filter(pk=first.pk).update(is_primary=True)


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    form = DomainForm
    list_display = ["domain", "tenant", "is_primary"]
    list_filter = ["is_primary"]
    search_fields = ["domain", "tenant__slug", "tenant__name"]
    autocomplete_fields = ["tenant"]
    list_select_related = ["tenant"]

    def save_model(self, request: HttpRequest, obj: Domain, form: Any, change: bool) -> None:
        previous = form.initial.get("tenant") if change else None
        super().save_model(request, obj, form, change)
        _audit_domain(request, obj, "domain.change" if change else "domain.add")
        if previous is not None:
            _keep_a_primary(previous)  # it may have moved its tenant's primary elsewhere
        _keep_a_primary(obj.tenant_id)

    def delete_model(self, request: HttpRequest, obj: Domain) -> None:
        _audit_domain(request, obj, "domain.remove")
        tenant_id = obj.tenant_id
        super().delete_model(request, obj)
        _keep_a_primary(tenant_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Domain]) -> None:
        for domain in queryset:
            self.delete_model(request, domain)


# --- tenants ------------------------------------------------------------------------------------


class TenantCreateForm(forms.ModelForm):
    """What `manage.py create_tenant` asks for; saved by `tenant_create`, never by the form."""

    owner_email = forms.EmailField(
        required=False,
        max_length=150,
        help_text="The owner's e-mail (their portal login). Empty: owner@<slug>.invalid.",
    )

    class Meta:
        model = Tenant
        fields = ["name", "slug", "plan"]
        help_texts = {
            "slug": "a-z, 0-9 and '-', starting with a letter; the schema is t_<slug>. "
            "Empty: made from the name.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False

    def clean_slug(self) -> str:
        slug: str = self.cleaned_data.get("slug") or slugify(self.cleaned_data.get("name", ""))
        return slug[:40]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class TenantAdmin(admin.ModelAdmin):
    """The tenant's page. Registered by billing (`billing.admin`), whose subclass audits a plan
    change and forgets the cached limits: the plan is billing's, and tenants sits below it."""

    list_display = ["slug", "name", "status", "plan", "schema_name", "created_at"]
    list_filter = ["status", "plan"]
    search_fields = ["slug", "name", "schema_name"]
    readonly_fields = ["schema_name", "status", "created_at"]
    inlines = [DomainInline, MembershipInline]
    actions = ["suspend", "reactivate"]

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return list(self.inlines) if obj is not None else []

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), "api_keys"]

    @admin.display(description="API keys")
    def api_keys(self, obj: Tenant) -> str:
        if obj.pk is None:
            return "-"
        keys = reverse("admin:tenants_apikey_changelist") + f"?tenant__id__exact={obj.pk}"
        mint = reverse("admin:tenants_apikey_add") + f"?tenant={obj.pk}"
        count = obj.api_keys.filter(revoked_at__isnull=True).count()
        return format_html(
            '<a href="{}">{} active</a> · <a href="{}">Mint a key</a>', keys, count, mint
        )

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """Creates the tenant through `tenant_create` (as `manage.py create_tenant` does: the
        schema migrated, an owner, a first key with every scope, all audited), outside any
        transaction of the admin's, since the service cleans up after itself on failure, and
        answers with the first key's secret, once."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        initial = self.get_changeform_initial_data(request)
        form = TenantCreateForm(request.POST if request.method == "POST" else None, initial=initial)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                created = tenant_create(
                    name=data["name"],
                    slug=data["slug"] or None,
                    plan_id=data["plan"].pk,
                    owner_email=data["owner_email"] or None,
                    by=staff_actor(request),
                )
            except ApplicationError as error:
                _add_service_error(form, error)
            else:
                self.log_addition(request, created.tenant, [{"added": {}}])
                return _secret_page(
                    request, self.admin_site, created.api_key, title="Tenant created"
                )
        return _form_page(request, self, form, title="Add tenant")

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "plan" in form.changed_data:
            self.plan_changed(request, obj, form.initial["plan"])
        if change and "require_consent_recording" in form.changed_data:
            audit_record(
                by=staff_actor(request),
                action="tenant.consent_recording",
                tenant=obj,
                target=f"tenant:{obj.slug} "
                f"{'required' if obj.require_consent_recording else 'optional'}",
            )

    def plan_changed(self, request: HttpRequest, tenant: Tenant, old_plan_id: int) -> None:
        """Called after a staff member moved `tenant` to another plan."""

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Members added, changed or removed on the tenant's page are audited too."""
        instances = formset.save(commit=False)
        for removed in formset.deleted_objects:
            if isinstance(removed, Membership):
                _audit_membership(request, removed, "member.remove")
            if isinstance(removed, Domain):
                _audit_domain(request, removed, "domain.remove")
            removed.delete()
        for instance in instances:
            added = instance.pk is None
            instance.save()
            if isinstance(instance, Membership):
                _audit_membership(request, instance, "member.add" if added else "member.change")
            if isinstance(instance, Domain):
                _audit_domain(request, instance, "domain.add" if added else "domain.change")
        formset.save_m2m()
        if formset.model is Domain:
            _keep_a_primary(form.instance.pk)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Suspend selected tenants")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            tenant_suspend(tenant=tenant, by=staff_actor(request))
        self.message_user(request, f"Suspended {len(queryset)} tenant(s).", messages.SUCCESS)

    @admin.action(description="Reactivate selected tenants")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            tenant_reactivate(tenant=tenant, by=staff_actor(request))
        self.message_user(request, f"Reactivated {len(queryset)} tenant(s).", messages.SUCCESS)


def _audit_membership(request: HttpRequest, membership: Membership, action: str) -> None:
    audit_record(
        by=staff_actor(request),
        action=action,
        tenant=membership.tenant,
        target=f"user:{membership.user_id} {membership.role}",
    )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _audit_membership(request, obj, "member.change" if change else "member.add")

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        _audit_membership(request, obj, "member.remove")
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            _audit_membership(request, membership, "member.remove")
        super().delete_queryset(request, queryset)


class ApiKeyCreateForm(forms.Form):
    """What `manage.py create_api_key` asks for; saved by `api_key_create`."""

    tenant = forms.ModelChoiceField(queryset=Tenant.objects.all())
    name = forms.CharField(max_length=100, initial="default")
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=ALL_SCOPES,
        help_text="admin implies every other scope.",
    )
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        help_text="Empty: the key never expires.",
    )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "name",
        "tenant",
        "scopes",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["tenant"]
    search_fields = ["prefix", "name", "tenant__slug"]
    # secret_hash deliberately absent: the admin never shows anything derived from the secret.
    fields = readonly_fields = (
        "tenant",
        "name",
        "prefix",
        "scopes",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    actions = ["revoke"]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """Mints a key through `api_key_create` (audited with the staff member as actor) and
        answers with its secret, once. `?tenant=<id>` pre-selects the tenant."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ApiKeyCreateForm(
            request.POST if request.method == "POST" else None,
            initial={"tenant": request.GET.get("tenant")},
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            days = data["expires_in_days"]
            try:
                created = api_key_create(
                    tenant=data["tenant"],
                    name=data["name"],
                    scopes=list(data["scopes"]),
                    expires_at=timezone.now() + timedelta(days=days) if days else None,
                    created_by=request.user,  # type: ignore[arg-type]
                    by=staff_actor(request),
                )
            except ApplicationError as error:
                _add_service_error(form, error)
            else:
                self.log_addition(request, created.api_key, [{"added": {}}])
                return _secret_page(request, self.admin_site, created, title="API key created")
        return _form_page(request, self, form, title="Mint an API key")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset.select_related("tenant"):
            api_key_revoke(api_key=api_key, by=staff_actor(request))
        self.message_user(request, f"Revoked {len(queryset)} key(s).", messages.SUCCESS)


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyModelAdmin):
    list_display = [
        "created_at",
        "actor",
        "source",
        "action",
        "target",
        "tenant",
        "ip",
        "request_id",
    ]
    list_filter = [
        ("tenant", admin.RelatedOnlyFieldListFilter),
        "action",
        "source",
        "created_at",
    ]
    search_fields = ["actor", "action", "target", "request_id", "tenant__slug"]
    date_hierarchy = "created_at"
