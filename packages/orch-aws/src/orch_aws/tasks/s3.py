"""S3 tasks: upload, download, list, copy, move, delete, exists.

Each task takes an :class:`~orch_aws.S3Bucket` first and plain values after, and
returns plain Python data; keys are relative to the bucket's ``bucket_folder``. The client
comes from the bucket's credentials (cached per process); transfers go through boto3's own
transfer manager, the engine of ``upload_file``/``download_file``, so throughput is the
SDK's. Progress goes through the kit's ``Progress`` (logger ``orch_aws``): a bar on a
terminal, lines in the run's log otherwise. Also importable from :mod:`orch_aws.tasks` and
:mod:`orch_aws`.
"""

from __future__ import annotations

import fnmatch
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from orch import task
from orch.integration import Progress, block_label, glob_prefix

from orch_aws.connector import S3Bucket
from orch_aws.errors import S3Error, aws_errors, s3_error, s3_key_errors

__all__ = ["s3_copy", "s3_delete", "s3_download", "s3_exists", "s3_list", "s3_move", "s3_upload"]

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 8 * MiB
DEFAULT_CONCURRENCY = 10
DELETE_BATCH = 1000  # the most keys S3's DeleteObjects accepts in one request

# --- shared plumbing ----------------------------------------------------------------------


def _transfer_config(part_size: int, max_concurrency: int) -> Any:
    from boto3.s3.transfer import TransferConfig

    if part_size < 5 * MiB:
        raise ValueError(f"part_size must be at least 5 MiB (S3's minimum), got {part_size}")
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    return TransferConfig(
        multipart_threshold=part_size,
        multipart_chunksize=part_size,
        max_concurrency=max_concurrency,
    )


def _manager(bucket: S3Bucket, part_size: int, max_concurrency: int) -> Any:
    from boto3.s3.transfer import create_transfer_manager

    return create_transfer_manager(
        bucket.get_client(), _transfer_config(part_size, max_concurrency)
    )


def _client(bucket: S3Bucket, action: str) -> Any:
    """The bucket's cached client; one that cannot be built (a missing profile, say) is an
    error naming the bucket and its block, like any failed call."""
    return bucket._client(action)


def _progress(description: str, total: int, progress: bool | None) -> Progress:
    """The kit's reporter: ``None`` skips the summary of quick transfers (under a second),
    so a log of many small objects stays short; ``False`` is silent."""
    return Progress(
        description,
        total=total or None,
        unit="bytes",
        enabled=progress is not False,
        min_seconds=1.0 if progress is None else 0.0,
        logger="orch_aws",
    )


class _KnownObject:
    """An s3transfer subscriber that hands over an object's size and ETag, already known from
    our HEAD or listing, so the transfer does not ask S3 again: a download makes as many
    requests as boto3's ``download_file`` (a prefix, one fewer per object), and the ETag
    still guards a multipart download against the object changing midway (``IfMatch``)."""

    def __init__(self, size: int, etag: str | None) -> None:
        self.size = size
        self.etag = etag

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self.size)
        # s3transfer before 0.11 has no ETag check, and then asks for nothing more
        if self.etag and hasattr(future.meta, "provide_object_etag"):
            future.meta.provide_object_etag(self.etag)


def _subscribers(progress: Progress, known: _KnownObject | None = None) -> list[Any]:
    subscribers: list[Any] = [] if known is None else [known]
    if not progress.enabled:
        return subscribers  # no per-read callback at all: the raw SDK path, byte for byte
    from boto3.s3.transfer import ProgressCallbackInvoker

    return [*subscribers, ProgressCallbackInvoker(progress.advance)]


def _is_missing(exc: BaseException) -> bool:
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
    return code in ("404", "NoSuchKey", "NotFound")


def _raise_if_bucket_missing(
    bucket: S3Bucket, action: str, client: Any, original: BaseException
) -> None:
    """A HEAD answers 404 both for a missing key and a missing bucket: tell them apart."""
    try:
        client.head_bucket(Bucket=bucket.bucket_name)
    except aws_errors() as exc:
        raise s3_error(
            exc, action=action, bucket=bucket, bucket_name=bucket.bucket_name
        ) from original


