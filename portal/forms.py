"""The portal's forms: they parse input; the services decide."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.models import User
from django.core.validators import MaxLengthValidator
from django.db.models import QuerySet

from portal.throttle import note_sign_in_failure, sign_in_blocked
from synthesis.contract.languages import LANGUAGES
from synthesis.engines.catalog import engine_spec
from tenants.models import Membership, Scope
from voices.consent import CURRENT as CONSENT

SCOPE_HELP = {
    Scope.SYNTHESIZE: "Speak: /v1/synthesize, /v1/audio/speech, the realtime socket",
    Scope.VOICES_READ: "List voices and read their reports",
    Scope.VOICES_WRITE: "Create, upload, change and delete voices",
    Scope.USAGE_READ: "Usage, statements and the tenant's current figures",
    Scope.ADMIN: "Everything above",
}


class SignInForm(AuthenticationForm):
    """Members sign in with their e-mail address (it is their user name)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "type": "email"})
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"

    def clean(self) -> dict[str, Any]:
        client = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        email = str(self.data.get("username", ""))
        if sign_in_blocked(client, email):
            raise forms.ValidationError(
                "Too many failed sign-ins. Wait a quarter of an hour, or set a new password "
                "with the link below.",
                code="throttled",
            )
        try:
            return super().clean()
        except forms.ValidationError:
            note_sign_in_failure(client, email)
            raise


class FirstPasswordResetForm(PasswordResetForm):
    """Also reaches users who never had a password: `create_tenant --owner-email` makes the owner
    without one, and a reset link is how they set their first. Django's form skips them."""

    def get_users(self, email: str) -> Iterator[User]:
        users: QuerySet[User] = User.objects.filter(email__iexact=email, is_active=True)
        return (u for u in users if u.memberships.exists() or u.has_usable_password())


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="Where the key is used, e.g. “production phone agent”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    scopes = forms.MultipleChoiceField(
        choices=[(s.value, f"{s.value} — {SCOPE_HELP[s]}") for s in Scope],
        widget=forms.CheckboxSelectMultiple,
        initial=[Scope.SYNTHESIZE.value, Scope.VOICES_READ.value],
        help_text="Give a key only what its caller needs.",
    )
    expires_in_days = forms.IntegerField(
        label="Expires after (days)",
        required=False,
        min_value=1,
        max_value=3650,
        help_text="Empty: the key does not expire.",
    )


class VoiceUploadForm(forms.Form):
    """A cloned voice's reference clip and the uploader's consent (voices.consent.CURRENT)."""

    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    language = forms.ChoiceField(
        choices=[(code, code) for code in engine_spec("xtts").languages],
        initial="en",
        help_text="The language the voice will speak.",
    )
    description = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    file = forms.FileField(
        label="Reference clip",
        help_text="10-30 s of one person speaking, in a quiet room: WAV, MP3, M4A, Ogg, FLAC "
        "or WebM.",
        widget=forms.ClearableFileInput(attrs={"accept": "audio/*,video/webm"}),
    )
    consent_recording = forms.FileField(
        label="Consent recording",
        required=False,
        help_text="The speaker reading the sentence below aloud (optional unless your "
        "organisation requires it).",
        widget=forms.ClearableFileInput(attrs={"accept": "audio/*,video/webm"}),
    )
    consent = forms.BooleanField(label=CONSENT.text)


ROLE_HELP = "Owners and admins manage keys, voices and members; members read and try things out."


class MemberInviteForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(
        choices=Membership.Role.choices, initial=Membership.Role.MEMBER, help_text=ROLE_HELP
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


PLAYABLE_FORMATS = (
    ("mp3", "MP3"),
    ("opus", "Ogg Opus"),
    ("wav", "WAV"),
    ("aac", "AAC"),
    ("flac", "FLAC"),
)


class PlaygroundForm(forms.Form):
    """What to say, in which voice; `voices` are (id, label) pairs the tenant may use."""

    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        initial="Thanks for calling. How can I help you today?",
        help_text="Plain text, or SSML starting with <speak>.",
    )
    voice = forms.ChoiceField(choices=[])
    language = forms.ChoiceField(
        choices=[("", "The voice's own")] + [(code, code) for code in LANGUAGES],
        required=False,
        help_text="en-US, en-GB and en-NG choose how numbers, dates and money are read.",
    )
    speed = forms.FloatField(
        min_value=0.25, max_value=4.0, initial=1.0, widget=forms.NumberInput(attrs={"step": "0.05"})
    )
    # What a browser plays as it arrives; telephony's mulaw/alaw and raw pcm are for snippets
    # and the API, not an <audio> element.
    format = forms.ChoiceField(
        choices=[(name, label) for name, label in PLAYABLE_FORMATS],
        initial="mp3",
        required=False,
        help_text="The audio format the API would send; the page plays it as it arrives.",
    )

    def __init__(self, *args: Any, voices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        voice = self.fields["voice"]
        assert isinstance(voice, forms.ChoiceField)
        voice.choices = voices
        self.fields["text"].validators.append(MaxLengthValidator(settings.TTS_MAX_INPUT_CHARACTERS))

    def clean_format(self) -> str:
        return str(self.cleaned_data.get("format") or "mp3")
