"""Cloud Storage tasks and the GcsBucket object store against the GCS emulator."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pytest
from orch.integration import NotFoundError
from orch_gcp import (
    GcpCredentials,
    GcpError,
    GcpNotFoundError,
    GcsBucket,
    gcs_copy,
    gcs_delete,
    gcs_download,
    gcs_exists,
    gcs_list,
    gcs_upload,
)

from .conftest import unique


def names(bucket: GcsBucket) -> list[str]:
    return sorted(b.name for b in bucket.get_client().list_blobs(bucket.bucket))


def test_upload_bytes_file_and_file_object(bucket: GcsBucket, tmp_path: Path) -> None:
    assert gcs_upload.fn(bucket, b"one", "a/one.txt") == "a/one.txt"
    file = tmp_path / "two.csv"
    file.write_text("id\n2\n")
    assert gcs_upload.fn(bucket, file, "a/two.csv", content_type="text/csv") == "a/two.csv"
    assert gcs_upload.fn(bucket, io.BytesIO(b"three"), "a/three.bin") == "a/three.bin"
    assert names(bucket) == ["data/a/one.txt", "data/a/three.bin", "data/a/two.csv"]
    assert gcs_download.fn(bucket, "a/two.csv") == b"id\n2\n"
    blob = bucket.get_bucket().get_blob("data/a/two.csv")
    assert blob.content_type == "text/csv"


def test_upload_a_folder_in_parallel_and_download_it(bucket: GcsBucket, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(40):
        (src / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 3}" / f"f{i}.txt").write_text(f"file {i}")
    paths = gcs_upload.fn(bucket, src, "batch", max_workers=8)
    assert isinstance(paths, list)
    assert len(paths) == 40
    assert "batch/d1/f1.txt" in paths
    out = gcs_download.fn(bucket, "batch/", tmp_path / "out", max_workers=8)
    assert isinstance(out, list)
    assert len(out) == 40
    assert (tmp_path / "out" / "d2" / "f5.txt").read_text() == "file 5"
    assert not list((tmp_path / "out").rglob("*.part"))


class FailingReader(io.RawIOBase):
    """Gives ``limit`` bytes, then fails as a broken disk or network source would."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.sent >= self.limit:
            raise OSError("source broke midway")
        n = min(len(buffer), self.limit - self.sent)
        buffer[:n] = b"x" * n
        self.sent += n
        return n


def test_a_failed_upload_leaves_no_object(bucket: GcsBucket) -> None:
    with pytest.raises(OSError, match="source broke midway"):
        gcs_upload.fn(bucket, io.BufferedReader(FailingReader(3 * 1024 * 1024)), "partial.bin")
    assert not gcs_exists.fn(bucket, "partial.bin")
    assert names(bucket) == []


