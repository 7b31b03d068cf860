"""Voice packs: stock voices an operator brings (`manage.py import_voice_pack DIR`), such as the
Nigerian English voices the product promises, whose recordings cannot ship with the code.

A pack is a folder with a `manifest.json`:

    {"format": 1, "pack": "nigeria", "description": "...",
     "voices": [
       {"id": "ada", "name": "Ada", "engine": "xtts", "reference": "ada.wav",
        "language": "en-NG", "locale": "en-NG", "accent": "Nigerian English",
        "gender": "female", "description": "..."},
       {"id": "emeka", "name": "Emeka", "engine": "piper",
        "model": "emeka.onnx", "config": "emeka.onnx.json", "language": "en-NG", ...}]}

This module reads and checks a manifest (every problem at once, before anything is stored),
cleans XTTS reference clips as tenant uploads are (`voices.analysis`), stores a pack's files
under the public `stock/packs/` prefix and keeps the index of imported packs
(`stock/packs/index.json`), which workers read at start. Proving a Piper model speaks needs the
engine, so that part is the worker side's (`synthesis.voice_packs`). No engine is imported here.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from callwaiting_tts.errors import ApplicationError
from synthesis.engines.catalog import ENGINES, STOCK_VOICES, XTTS, StockVoice
from voices.audio import decode_audio
from voices.storage import (
    PACK_INDEX_PATH,
    pack_folder,
    pack_voice_folder,
    stock_delete_tree,
    stock_exists,
    stock_read,
    stock_write,
)

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
INDEX_FORMAT = 1
# XTTS references are stored at the rate XTTS conditions at (its speaker encoder's input).
REFERENCE_RATE = XTTS.reference_rate
REFERENCE_MIN_SECONDS = 10.0
REFERENCE_MAX_SECONDS = 30.0
MAX_FILE_BYTES = 200 * 1024 * 1024
PREVIEW_TEXT = "Hello, thank you for calling. How can I help you today?"

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
GENDERS = ("female", "male", "neutral")

_TOP_REQUIRED = {"format", "pack", "voices"}
_TOP_OPTIONAL = {"description"}
_VOICE_REQUIRED = {"id", "name", "engine", "language"}
_VOICE_OPTIONAL = {"locale", "accent", "gender", "description"}
# The files each engine's voice names, by manifest key (all required).
ENGINE_FILES: dict[str, tuple[str, ...]] = {"xtts": ("reference",), "piper": ("model", "config")}


class PackError(Exception):
    """A pack that cannot be imported; `problems` lists every reason, each naming its voice."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PackVoice:
    id: str
    name: str
    engine: str
    language: str
    locale: str
    accent: str
    gender: str
    description: str
    sources: Mapping[str, Path]  # manifest key ("reference", "model", "config") -> file


@dataclass(frozen=True)
class Manifest:
    folder: Path
    pack: str
    description: str
    voices: tuple[PackVoice, ...]


@dataclass
class PreparedVoice:
    """A voice's files as they will be stored, by role (`reference`, `preview`, `model`,
    `config`), and what its checks found (a reference's analysis report)."""

    voice: PackVoice
    files: dict[str, bytes] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


# --- the manifest -----------------------------------------------------------------------------


