from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Voice(models.Model):
    """A tenant's own named voice, in the tenant's schema: a preset over a stock voice (its own
    name, language, speed and whether it is the tenant's default), or a voice cloned from an
    uploaded reference clip. A cloned voice goes `uploaded → validating → validated → cloning →
    ready`, or `failed` at any step (it keeps its report and is never usable); its conditioning
    is computed once per version by a worker of its engine and stored under the tenant's
    storage prefix beside the original and the cleaned clip."""

    class Kind(models.TextChoices):
        PRESET = "preset"
        CLONED = "cloned"

    class Status(models.TextChoices):
        UPLOADED = "uploaded"  # the original is stored; validation is queued
        VALIDATING = "validating"  # Celery computes the report and the cleaned clip
        VALIDATED = "validated"  # usable clip; waiting for (or without) a cloning engine
        CLONING = "cloning"  # a worker of its engine computes the conditioning
        READY = "ready"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=500, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PRESET)
    base_voice = models.CharField(max_length=64, blank=True)  # a preset's stock voice
    engine = models.CharField(max_length=32, blank=True)  # "" for presets made before engines
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY)
    # A cloned voice: its reference clip and conditioning, both versioned (a new clip is a new
    # version at new paths, so a worker's cached conditioning of the old one is never reused).
    version = models.PositiveIntegerField(default=0)
    original_path = models.CharField(max_length=500, blank=True)  # the upload, as sent
    reference_path = models.CharField(max_length=500, blank=True)  # cleaned: what cloning uses
    conditioning_path = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # The validation report (voices.analysis.Report.as_json) and its score, once computed.
    report = models.JSONField(null=True, blank=True)
    quality_score = models.PositiveSmallIntegerField(null=True, blank=True)
    language = models.CharField(max_length=16, default="en-US")
    speed = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.25), MaxValueValidator(4.0)]
    )
    is_default = models.BooleanField(
        default=False, help_text="The tenant's default voice when a request names none."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(speed__gte=0.25) & models.Q(speed__lte=4.0),
                name="voice_speed_range",
            ),
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="voice_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VoiceConsent(models.Model):
    """Who attested, when, from where and to which statement that the voice in an upload is
    theirs to clone; kept after the voice is deleted (evidence), in the tenant's schema. An
    optional consent recording (the speaker reading the displayed sentence) is compared with
    the reference by speaker similarity; the recording itself is deleted with the voice."""

    id = models.BigAutoField(primary_key=True)
    voice_id = models.UUIDField(db_index=True)  # no foreign key: the record outlives the voice
    voice_name = models.CharField(max_length=100)
    attested_by = models.CharField(max_length=200)  # the audit actor: key or member
    attested_at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    statement_version = models.CharField(max_length=32)
    statement_text = models.TextField()
    recording_path = models.CharField(max_length=500, blank=True)
    recording_sentence = models.TextField(blank=True)
    # Cosine similarity of the recording's and the reference's speaker embeddings (0-1), once
    # validation has run; null without a recording.
    recording_similarity = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-attested_at"]

    def __str__(self) -> str:
        return f"consent for {self.voice_name} by {self.attested_by}"
