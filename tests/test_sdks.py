"""The generated SDKs (README, "SDKs"): sdk/openapi.json is what the service serves, and the
Python and TypeScript clients that `make sdk` builds from it work against the live service (real
daphne and a real worker): an API key, the voices, a preset made and deleted, audio that decodes,
usage, a bad request's error parsed into the generated error type, and another tenant's key
refused. The clients are built once a session by sdk/build.sh, the script `make sdk` runs."""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import yaml
from django.test import Client

from tests.conftest import ROOT, Service

SDK = ROOT / "sdk"
SNAPSHOT = SDK / "openapi.json"
TEXT = "The generated client says hello."


def _unavailable(reason: str) -> None:
    """CI must run these tests (its machine has Node and the venv has the generator): there a
    missing tool fails; on a developer's machine it skips, saying what to install."""
    if os.environ.get("CI", "").lower() in {"1", "true"}:
        pytest.fail(f"{reason} (CI=true: the SDK tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def built_sdks() -> Path:
    """Both SDKs, generated from the snapshot and compiled, once a session."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        _unavailable(f"{' and '.join(missing)} not on PATH: install Node.js 20 with npm")
    if importlib.util.find_spec("openapi_python_client") is None:
        _unavailable("openapi-python-client is not installed: `make venv` (requirements/dev.txt)")
    done = subprocess.run(
        ["sh", str(SDK / "build.sh")],
        env={**os.environ, "PY": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"sdk/build.sh failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    sys.path.insert(0, str(SDK / "python"))
    return SDK


# --- the snapshot -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_snapshot_is_the_schema_the_service_serves() -> None:
    served = Client().get("/v1/schema/", {"format": "json"}).json()
    committed = json.loads(SNAPSHOT.read_text())
    if served != committed:
        diff = difflib.unified_diff(
            json.dumps(committed, indent=1, sort_keys=True).splitlines(),
            json.dumps(served, indent=1, sort_keys=True).splitlines(),
            "sdk/openapi.json",
            "GET /v1/schema/",
            lineterm="",
        )
        pytest.fail(
            "sdk/openapi.json is not the served schema: run `make schema` (then `make sdk`) and "
            "commit sdk/openapi.json.\n" + "\n".join(list(diff)[:60])
        )


def test_every_audio_type_of_the_schema_is_read_as_bytes_by_the_python_sdk() -> None:
    """openapi-python-client drops a media type it does not know; a new audio format's type
    must be mapped in its config, or its endpoint would answer text."""
    schema = json.loads(SNAPSHOT.read_text())
    audio = {
        media_type
        for item in schema["paths"].values()
        for operation in item.values()
        for response in operation["responses"].values()
        for media_type in response.get("content", {})
        if media_type.startswith("audio/")
    }
    config = yaml.safe_load((SDK / "openapi-python-client.yaml").read_text())
    mapped = {k for k, v in config["content_type_overrides"].items() if v.endswith("octet-stream")}
    assert audio, "the schema declares no audio response"
    assert audio <= mapped, f"map these in sdk/openapi-python-client.yaml: {audio - mapped}"


# --- the Python SDK ---------------------------------------------------------------------------


def _python_client(service: Service, key: str) -> Any:
    from callwaiting_tts_sdk import AuthenticatedClient

    # An answer the schema does not declare raises: the schema must list every status.
    return AuthenticatedClient(
        base_url=service.url, token=key, raise_on_unexpected_status=True, timeout=30
    )


def _a_piper_stock_voice(voices: list[Any]) -> str:
    from callwaiting_tts_sdk.models import StockVoice

    stock = [v for v in voices if isinstance(v, StockVoice) and v.engine == "piper"]
    assert stock, "no Piper stock voice listed"
    return str(stock[0].id)


def _usage_once_billed(read: Callable[[], Any]) -> Any:
    """Usage is recorded as the synthesis ends, which can be just after its last byte arrives."""
    deadline = time.monotonic() + 10
    usage = read()
    while usage.totals.requests == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
        usage = read()
    return usage


def _assert_speech(path: Path) -> None:
    audio, rate = sf.read(path, dtype="float32")
    assert sf.info(path).format == "WAV"
    assert len(audio) / rate > 0.5, "too short for a sentence"
    assert float(np.sqrt(np.mean(audio**2))) > 0.01, "silence"


def test_the_python_sdk_against_the_live_service(
    built_sdks: Path,
    service: Service,
    make_tenant: Any,
    tts_worker: Any,
    tmp_path: Path,
) -> None:
    from callwaiting_tts_sdk.api.synthesize import synthesize
    from callwaiting_tts_sdk.api.usage import usage_retrieve
    from callwaiting_tts_sdk.api.voices import (
        voices_create,
        voices_delete,
        voices_list,
        voices_retrieve,
    )
    from callwaiting_tts_sdk.models import (
        Error,
        FormatEnum,
        SynthesizeRequest,
        Voice,
        VoiceCreateRequest,
    )
    from callwaiting_tts_sdk.types import File

    client = _python_client(service, make_tenant("sdk-py").api_key)
    base = _a_piper_stock_voice(voices_list.sync(client=client).voices)
    preset = voices_create.sync(
        client=client, body=VoiceCreateRequest(name="Py SDK preset", base_voice=base, speed=1.1)
    )
    assert isinstance(preset, Voice)
    assert (preset.type_, preset.base_voice, preset.speed) == ("preset", base, 1.1)
    listed = voices_list.sync(client=client).voices
    assert [v.id for v in listed if isinstance(v, Voice)] == [preset.id]

    wav = SynthesizeRequest(text=TEXT, voice=str(preset.id), format_=FormatEnum.WAV, stream=False)
    audio = synthesize.sync(client=client, body=wav)
    assert isinstance(audio, File)
    (tmp_path / "py.wav").write_bytes(audio.payload.read())
    _assert_speech(tmp_path / "py.wav")
    usage = _usage_once_billed(lambda: usage_retrieve.sync(client=client))
    assert (usage.totals.requests, usage.totals.characters) == (1, len(TEXT))

    wav.sample_rate = 12345
    refused = synthesize.sync_detailed(client=client, body=wav)
    assert refused.status_code == 400
    assert isinstance(refused.parsed, Error)
    assert (refused.parsed.error.type_, refused.parsed.error.param) == (
        "invalid_request_error",
        "sample_rate",
    )

    assert voices_delete.sync_detailed(client=client, voice_id=str(preset.id)).status_code == 204
    gone = voices_retrieve.sync(client=client, voice_id=str(preset.id))
    assert isinstance(gone, Error)
    assert gone.error.code == "not_found"


def test_an_outsider_cannot_read_or_delete_a_preset_through_the_python_sdk(
    built_sdks: Path, service: Service, make_tenant: Any
) -> None:
    from callwaiting_tts_sdk.api.voices import (
        voices_create,
        voices_delete,
        voices_list,
        voices_retrieve,
    )
    from callwaiting_tts_sdk.models import Error, Voice, VoiceCreateRequest

    owner = _python_client(service, make_tenant("sdk-own").api_key)
    outsider = _python_client(service, make_tenant("sdk-out").api_key)
    base = _a_piper_stock_voice(voices_list.sync(client=owner).voices)
    preset = voices_create.sync(client=owner, body=VoiceCreateRequest(name="Kept", base_voice=base))
    assert isinstance(preset, Voice)

    for call in (voices_retrieve, voices_delete):
        answer = call.sync_detailed(client=outsider, voice_id=str(preset.id))
        assert answer.status_code == 404
        assert isinstance(answer.parsed, Error)
        assert answer.parsed.error.code == "not_found"
    assert not [v for v in voices_list.sync(client=outsider).voices if isinstance(v, Voice)]
    still = voices_retrieve.sync(client=owner, voice_id=str(preset.id))
    assert isinstance(still, Voice)
    assert still.name == "Kept"


# --- the TypeScript SDK -----------------------------------------------------------------------


def test_the_typescript_sdk_against_the_live_service(
    built_sdks: Path,
    service: Service,
    make_tenant: Any,
    tts_worker: Any,
    tmp_path: Path,
) -> None:
    """sdk/typescript/test/live.ts, type-checked by tsc against the generated types when the
    SDK was built, run by Node; it reports what it saw as JSON."""
    owner, outsider = make_tenant("sdk-ts"), make_tenant("sdk-ts-out")
    env = {
        **os.environ,
        "CW_BASE_URL": service.url,
        "CW_API_KEY": owner.api_key,
        "CW_OUTSIDER_KEY": outsider.api_key,
        "CW_AUDIO_PATH": str(tmp_path / "ts.wav"),
        "CW_TEXT": TEXT,
    }
    script = built_sdks / "typescript" / "dist" / "test" / "live.js"
    done = subprocess.run(
        ["node", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    preset = report["preset"]
    assert (preset["type"], preset["base_voice"], preset["speed"]) == (
        "preset",
        report["base_voice"],
        1.1,
    )
    assert report["listed_presets"] == [preset["id"]]
    not_found = {"status": 404, "type": "not_found_error", "code": "not_found", "param": None}
    assert report["outsider_get"] == not_found
    assert report["outsider_delete"] == not_found
    assert report["audio"] == {"status": 200, "type": "audio/wav"}
    _assert_speech(tmp_path / "ts.wav")
    assert report["usage"] == {"requests": 1, "characters": len(TEXT)}
    assert report["bad_request"]["status"] == 400
    assert report["bad_request"]["param"] == "sample_rate"
    assert report["bad_request"]["type"] == "invalid_request_error"
    assert report["deleted"] == 204
    assert report["after_delete"] == not_found