def test_download_to_a_file_is_atomic(bucket: GcsBucket, tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_text("old content")
    with pytest.raises(GcpNotFoundError, match=r"gs://.*/data/missing\.csv does not exist"):
        gcs_download.fn(bucket, "missing.csv", target)
    assert target.read_text() == "old content"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv"]  # no leftover part
    gcs_upload.fn(bucket, b"new content", "report.csv")
    assert gcs_download.fn(bucket, "report.csv", target) == target
    assert target.read_text() == "new content"
    # into a folder: the object's name
    assert gcs_download.fn(bucket, "report.csv", tmp_path / "dir") == tmp_path / "dir"
    (tmp_path / "into").mkdir()
    assert gcs_download.fn(bucket, "report.csv", tmp_path / "into") == (
        tmp_path / "into" / "report.csv"
    )


def test_download_refuses_names_outside_the_target(bucket: GcsBucket, tmp_path: Path) -> None:
    handle = bucket.get_bucket()
    # An absolute path inside the folder: "data/evil//etc/escape.txt" is "/etc/escape.txt"
    handle.blob("data/evil//escape.txt").upload_from_string(b"x")
    with pytest.raises(GcpError, match=r"refused object .*outside the target directory"):
        gcs_download.fn(bucket, "evil/", tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_list_with_glob_and_delimiter(bucket: GcsBucket) -> None:
    for name in ("2024/01.csv", "2024/02.csv", "2024/readme.md", "2025/01.csv"):
        gcs_upload.fn(bucket, b"x", name)
    listed = gcs_list.fn(bucket, "2024/")
    assert [o["path"] for o in listed] == ["2024/01.csv", "2024/02.csv", "2024/readme.md"]
    assert listed[0]["name"] == "data/2024/01.csv"
    assert listed[0]["size"] == 1
    assert [o["path"] for o in gcs_list.fn(bucket, glob="*.csv")] == [
        "2024/01.csv",
        "2024/02.csv",
        "2025/01.csv",
    ]


def test_copy_within_and_across_buckets(bucket: GcsBucket, gcs_creds: GcpCredentials) -> None:
    gcs_upload.fn(bucket, b"payload", "a.txt")
    assert gcs_copy.fn(bucket, "a.txt", "b.txt") == "b.txt"
    other_name = unique("orch-other")
    gcs_creds.get_client("storage").create_bucket(other_name)
    other = GcsBucket(bucket=other_name, credentials=gcs_creds)
    gcs_copy.fn(bucket, "a.txt", "copied/a.txt", destination_bucket=other)
    assert gcs_download.fn(other, "copied/a.txt") == b"payload"
    assert gcs_download.fn(bucket, "b.txt") == b"payload"


def test_delete_one_many_and_a_folder_and_again(bucket: GcsBucket) -> None:
    for name in ("x/1", "x/2", "y", "z"):
        gcs_upload.fn(bucket, b"x", name)
    assert gcs_delete.fn(bucket, "y") == 1
    assert gcs_delete.fn(bucket, ["z", "never-was"]) == 1  # a missing object is skipped
    assert gcs_delete.fn(bucket, "x/") == 2
    assert gcs_delete.fn(bucket, "y") == 0  # a retry is not an error
    assert names(bucket) == []


def test_exists(bucket: GcsBucket) -> None:
    gcs_upload.fn(bucket, b"x", "here")
    assert gcs_exists.fn(bucket, "here") is True
    assert gcs_exists.fn(bucket, "not-here") is False


def test_a_missing_bucket_is_one_clear_error(gcs_creds: GcpCredentials, tmp_path: Path) -> None:
    missing = GcsBucket(bucket=unique("orch-missing"), credentials=gcs_creds)
    missing.save("lake")
    missing = GcsBucket.load("lake")
    for call in (
        lambda: gcs_list.fn(missing),
        lambda: gcs_exists.fn(missing, "k"),
        lambda: gcs_upload.fn(missing, b"x", "k"),
        lambda: gcs_delete.fn(missing, "k"),
    ):
        with pytest.raises(NotFoundError) as info:
            call()
        assert f"gs://{missing.bucket}" in str(info.value)
        assert "lake" in str(info.value)  # the block's name


class Lines(logging.Handler):
    """Records the transfer summaries of the loggers it is attached to (the run logger
    does not propagate to the root logger, so caplog alone would miss it)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(("gcs_upload", "gcs_download")):
            self.seen.append((record.name, record.getMessage()))


def test_progress_lines_use_the_kit(bucket: GcsBucket, tmp_path: Path) -> None:
    # In a task run the summary goes to the run logger; outside any run (`.fn`) to the
    # package's logger "orch_gcp"; progress=None says nothing for a quick transfer.
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024))
    target = f"gs://{bucket.bucket}/data/big.bin"
    lines = Lines()
    loggers = [logging.getLogger("orch.runs"), logging.getLogger("orch_gcp")]
    # Only the package logger's level is ours to change: orch sets the run logger's
    # (INFO) when it first configures it, and restoring an older NOTSET here would
    # silence every later run's INFO lines.
    package_level = loggers[1].level
    loggers[1].setLevel(logging.INFO)
    for logger in loggers:
        logger.addHandler(lines)
    try:
        gcs_upload(bucket, src, "big.bin", progress=True)
        name, last = lines.seen[-1]
        assert name == "orch.runs"
        assert last.startswith(f"gcs_upload {target}: 3.0 MiB in "), lines.seen
        lines.seen.clear()
        gcs_download.fn(bucket, "big.bin", tmp_path / "back.bin", progress=True)
        name, last = lines.seen[-1]
        assert name == "orch_gcp"
        assert last.startswith(f"gcs_download {target}: 3.0 MiB in "), lines.seen
        lines.seen.clear()
        gcs_upload.fn(bucket, b"small", "s.bin")
        assert lines.seen == []
    finally:
        for logger in loggers:
            logger.removeHandler(lines)
        loggers[1].setLevel(package_level)


def test_the_object_store_role(bucket: GcsBucket, tmp_path: Path) -> None:
    file = tmp_path / "r.csv"
    file.write_text("a,b\n")
    assert bucket.upload_from_path(file, "reports/r.csv") == "data/reports/r.csv"
    assert bucket.write_path("reports/s.csv", b"c,d\n") == "data/reports/s.csv"
    assert bucket.read_path("reports/s.csv") == b"c,d\n"
    out = bucket.download_object_to_path("reports/r.csv", tmp_path / "back.csv")
    assert out.read_text() == "a,b\n"
    listed = bucket.list_objects("reports/")
    assert [o["Key"] for o in listed] == ["data/reports/r.csv", "data/reports/s.csv"]
    assert listed[0]["Size"] == 4
    with pytest.raises(GcpNotFoundError):
        bucket.read_path("reports/none.csv")
    with pytest.raises(FileNotFoundError):
        bucket.upload_from_path(tmp_path / "none.csv")


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="GCS bucket name"):
        GcsBucket(bucket="A")
    with pytest.raises(ValueError, match="bucket_folder"):
        GcsBucket(bucket="okay-bucket", bucket_folder="a/../b")
    with pytest.raises(TypeError, match="GcsBucket block"):
        gcs_list.fn("just-a-name")  # type: ignore[arg-type]
