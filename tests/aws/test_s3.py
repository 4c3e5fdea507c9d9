"""S3 tasks against the moto server: transfers, listing, copy/move/delete, errors."""

from __future__ import annotations

import http.server
import io
import json
import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from orch_aws import AwsCredentials, S3Bucket
from orch_aws.errors import S3AccessDeniedError, S3Error, S3NotFoundError
from orch_aws.tasks import (
    s3_copy,
    s3_delete,
    s3_download,
    s3_exists,
    s3_list,
    s3_move,
    s3_upload,
)

from tests.core.runtime_support import flush_history, orch_cli

from .conftest import REGION, count_calls, unique

__all__ = ["flush_history"]  # a fixture (used by name)

MiB = 1024 * 1024


def _put(bucket: S3Bucket, full_key: str, body: bytes = b"x") -> None:
    bucket.get_client().put_object(Bucket=bucket.bucket_name, Key=full_key, Body=body)


def _keys(bucket: S3Bucket) -> list[str]:
    client = bucket.get_client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket.bucket_name)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", ()))


# --- upload / download ----------------------------------------------------------------


def test_upload_bytes_and_download_bytes_under_the_folder(bucket: S3Bucket) -> None:
    assert s3_upload(bucket, b"hello", "a/b.txt") == "a/b.txt"
    assert _keys(bucket) == ["data/a/b.txt"]
    assert s3_download(bucket, "a/b.txt") == b"hello"


def test_upload_takes_prefects_argument_names(bucket: S3Bucket, tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    report.write_bytes(b"a,b\n1,2\n")
    assert s3_upload(bucket=bucket, from_path=report, to_path="out/r.csv") == "out/r.csv"
    assert s3_upload(bucket=bucket, from_path=str(report)) == "report.csv"  # the file's name
    assert s3_upload(bucket, data=b"raw", to_path="raw.bin") == "raw.bin"
    assert _keys(bucket) == ["data/out/r.csv", "data/raw.bin", "data/report.csv"]
    assert s3_download(bucket, "out/r.csv") == b"a,b\n1,2\n"


def test_upload_with_prefect_names_wrong_says_what_to_change(
    bucket: S3Bucket, tmp_path: Path
) -> None:
    with pytest.raises(TypeError, match=r"bucket must be an S3Bucket block.*not a name"):
        s3_upload(bucket="my-bucket", data=b"x", to_path="k")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"once, as source .*got source, data"):
        s3_upload(bucket, b"x", "k", data=b"y")
    with pytest.raises(TypeError, match=r"key \(or Prefect's to_path=\) is required"):
        s3_upload(bucket, data=b"x")
    with pytest.raises(TypeError, match="key or Prefect's to_path=, not both"):
        s3_upload(bucket, b"x", "k", to_path="j")
    assert _keys(bucket) == []


def test_upload_file_and_download_to_file_and_directory(bucket: S3Bucket, tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(1000))
    s3_upload(bucket, src, "in.bin")
    out = s3_download(bucket, "in.bin", tmp_path / "out" / "copy.bin")
    assert out == (tmp_path / "out" / "copy.bin").resolve()
    assert out.read_bytes() == src.read_bytes()
    into_dir = s3_download(bucket, "in.bin", tmp_path / "out")
    assert into_dir == (tmp_path / "out" / "in.bin").resolve()
    assert into_dir.read_bytes() == src.read_bytes()


def test_upload_a_directory_and_download_the_prefix(bucket: S3Bucket, tmp_path: Path) -> None:
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_text("a")
    (src / "sub" / "b.csv").write_text("b")
    keys = s3_upload(bucket, src, "tree")
    assert keys == ["tree/a.csv", "tree/sub/b.csv"]
    assert _keys(bucket) == ["data/tree/a.csv", "data/tree/sub/b.csv"]
    out = s3_download(bucket, "tree/", tmp_path / "copy")
    assert (out / "a.csv").read_text() == "a"
    assert (out / "sub" / "b.csv").read_text() == "b"
    # nothing but the files: the temporary names are gone
    assert sorted(p.name for p in out.rglob("*")) == ["a.csv", "b.csv", "sub"]


