"""Voice storage on S3: django-storages' S3Storage against a real moto server over HTTP (the
`s3_storage` fixture), checked by listing the bucket with boto3.

No database: storage paths need only a schema name.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.files.storage import default_storage
from storages.backends.s3 import S3Storage

from voices.storage import (
    ForeignPath,
    check_owned,
    conditioning_path,
    reference_path,
    storage_delete_folder,
    storage_delete_tenant,
    storage_read,
    storage_write,
    tenant_prefix,
    voice_folder,
)

A = "tenant_alpha"
B = "tenant_beta"


def s3() -> S3Storage:
    """Django's default storage, as the S3 storage the fixture made it."""
    assert isinstance(default_storage, S3Storage)  # the lazy object, re-evaluated
    return default_storage


@pytest.fixture
def s3_requests(s3_storage) -> Iterator[list[str]]:
    """Every HTTP request the default storage's boto3 client sends, by operation name."""
    sent: list[str] = []

    def record(*, request, **_: object) -> None:
        sent.append(f"{request.method} {request.url}")

    events = s3().connection.meta.client.meta.events
    events.register("before-send.s3", record)
    yield sent
    events.unregister("before-send.s3", record)


def test_the_fixture_switches_default_storage_to_the_bucket(s3_storage) -> None:
    assert s3().bucket_name == s3_storage.bucket
    assert s3_storage.keys() == []


def test_write_then_read_lands_at_exactly_the_tenant_path(s3_storage) -> None:
    path = reference_path(A, "v1", 1)
    assert path == f"{tenant_prefix(A)}voices/v1/reference-v1.wav"

    storage_write(path, b"RIFF clip", schema_name=A)

    assert s3_storage.keys() == [path]
    assert s3_storage.get(path) == b"RIFF clip"
    assert storage_read(path, schema_name=A) == b"RIFF clip"


def test_a_second_write_replaces_the_object_without_a_renamed_copy(s3_storage) -> None:
    # The settings' S3 options keep file_overwrite=False, which renames on a clash.
    assert s3().file_overwrite is False
    path = conditioning_path(A, "v1", 2, "xtts")

    storage_write(path, b"first", schema_name=A)
    storage_write(path, b"second", schema_name=A)

    assert s3_storage.keys() == [path]
    assert s3_storage.get(path) == b"second"
    assert storage_read(path, schema_name=A) == b"second"


def test_deleting_a_voice_folder_removes_all_of_it_and_nothing_else(s3_storage) -> None:
    mine = [
        reference_path(A, "v1", 1),
        reference_path(A, "v1", 2),
        conditioning_path(A, "v1", 2, "xtts"),
    ]
    for path in mine:
        storage_write(path, b"x", schema_name=A)
    s3_storage.put(f"{voice_folder(A, 'v1')}nested/left-over.bin", b"x")  # a deeper key
    others = [
        reference_path(A, "v10", 1),  # shares the prefix "voices/v1" without the slash
        reference_path(A, "v2", 1),
        reference_path(B, "v1", 1),  # another tenant's voice of the same id
    ]
    for path in others:
        s3_storage.put(path, b"keep")

    storage_delete_folder(A, "v1")

    assert s3_storage.keys() == sorted(others)
    storage_delete_folder(A, "v1")  # nothing left: not an error
    storage_delete_folder(A, "never-stored")


