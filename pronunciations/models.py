from __future__ import annotations

import uuid

from django.db import models


class PronunciationDictionary(models.Model):
    """A tenant's pronunciation dictionary, in the tenant's schema: whole words of its text said
    another way, for spans read in its `language` (synthesis.text.lexicon has the matching
    rules). `entries` is a list of `{"word", "alias"}` or `{"word", "phonemes"}` (IPA) objects,
    checked by the service before they are stored; `version` goes up with every change, for
    caches that key on what a dictionary says."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    language = models.CharField(max_length=16, default="en")
    description = models.CharField(max_length=500, blank=True)
    entries = models.JSONField(default=list)
    is_default = models.BooleanField(
        default=False, help_text="Applied to every request that names no dictionaries."
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "pronunciation dictionaries"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="pronunciation_one_default",
            )
        ]

    def __str__(self) -> str:
        return self.name