def test_multipart_upload_with_part_size_and_round_trip(bucket: S3Bucket, tmp_path: Path) -> None:
    data = os.urandom(12 * MiB)
    s3_upload(bucket, io.BytesIO(data), "big.bin", part_size=5 * MiB, max_concurrency=4)
    head = bucket.get_client().head_object(Bucket=bucket.bucket_name, Key="data/big.bin")
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    assert s3_download(bucket, "big.bin", tmp_path / "big.bin").read_bytes() == data


class _Exploding(io.RawIOBase):
    """A source that fails after ``limit`` bytes, like a network stream that drops."""

    def __init__(self, limit: int, wait_for: threading.Event | None = None) -> None:
        self.sent = 0
        self.limit = limit
        self.wait_for = wait_for

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self.sent >= self.limit:
            if self.wait_for is not None:
                self.wait_for.wait(10)  # fail only once a part has reached the server
            raise OSError("source went away")
        n = min(len(buffer), self.limit - self.sent + 1)
        buffer[:n] = b"z" * n
        self.sent += n
        return n


def test_a_failed_multipart_upload_is_aborted(bucket: S3Bucket) -> None:
    client = bucket.get_client()
    part_stored = threading.Event()

    def stored(**_: object) -> None:
        part_stored.set()

    client.meta.events.register("after-call.s3.UploadPart", stored)
    with (
        count_calls(client, "CreateMultipartUpload") as created,
        count_calls(client, "UploadPart") as parts,
        count_calls(client, "AbortMultipartUpload") as aborted,
    ):
        with pytest.raises(OSError, match="source went away"):
            s3_upload(bucket, _Exploding(12 * MiB, part_stored), "broken.bin", part_size=5 * MiB)
    client.meta.events.unregister("after-call.s3.UploadPart", stored)
    # the upload really was multipart and had sent parts before the source failed
    assert (len(created), len(aborted)) == (1, 1)
    assert len(parts) >= 1
    assert not s3_exists(bucket, "broken.bin")
    pending = client.list_multipart_uploads(Bucket=bucket.bucket_name)
    assert pending.get("Uploads", []) == []


def test_a_failed_download_leaves_nothing(bucket: S3Bucket, tmp_path: Path) -> None:
    target = tmp_path / "out" / "file.bin"
    with pytest.raises(S3NotFoundError) as info:
        s3_download(bucket, "missing.bin", target)
    assert "data/missing.bin" in str(info.value)
    assert bucket.bucket_name in str(info.value)
    assert not (tmp_path / "out").exists()  # the object was asked for before any folder


def test_a_prefix_download_failing_midway_leaves_nothing(bucket: S3Bucket, tmp_path: Path) -> None:
    for i in range(3):
        _put(bucket, f"data/batch/{i}.csv", b"row")
    client = bucket.get_client()

    def vanish(**_: object) -> None:  # listed, then gone before it is fetched
        client.delete_object(Bucket=bucket.bucket_name, Key="data/batch/1.csv")

    client.meta.events.register("after-call.s3.ListObjectsV2", vanish)
    try:
        with pytest.raises(S3NotFoundError, match=r"data/batch/1\.csv"):
            s3_download(bucket, "batch/", tmp_path / "out")
    finally:
        client.meta.events.unregister("after-call.s3.ListObjectsV2", vanish)
    # not even 0.csv, which did arrive: no temporary file either
    assert list((tmp_path / "out").rglob("*")) == []