def read_manifest(folder: Path) -> Manifest:
    """The pack in `folder`, checked strictly: PackError listing every problem (unknown or
    missing keys, bad ids, duplicate ids, files missing or outside the folder, a language the
    engine does not speak)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PackError([f"{folder} is not a folder"])
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackError([f"{path} is missing"]) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PackError([f"{path} is not readable JSON: {error}"]) from None
    problems: list[str] = []
    if not isinstance(data, dict):
        raise PackError([f"{MANIFEST} must hold a JSON object"])
    _keys(data, _TOP_REQUIRED, _TOP_OPTIONAL, "the manifest", problems)
    if "format" in data and data["format"] != MANIFEST_FORMAT:
        problems.append(f"format must be {MANIFEST_FORMAT}, not {data['format']!r}")
    pack = data.get("pack")
    if "pack" in data and not (isinstance(pack, str) and _SLUG.match(pack)):
        problems.append(f"pack must be a slug (a-z, 0-9, '-'), not {pack!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append("description must be a string")
    entries = data.get("voices")
    voices: list[PackVoice] = []
    if "voices" in data and not (isinstance(entries, list) and entries):
        problems.append("voices must be a non-empty list")
    elif isinstance(entries, list):
        seen: set[str] = set()
        for number, entry in enumerate(entries, start=1):
            voice = _voice(folder.resolve(), number, entry, problems)
            if voice is None:
                continue
            if voice.id in seen:
                problems.append(f"voice {voice.id!r}: the id appears twice in the manifest")
            seen.add(voice.id)
            voices.append(voice)
    if problems:
        raise PackError(problems)
    assert isinstance(pack, str)
    return Manifest(folder=folder, pack=pack, description=str(description), voices=tuple(voices))


def _keys(
    data: Mapping[str, Any], required: set[str], optional: set[str], where: str, problems: list[str]
) -> None:
    unknown = sorted(set(data) - required - optional)
    missing = sorted(required - set(data))
    if unknown:
        problems.append(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(required | optional))}"
        )
    if missing:
        problems.append(f"{where}: missing key(s) {', '.join(map(repr, missing))}")


def _voice(root: Path, number: int, entry: Any, problems: list[str]) -> PackVoice | None:
    if not isinstance(entry, dict):
        problems.append(f"voice #{number}: must be a JSON object")
        return None
    voice_id = entry.get("id")
    where = f"voice {voice_id!r}" if isinstance(voice_id, str) else f"voice #{number}"
    before = len(problems)
    engine = entry.get("engine")
    files = ENGINE_FILES.get(engine) if isinstance(engine, str) else None
    if "engine" in entry and files is None:
        problems.append(f"{where}: engine must be one of {', '.join(ENGINE_FILES)}, not {engine!r}")
    _keys(entry, _VOICE_REQUIRED | set(files or ()), _VOICE_OPTIONAL, where, problems)
    if "id" in entry and not (isinstance(voice_id, str) and _SLUG.match(voice_id)):
        problems.append(f"{where}: id must be a slug (a-z, 0-9, '-'; at most 64 characters)")
    for key in ("name", "language", "locale", "accent", "gender", "description"):
        if key in entry and not isinstance(entry[key], str):
            problems.append(f"{where}: {key} must be a string")
    name = entry.get("name")
    if isinstance(name, str) and not 0 < len(name.strip()) <= 100:
        problems.append(f"{where}: name must be 1-100 characters")
    language = entry.get("language")
    if isinstance(language, str):
        if not _LANGUAGE.match(language):
            problems.append(f"{where}: language {language!r} is not a BCP 47 tag such as en-NG")
        elif files is not None and not ENGINES[str(engine)].speaks(language):
            speaks = ", ".join(ENGINES[str(engine)].languages)
            problems.append(
                f"{where}: the {engine} engine does not speak {language!r} (it speaks {speaks})"
            )
    locale = entry.get("locale", language)
    if isinstance(locale, str) and locale and not _LANGUAGE.match(locale):
        problems.append(f"{where}: locale {locale!r} is not a BCP 47 tag such as en-NG")
    gender = entry.get("gender", "")
    if isinstance(gender, str) and gender and gender not in GENDERS:
        problems.append(f"{where}: gender must be one of {', '.join(GENDERS)}, not {gender!r}")
    sources: dict[str, Path] = {}
    for key in files or ():
        if key in entry:
            found = _file(root, entry[key], f"{where}: {key}", problems)
            if found is not None:
                sources[key] = found
    if len(problems) > before:
        return None
    return PackVoice(
        id=str(voice_id),
        name=str(name).strip(),
        engine=str(engine),
        language=str(language),
        locale=str(locale or ""),
        accent=str(entry.get("accent", "")),
        gender=str(gender),
        description=str(entry.get("description", "")),
        sources=sources,
    )


def _file(root: Path, value: Any, where: str, problems: list[str]) -> Path | None:
    """A file named by the manifest: a relative path that stays inside the pack's folder
    (symbolic links resolved) and names a regular file."""
    if not isinstance(value, str) or not value:
        problems.append(f"{where} must be a file name relative to the pack's folder")
        return None
    if Path(value).is_absolute():
        problems.append(f"{where} {value!r} is an absolute path; name a file inside the pack")
        return None
    path = (root / value).resolve()
    if not path.is_relative_to(root):
        problems.append(f"{where} {value!r} lies outside the pack's folder")
        return None
    if not path.is_file():
        problems.append(f"{where} {value!r} is missing (no such file in the pack)")
        return None
    if path.stat().st_size > MAX_FILE_BYTES:
        problems.append(f"{where} {value!r} is larger than {MAX_FILE_BYTES // 2**20} MB")
        return None
    return path


# --- XTTS references: checked and cleaned as tenant uploads are --------------------------------


def prepare_reference(voice: PackVoice, problems: list[str]) -> PreparedVoice | None:
    """An XTTS voice's reference clip decoded (as uploads are: by content, capped), checked
    (length, then the same analysis as a tenant's upload) and cleaned to mono WAV at
    REFERENCE_RATE; its own problems appended."""
    # Here, not at module level: the analysis loads onnxruntime and torch (the command and
    # workers only).
    from voices.analysis import analyze, clean_reference

    source = voice.sources["reference"]
    where = f"voice {voice.id!r}: reference {source.name!r}"
    try:
        clip = decode_audio(source.read_bytes(), max_seconds=REFERENCE_MAX_SECONDS + 1)
    except ApplicationError as error:
        problems.append(f"{where}: {error.message}")
        return None
    if not REFERENCE_MIN_SECONDS <= clip.duration <= REFERENCE_MAX_SECONDS:
        problems.append(
            f"{where} is {clip.duration:.1f} s long; a pack's reference must be "
            f"{REFERENCE_MIN_SECONDS:.0f}-{REFERENCE_MAX_SECONDS:.0f} s of one speaker"
        )
        return None
    report = analyze(clip.samples, clip.sample_rate)
    if not report.usable:
        reasons = "; ".join(reason.message for reason in report.reasons)
        problems.append(f"{where} is not usable: {reasons or 'no reason given'}")
        return None
    cleaned = clean_reference(
        clip.samples, clip.sample_rate, target_rate=REFERENCE_RATE, report=report
    )
    wav = wav_bytes(np.asarray(cleaned, dtype=np.float32).reshape(-1), REFERENCE_RATE)
    return PreparedVoice(voice=voice, files={"reference": wav}, report=dict(report.as_json()))


def wav_bytes(audio: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, np.clip(audio, -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


# --- the index of imported packs --------------------------------------------------------------


def read_index() -> dict[str, Any]:
    """`{"format": 1, "packs": {name: {"description", "import", "imported_at", "voices"}}}`;
    an empty index where none is stored."""
    if not stock_exists(PACK_INDEX_PATH):
        return {"format": INDEX_FORMAT, "packs": {}}
    index: dict[str, Any] = json.loads(stock_read(PACK_INDEX_PATH))
    index.setdefault("packs", {})
    return index


def indexed_voices(engine: str | None = None) -> list[dict[str, Any]]:
    """Every imported pack voice's index entry (of `engine`, if given)."""
    return [
        voice
        for pack in read_index()["packs"].values()
        for voice in pack.get("voices", [])
        if engine is None or voice.get("engine") == engine
    ]


def stock_voice_of(entry: Mapping[str, Any]) -> StockVoice:
    """A pack voice's index entry as web processes list and resolve it."""
    spec = ENGINES[str(entry["engine"])]
    return StockVoice(
        id=str(entry["id"]),
        name=str(entry["name"]),
        engine=spec.name,
        language=str(entry["language"]),
        languages=spec.languages,
        description=str(entry.get("description") or ""),
        locale=str(entry.get("locale") or ""),
        accent=str(entry.get("accent") or ""),
        gender=str(entry.get("gender") or ""),
        preview=str(entry.get("files", {}).get("preview") or ""),
        pack=str(entry.get("pack") or ""),
    )


def check_collisions(
    manifest: Manifest, *, replace: bool, others: Mapping[str, StockVoice] | None = None
) -> None:
    """PackError when the pack exists (without `replace`) or a voice's id is already a stock
    voice's: the catalog's, another pack's, or one live workers publish (studio speakers)."""
    index = read_index()
    problems = []
    if manifest.pack in index["packs"] and not replace:
        problems.append(f"pack {manifest.pack!r} is already imported; pass --replace to replace it")
    taken: dict[str, str] = dict.fromkeys(STOCK_VOICES, "a catalog voice")
    for name, pack in index["packs"].items():
        if name != manifest.pack:
            for entry in pack.get("voices", []):
                taken[str(entry["id"])] = f"a voice of pack {name!r}"
    for voice_id, live in (others or {}).items():
        if not live.pack:
            taken.setdefault(voice_id, f"a {live.engine} studio voice")
    for voice in manifest.voices:
        if voice.id in taken:
            problems.append(f"voice {voice.id!r}: the id is already {taken[voice.id]}")
    if problems:
        raise PackError(problems)


def store_pack(manifest: Manifest, prepared: list[PreparedVoice]) -> dict[str, Any]:
    """Writes the pack's files under a fresh import folder, then the index (which makes them
    live for workers started afterwards), then removes a replaced import's files. A failure
    while writing removes what this import wrote and leaves the index as it was. Returns the
    pack's index entry."""
    import_id = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
    entries = []
    try:
        for item in prepared:
            folder = pack_voice_folder(manifest.pack, import_id, item.voice.id)
            paths = {}
            for role, data in item.files.items():
                paths[role] = folder + _FILE_NAMES[role]
                stock_write(paths[role], data)
            if "preview" not in paths:  # an XTTS voice: its cleaned reference is the preview
                paths["preview"] = paths["reference"]
            entries.append(_entry(manifest, item, paths))
        index = read_index()
        old = index["packs"].get(manifest.pack)
        pack_entry = {
            "description": manifest.description,
            "import": import_id,
            "imported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "voices": entries,
        }
        index["packs"][manifest.pack] = pack_entry
        index["format"] = INDEX_FORMAT
        stock_write(PACK_INDEX_PATH, json.dumps(index, indent=2).encode())
    except BaseException:
        stock_delete_tree(f"{pack_folder(manifest.pack)}{import_id}/")
        raise
    if old and old.get("import") and old["import"] != import_id:
        stock_delete_tree(f"{pack_folder(manifest.pack)}{old['import']}/")
    return pack_entry


_FILE_NAMES = {
    "reference": "reference.wav",
    "preview": "preview.wav",
    "model": "model.onnx",
    "config": "model.onnx.json",
}


def _entry(manifest: Manifest, item: PreparedVoice, paths: dict[str, str]) -> dict[str, Any]:
    voice = item.voice
    return {
        "id": voice.id,
        "name": voice.name,
        "engine": voice.engine,
        "language": voice.language,
        "locale": voice.locale,
        "accent": voice.accent,
        "gender": voice.gender,
        "description": voice.description,
        "pack": manifest.pack,
        "files": paths,
        "report": item.report,
    }


def prepare_pack(
    manifest: Manifest, prove: Mapping[str, Callable[[PackVoice, list[str]], PreparedVoice | None]]
) -> list[PreparedVoice]:
    """Every voice's files made ready to store, by `prove[engine]`; PackError listing every
    voice's problems (nothing is stored unless every voice passes)."""
    problems: list[str] = []
    prepared = []
    for voice in manifest.voices:
        item = prove[voice.engine](voice, problems)
        if item is not None:
            prepared.append(item)
    if problems:
        raise PackError(problems)
    return prepared
