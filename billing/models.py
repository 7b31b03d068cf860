from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

DEFAULT_PLAN_SLUG = "default"

# Fields a TenantPlanOverride may override (same names on Plan); None on the override inherits.
OVERRIDABLE_FIELDS = (
    "requests_per_minute",
    "key_requests_per_minute",
    "max_concurrent_streams",
    "monthly_character_quota",
    "max_cloned_voices",
    "max_input_characters",
    "max_pronunciation_dictionaries",
    "max_pronunciation_entries",
    "allowed_engines",
    "allowed_formats",
    "overage_allowed",
    "price_per_month_minor",
    "overage_per_1k_minor",
)


def _currency_code(value: str) -> None:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValidationError(f"{value!r} is not a three-letter currency code such as USD.")


class Plan(models.Model):  # type: ignore[django-manager-missing]  # Tenant: untyped base
    """What a tenant may use and what it costs: limits that admission enforces
    (billing.admission), prices that statements bill (billing.statements)."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    max_concurrent_streams = models.PositiveIntegerField(default=4)
    monthly_character_quota = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Empty means unlimited."
    )
    requests_per_minute = models.PositiveIntegerField(default=120, help_text="Per tenant.")
    key_requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Per API key. Empty means the tenant's limit."
    )
    max_cloned_voices = models.PositiveIntegerField(default=5)
    max_input_characters = models.PositiveIntegerField(
        default=5000, help_text="Characters of one request's text or SSML."
    )
    max_pronunciation_dictionaries = models.PositiveIntegerField(
        default=10, help_text="Pronunciation dictionaries a tenant may keep."
    )
    max_pronunciation_entries = models.PositiveIntegerField(
        default=1000, help_text="Entries in one pronunciation dictionary."
    )
    allowed_engines = models.JSONField(
        default=list, blank=True, help_text='A list such as ["piper"]. Empty means every engine.'
    )
    allowed_formats = models.JSONField(
        default=list,
        blank=True,
        help_text='A list such as ["mp3", "mulaw"]. Empty means every format.',
    )
    overage_allowed = models.BooleanField(
        default=False,
        help_text="Off: the monthly quota is a hard stop. On: characters past it are billed.",
    )
    # Prices in minor units (cents) so statements add up exactly.
    price_per_month_minor = models.PositiveIntegerField(default=0)
    overage_per_1k_minor = models.PositiveIntegerField(
        default=0, help_text="Per started 1,000 characters over the monthly quota."
    )
    currency = models.CharField(
        max_length=3, default="USD", validators=[_currency_code], help_text="ISO 4217, e.g. USD."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class TenantPlanOverride(models.Model):
    """Per-tenant exceptions to its plan, set by staff. Every empty field means "as the plan"."""

    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="plan_override"
    )
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    key_requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    max_concurrent_streams = models.PositiveIntegerField(null=True, blank=True)
    monthly_character_quota = models.PositiveBigIntegerField(null=True, blank=True)
    max_cloned_voices = models.PositiveIntegerField(null=True, blank=True)
    max_input_characters = models.PositiveIntegerField(null=True, blank=True)
    max_pronunciation_dictionaries = models.PositiveIntegerField(null=True, blank=True)
    max_pronunciation_entries = models.PositiveIntegerField(null=True, blank=True)
    allowed_engines = models.JSONField(
        null=True, blank=True, help_text="Empty: the plan's. [] allows every engine."
    )
    allowed_formats = models.JSONField(
        null=True, blank=True, help_text="Empty: the plan's. [] allows every format."
    )
    overage_allowed = models.BooleanField(null=True, blank=True)
    price_per_month_minor = models.PositiveIntegerField(null=True, blank=True)
    overage_per_1k_minor = models.PositiveIntegerField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True, help_text="Why, for the next reader.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "tenant plan override"

    def __str__(self) -> str:
        return f"override for {self.tenant}"


class UsageRecordQuerySet(models.QuerySet["UsageRecord"]):
    def closed(self) -> UsageRecordQuerySet:
        """Records of syntheses that ended: what roll-ups, statements and quotas count."""
        return self.exclude(status=UsageRecord.Status.OPEN)


class UsageRecord(models.Model):
    """Exactly one per synthesis, in the public schema, keyed on the server-generated synthesis
    id. Characters billed are those of the input (SSML: its text content), never of the
    normalized text; a cancelled synthesis bills the segments whose audio was delivered.

    Written twice: `open` when the synthesis is admitted (so a web process that dies mid-stream
    leaves a trace that the reaper, `billing.reaper`, closes), then closed once, when it ends.
    `settled` says whether its admission's Redis counters took the billed characters; the
    reaper reconciles those that did not.

    `statement` is the statement that billed the record, set once as that statement closes
    (billing.statements): a record closed after its month's statement closed is carried into
    the next statement, and none is billed twice. An open record is on no statement."""

    class Status(models.TextChoices):
        OPEN = "open"
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
    ended_at = models.DateTimeField(null=True, blank=True)
    settled = models.BooleanField(
        default=False, help_text="The admission's Redis counters took the billed characters."
    )
    statement = models.ForeignKey(
        "billing.Statement",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="records",
        help_text="The statement that billed this record; empty until one closes.",
    )

    objects = UsageRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["tenant", "-started_at"]),
            # The reaper's scans: open or unsettled records only (a small partial index).
            models.Index(
                fields=["started_at"],
                name="usage_unfinished",
                condition=models.Q(status="open") | models.Q(settled=False),
            ),
            # What the next statement may bill: small, as closed statements hold the rest.
            models.Index(
                fields=["tenant", "started_at"],
                condition=models.Q(statement__isnull=True),
                name="usage_unbilled",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.synthesis_id} {self.status} {self.characters_billed} chars"


class Statement(models.Model):
    """A tenant's closed bill for one calendar month (UTC): the month's records and any earlier
    ones closed after their own month's statement closed (`carried_characters`). Never edited
    after closing: the plan and prices in force are copied onto it and its lines."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="statements"
    )
    period_start = models.DateField(help_text="The month's first day (UTC).")
    period_end = models.DateField(help_text="The month's last day, inclusive (UTC).")
    plan_name = models.CharField(max_length=100)
    plan_slug = models.CharField(max_length=50)
    currency = models.CharField(max_length=3)
    characters = models.PositiveBigIntegerField(
        help_text="Characters of the records billed on this statement."
    )
    carried_characters = models.PositiveBigIntegerField(
        default=0,
        help_text="Of those, characters of earlier months recorded after their statement closed.",
    )
    monthly_character_quota = models.PositiveBigIntegerField(null=True, blank=True)
    total_minor = models.BigIntegerField()
    closed_at = models.DateTimeField()

    class Meta:
        ordering = ["-period_start", "tenant"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "period_start"], name="statement_tenant_period_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.period_start:%Y-%m}"


