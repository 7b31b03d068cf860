from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin

from tenants.hosts import hostname_clean


class Tenant(TenantMixin):
    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # The plan is billing's (a string reference: tenants imports nothing of billing); who creates
    # a tenant chooses it (billing.services.plan_default when they have no choice).
    plan = models.ForeignKey("billing.Plan", on_delete=models.PROTECT, related_name="tenants")
    created_at = models.DateTimeField(auto_now_add=True)
    # Voice cloning: whether every upload must carry a consent recording of the speaker reading
    # the displayed sentence, matched against the reference by speaker similarity.
    require_consent_recording = models.BooleanField(default=False)

    # Schemas are created by tenants.services.tenant_create, which controls migration output.
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Domain(DomainMixin):
    """A host name of the tenant's portal (`portal.acme.com`): a request to `/portal/` on it
    pre-selects the tenant (`tenants.selectors.tenant_for_host`). It routes nothing else: the
    API finds the tenant from the key. django-tenants requires the model (TENANT_DOMAIN_MODEL);
    its hostname middleware is not used. Saving a primary domain demotes the tenant's other
    one (django-tenants' `DomainMixin.save`): one primary per tenant."""

    def clean(self) -> None:
        super().clean()
        value: str = getattr(self, "domain", "")  # DomainMixin's field is untyped
        if value:
            try:
                setattr(self, "domain", hostname_clean(value))  # noqa: B010
            except ValidationError as error:
                raise ValidationError({"domain": error}) from None


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        MEMBER = "member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_user_tenant_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"


class Scope(models.TextChoices):
    SYNTHESIZE = "synthesize"
    VOICES_READ = "voices:read"
    VOICES_WRITE = "voices:write"
    USAGE_READ = "usage:read"
    ADMIN = "admin"


ALL_SCOPES: list[str] = [s.value for s in Scope]


class ApiKey(models.Model):
    """The secret is never stored: only its public prefix and an HMAC-SHA256 of the secret."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class AuditLog(models.Model):
    class Source(models.TextChoices):
        API = "api"
        CLI = "cli"
        ADMIN = "admin"
        PORTAL = "portal"
        SYSTEM = "system"

    actor = models.CharField(
        max_length=200, help_text="Who acted: user:<id>, api_key:<prefix>, cli."
    )
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_logs"
    )
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target}"
