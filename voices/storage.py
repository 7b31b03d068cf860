"""Where voice files lie in storage (django-storages: the filesystem by default, S3-compatible by
settings). A tenant's files are under the tenant's own prefix, and a worker asked to read or
write a path checks that it lies under the prefix of the job's tenant. Stock voices' files
(voice packs, previews) are the same for every tenant and lie under the public `stock/` prefix:

    stock/packs/index.json                              what packs are imported (voices.packs)
    stock/packs/<pack>/<import>/<voice>/...             a pack voice's files, one import's
    stock/previews/<engine>/[<model>/]<voice>.wav       a catalog or studio voice's preview
"""

from __future__ import annotations

import posixpath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


class ForeignPath(ValueError):
    """A path outside the tenant's prefix (or one that tries to climb out of it)."""


def tenant_prefix(schema_name: str) -> str:
    if not schema_name or "/" in schema_name or schema_name.startswith("."):
        raise ForeignPath(f"no storage prefix for schema {schema_name!r}")
    return f"tenants/{schema_name}/"


def voice_folder(schema_name: str, voice_id: str) -> str:
    # An empty id would name every voice of the tenant; a slash or dots, another folder.
    if not voice_id or "/" in voice_id or voice_id.startswith("."):
        raise ForeignPath(f"no storage folder for voice {voice_id!r}")
    return f"{tenant_prefix(schema_name)}voices/{voice_id}/"


def original_path(schema_name: str, voice_id: str, version: int, extension: str) -> str:
    """The upload as it was sent (its container's extension)."""
    return f"{voice_folder(schema_name, voice_id)}original-v{version}.{extension}"


def reference_path(schema_name: str, voice_id: str, version: int) -> str:
    """The cleaned clip cloning uses: mono, at the engine's reference rate, trimmed, leveled."""
    return f"{voice_folder(schema_name, voice_id)}reference-v{version}.wav"


def consent_recording_path(schema_name: str, voice_id: str, version: int, extension: str) -> str:
    return f"{voice_folder(schema_name, voice_id)}consent-v{version}.{extension}"


def conditioning_path(schema_name: str, voice_id: str, version: int, engine: str) -> str:
    return f"{voice_folder(schema_name, voice_id)}{engine}-conditioning-v{version}.safetensors"


def check_owned(path: str, schema_name: str) -> str:
    """`path` if it lies under the tenant's prefix, else ForeignPath."""
    inside = path.startswith(tenant_prefix(schema_name)) and not path.startswith("/")
    if posixpath.normpath(path) != path or not inside:
        raise ForeignPath(f"{path!r} is not under the storage prefix of {schema_name!r}")
    return path


def storage_read(path: str, *, schema_name: str) -> bytes:
    with default_storage.open(check_owned(path, schema_name), "rb") as handle:
        data: bytes = handle.read()
    return data


def storage_write(path: str, data: bytes, *, schema_name: str) -> None:
    """Writes `data` at exactly `path` (replacing a file there: storages that rename on a clash
    would otherwise put it elsewhere)."""
    check_owned(path, schema_name)
    _write(path, data)


def _write(path: str, data: bytes) -> None:
    if default_storage.exists(path):
        default_storage.delete(path)
    saved = default_storage.save(path, ContentFile(data))
    if saved != path:  # pragma: no cover - a storage that renamed anyway
        default_storage.delete(saved)
        raise OSError(f"storage wrote {saved!r} instead of {path!r}")


def storage_delete_folder(schema_name: str, voice_id: str) -> None:
    """Removes a voice's files (its reference clips and conditioning, every version), and any
    below its folder: on S3 a "folder" is only a key prefix, and nothing else may remain."""
    _delete_tree(voice_folder(schema_name, voice_id))


def storage_delete_tenant(schema_name: str) -> None:
    """Removes every file of a tenant, at any depth (its schema dropped: nothing may remain)."""
    _delete_tree(tenant_prefix(schema_name))


def _delete_tree(folder: str) -> None:
    try:
        dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(folder + name)
    for name in dirs:
        _delete_tree(f"{folder}{name}/")


# --- stock voices (public: the same for every tenant) -----------------------------------------

STOCK_PREFIX = "stock/"
PACK_INDEX_PATH = "stock/packs/index.json"


def pack_folder(pack: str) -> str:
    return f"{STOCK_PREFIX}packs/{pack}/"


def pack_voice_folder(pack: str, import_id: str, voice_id: str) -> str:
    return f"{pack_folder(pack)}{import_id}/{voice_id}/"


def stock_preview_path(engine: str, voice_id: str, model: str = "") -> str:
    """A catalog or studio voice's preview; `model` names the checkpoint it was made with
    (studio speakers change with it; "" for a voice fixed by its package)."""
    middle = f"{model}/" if model else ""
    return f"{STOCK_PREFIX}previews/{engine}/{middle}{voice_id}.wav"


def check_stock(path: str) -> str:
    """`path` if it lies under the public stock prefix, else ForeignPath."""
    inside = path.startswith(STOCK_PREFIX) and not path.startswith("/")
    if posixpath.normpath(path) != path or not inside:
        raise ForeignPath(f"{path!r} is not under the stock prefix")
    return path


def stock_exists(path: str) -> bool:
    return bool(default_storage.exists(check_stock(path)))


def stock_read(path: str) -> bytes:
    with default_storage.open(check_stock(path), "rb") as handle:
        data: bytes = handle.read()
    return data


def stock_write(path: str, data: bytes) -> None:
    _write(check_stock(path), data)


def stock_delete_tree(folder: str) -> None:
    """Removes every file under `folder` (a stock folder ending in "/"), at any depth."""
    check_stock(folder.rstrip("/"))
    _delete_tree(folder)