class StatementLine(models.Model):
    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=200)
    quantity = models.PositiveBigIntegerField()
    unit_price_minor = models.BigIntegerField()
    amount_minor = models.BigIntegerField()

    class Meta:
        ordering = ["statement", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["statement", "position"], name="statement_line_position_unique"
            )
        ]

    def __str__(self) -> str:
        return self.description


class UsageRollup(models.Model):
    """UsageRecord sums per hour or day, tenant, API key and voice, recomputed by Celery
    (`billing.rollups`) from the records, which stay authoritative."""

    class Granularity(models.TextChoices):
        HOUR = "hour"
        DAY = "day"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    # CASCADE, not SET_NULL: nulling a key could collide with the key-less row of its bucket;
    # keys are revoked, not deleted, and a roll-up can always be recomputed from the records.
    api_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    voice = models.CharField(max_length=100)
    granularity = models.CharField(max_length=8, choices=Granularity.choices)
    bucket_start = models.DateTimeField()
    requests = models.PositiveIntegerField()
    characters = models.PositiveBigIntegerField()
    audio_seconds_delivered = models.FloatField()

    class Meta:
        ordering = ["-bucket_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["granularity", "bucket_start", "tenant", "api_key", "voice"],
                name="usage_rollup_bucket_unique",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["tenant", "granularity", "bucket_start"])]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.granularity} {self.bucket_start:%Y-%m-%d %H:%M}"