def test_downloads_ask_for_each_object_once_and_guard_with_its_etag(
    bucket: S3Bucket, tmp_path: Path
) -> None:
    data = os.urandom(11 * MiB)
    s3_upload(bucket, data, "big.bin", part_size=5 * MiB)
    s3_upload(bucket, b"a", "dir/a")
    s3_upload(bucket, b"b", "dir/b")
    client = bucket.get_client()
    etag = client.head_object(Bucket=bucket.bucket_name, Key="data/big.bin")["ETag"]
    if_match: list[object] = []

    def record(params: dict[str, object], **_: object) -> None:
        if_match.append(params.get("IfMatch"))

    client.meta.events.register("provide-client-params.s3.GetObject", record)
    try:
        with count_calls(client, "HeadObject") as heads:
            out = s3_download(bucket, "big.bin", tmp_path / "big.bin", part_size=5 * MiB)
            assert len(heads) == 1  # as many as boto3's download_file makes
            s3_download(bucket, "dir/", tmp_path / "dir")
            assert len(heads) == 1  # the listing told the sizes and ETags
    finally:
        client.meta.events.unregister("provide-client-params.s3.GetObject", record)
    assert out.read_bytes() == data
    assert (tmp_path / "dir" / "b").read_bytes() == b"b"
    # the three ranged GETs of big.bin were conditional on the ETag (no torn download)
    assert if_match[:3] == [etag] * 3


def test_a_key_escaping_the_target_directory_is_refused(bucket: S3Bucket, tmp_path: Path) -> None:
    _put(bucket, "data/ok.txt")
    _put(bucket, "data/../evil.txt")
    out = tmp_path / "out"
    bucket.save("escape")
    with pytest.raises(S3Error, match="outside the target directory") as info:
        s3_download(S3Bucket.load("escape"), "", out)
    assert "s3-bucket/escape" in str(info.value)
    assert not (tmp_path / "evil.txt").exists()
    assert not out.exists()  # nothing was written, not even ok.txt or the folder


def test_progress_lines_use_the_kit_and_the_package_logger(
    bucket: S3Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    # The kit's Progress: in a task run its lines go to the run logger; outside any run
    # (`.fn`) to the package's logger "orch_aws" (the old "orch_aws.s3" quarter lines are
    # gone). One summary line per transfer, never one line per part.
    target = f"s3://{bucket.bucket_name}/data/p.bin"

    def lines() -> list[tuple[str, str]]:
        found = [(r.name, r.getMessage()) for r in caplog.records]
        return [(name, m) for name, m in found if m.startswith(("s3_upload", "s3_download"))]

    # The run logger does not propagate to the root logger once orch has configured it
    # (the first run in the process does), so caplog listens on it directly.
    run_logger = logging.getLogger("orch.runs")
    run_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO):
            s3_upload(bucket, os.urandom(11 * MiB), "p.bin", part_size=5 * MiB, progress=True)
    finally:
        run_logger.removeHandler(caplog.handler)
    assert 1 <= len(lines()) <= 3, lines()
    name, last = lines()[-1]
    assert name == "orch.runs"
    assert last.startswith(f"s3_upload {target}: 11.0 MiB in ") and last.endswith(" MiB/s)")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        data = s3_download.fn(bucket, "p.bin", part_size=5 * MiB, progress=True)
    assert len(data) == 11 * MiB
    name, last = lines()[-1]
    assert name == "orch_aws"
    assert last.startswith(f"s3_download {target}: 11.0 MiB in "), lines()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        s3_upload(bucket, b"quiet", "q.bin", progress=False)
        s3_upload(bucket, b"small", "s.bin")  # progress=None: a quick transfer says nothing
    assert lines() == []


@pytest.mark.usefixtures("flush_history")
def test_progress_reaches_orch_runs_logs_off_a_terminal(bucket: S3Bucket) -> None:
    # Before: the lines went to getLogger("orch_aws.s3") only, so the run's log had none.
    from orch import flow, history

    @flow(name="aws-progress")
    def publish() -> str:
        return str(s3_upload(bucket, os.urandom(6 * MiB), "logged.bin", progress=True))

    assert publish() == "logged.bin"
    history.flush()
    runs = json.loads(orch_cli("runs", "ls", "--flow", "aws-progress", "--json").stdout)
    logs = orch_cli("runs", "logs", runs[0]["id"], "--json")
    assert logs.returncode == 0, logs.stderr
    messages = [r["message"] for r in json.loads(logs.stdout)]
    target = f"s3://{bucket.bucket_name}/data/logged.bin"
    assert any(m.startswith(f"s3_upload {target}: 6.0 MiB in ") for m in messages), messages


# --- list ------------------------------------------------------------------------------