def _head(bucket: S3Bucket, full: str, action: str) -> _KnownObject:
    """Size and ETag of the object ``full`` (for the progress total, and for s3transfer)."""
    client = _client(bucket, action)
    try:
        response = client.head_object(Bucket=bucket.bucket_name, Key=full)
    except aws_errors() as exc:
        if _is_missing(exc):
            _raise_if_bucket_missing(bucket, action, client, exc)
        raise s3_error(
            exc, action=action, bucket=bucket, bucket_name=bucket.bucket_name, key=full
        ) from exc
    return _KnownObject(int(response["ContentLength"]), response.get("ETag"))


def _safe_join(root: Path, relative: str, *, bucket: S3Bucket, key: str) -> Path:
    """``root/relative``, refusing a key that would land outside ``root`` (``../x``, ``/x``)."""
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("..", ".") for p in parts) or "\\" in relative:
        raise S3Error(
            f"s3_download: refused key {key!r} of bucket {bucket.bucket_name!r} (block "
            f"{block_label(bucket)}): it would be written outside the target directory "
            f"{str(root)!r}",
            "UnsafeKey",
        )
    dest = (root / relative).resolve()
    if not dest.is_relative_to(root.resolve()):
        raise S3Error(
            f"s3_download: refused key {key!r} of bucket {bucket.bucket_name!r} (block "
            f"{block_label(bucket)}): it resolves outside {str(root)!r}",
            "UnsafeKey",
        )
    return dest


def _upload_arguments(
    bucket: object,
    source: str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | None,
    key: str | None,
    from_path: str | os.PathLike[str] | None,
    to_path: str | None,
    data: bytes | None,
) -> tuple[str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes], str]:
    """``(source, key)`` of s3_upload, from orch's names or Prefect's (``from_path``,
    ``data``, ``to_path``), so a call moved from Prefect works or says what to change."""
    if not isinstance(bucket, S3Bucket):
        raise TypeError(
            "s3_upload: bucket must be an S3Bucket block (S3Bucket.load('name')), got "
            f"{type(bucket).__name__}: orch's S3 tasks take the block, which carries the "
            "bucket name and its credentials, not a name plus aws_credentials"
        )
    given = {"source": source, "from_path": from_path, "data": data}
    named = [name for name, value in given.items() if value is not None]
    if len(named) != 1:
        raise TypeError(
            "s3_upload: give what to upload once, as source (or Prefect's from_path= or "
            f"data=); got {', '.join(named) or 'none of them'}"
        )
    if key is not None and to_path is not None:
        raise TypeError("s3_upload: give key or Prefect's to_path=, not both")
    target = key if key is not None else to_path
    if target is None:
        if from_path is None:
            raise TypeError("s3_upload: key (or Prefect's to_path=) is required")
        target = Path(from_path).name  # as S3Bucket.upload_from_path does
    chosen = given[named[0]]
    assert chosen is not None
    return chosen, target


# --- the tasks ----------------------------------------------------------------------------


