from __future__ import annotations

from django.db import models

DEFAULT_PLAN_SLUG = "default"


class Plan(models.Model):  # type: ignore[django-manager-missing]  # Tenant: untyped base
    """What a tenant may use. Quotas and prices are enforced and billed by the billing issue;
    the foundation needs the row, the default plan and the concurrency limit."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    max_concurrent_streams = models.PositiveIntegerField(default=4)
    monthly_character_quota = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Empty means unlimited."
    )
    requests_per_minute = models.PositiveIntegerField(default=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


def default_plan_id() -> int:
    """Tenant.plan's default: the plan created by billing's data migration."""
    return Plan.objects.only("id").get(slug=DEFAULT_PLAN_SLUG).pk


class UsageRecord(models.Model):
    """Exactly one per synthesis, in the public schema, keyed on the server-generated synthesis
    id. Characters billed are those of the input (SSML: its text content), never of the
    normalized text; a cancelled synthesis bills the segments whose audio was delivered."""

    class Status(models.TextChoices):
        COMPLETED = "completed"
        CANCELLED = "cancelled"
        FAILED = "failed"

    synthesis_id = models.UUIDField(unique=True)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="usage")
    api_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="usage"
    )
    request_id = models.CharField(
        max_length=128, blank=True, help_text="The client's request id, kept for support only."
    )
    source = models.CharField(max_length=16, help_text="http, openai or websocket.")
    characters_billed = models.PositiveIntegerField()
    audio_seconds_synthesized = models.FloatField(default=0.0)
    audio_seconds_delivered = models.FloatField(default=0.0)
    voice = models.CharField(max_length=100)
    engine = models.CharField(max_length=32)
    output_format = models.CharField(max_length=16)
    sample_rate = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices)
    error_code = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["tenant", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.synthesis_id} {self.status} {self.characters_billed} chars"
