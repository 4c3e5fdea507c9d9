"""Blob tasks and the object-store role against Azurite (the real SDK, a real server)."""

from __future__ import annotations

import io
import logging
import os
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from orch import flow
from orch.integration import AuthError, NotFoundError, ObjectStore
from orch_azure import (
    AzureAuthError,
    AzureBlobContainer,
    AzureCredentials,
    AzureError,
    AzureNotFoundError,
    blob_copy,
    blob_delete,
    blob_download,
    blob_exists,
    blob_list,
    blob_sas_url,
    blob_upload,
)

from tests.backends.azurite import ACCOUNT_KEY

from .conftest import unique

MiB = 1024 * 1024


def _raw(container: AzureBlobContainer):  # type: ignore[no-untyped-def]
    return (
        container.credentials.get_client()
        .blob_service()
        .get_container_client(container.container_name)
    )


# --- upload ---------------------------------------------------------------------------------


def test_upload_bytes_file_and_file_object(container: AzureBlobContainer, tmp_path: Path) -> None:
    assert blob_upload(container, b"bytes", "a/bytes.bin") == "a/bytes.bin"
    file = tmp_path / "f.csv"
    file.write_bytes(b"id\n1\n")
    assert blob_upload(container, file) == "f.csv"  # name defaults to the file's
    assert blob_upload(container, str(file), "a/f.csv") == "a/f.csv"
    assert blob_upload(container, io.BytesIO(b"stream"), "a/s.bin") == "a/s.bin"
    raw = _raw(container)
    assert raw.download_blob("data/a/bytes.bin").readall() == b"bytes"
    assert raw.download_blob("data/f.csv").readall() == b"id\n1\n"
    assert raw.download_blob("data/a/s.bin").readall() == b"stream"


def test_upload_a_folder_keeps_relative_paths(
    container: AzureBlobContainer, tmp_path: Path
) -> None:
    (tmp_path / "sub").mkdir()
    for i in range(12):
        (tmp_path / "sub" / f"{i}.txt").write_text(str(i))
    (tmp_path / "top.txt").write_text("top")
    names = blob_upload(container, tmp_path, "day", max_concurrency=4)
    assert names == ["day/sub/0.txt", "day/sub/1.txt", "day/sub/10.txt", "day/sub/11.txt"] + [
        f"day/sub/{i}.txt" for i in range(2, 10)
    ] + ["day/top.txt"]
    assert sorted(b.name for b in _raw(container).list_blobs()) == sorted(
        f"data/{n}" for n in names
    )


