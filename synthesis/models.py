from __future__ import annotations

import uuid

from django.db import models


class SynthesisRecord(models.Model):
    """The tenant's synthesis log, in the tenant's schema; one row per synthesis, keyed on a
    server-generated id (usage is never keyed on a client's id)."""

    class Status(models.TextChoices):
        STARTED = "started"
        DONE = "done"
        CANCELLED = "cancelled"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api_key_prefix = models.CharField(max_length=32, blank=True)
    voice = models.CharField(max_length=100)
    engine = models.CharField(max_length=32, blank=True)
    output_format = models.CharField(max_length=32, blank=True)
    characters = models.PositiveIntegerField(default=0)
    audio_seconds = models.FloatField(default=0.0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTED)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The input's words heard before it ended (all of them when done): for the agent whose
    # caller interrupted an HTTP stream (`GET /v1/syntheses/{id}`). Kept as long as the row.
    text_spoken = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.voice} {self.status}"
