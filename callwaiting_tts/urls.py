from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from billing.api.statements import StatementDetailView, StatementListView
from billing.api.stats import TenantStatsView
from billing.api.usage import UsageView
from callwaiting_tts.admin import StaffSignInForm
from callwaiting_tts.health import HealthView, LivenessView
from callwaiting_tts.metrics import metrics_view
from pronunciations.api.views import (
    PronunciationDetailView,
    PronunciationExportView,
    PronunciationImportView,
    PronunciationListView,
)
from synthesis.api.records import SynthesisDetailView
from synthesis.api.views import SpeechView, SynthesizeView, TextPreviewView
from tenants.api.keys import ApiKeyDetailView, ApiKeyListView
from tenants.api.views import MeView
from voices.api.stock import VoicePreviewView
from voices.api.views import (
    ConsentStatementView,
    VoiceDetailView,
    VoiceListView,
    VoiceUploadView,
)

# API routes are written without a trailing slash; ApiPathMiddleware strips one if sent.
api = [
    path("health", HealthView.as_view(), name="health"),
    path("health/live", LivenessView.as_view(), name="health-live"),
    path("me", MeView.as_view(), name="me"),
    path("keys", ApiKeyListView.as_view(), name="key-list"),
    path("keys/<str:key_id>", ApiKeyDetailView.as_view(), name="key-detail"),
    path("voices", VoiceListView.as_view(), name="voice-list"),
    # Before voices/<id>: "upload" and "consent" are not voice ids.
    path("voices/upload", VoiceUploadView.as_view(), name="voice-upload"),
    path("voices/consent", ConsentStatementView.as_view(), name="voice-consent"),
    path("voices/<str:voice_id>", VoiceDetailView.as_view(), name="voice-detail"),
    path("voices/<str:voice_id>/preview", VoicePreviewView.as_view(), name="voice-preview"),
    path("pronunciations", PronunciationListView.as_view(), name="pronunciation-list"),
    # Before pronunciations/<id>: "import" is not a dictionary id.
    path("pronunciations/import", PronunciationImportView.as_view(), name="pronunciation-import"),
    path(
        "pronunciations/<str:dictionary_id>",
        PronunciationDetailView.as_view(),
        name="pronunciation-detail",
    ),
    path(
        "pronunciations/<str:dictionary_id>/pls",
        PronunciationExportView.as_view(),
        name="pronunciation-export",
    ),
    path("synthesize", SynthesizeView.as_view(), name="synthesize"),
    path("audio/speech", SpeechView.as_view(), name="audio-speech"),
    path("text/preview", TextPreviewView.as_view(), name="text-preview"),
    path("syntheses/<str:synthesis_id>", SynthesisDetailView.as_view(), name="synthesis-detail"),
    path("usage", UsageView.as_view(), name="usage"),
    path("tenant/stats", TenantStatsView.as_view(), name="tenant-stats"),
    path("statements", StatementListView.as_view(), name="statement-list"),
    path("statements/<int:statement_id>", StatementDetailView.as_view(), name="statement-detail"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

# Staff sign-in goes through the portal's brake on password guessing.
admin.site.login_form = StaffSignInForm

urlpatterns: list[URLPattern | URLResolver] = [
    path("v1/", include(api)),
    path("admin/", admin.site.urls),
    path("portal/", include("portal.urls")),
    path("", TemplateView.as_view(template_name="index.html"), name="home"),
    # For the scraper only: a bearer token or an allowed network (callwaiting_tts/metrics.py).
    path("metrics", metrics_view, name="prometheus-django-metrics"),
]

handler400 = "callwaiting_tts.errors.bad_request"
handler403 = "callwaiting_tts.errors.permission_denied"
handler404 = "callwaiting_tts.errors.page_not_found"
handler500 = "callwaiting_tts.errors.server_error"