def test_list_with_prefix_and_glob(bucket: S3Bucket) -> None:
    for key in ("2024/01/a.csv", "2024/01/b.json", "2024/02/c.csv", "2025/d.csv"):
        _put(bucket, f"data/{key}")
    _put(bucket, "outside.csv")  # not under the folder
    everything = [o["key"] for o in s3_list(bucket)]
    assert everything == ["2024/01/a.csv", "2024/01/b.json", "2024/02/c.csv", "2025/d.csv"]
    assert [o["key"] for o in s3_list(bucket, prefix="2024/")] == everything[:3]
    assert [o["key"] for o in s3_list(bucket, glob="2024/*.csv")] == [
        "2024/01/a.csv",
        "2024/02/c.csv",
    ]
    assert [o["key"] for o in s3_list(bucket, prefix="2025/", glob="2024/*")] == []
    first = next(iter(s3_list(bucket, prefix="2025")))
    assert first["size"] == 1
    assert set(first) == {"key", "size", "last_modified", "etag"}


def test_list_asks_for_the_first_page_in_the_task_then_pages_lazily(bucket: S3Bucket) -> None:
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: _put(bucket, f"data/many/{i:05d}"), range(1100)))
    client = bucket.get_client()
    with count_calls(client, "ListObjectsV2") as calls:
        listing = s3_list(bucket, prefix="many/")
        assert len(calls) == 1  # the first page, inside the task (so its errors fail it)
        assert next(iter(listing))["key"] == "many/00000"
        assert len(calls) == 1
        assert sum(1 for _ in listing) == 1099
        assert len(calls) == 2


def test_list_of_a_missing_bucket_fails_its_task_run(creds: AwsCredentials) -> None:
    # Before: s3_list returned an unstarted generator, so the task run was Completed and
    # the error came later, in the caller's loop, outside the task and its retries.
    from orch import flow

    missing = S3Bucket(bucket_name=unique("orch-missing"), credentials=creds)
    missing.save("gone-list")
    missing = S3Bucket.load("gone-list")

    @flow
    def listing() -> tuple[str, str]:
        future = s3_list.submit(missing)
        future.wait()
        with pytest.raises(S3NotFoundError) as info:
            future.result()
        return future.state.name, str(info.value)

    state, message = listing()
    assert state == "Failed"
    assert missing.bucket_name in message and "s3-bucket/gone-list" in message


# --- copy / move / delete / exists --------------------------------------------------------


def test_copy_move_and_exists(bucket: S3Bucket, creds: AwsCredentials) -> None:
    s3_upload(bucket, b"payload", "src.txt")
    assert s3_copy(bucket, "src.txt", "copy.txt") == "copy.txt"
    other = S3Bucket(bucket_name=unique("orch-other"), credentials=creds)
    creds.get_client("s3").create_bucket(Bucket=other.bucket_name)
    s3_copy(bucket, "src.txt", "elsewhere.txt", dest_bucket=other)
    assert s3_download(other, "elsewhere.txt") == b"payload"
    assert s3_move(bucket, "copy.txt", "moved.txt") == "moved.txt"
    assert s3_exists(bucket, "moved.txt")
    assert not s3_exists(bucket, "copy.txt")
    assert s3_exists(bucket, "src.txt")


def test_delete_is_batched_by_1000(bucket: S3Bucket) -> None:
    for key in ("k1", "k2", "k3"):
        _put(bucket, f"data/{key}")
    keys = ["k1", "k2", "k3", *(f"absent-{i}" for i in range(2497))]
    with count_calls(bucket.get_client(), "DeleteObjects") as calls:
        assert s3_delete(bucket, iter(keys)) == 2500
    assert len(calls) == 3
    assert _keys(bucket) == []
    _put(bucket, "data/single")
    assert s3_delete(bucket, "single") == 1
    assert _keys(bucket) == []


# --- errors ----------------------------------------------------------------------------


