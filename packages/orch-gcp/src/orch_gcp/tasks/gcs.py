"""Cloud Storage tasks: upload, download, list, copy, delete, exists.

Each task takes a :class:`~orch_gcp.GcsBucket` first and plain values after, and returns
plain Python data; paths are relative to the bucket's ``bucket_folder``. The client comes
from the bucket's credentials (cached per process); each object goes through
google-cloud-storage's own ``upload_from_filename``/``download_to_filename``, so the
throughput of one object is the SDK's, and a folder moves ``max_workers`` objects at a
time. An object appears only once its upload completed (a failed upload leaves none); a
download is written beside its target and renamed into place when complete. Progress goes
through the kit's ``Progress`` (logger ``orch_gcp``).
"""

from __future__ import annotations

import fnmatch
import io
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from orch import task
from orch.integration import Progress, block_label

from orch_gcp.connector import GcsBucket, atomic_file
from orch_gcp.errors import GcpError, GcpNotFoundError, gcp_errors

__all__ = ["gcs_copy", "gcs_delete", "gcs_download", "gcs_exists", "gcs_list", "gcs_upload"]

DEFAULT_WORKERS = 16


def _progress(description: str, total: int, progress: bool | None, unit: str = "bytes") -> Progress:
    return Progress(
        description,
        total=total or None,
        unit=unit,
        enabled=progress is not False,
        min_seconds=1.0 if progress is None else 0.0,
        logger="orch_gcp",
    )


def _check_bucket(bucket: object, action: str) -> GcsBucket:
    if not isinstance(bucket, GcsBucket):
        raise TypeError(
            f"{action}: bucket must be a GcsBucket block (GcsBucket.load('name')), got "
            f"{type(bucket).__name__}"
        )
    return bucket


def _in_parallel(
    work: list[Any], run: Callable[[Any], None], max_workers: int, name_of: Callable[[Any], str]
) -> None:
    """Run ``run(item)`` for each item, ``max_workers`` at a time; the first failure stops
    the rest from starting and is raised with the name of its object."""
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers}")
    if len(work) <= 1 or max_workers == 1:
        for item in work:
            run(item)
        return
    with ThreadPoolExecutor(max_workers=min(max_workers, len(work))) as pool:
        futures = [pool.submit(run, item) for item in work]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _safe_join(root: Path, relative: str, *, bucket: GcsBucket, name: str) -> Path:
    """``root/relative``, refusing a name that would land outside ``root`` (``../x``, ``/x``)."""
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("..", ".") for p in parts) or "\\" in relative:
        raise GcpError(
            f"gcs_download: refused object {bucket.url(name)} (block {block_label(bucket)}): "
            f"it would be written outside the target directory {str(root)!r}",
            "UnsafeName",
        )
    dest = (root / relative).resolve()
    if not dest.is_relative_to(root.resolve()):
        raise GcpError(
            f"gcs_download: refused object {bucket.url(name)} (block {block_label(bucket)}): "
            f"it resolves outside {str(root)!r}",
            "UnsafeName",
        )
    return dest


