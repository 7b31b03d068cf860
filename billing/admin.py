from django.contrib import admin

from billing.models import Plan, UsageRecord
from callwaiting_tts.admin import ReadOnlyModelAdmin


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "slug",
        "name",
        "max_concurrent_streams",
        "monthly_character_quota",
        "requests_per_minute",
    ]
    search_fields = ["slug", "name"]


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
