"""CallWaiting TTS: Django project wiring."""

from callwaiting_tts.celery import app as celery_app

__all__ = ["celery_app"]