@pytest.mark.parametrize(
    "path",
    [
        reference_path(B, "v1", 1),  # another tenant's file
        f"{tenant_prefix(A)}../{B}/voices/v1/reference-v1.wav",  # climbs out
        f"{tenant_prefix(A)}voices/../../{B}/voices/v1/reference-v1.wav",
        f"/{reference_path(A, 'v1', 1)}",  # absolute
        "tenants/tenant_alphabet/voices/v1/reference-v1.wav",  # a longer schema name
    ],
)
def test_foreign_paths_are_refused_before_any_request(
    s3_storage, s3_requests: list[str], path: str
) -> None:
    s3_storage.put(reference_path(B, "v1", 1), b"B's clip")
    with pytest.raises(ForeignPath):
        check_owned(path, A)
    with pytest.raises(ForeignPath):
        storage_read(path, schema_name=A)
    with pytest.raises(ForeignPath):
        storage_write(path, b"overwritten", schema_name=A)

    assert s3_requests == []
    assert s3_storage.keys() == [reference_path(B, "v1", 1)]
    assert s3_storage.get(reference_path(B, "v1", 1)) == b"B's clip"


@pytest.mark.parametrize("voice_id", ["", ".", "..", f"../../{B}/voices/v1", "v1/../v2"])
def test_a_voice_folder_cannot_name_another_folder(
    s3_storage, s3_requests: list[str], voice_id: str
) -> None:
    s3_storage.put(reference_path(B, "v1", 1), b"keep")
    s3_storage.put(reference_path(A, "v2", 1), b"keep")
    with pytest.raises(ForeignPath):
        storage_delete_folder(A, voice_id)
    assert s3_requests == []
    assert len(s3_storage.keys()) == 2


def test_the_request_recorder_sees_real_requests(s3_storage, s3_requests: list[str]) -> None:
    # The guard for the tests above: the hook does see what the storage sends to moto.
    storage_write(reference_path(A, "v1", 1), b"x", schema_name=A)
    assert s3_requests
    assert all(s3_storage.endpoint_url in sent for sent in s3_requests)


def test_reading_a_missing_file_raises(s3_storage) -> None:
    with pytest.raises(FileNotFoundError):
        storage_read(reference_path(A, "v1", 1), schema_name=A)


def test_the_settings_options_carry_addressing_style_and_signature_version() -> None:
    from callwaiting_tts.env import s3_storage

    options = s3_storage(
        bucket="b",
        endpoint_url="http://minio:9000",
        addressing_style="path",
        signature_version="s3v4",
    )["OPTIONS"]
    assert isinstance(options, dict)
    storage = S3Storage(**options)
    config = storage.connection.meta.client.meta.config
    assert config.s3 == {"addressing_style": "path"}
    assert config.signature_version == "s3v4"
    unset = S3Storage(**s3_storage(bucket="b")["OPTIONS"])  # type: ignore[arg-type]
    assert unset.addressing_style is None  # botocore's auto


def test_an_upload_is_stored_in_the_bucket_and_deleting_by_any_spelling_of_its_id_removes_it(
    s3_storage, api, tenant_a
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.speech import joe_seconds, wav
    from voices.storage import original_path

    schema = tenant_a.tenant.schema_name
    audio = wav(*joe_seconds(10.0))
    response = api(tenant_a.api_key).post(
        "/v1/voices/upload",
        {"name": "cloned", "consent": "true", "file": SimpleUploadedFile("a.wav", audio)},
    )
    assert response.status_code == 202, response.content
    voice_id = response.json()["id"]
    assert s3_storage.keys() == [original_path(schema, voice_id, 1, "wav")]
    assert s3_storage.get(original_path(schema, voice_id, 1, "wav")) == audio

    # The API takes any spelling uuid.UUID reads; the files lie under the canonical one.
    response = api(tenant_a.api_key).delete(f"/v1/voices/{voice_id.upper()}")

    assert response.status_code == 204
    assert s3_storage.keys() == []


def test_a_tenants_files_go_with_it_and_no_one_elses(s3_storage):
    mine = [reference_path(A, "v1", 1), f"{voice_folder(A, 'v2')}nested/deep.bin"]
    others = [reference_path(B, "v1", 1), f"{tenant_prefix(A)[:-1]}x/voices/v1/keep.wav"]
    for path in mine + others:
        s3_storage.put(path, b"x")

    storage_delete_tenant(A)

    assert s3_storage.keys() == sorted(others)