def test_large_upload_in_blocks_with_concurrency_and_progress(
    container: AzureBlobContainer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = os.urandom(65 * MiB)  # over the SDK's 64 MiB single put: staged 4 MiB blocks
    file = tmp_path / "big.bin"
    file.write_bytes(data)
    with caplog.at_level(logging.INFO):
        # Outside a run (.fn) the kit's Progress writes to the package's logger.
        blob_upload.fn(container, file, "big.bin", max_concurrency=3, progress=True)
    assert _raw(container).download_blob("data/big.bin").readall() == data
    blocks = _raw(container).get_blob_client("data/big.bin").get_block_list()[0]
    assert len(blocks) >= 16
    summary = [r.getMessage() for r in caplog.records if r.name == "orch_azure"]
    assert any("blob_upload" in m and "65.0 MiB" in m for m in summary), summary


class _Failing(io.RawIOBase):
    """A stream that fails after ``limit`` bytes (a disk or network error midway)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        if self.sent >= self.limit:
            raise OSError("disk gone")
        n = min(len(buffer), self.limit - self.sent, 1 * MiB)
        buffer[:n] = b"x" * n
        self.sent += n
        return n


def test_a_failed_upload_leaves_no_partial_blob(container: AzureBlobContainer) -> None:
    with pytest.raises(OSError, match="disk gone"):
        blob_upload(container, _Failing(70 * MiB), "partial.bin", max_concurrency=2)
    assert not blob_exists(container, "partial.bin")
    # An existing blob is left as it was.
    blob_upload(container, b"old", "kept.bin")
    with pytest.raises(OSError, match="disk gone"):
        blob_upload(container, _Failing(70 * MiB), "kept.bin")
    assert blob_download(container, "kept.bin") == b"old"


def test_overwrite_false_refuses_an_existing_blob(container: AzureBlobContainer) -> None:
    blob_upload(container, b"1", "once.bin")
    with pytest.raises(AzureError, match="conflict") as caught:
        blob_upload(container, b"2", "once.bin", overwrite=False)
    assert "data/once.bin" in str(caught.value)


def test_upload_bad_input(container: AzureBlobContainer, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        blob_upload(container, tmp_path / "missing.csv", "x")
    with pytest.raises(ValueError, match="name is required"):
        blob_upload(container, b"x")
    with pytest.raises(TypeError, match="AzureBlobContainer block"):
        blob_upload("my-container", b"x", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_concurrency"):
        blob_upload(container, b"x", "x", max_concurrency=0)


# --- download -------------------------------------------------------------------------------


def test_download_to_bytes_file_and_folder(container: AzureBlobContainer, tmp_path: Path) -> None:
    data = os.urandom(5 * MiB)
    blob_upload(container, data, "d/big.bin")
    blob_upload(container, b"small", "d/sub/small.txt")
    assert blob_download(container, "d/big.bin", max_concurrency=4) == data
    out = blob_download(container, "d/big.bin", tmp_path / "x" / "file.bin")
    assert out == tmp_path / "x" / "file.bin" and out.read_bytes() == data
    into = blob_download(container, "d/sub/small.txt", f"{tmp_path}/into/")
    assert into == (tmp_path / "into" / "small.txt").resolve()
    folder = blob_download(container, "d/", tmp_path / "all")
    assert folder == tmp_path / "all"
    assert (folder / "big.bin").read_bytes() == data
    assert (folder / "sub" / "small.txt").read_bytes() == b"small"
    assert not list(tmp_path.rglob("*.orch-p*"))  # no temporary file left


def test_a_failed_download_writes_nothing(container: AzureBlobContainer, tmp_path: Path) -> None:
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    target = tmp_path / "out.bin"
    with pytest.raises(AzureNotFoundError) as caught:
        blob_download(container, "missing.bin", target)
    assert "no such blob" in str(caught.value)
    assert f"{container.container_name}/data/missing.bin" in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    # An existing file is left as it was.
    target.write_bytes(b"before")
    with pytest.raises(NotFoundError):
        blob_download(container, "missing.bin", target)
    assert target.read_bytes() == b"before"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize("evil", ["p/..\\..\\evil.txt", "p//abs.txt"])
def test_download_refuses_names_escaping_the_folder(
    container: AzureBlobContainer, tmp_path: Path, evil: str
) -> None:
    # HTTP clients collapse "../" in a URL, so a blob named "p/../../x" cannot be made
    # here; a backslash path (Windows) or an absolute one ("p//abs") can.
    raw = _raw(container)
    raw.upload_blob("data/p/ok.txt", b"ok")
    raw.upload_blob(f"data/{evil}", b"evil")
    # Azurite turns '\\' into '/': that makes a real "p/../../evil.txt" blob.
    listed = [b.name for b in raw.list_blobs(name_starts_with="data/p/")]
    assert len(listed) == 2, listed
    with pytest.raises(AzureError, match="refused blob") as caught:
        blob_download(container, "p/", tmp_path / "out")
    assert "outside the target directory" in str(caught.value)
    assert not (tmp_path / "out").exists()  # refused before anything is written
    assert not list(tmp_path.rglob("*evil*"))


def test_dot_dot_names_are_refused(container: AzureBlobContainer, tmp_path: Path) -> None:
    from orch_azure.tasks.blob import _safe_join

    for name in ("../evil.txt", "a/../../evil.txt", "/etc/passwd"):
        with pytest.raises(AzureError, match="refused blob"):
            _safe_join(tmp_path, name, container=container, full=f"data/{name}")
    assert (
        _safe_join(tmp_path, "a/b.txt", container=container, full="x")
        == (tmp_path / "a" / "b.txt").resolve()
    )


# --- list -----------------------------------------------------------------------------------


def test_list_prefix_glob_and_pages(container: AzureBlobContainer) -> None:
    raw = _raw(container)
    for name in ("2024/a.csv", "2024/b.json", "2024/sub/c.csv", "2025/d.csv"):
        raw.upload_blob(f"data/{name}", b"1234")
    found = list(blob_list(container, prefix="2024/"))
    assert [b["name"] for b in found] == ["2024/a.csv", "2024/b.json", "2024/sub/c.csv"]
    assert found[0]["size"] == 4 and found[0]["etag"] and found[0]["last_modified"]
    assert [b["name"] for b in blob_list(container, glob="2024/*.csv")] == [
        "2024/a.csv",
        "2024/sub/c.csv",
    ]
    assert list(blob_list(container, prefix="2024/", glob="2025/*")) == []


def test_listing_a_missing_container_fails_the_task(creds: AzureCredentials) -> None:
    missing = AzureBlobContainer(container_name="no-such-container", credentials=creds)

    @flow
    def listing() -> list[str]:
        return [b["name"] for b in blob_list(missing)]

    with pytest.raises(AzureNotFoundError) as caught:
        listing()
    assert "no such container" in str(caught.value)
    assert "no-such-container" in str(caught.value)


# --- copy, delete, exists -------------------------------------------------------------------


def test_copy_within_and_across_containers(
    container: AzureBlobContainer, creds: AzureCredentials, conn_creds: AzureCredentials
) -> None:
    blob_upload(container, b"payload", "src.bin")
    assert blob_copy(container, "src.bin", "copy.bin") == "copy.bin"
    assert blob_download(container, "copy.bin") == b"payload"
    other = AzureBlobContainer(container_name=unique("dest"), credentials=creds)
    _raw(other).create_container()
    blob_copy(container, "src.bin", "x/copied.bin", dest_container=other)
    assert blob_download(other, "x/copied.bin") == b"payload"
    # Other credentials for the destination: the source is read through a short read SAS.
    via_conn = AzureBlobContainer(
        container_name=other.container_name, credentials=conn_creds, folder="in"
    )
    blob_copy(container, "src.bin", "sas.bin", dest_container=via_conn)
    assert blob_download(via_conn, "sas.bin") == b"payload"
    with pytest.raises(AzureNotFoundError, match="no such blob") as caught:
        blob_copy(container, "absent.bin", "y.bin")
    assert "data/absent.bin" in str(caught.value)


def test_delete_in_batches(container: AzureBlobContainer) -> None:
    raw = _raw(container)
    names = [f"many/{i:04d}" for i in range(300)]  # two batch requests
    for name in names:
        raw.upload_blob(f"data/{name}", b"")
    assert blob_delete(container, [*names, "never-existed"]) == 300
    assert list(blob_list(container, prefix="many/")) == []
    blob_upload(container, b"1", "one")
    assert blob_delete(container, "one") == 1
    assert blob_delete(container, []) == 0


def test_exists_and_missing_container(
    container: AzureBlobContainer, creds: AzureCredentials
) -> None:
    blob_upload(container, b"1", "here")
    assert blob_exists(container, "here") is True
    assert blob_exists(container, "not-here") is False
    missing = AzureBlobContainer(container_name="no-such-container", credentials=creds)
    with pytest.raises(AzureNotFoundError, match="no such container"):
        blob_exists(missing, "x")
    with pytest.raises(AzureNotFoundError, match="no such container"):
        blob_delete(missing, ["x"])


# --- SAS URLs and auth failures -------------------------------------------------------------


def test_sas_url_is_read_only_and_expires(container: AzureBlobContainer) -> None:
    blob_upload(container, b"shared", "share.txt")
    url = blob_sas_url(container, "share.txt", expires_in=3)
    assert "sp=r" in url
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"shared"
    put = urllib.request.Request(
        url, data=b"overwrite", method="PUT", headers={"x-ms-blob-type": "BlockBlob"}
    )
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(put)
    assert denied.value.code == 403
    time.sleep(4)
    with pytest.raises(urllib.error.HTTPError) as expired:
        urllib.request.urlopen(url)
    assert expired.value.code == 403


def test_sas_url_from_a_connection_string(
    conn_creds: AzureCredentials, container: AzureBlobContainer
) -> None:
    blob_upload(container, b"via conn", "c.txt")
    via = AzureBlobContainer(
        container_name=container.container_name, credentials=conn_creds, folder="data"
    )
    with urllib.request.urlopen(blob_sas_url(via, "c.txt")) as response:
        assert response.read() == b"via conn"


def test_a_sas_credential_works_and_cannot_sign(
    container: AzureBlobContainer, azurite_blob: str
) -> None:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    sas = generate_container_sas(
        "devstoreaccount1",
        container.container_name,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, write=True, list=True),
        expiry=datetime.now(UTC) + timedelta(minutes=10),
    )
    via = AzureBlobContainer(
        container_name=container.container_name,
        credentials=AzureCredentials(account_url=azurite_blob, sas_token=sas),
        folder="data",
    )
    blob_upload(via, b"sas", "s.txt")
    assert blob_download(via, "s.txt") == b"sas"
    with pytest.raises(AzureError, match="cannot sign a SAS") as caught:
        blob_sas_url(via, "s.txt")
    assert sas not in str(caught.value)


def test_wrong_key_and_expired_sas_are_auth_errors_without_secrets(
    container: AzureBlobContainer, azurite_blob: str
) -> None:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="
    bad = AzureBlobContainer(
        container_name=container.container_name,
        credentials=AzureCredentials(account_url=azurite_blob, account_key=wrong_key),
    )
    with pytest.raises(AzureAuthError) as caught:
        blob_upload(bad, b"x", "x")
    assert isinstance(caught.value, AuthError)
    message = str(caught.value)
    assert "access refused" in message and "check account_key" in message
    assert container.container_name in message
    assert wrong_key not in message

    expired = generate_container_sas(
        "devstoreaccount1",
        container.container_name,
        account_key=ACCOUNT_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) - timedelta(minutes=1),
    )
    old = AzureBlobContainer(
        container_name=container.container_name,
        credentials=AzureCredentials(account_url=azurite_blob, sas_token=expired),
    )
    with pytest.raises(AzureAuthError) as caught_sas:
        list(blob_list(old))
    message = str(caught_sas.value)
    assert "expired" in message
    assert expired not in message and expired.split("sig=")[-1] not in message


def test_an_unreachable_account_is_a_connect_error(tmp_path: Path) -> None:
    from orch.integration import ConnectError

    from tests.backends.service import free_port

    creds = AzureCredentials(
        account_url=f"http://127.0.0.1:{free_port()}/devstoreaccount1", account_key=ACCOUNT_KEY
    )
    nowhere = AzureBlobContainer(container_name="abc", credentials=creds)
    # The SDK retries a refused connection a few times with back-off: keep it short.
    creds.get_client().blob_service()._config.retry_policy.total_retries = 0
    with pytest.raises(ConnectError, match="cannot reach the service"):
        blob_exists(nowhere, "x")


# --- the object-store role ------------------------------------------------------------------


def test_object_store_role(container: AzureBlobContainer, tmp_path: Path) -> None:
    assert isinstance(container, ObjectStore)
    assert container.write_path("r/a.txt", b"A") == "data/r/a.txt"
    assert container.read_path("r/a.txt") == b"A"
    src = tmp_path / "b.txt"
    src.write_bytes(b"B")
    assert container.upload_from_path(src, "r/b.txt") == "data/r/b.txt"
    out = container.download_object_to_path("r/b.txt", tmp_path / "got.txt")
    assert out.read_bytes() == b"B"
    listed = container.list_objects("r/")
    assert [o["Key"] for o in listed] == ["data/r/a.txt", "data/r/b.txt"]
    assert listed[0]["Size"] == 1
    assert len(container.list_objects(max_items=1)) == 1
    with pytest.raises(AzureNotFoundError):
        container.read_path("r/none.txt")


def test_container_name_is_checked() -> None:
    from orch.integration import BlockValidationError

    with pytest.raises(BlockValidationError, match="3 to 63 characters"):
        AzureBlobContainer(container_name="ab", credentials=AzureCredentials(auth_method="default"))
    with pytest.raises(BlockValidationError, match=r"'\.\.'"):
        AzureBlobContainer(container_name="abc", folder="a/../b", credentials=AzureCredentials())
