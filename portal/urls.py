from __future__ import annotations

from django.urls import URLPattern, path

from portal.views import accounts, home, keys, members, playground, usage, voices

app_name = "portal"

urlpatterns: list[URLPattern] = [
    path("", home.home, name="home"),
    path("sign-in/", accounts.sign_in, name="login"),
    path("sign-out/", accounts.sign_out, name="logout"),
    path("password-reset/", accounts.password_reset, name="password-reset"),
    path("password-reset/sent/", accounts.password_reset_done, name="password-reset-done"),
    path(
        "password-reset/<uidb64>/<token>/",
        accounts.password_reset_confirm,
        name="password-reset-confirm",
    ),
    path(
        "password-reset/done/",
        accounts.password_reset_complete,
        name="password-reset-complete",
    ),
    path("switch-tenant/", accounts.switch_tenant, name="switch-tenant"),
    path("keys/", keys.key_list, name="keys"),
    path("keys/<str:key_id>/revoke/", keys.key_revoke, name="key-revoke"),
    path("members/", members.member_list, name="members"),
    path("members/<int:membership_id>/role/", members.member_role, name="member-role"),
    path("members/<int:membership_id>/remove/", members.member_remove, name="member-remove"),
    path("playground/", playground.playground, name="playground"),
    path("playground/speak/", playground.speak, name="speak"),
    path("playground/stream/<str:token>/", playground.stream, name="stream"),
    path("usage/", usage.usage, name="usage"),
    path(
        "usage/statements/<int:statement_id>/csv/",
        usage.statement_download,
        {"kind": "csv"},
        name="statement-csv",
    ),
    path(
        "usage/statements/<int:statement_id>/print/",
        usage.statement_download,
        {"kind": "html"},
        name="statement-html",
    ),
    path("voices/", voices.voice_index, name="voices"),
    path("voices/upload/", voices.voice_upload_page, name="voice-upload"),
    path("voices/stock/<str:voice_id>/preview/", voices.stock_preview, name="stock-preview"),
    path("voices/<str:voice_id>/", voices.voice_detail, name="voice"),
    path("voices/<str:voice_id>/clip/", voices.voice_clip_audio, name="voice-clip"),
    path("voices/<str:voice_id>/waveform.svg", voices.voice_waveform_svg, name="voice-waveform"),
    path("voices/<str:voice_id>/delete/", voices.voice_delete_page, name="voice-delete"),
]