class _Tellable:
    """A stream that cannot seek, given the ``tell()`` resumable uploads ask for: it is
    uploaded in chunks of unknown total size, and never read twice."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._position += len(data)
        return data

    def tell(self) -> int:
        return self._position


@task
def gcs_upload(
    bucket: GcsBucket,
    source: str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes],
    path: str,
    *,
    content_type: str | None = None,
    max_workers: int = DEFAULT_WORKERS,
    progress: bool | None = None,
) -> str | list[str]:
    """Upload a file, bytes, a binary file object, or a whole folder to ``path``.

    A folder is uploaded under ``path/`` with its relative paths, ``max_workers`` files
    at a time. An object appears only when its upload completed: one that fails midway
    leaves no object behind. Returns the path written (relative to ``bucket_folder``), or
    the paths for a folder.

    Example:
        from orch_gcp import GcsBucket, gcs_upload

        gcs_upload(GcsBucket.load("sales-raw"), "exports/", "2024/06/01")
    """
    bucket = _check_bucket(bucket, "gcs_upload")
    handle = bucket.get_bucket("gcs_upload")
    uploads: list[tuple[Any, str, int]] = []  # (file name or object, relative path, size)
    is_dir = False
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        uploads.append((io.BytesIO(data), path, len(data)))
    elif isinstance(source, str | os.PathLike):
        local = Path(source)
        if local.is_dir():
            is_dir = True
            base = path.strip("/")
            for file in sorted(p for p in local.rglob("*") if p.is_file()):
                rel = file.relative_to(local).as_posix()
                uploads.append((str(file), f"{base}/{rel}" if base else rel, file.stat().st_size))
        elif local.is_file():
            uploads.append((str(local), path, local.stat().st_size))
        else:
            raise FileNotFoundError(f"gcs_upload: no such file or folder {str(local)!r}")
    elif hasattr(source, "read"):
        seekable = getattr(source, "seekable", None)
        uploads.append((source if seekable and seekable() else _Tellable(source), path, 0))
    else:
        raise TypeError(
            "gcs_upload: source must be a path, bytes or a binary file object, "
            f"got {type(source).__name__}"
        )
    total = sum(size for _, _, size in uploads)
    target = bucket.url(bucket.object_name(path))

    with _progress(f"gcs_upload {target}", total, progress) as bar:

        def upload(item: tuple[Any, str, int]) -> None:
            what, rel, size = item
            name = bucket.object_name(rel)
            blob = handle.blob(name)
            try:
                if isinstance(what, str):
                    blob.upload_from_filename(what, content_type=content_type)
                else:
                    blob.upload_from_file(what, content_type=content_type, rewind=False)
            except gcp_errors() as exc:
                raise bucket.fail(exc, "gcs_upload", name) from exc
            bar.advance(size)

        _in_parallel(uploads, upload, max_workers, lambda item: item[1])
    paths = [rel for _, rel, _ in uploads]
    return paths if is_dir else paths[0]


@task
def gcs_download(
    bucket: GcsBucket,
    path: str,
    target: str | os.PathLike[str] | None = None,
    *,
    max_workers: int = DEFAULT_WORKERS,
    progress: bool | None = None,
) -> bytes | Path | list[Path]:
    """Download an object to bytes, to a file, or every object under a folder to a folder.

    - ``target=None``: returns the object's bytes.
    - ``path`` an object, ``target`` a file: written beside it, then renamed into place
      (an interrupted download leaves the old file, or none); returns the file's path.
    - ``path`` ending in ``/``: every object under it, into the folder ``target``, with
      their relative paths; a name that would land outside it (``../``) is refused.

    Example:
        from orch_gcp import GcsBucket, gcs_download

        gcs_download(GcsBucket.load("sales-raw"), "2024/06/01/orders.csv", "orders.csv")
    """
    bucket = _check_bucket(bucket, "gcs_download")
    handle = bucket.get_bucket("gcs_download")
    name = bucket.object_name(path)
    if target is None:
        try:
            return bytes(handle.blob(name).download_as_bytes())
        except gcp_errors() as exc:
            raise bucket.fail(exc, "gcs_download", name) from exc
    dest = Path(target).absolute()
    if not path.endswith("/"):
        if dest.is_dir():
            dest = dest / Path(name).name
        with _progress(f"gcs_download {bucket.url(name)}", 0, progress) as bar:
            with atomic_file(dest) as part:
                try:
                    handle.blob(name).download_to_filename(str(part))
                except gcp_errors() as exc:
                    raise bucket.fail(exc, "gcs_download", name) from exc
            bar.advance(dest.stat().st_size)
        return dest
    listing = _list(bucket, path, "gcs_download")
    work = []
    for blob in listing:
        rel = blob.name[len(name) :]
        if not rel or rel.endswith("/"):
            continue  # the "folder" placeholder objects some tools write
        work.append((blob, _safe_join(dest, rel, bucket=bucket, name=blob.name)))
    total = sum(blob.size or 0 for blob, _ in work)
    with _progress(f"gcs_download {bucket.url(name)}", total, progress) as bar:

        def download(item: tuple[Any, Path]) -> None:
            blob, file = item
            with atomic_file(file) as part:
                try:
                    blob.download_to_filename(str(part))
                except gcp_errors() as exc:
                    raise bucket.fail(exc, "gcs_download", blob.name) from exc
            bar.advance(blob.size or 0)

        _in_parallel(work, download, max_workers, lambda item: item[0].name)
    return [file for _, file in work]


def _list(bucket: GcsBucket, prefix: str, action: str, delimiter: str | None = None) -> list[Any]:
    full = bucket.object_name(prefix) if prefix else bucket.bucket_folder
    try:
        return list(
            bucket.get_client().list_blobs(bucket.bucket, prefix=full or None, delimiter=delimiter)
        )
    except gcp_errors() as exc:
        raise bucket.fail(exc, action, full or None) from exc


@task
def gcs_list(
    bucket: GcsBucket, prefix: str = "", *, glob: str | None = None, delimiter: str | None = None
) -> list[dict[str, Any]]:
    """The objects under ``prefix``: ``path`` (relative to ``bucket_folder``), ``name``
    (the full name), ``size``, ``updated``, ``md5_hash``, ``content_type``.

    ``glob`` filters the relative paths (``"*.csv"``); ``delimiter="/"`` stops at the next
    "folder" level. A missing bucket fails the task.

    Example:
        from orch_gcp import GcsBucket, gcs_list

        [o["path"] for o in gcs_list(GcsBucket.load("sales-raw"), "2024/", glob="*.csv")]
    """
    bucket = _check_bucket(bucket, "gcs_list")
    found = []
    for blob in _list(bucket, prefix, "gcs_list", delimiter):
        rel = bucket.relative_name(blob.name)
        if glob is not None and not fnmatch.fnmatchcase(rel, glob):
            continue
        found.append(
            {
                "path": rel,
                "name": blob.name,
                "size": blob.size,
                "updated": blob.updated,
                "md5_hash": blob.md5_hash,
                "content_type": blob.content_type,
            }
        )
    return found


@task
def gcs_copy(
    bucket: GcsBucket,
    source: str,
    destination: str,
    *,
    destination_bucket: GcsBucket | None = None,
) -> str:
    """Copy the object ``source`` to ``destination`` (in ``destination_bucket``, default:
    the same bucket), server-side; returns the destination path.

    Example:
        from orch_gcp import GcsBucket, gcs_copy

        gcs_copy(GcsBucket.load("sales-raw"), "2024/06/01.csv", "archive/2024/06/01.csv")
    """
    bucket = _check_bucket(bucket, "gcs_copy")
    into = destination_bucket or bucket
    name = bucket.object_name(source)
    handle = bucket.get_bucket("gcs_copy")
    try:
        handle.copy_blob(
            handle.blob(name), into.get_bucket("gcs_copy"), into.object_name(destination)
        )
    except gcp_errors() as exc:
        raise bucket.fail(exc, "gcs_copy", name) from exc
    return destination


@task
def gcs_delete(
    bucket: GcsBucket, paths: str | Iterable[str], *, max_workers: int = DEFAULT_WORKERS
) -> int:
    """Delete one object or many; a path ending in ``/`` deletes everything under it.
    Objects already gone are skipped (a retried task is not an error). Returns how many
    objects were deleted.

    Example:
        from orch_gcp import GcsBucket, gcs_delete

        gcs_delete(GcsBucket.load("sales-raw"), ["tmp/a.csv", "tmp/b.csv"])
    """
    import google.api_core.exceptions as api

    bucket = _check_bucket(bucket, "gcs_delete")
    handle = bucket.get_bucket("gcs_delete")
    names: list[str] = []
    for path in [paths] if isinstance(paths, str) else list(paths):
        if path.endswith("/"):
            names.extend(blob.name for blob in _list(bucket, path, "gcs_delete"))
        else:
            names.append(bucket.object_name(path))
    deleted: list[str] = []

    def delete(name: str) -> None:
        try:
            handle.blob(name).delete()
        except api.NotFound:
            if not gcs_bucket_exists(bucket, "gcs_delete"):
                raise _no_bucket(bucket, "gcs_delete") from None
            return
        except gcp_errors() as exc:
            raise bucket.fail(exc, "gcs_delete", name) from exc
        deleted.append(name)

    _in_parallel(names, delete, max_workers, str)
    return len(deleted)


def gcs_bucket_exists(bucket: GcsBucket, action: str = "gcs_bucket_exists") -> bool:
    """Whether the bucket itself exists (not a task: a helper of the tasks).

    Example:
        gcs_bucket_exists(GcsBucket.load("sales-raw"))
    """
    try:
        return bool(bucket.get_bucket(action).exists())
    except gcp_errors() as exc:
        raise bucket.fail(exc, action, None) from exc


@task
def gcs_exists(bucket: GcsBucket, path: str) -> bool:
    """Whether the object ``path`` exists (a missing bucket is an error, not ``False``).

    Example:
        from orch_gcp import GcsBucket, gcs_exists

        gcs_exists(GcsBucket.load("sales-raw"), "2024/06/01.csv")
    """
    bucket = _check_bucket(bucket, "gcs_exists")
    name = bucket.object_name(path)
    try:
        if bucket.get_bucket("gcs_exists").blob(name).exists():
            return True
    except gcp_errors() as exc:
        raise bucket.fail(exc, "gcs_exists", name) from exc
    if not gcs_bucket_exists(bucket, "gcs_exists"):
        raise _no_bucket(bucket, "gcs_exists")
    return False


def _no_bucket(bucket: GcsBucket, action: str) -> GcpNotFoundError:
    return GcpNotFoundError(
        f"{action}: gs://{bucket.bucket} does not exist ({block_label(bucket)})", code="404"
    )