@task
def s3_upload(
    bucket: S3Bucket,
    source: str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | None = None,
    key: str | None = None,
    *,
    part_size: int = DEFAULT_PART_SIZE,
    max_concurrency: int = DEFAULT_CONCURRENCY,
    extra_args: dict[str, Any] | None = None,
    progress: bool | None = None,
    from_path: str | os.PathLike[str] | None = None,
    to_path: str | None = None,
    data: bytes | None = None,
) -> str | list[str]:
    """Upload a file, bytes, a binary file object, or a whole directory to ``key``.

    Objects larger than ``part_size`` go up in parts, ``max_concurrency`` at a time. If
    anything fails midway the multipart upload is aborted: no parts are left behind and
    no object appears. A directory is uploaded under ``key/`` with its relative paths.
    ``progress``: ``None`` shows a bar on a terminal and log lines otherwise.
    Prefect's argument names work too: ``from_path=`` or ``data=`` for ``source``,
    ``to_path=`` for ``key`` (default with ``from_path``: the file's name).

    Returns the key written (relative to ``bucket_folder``), or the keys for a directory.

    Example:
        from orch_aws import S3Bucket
        from orch_aws.tasks import s3_upload

        s3_upload(S3Bucket.load("sales-raw"), "exports/day.parquet", "2024/06/01.parquet")
    """
    source, key = _upload_arguments(bucket, source, key, from_path, to_path, data)
    uploads: list[tuple[Any, str, int]] = []  # (file name or object, relative key, size)
    is_dir = False
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        uploads.append((io.BytesIO(data), key, len(data)))
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            is_dir = True
            base = key.strip("/")
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = file.relative_to(path).as_posix()
                uploads.append((str(file), f"{base}/{rel}" if base else rel, file.stat().st_size))
        elif path.is_file():
            uploads.append((str(path), key, path.stat().st_size))
        else:
            raise FileNotFoundError(f"s3_upload: no such file or directory {str(path)!r}")
    elif hasattr(source, "read"):
        size = 0
        if hasattr(source, "seekable") and source.seekable():
            pos = source.tell()
            size = source.seek(0, os.SEEK_END) - pos
            source.seek(pos)
        uploads.append((source, key, size))
    else:
        raise TypeError(
            "s3_upload: source must be a path, bytes or a binary file object, "
            f"got {type(source).__name__}"
        )
    total = sum(size for _, _, size in uploads)
    target = f"s3://{bucket.bucket_name}/{bucket.object_key(key)}"
    current = key
    try:
        with _progress(f"s3_upload {target}", total, progress) as bar:
            with _manager(bucket, part_size, max_concurrency) as manager:
                futures = []
                for item, rel, _ in uploads:
                    current = rel
                    futures.append(
                        manager.upload(
                            item,
                            bucket.bucket_name,
                            bucket.object_key(rel),
                            extra_args=extra_args,
                            subscribers=_subscribers(bar),
                        )
                    )
                for future, (_, rel, _) in zip(futures, uploads, strict=True):
                    current = rel
                    future.result()
    except aws_errors() as exc:
        raise s3_error(
            exc,
            action="s3_upload",
            bucket=bucket,
            bucket_name=bucket.bucket_name,
            key=bucket.object_key(current),
        ) from exc
    keys = [rel for _, rel, _ in uploads]
    return keys if is_dir else keys[0]


@task
def s3_download(
    bucket: S3Bucket,
    key: str,
    target: str | os.PathLike[str] | None = None,
    *,
    part_size: int = DEFAULT_PART_SIZE,
    max_concurrency: int = DEFAULT_CONCURRENCY,
    progress: bool | None = None,
) -> bytes | Path:
    """Download an object to bytes, to a file, or every object under a prefix to a directory.

    - ``target=None``: returns the object's bytes.
    - ``target`` an existing directory, or a path ending in ``/`` (created if need be):
      writes ``target/<last part of key>``, like ``aws s3 cp``.
    - ``key`` ending in ``/`` (a prefix, ``""`` for the whole folder): writes every object
      under it into the directory ``target``, by relative path. A key that would escape
      the directory (``../x``) is refused.
    - otherwise ``target`` is the file to write (parent folders are created).

    Files are written to a temporary name and renamed when complete, so a failed download
    leaves nothing half-written. Returns the bytes, or the path written.

    Example:
        from orch_aws import S3Bucket
        from orch_aws.tasks import s3_download

        path = s3_download(S3Bucket.load("sales-raw"), "2024/06/01.parquet", "/tmp/day.parquet")
        raw = s3_download(S3Bucket.load("sales-raw"), "2024/06/01.parquet")  # bytes
    """
    is_prefix = key == "" or key.endswith("/")
    if target is None:
        if is_prefix:
            raise ValueError("s3_download: downloading a prefix needs a target directory")
        return _download_bytes(bucket, key, part_size, max_concurrency, progress)
    root = Path(target)
    # Path() drops a trailing slash, and with it the caller's intent: "out/" is a folder.
    into_dir = root.is_dir() or os.fspath(target).endswith(("/", os.sep))
    plan: list[tuple[str, Path, _KnownObject]] = []  # (full key, destination, size+ETag)
    if is_prefix:
        for obj in _iter_objects(bucket, bucket.object_key(key), "s3_download"):
            full = obj["Key"]
            rel = full[len(bucket.object_key(key)) :]
            if not rel or rel.endswith("/"):
                continue  # a "folder" marker object, not a file
            known = _KnownObject(obj["Size"], obj.get("ETag"))
            plan.append((full, _safe_join(root, rel, bucket=bucket, key=full), known))
        root.mkdir(parents=True, exist_ok=True)  # once the listing worked (and is safe)
    elif into_dir:
        name = key.rstrip("/").rsplit("/", 1)[-1]
        full = bucket.object_key(key)
        dest = _safe_join(root, name, bucket=bucket, key=full)
        known = _head(bucket, full, "s3_download")  # before any folder is made for it
        root.mkdir(parents=True, exist_ok=True)
        plan.append((full, dest, known))
    else:
        full = bucket.object_key(key)
        known = _head(bucket, full, "s3_download")  # before any folder is made for it
        root.parent.mkdir(parents=True, exist_ok=True)
        plan.append((full, root.resolve(), known))
    _download_files(bucket, plan, part_size, max_concurrency, progress)
    return root if is_prefix else plan[0][1]