def test_missing_bucket_names_the_bucket_and_the_block(creds: AwsCredentials) -> None:
    missing = S3Bucket(bucket_name=unique("orch-missing"), credentials=creds)
    missing.save("lake")
    missing = S3Bucket.load("lake")
    with pytest.raises(S3NotFoundError) as info:
        s3_exists(missing, "x")
    message = str(info.value)
    assert missing.bucket_name in message
    assert "s3-bucket/lake" in message
    assert info.value.__cause__ is not None
    with pytest.raises(S3NotFoundError, match=missing.bucket_name):
        s3_upload(missing, b"x", "x")
    with pytest.raises(S3NotFoundError, match="s3-bucket/lake"):
        s3_list(missing)  # the task itself fails: no need to iterate


def test_access_denied_names_the_object_never_the_keys(
    moto_iam_server: str, iam_nobody: dict[str, str]
) -> None:
    key = iam_nobody
    nobody = AwsCredentials(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
        endpoint_url=moto_iam_server,
    )
    nobody.save("nobody")
    S3Bucket(bucket_name="locked-bucket", credentials=AwsCredentials.load("nobody")).save("locked")
    bucket = S3Bucket.load("locked")
    for call in (
        lambda: s3_upload(bucket, b"x", "secret.txt"),
        lambda: s3_download(bucket, "secret.txt"),
        lambda: list(s3_list(bucket)),
        lambda: s3_exists(bucket, "secret.txt"),
        lambda: s3_copy(bucket, "secret.txt", "copy.txt"),
        lambda: s3_delete(bucket, ["secret.txt"]),
    ):
        with pytest.raises(S3AccessDeniedError) as info:
            call()
        message = str(info.value)
        assert "locked-bucket" in message
        assert "s3-bucket/locked" in message
        assert "aws-credentials/nobody" in message
        assert key["AccessKeyId"] not in message
        assert key["SecretAccessKey"] not in message
        assert isinstance(info.value, PermissionError)


def test_bad_input_is_refused_up_front(creds: AwsCredentials, bucket: S3Bucket) -> None:
    with pytest.raises(ValueError, match="bucket_name"):
        S3Bucket(bucket_name="No_Such", credentials=creds)
    with pytest.raises(ValueError, match="bucket_name"):  # the whole name must match
        S3Bucket(bucket_name="data\n", credentials=creds)
    with pytest.raises(ValueError, match="5 MiB"):
        s3_upload(bucket, b"x", "x", part_size=1024)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        s3_upload(bucket, "/nowhere/at/all", "x")
    assert S3Bucket(bucket_name="abc", bucket_folder="/a/b/").object_key("k") == "a/b/k"


# moto serves every bucket from any region, so the answer of S3 to a client in the wrong
# region (a documented 301 PermanentRedirect with x-amz-bucket-region) comes from a fake.
_REDIRECT = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PermanentRedirect</Code>'
    b"<Message>The bucket you are attempting to access must be addressed using the specified "
    b"endpoint. Please send all future requests to this endpoint.</Message>"
    b"<Endpoint>eu-bucket.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>eu-bucket</Bucket>"
    b"<RequestId>R</RequestId><HostId>H</HostId></Error>"
)


class _WrongRegion(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b"" if self.command == "HEAD" else _REDIRECT
        self.send_response(301)
        self.send_header("x-amz-bucket-region", "eu-west-1")
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def wrong_region_endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WrongRegion)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_wrong_region_names_the_bucket_region_and_block(wrong_region_endpoint: str) -> None:
    creds = AwsCredentials(
        aws_access_key_id="AKIAWRONGREGION00000",
        aws_secret_access_key="wrong-region-secret",
        region_name="us-east-1",
        endpoint_url=wrong_region_endpoint,
        max_attempts=1,
    )
    creds.save("us")
    S3Bucket(bucket_name="eu-bucket", credentials=AwsCredentials.load("us")).save("eu")
    bucket = S3Bucket.load("eu")
    for call in (lambda: s3_download(bucket, "k"), lambda: s3_exists(bucket, "k")):
        with pytest.raises(S3Error, match="wrong region") as info:
            call()
        message = str(info.value)
        assert "'eu-west-1'" in message
        assert "s3://eu-bucket/k" in message
        assert "s3-bucket/eu" in message
        assert "aws-credentials/us" in message
        assert "AKIAWRONGREGION00000" not in message
        assert "wrong-region-secret" not in message


