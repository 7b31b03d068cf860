"""Web processes never import torch, an engine or coqui: daphne, the API, the socket, the admin
and Celery's tasks load in a fresh interpreter without them (one environment holds them all,
for workers)."""

from __future__ import annotations

import json
import subprocess
import sys

from django.conf import settings

ENGINE_MODULES = ("torch", "torchaudio", "TTS", "transformers", "onnxruntime", "piper")
WEB_SIDE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callwaiting_tts.settings")
from callwaiting_tts.asgi import application  # daphne's entry: HTTP and the socket
import django.urls
django.urls.get_resolver().url_patterns  # every view module
from django.contrib import admin
admin.autodiscover()
import callwaiting_tts.celery
callwaiting_tts.celery.app.loader.import_default_modules()  # every tasks module
import synthesis.cloning, synthesis.services, voices.services, voices.selectors
roots = sorted({m.split(".")[0] for m in sys.modules})
engines = sorted(
    m for m in sys.modules
    if m.startswith("synthesis.engines.") and m != "synthesis.engines.catalog"
)
print(json.dumps({"roots": roots, "engines": engines}))
"""


def test_the_web_side_loads_no_engine_library():
    out = subprocess.run(
        [sys.executable, "-c", WEB_SIDE],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "django" in loaded["roots"]  # it did load the web side
    assert "rest_framework" in loaded["roots"]
    assert [m for m in ENGINE_MODULES if m in loaded["roots"]] == []
    assert loaded["engines"] == []