def _download_bytes(
    bucket: S3Bucket, key: str, part_size: int, max_concurrency: int, progress: bool | None
) -> bytes:
    full = bucket.object_key(key)
    known = _head(bucket, full, "s3_download")
    buffer = io.BytesIO()
    try:
        with _progress(
            f"s3_download s3://{bucket.bucket_name}/{full}", known.size, progress
        ) as bar:
            with _manager(bucket, part_size, max_concurrency) as manager:
                manager.download(
                    bucket.bucket_name, full, buffer, subscribers=_subscribers(bar, known)
                ).result()
    except aws_errors() as exc:
        raise s3_error(
            exc, action="s3_download", bucket=bucket, bucket_name=bucket.bucket_name, key=full
        ) from exc
    return buffer.getvalue()


def _download_files(
    bucket: S3Bucket,
    plan: list[tuple[str, Path, _KnownObject]],
    part_size: int,
    max_concurrency: int,
    progress: bool | None,
) -> None:
    temps: list[tuple[str, Path]] = []
    current = plan[0][0] if plan else ""
    desc = f"s3_download s3://{bucket.bucket_name}/{current}" + (" ..." if len(plan) > 1 else "")
    try:
        with _progress(desc, sum(known.size for _, _, known in plan), progress) as bar:
            with _manager(bucket, part_size, max_concurrency) as manager:
                futures = []
                for full, dest, known in plan:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    fd, tmp = tempfile.mkstemp(
                        dir=dest.parent, prefix=f".{dest.name}.", suffix=".orch-partial"
                    )
                    os.close(fd)
                    temps.append((tmp, dest))
                    futures.append(
                        manager.download(
                            bucket.bucket_name, full, tmp, subscribers=_subscribers(bar, known)
                        )
                    )
                for future, (full, _, _) in zip(futures, plan, strict=True):
                    current = full
                    future.result()
        # Only once every object is complete do the files appear under their names.
        for tmp, dest in temps:
            os.replace(tmp, dest)
    except BaseException as exc:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, aws_errors()):
            raise s3_error(
                exc,
                action="s3_download",
                bucket=bucket,
                bucket_name=bucket.bucket_name,
                key=current,
            ) from exc
        raise


def _iter_objects(bucket: S3Bucket, prefix: str, action: str) -> Iterator[dict[str, Any]]:
    """The objects under ``prefix``: the first page is asked for now (so a missing bucket
    or a denied listing raises here, in the caller's task), the others while iterating."""
    client = _client(bucket, action)
    paginator = client.get_paginator("list_objects_v2")
    pages = iter(paginator.paginate(Bucket=bucket.bucket_name, Prefix=prefix))
    try:
        first = next(pages, None)
    except aws_errors() as exc:
        raise s3_error(
            exc, action=action, bucket=bucket, bucket_name=bucket.bucket_name, key=None
        ) from exc
    return _rest_of_listing(bucket, action, first, pages)


