"""Staff admin for plans, per-tenant overrides, tenants' plans, usage and statements. A saved or
deleted plan or override, or a tenant moved to another plan, writes an audit entry naming what
changed and forgets the cached limits it affects (`billing.limits`), so admission sees it on
the next request."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import Model
from django.http import HttpRequest

from billing.limits import forget_limits
from billing.models import (
    OVERRIDABLE_FIELDS,
    Plan,
    Statement,
    StatementLine,
    TenantPlanOverride,
    UsageRecord,
    UsageRollup,
)
from billing.services import plan_default
from callwaiting_tts.admin import ReadOnlyModelAdmin
from tenants.admin import TenantAdmin, staff_actor
from tenants.audit import audit_record
from tenants.models import Tenant


def _describe(label: str, form: forms.ModelForm, obj: Model, *, change: bool) -> str:
    if not change:
        return f"{label} created"
    parts = [
        f"{name} {form.initial.get(name)!r}→{getattr(obj, name)!r}" for name in form.changed_data
    ]
    return f"{label} " + "; ".join(parts)


def _forget_after_commit(tenant_id: int | None) -> None:
    # Now and again after commit: a request between the two may have cached the old row.
    forget_limits(tenant_id)
    transaction.on_commit(lambda: forget_limits(tenant_id))


def _string_list(value: Any, *, field: str) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise forms.ValidationError(f'{field} must be a list of names, e.g. ["piper"].')
    return value


class PlanForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = [
            "slug",
            "name",
            "price_per_month_minor",
            "overage_per_1k_minor",
            "currency",
            "monthly_character_quota",
            "overage_allowed",
            "max_concurrent_streams",
            "requests_per_minute",
            "key_requests_per_minute",
            "max_input_characters",
            "max_cloned_voices",
            "max_pronunciation_dictionaries",
            "max_pronunciation_entries",
            "allowed_engines",
            "allowed_formats",
        ]

    def clean_allowed_engines(self) -> list[str]:
        return _string_list(self.cleaned_data.get("allowed_engines"), field="allowed_engines")

    def clean_allowed_formats(self) -> list[str]:
        return _string_list(self.cleaned_data.get("allowed_formats"), field="allowed_formats")


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    form = PlanForm
    list_display = [
        "slug",
        "name",
        "price_per_month_minor",
        "currency",
        "monthly_character_quota",
        "overage_allowed",
        "max_concurrent_streams",
        "requests_per_minute",
    ]
    search_fields = ["slug", "name"]

    def save_model(self, request: HttpRequest, obj: Plan, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and not form.changed_data:
            return
        audit_record(
            by=staff_actor(request),
            action="plan.changed",
            target=_describe(f"plan:{obj.slug}", form, obj, change=change),
        )
        _forget_after_commit(None)

    def delete_model(self, request: HttpRequest, obj: Plan) -> None:
        slug = obj.slug
        super().delete_model(request, obj)
        audit_record(by=staff_actor(request), action="plan.changed", target=f"plan:{slug} deleted")
        _forget_after_commit(None)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for plan in queryset:
            self.delete_model(request, plan)


class TenantPlanOverrideForm(forms.ModelForm):
    class Meta:
        model = TenantPlanOverride
        fields = ["tenant", *OVERRIDABLE_FIELDS, "note"]

    def clean_allowed_engines(self) -> list[str] | None:
        value = self.cleaned_data.get("allowed_engines")
        return None if value is None else _string_list(value, field="allowed_engines")

    def clean_allowed_formats(self) -> list[str] | None:
        value = self.cleaned_data.get("allowed_formats")
        return None if value is None else _string_list(value, field="allowed_formats")


@admin.register(TenantPlanOverride)
class TenantPlanOverrideAdmin(admin.ModelAdmin):
    form = TenantPlanOverrideForm
    list_display = [
        "tenant",
        "monthly_character_quota",
        "requests_per_minute",
        "max_concurrent_streams",
        "overage_allowed",
        "updated_at",
    ]
    search_fields = ["tenant__slug", "tenant__name", "note"]
    autocomplete_fields = ["tenant"]

    def save_model(
        self, request: HttpRequest, obj: TenantPlanOverride, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if change and not form.changed_data:
            return
        _audit_override(
            request, obj.tenant, _describe(_label(obj.tenant), form, obj, change=change)
        )

    def delete_model(self, request: HttpRequest, obj: TenantPlanOverride) -> None:
        tenant = obj.tenant
        super().delete_model(request, obj)
        _audit_override(request, tenant, f"{_label(tenant)} deleted")

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for override in queryset.select_related("tenant"):
            self.delete_model(request, override)


def _label(tenant: Tenant) -> str:
    return f"plan_override:{tenant.slug}"


def _audit_override(request: HttpRequest, tenant: Tenant, target: str) -> None:
    audit_record(
        by=staff_actor(request), action="plan_override.changed", tenant=tenant, target=target
    )
    _forget_after_commit(tenant.pk)


@admin.register(Tenant)
class BilledTenantAdmin(TenantAdmin):
    """The tenant's page with its plan: a plan change is audited and admission sees it at once.
    The add form starts on the default plan, as `manage.py create_tenant` does."""

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial: dict[str, Any] = {**super().get_changeform_initial_data(request)}
        initial.setdefault("plan", plan_default().pk)
        return initial

    def plan_changed(self, request: HttpRequest, tenant: Tenant, old_plan_id: int) -> None:
        old = Plan.objects.filter(pk=old_plan_id).values_list("slug", flat=True).first()
        audit_record(
            by=staff_actor(request),
            action="plan.changed",
            tenant=tenant,
            target=f"tenant:{tenant.slug} plan {old}→{tenant.plan.slug}",
        )
        _forget_after_commit(tenant.pk)


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyModelAdmin):
    list_display = [
        "started_at",
        "tenant",
        "status",
        "characters_billed",
        "audio_seconds_delivered",
        "voice",
        "output_format",
        "source",
    ]
    list_filter = ["status", "source", "engine"]
    search_fields = ["synthesis_id", "tenant__slug", "request_id"]
    date_hierarchy = "started_at"


class StatementLineInline(admin.TabularInline):
    model = StatementLine
    fields = readonly_fields = ("description", "quantity", "unit_price_minor", "amount_minor")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Statement)
class StatementAdmin(ReadOnlyModelAdmin):
    list_display = [
        "period_start",
        "tenant",
        "plan_name",
        "characters",
        "carried_characters",
        "total_minor",
        "currency",
        "closed_at",
    ]
    list_filter = ["period_start", "currency", ("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["tenant__slug", "tenant__name", "plan_slug"]
    date_hierarchy = "period_start"
    inlines = [StatementLineInline]


@admin.register(UsageRollup)
class UsageRollupAdmin(ReadOnlyModelAdmin):
    list_display = [
        "bucket_start",
        "granularity",
        "tenant",
        "api_key",
        "voice",
        "requests",
        "characters",
        "audio_seconds_delivered",
    ]
    list_filter = ["granularity", ("tenant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["tenant__slug", "voice", "api_key__prefix"]
    date_hierarchy = "bucket_start"