def test_tasks_run_in_a_flow_concurrently(bucket: S3Bucket) -> None:
    from orch import flow

    @flow
    def publish(names: list[str]) -> list[str]:
        futures = [s3_upload.submit(bucket, name.encode(), f"out/{name}") for name in names]
        keys = [f.result() for f in futures]
        listed = [o["key"] for o in s3_list(bucket, prefix="out/")]
        assert sorted(keys) == listed  # type: ignore[type-var]
        return listed

    assert publish(["a", "b", "c"]) == ["out/a", "out/b", "out/c"]
    assert s3_download.fn(bucket, "out/b") == b"b"


def test_progress_bar_on_a_terminal(bucket: S3Bucket) -> None:
    import pty
    import subprocess
    import sys

    creds = bucket.credentials
    child = f"""
import os
from orch_aws import AwsCredentials, S3Bucket
from orch_aws.tasks import s3_upload
creds = AwsCredentials(aws_access_key_id="testing", aws_secret_access_key="testing-secret",
                       region_name="{REGION}", endpoint_url="{creds.endpoint_url}")
s3_upload(S3Bucket(bucket_name="{bucket.bucket_name}", bucket_folder="data", credentials=creds),
          os.urandom(11 * 1024 * 1024), "tty.bin", part_size=5 * 1024 * 1024)
"""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", child], stderr=follower, stdout=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 0, output.decode(errors="replace")[-2000:]
    text = output.decode(errors="replace")
    assert "s3_upload s3://" in text
    assert "\u2501" in text  # rich's bar glyph: a live bar, not log lines
    assert "starting" not in text
    assert s3_exists(bucket, "tty.bin")


def test_a_target_ending_in_a_slash_is_a_directory(bucket: S3Bucket, tmp_path: Path) -> None:
    s3_upload(bucket, b"rows", "2024/orders.csv")
    out = s3_download(bucket, "2024/orders.csv", f"{tmp_path}/new-folder/")
    assert out == (tmp_path / "new-folder" / "orders.csv").resolve()
    assert out.read_bytes() == b"rows"
    with pytest.raises(S3NotFoundError):
        s3_download(bucket, "2024/absent.csv", f"{tmp_path}/other-folder/")
    assert not (tmp_path / "other-folder").exists()


def test_a_copy_to_a_missing_bucket_names_the_destination(
    bucket: S3Bucket, creds: AwsCredentials
) -> None:
    s3_upload(bucket, b"payload", "src.txt")
    S3Bucket(bucket_name=unique("orch-gone"), credentials=creds).save("gone")
    gone = S3Bucket.load("gone")
    for task in (s3_copy, s3_move):
        with pytest.raises(S3NotFoundError) as info:
            task(bucket, "src.txt", "dst.txt", dest_bucket=gone)
        message = str(info.value)
        assert f"bucket {gone.bucket_name!r} does not exist" in message
        assert "s3-bucket/gone" in message
    assert s3_exists(bucket, "src.txt")  # a failed move keeps its source
    # and a missing source names the source
    with pytest.raises(S3NotFoundError, match=rf"s3://{bucket.bucket_name}/data/absent\.txt"):
        s3_copy(bucket, "absent.txt", "dst.txt", dest_bucket=gone)


def test_a_missing_profile_names_the_block_and_the_profile(creds: AwsCredentials) -> None:
    from orch_aws.errors import AwsError

    S3Bucket(
        bucket_name="abc",
        credentials=AwsCredentials(profile_name="no-such-profile", endpoint_url=creds.endpoint_url),
    ).save("by-profile")
    bucket = S3Bucket.load("by-profile")
    for call in (
        lambda: s3_exists(bucket, "k"),
        lambda: s3_delete(bucket, ["k"]),
        lambda: list(s3_list(bucket)),
        lambda: s3_download(bucket, "k"),
    ):
        with pytest.raises(AwsError) as info:
            call()
        assert "no-such-profile" in str(info.value)
        assert "s3-bucket/by-profile" in str(info.value)
        assert info.value.__cause__ is not None