def _rest_of_listing(
    bucket: S3Bucket, action: str, first: dict[str, Any] | None, pages: Iterator[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    if first is None:
        return
    contents = first.get("Contents", ())
    # Drop our references to the first page before the next is fetched: a generator's
    # locals live as long as it does, and a page of 1,000 parsed objects is ~1 MiB.
    del first
    yield from contents
    del contents
    try:
        for page in pages:
            yield from page.get("Contents", ())
    except aws_errors() as exc:
        raise s3_error(
            exc, action=action, bucket=bucket, bucket_name=bucket.bucket_name, key=None
        ) from exc



@task
def s3_list(
    bucket: S3Bucket, prefix: str = "", glob: str | None = None
) -> Iterator[dict[str, Any]]:
    """Objects under ``prefix``, page by page (1,000 keys a request).

    The first page is listed inside the task, so a missing bucket or a denied listing
    fails the task (retried, recorded in the run history); the task then returns an
    iterator that lists the next pages as it is consumed (bounded memory).

    ``glob`` filters keys (relative to ``bucket_folder``) with shell wildcards; ``*``
    also matches ``/``. Its literal beginning narrows the listing on the server. Yields
    ``{"key", "size", "last_modified", "etag"}`` dicts.

    Example:
        from orch_aws import S3Bucket
        from orch_aws.tasks import s3_list

        for obj in s3_list(S3Bucket.load("sales-raw"), prefix="2024/", glob="*.parquet"):
            print(obj["key"], obj["size"])
    """
    effective = prefix
    if glob is not None:
        literal = glob_prefix(glob)
        if literal.startswith(prefix):
            effective = literal
        elif not prefix.startswith(literal):
            return iter(())  # the glob cannot match anything under prefix
    objects = _iter_objects(bucket, bucket.object_key(effective), "s3_list")
    return _entries(bucket, objects, glob)


def _entries(
    bucket: S3Bucket, objects: Iterator[dict[str, Any]], glob: str | None
) -> Iterator[dict[str, Any]]:
    for obj in objects:
        rel = bucket.relative_key(obj["Key"])
        if glob is not None and not fnmatch.fnmatchcase(rel, glob):
            continue
        yield {
            "key": rel,
            "size": obj["Size"],
            "last_modified": obj["LastModified"],
            "etag": str(obj.get("ETag", "")).strip('"'),
        }


def _copy(
    bucket: S3Bucket,
    key: str,
    dest_key: str,
    dest_bucket: S3Bucket | None,
    part_size: int,
    max_concurrency: int,
    action: str,
) -> str:
    dest = dest_bucket or bucket
    source = {"Bucket": bucket.bucket_name, "Key": bucket.object_key(key)}
    try:
        dest.get_client().copy(
            source,
            dest.bucket_name,
            dest.object_key(dest_key),
            Config=_transfer_config(part_size, max_concurrency),
        )
    except aws_errors() as exc:
        # The transfer reads the source (HeadObject), then writes the destination: name the
        # side that failed. S3 names the bucket of a NoSuchBucket; otherwise the operation
        # tells (an access denied on CopyObject/UploadPartCopy is the destination's policy).
        response = getattr(exc, "response", None) or {}
        named = (response.get("Error") or {}).get("BucketName")
        on_dest = dest is not bucket and (
            named == dest.bucket_name
            or (named is None and getattr(exc, "operation_name", None) != "HeadObject")
        )
        failed, failed_key = (
            (dest, dest.object_key(dest_key)) if on_dest else (bucket, source["Key"])
        )
        raise s3_error(
            exc, action=action, bucket=failed, bucket_name=failed.bucket_name, key=failed_key
        ) from exc
    return dest_key


@task
def s3_copy(
    bucket: S3Bucket,
    key: str,
    dest_key: str,
    dest_bucket: S3Bucket | None = None,
    *,
    part_size: int = DEFAULT_PART_SIZE,
    max_concurrency: int = DEFAULT_CONCURRENCY,
) -> str:
    """Copy an object on the server side (in parts when large); returns ``dest_key``.

    ``dest_bucket`` defaults to ``bucket``; its credentials must be able to read the source.

    Example:
        from orch_aws import S3Bucket
        from orch_aws.tasks import s3_copy

        s3_copy(S3Bucket.load("sales-raw"), "2024/06/01.parquet", "archive/2024-06-01.parquet")
    """
    return _copy(bucket, key, dest_key, dest_bucket, part_size, max_concurrency, "s3_copy")


@task
def s3_move(
    bucket: S3Bucket,
    key: str,
    dest_key: str,
    dest_bucket: S3Bucket | None = None,
    *,
    part_size: int = DEFAULT_PART_SIZE,
    max_concurrency: int = DEFAULT_CONCURRENCY,
) -> str:
    """Copy an object, then delete the source once the copy is complete; returns ``dest_key``.

    Example:
        from orch_aws import S3Bucket
        from orch_aws.tasks import s3_move

        s3_move(S3Bucket.load("sales-raw"), "incoming/day.csv", "done/day.csv")
    """
    _copy(bucket, key, dest_key, dest_bucket, part_size, max_concurrency, "s3_move")
    full = bucket.object_key(key)
    try:
        _client(bucket, "s3_move").delete_object(Bucket=bucket.bucket_name, Key=full)
    except aws_errors() as exc:
        raise s3_error(
            exc, action="s3_move", bucket=bucket, bucket_name=bucket.bucket_name, key=full
        ) from exc
    return dest_key


@task
def s3_delete(bucket: S3Bucket, keys: str | Iterable[str]) -> int:
    """Delete one key or many (1,000 per request); returns how many keys were deleted.

    Deleting a key that does not exist is not an error (S3 semantics); a key S3 refuses
    to delete is (the error lists them).

    Example:
        from orch_aws import S3Bucket
        from orch_aws.tasks import s3_delete, s3_list

        bucket = S3Bucket.load("sales-raw")
        s3_delete(bucket, (o["key"] for o in s3_list(bucket, prefix="tmp/")))
    """
    client = _client(bucket, "s3_delete")
    batch: list[dict[str, str]] = []
    deleted = 0

    def flush() -> int:
        try:
            response = client.delete_objects(
                Bucket=bucket.bucket_name, Delete={"Objects": batch, "Quiet": True}
            )
        except aws_errors() as exc:
            raise s3_error(
                exc,
                action="s3_delete",
                bucket=bucket,
                bucket_name=bucket.bucket_name,
                key=batch[0]["Key"],
            ) from exc
        errors = response.get("Errors") or []
        if errors:  # DeleteObjects answers 200 and lists the keys it refused in its body
            raise s3_key_errors("s3_delete", bucket, errors, "were not deleted")
        return len(batch)

    for key in [keys] if isinstance(keys, str) else keys:
        batch.append({"Key": bucket.object_key(key)})
        if len(batch) == DELETE_BATCH:
            deleted += flush()
            batch = []
    if batch:
        deleted += flush()
    return deleted


@task
def s3_exists(bucket: S3Bucket, key: str) -> bool:
    """Whether the object exists; a missing *bucket* is an error, not ``False``.

    Example:
        from orch_aws import S3Bucket
        from orch_aws.tasks import s3_exists

        if not s3_exists(S3Bucket.load("sales-raw"), "2024/06/01.parquet"):
            ...
    """
    client = _client(bucket, "s3_exists")
    full = bucket.object_key(key)
    try:
        client.head_object(Bucket=bucket.bucket_name, Key=full)
        return True
    except aws_errors() as exc:
        if not _is_missing(exc):
            raise s3_error(
                exc, action="s3_exists", bucket=bucket, bucket_name=bucket.bucket_name, key=full
            ) from exc
        _raise_if_bucket_missing(bucket, "s3_exists", client, exc)
    return False
