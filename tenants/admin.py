"""Staff admin. Status changes and revocation go through the services, so the key cache is
invalidated and an audit record written; API key secrets are never shown; the audit log is
read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from callwaiting_tts.admin import ReadOnlyModelAdmin
from tenants.audit import Actor, audit_record
from tenants.models import ApiKey, AuditLog, Domain, Membership, Tenant
from tenants.services import api_key_revoke, tenant_reactivate, tenant_suspend


def staff_actor(request: HttpRequest) -> Actor:
    return Actor.from_request(
        request, actor=f"user:{request.user.pk}", source=AuditLog.Source.ADMIN
    )


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tenants are created by `manage.py create_tenant`, which builds the schema

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
            removed.delete()
        for instance in instances:
            added = instance.pk is None
            instance.save()
            if isinstance(instance, Membership):
                _audit_membership(request, instance, "member.add" if added else "member.change")
        formset.save_m2m()

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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

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
