from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Voice(models.Model):
    """A tenant's own named voice, in the tenant's schema: a preset over a stock voice (its own
    name, language, speed and whether it is the tenant's default), or a voice cloned from a
    reference clip, spoken by a cloning engine from conditioning its worker computed once per
    version and stored under the tenant's storage prefix."""

    class Kind(models.TextChoices):
        PRESET = "preset"
        CLONED = "cloned"

    class Status(models.TextChoices):
        READY = "ready"
        PROCESSING = "processing"  # the conditioning job has not finished
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
    reference_path = models.CharField(max_length=500, blank=True)
    conditioning_path = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
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
