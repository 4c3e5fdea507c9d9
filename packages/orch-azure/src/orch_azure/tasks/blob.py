"""Blob Storage tasks: upload, download, list, copy, delete, exists, SAS URL.

Each task takes an :class:`~orch_azure.AzureBlobContainer` first and plain values after,
and returns plain Python data; names are relative to the container's ``folder``. The
client comes from the container's credentials (cached per process); transfers are the
SDK's own (``upload_blob`` in blocks, ``download_blob`` in ranges, ``max_concurrency`` at
a time), so throughput is the SDK's. Progress goes through the kit's ``Progress`` (logger
``orch_azure``): a bar on a terminal, lines in the run's log otherwise. Also importable
from :mod:`orch_azure.tasks` and :mod:`orch_azure`.
"""

from __future__ import annotations

import fnmatch
import functools
import io
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from orch import task
from orch.integration import Progress, block_label, glob_prefix

from orch_azure.connector import AzureBlobContainer
from orch_azure.errors import AzureError, AzureNotFoundError, azure_error, azure_errors

__all__ = [
    "blob_copy",
    "blob_delete",
    "blob_download",
    "blob_exists",
    "blob_list",
    "blob_sas_url",
    "blob_upload",
    "download_to_file",
]

DEFAULT_CONCURRENCY = 8
DELETE_BATCH = 256  # the most sub-requests one Blob Batch request accepts
LOGGER = "orch_azure"

# --- shared plumbing ----------------------------------------------------------------------


def _progress(description: str, total: int, progress: bool | None) -> Progress:
    """The kit's reporter: ``None`` skips the summary of quick transfers (under a second);
    ``False`` is silent."""
    return Progress(
        description,
        total=total or None,
        unit="bytes",
        enabled=progress is not False,
        min_seconds=1.0 if progress is None else 0.0,
        logger=LOGGER,
    )


class _Hooks:
    """Per-blob ``progress_hook``s (the SDK reports the bytes done of one blob) adding up
    into one :class:`Progress`."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self._done: dict[str, int] = {}
        self._lock = threading.Lock()

    def hook(self, name: str) -> Callable[[int, int | None], None] | None:
        if not self.progress.enabled:
            return None  # no callback at all: the raw SDK path

        def report(current: int, total: int | None) -> None:
            with self._lock:
                delta = current - self._done.get(name, 0)
                self._done[name] = current
            if delta > 0:
                self.progress.advance(delta)

        return report


def _check_concurrency(max_concurrency: int) -> None:
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")


def _run_all(jobs: Sequence[Callable[[], None]], workers: int) -> None:
    """Run ``jobs`` on ``workers`` threads; the first error is raised once the running
    jobs end, and the jobs not started yet are cancelled."""
    if len(jobs) <= 1 or workers <= 1:
        for job in jobs:
            job()
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        _, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in futures:
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]


def _unsafe(container: AzureBlobContainer, full: str, root: Path, why: str) -> AzureError:
    return AzureError(
        f"blob_download: refused blob {full!r} of container {container.container_name!r} "
        f"(block {block_label(container)}): {why} {str(root)!r}",
        "UnsafeName",
    )


def _safe_join(root: Path, relative: str, *, container: AzureBlobContainer, full: str) -> Path:
    """``root/relative``, refusing a name that would land outside ``root`` (``../x``, ``/x``)."""
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("..", ".") for p in parts) or "\\" in relative:
        raise _unsafe(container, full, root, "it would be written outside the target directory")
    dest = (root / relative).resolve()
    if not dest.is_relative_to(root.resolve()):
        raise _unsafe(container, full, root, "it resolves outside")
    return dest


# --- upload -------------------------------------------------------------------------------

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]


@task
def blob_upload(
    container: AzureBlobContainer,
    source: Source,
    name: str = "",
    *,
    overwrite: bool = True,
    max_concurrency: int = DEFAULT_CONCURRENCY,
    progress: bool | None = None,
) -> str | list[str]:
    """Upload a file, bytes, a binary file object, or a whole folder to the blob ``name``.

    A large blob goes up in blocks, ``max_concurrency`` at a time, committed only once
    every block is in: if anything fails midway, no blob appears (and an existing one is
    left as it was). A folder is uploaded under ``name/`` with its relative paths, files
    ``max_concurrency`` at a time. ``name`` defaults to the file's name. ``overwrite=False``
    refuses to replace an existing blob. ``progress``: ``None`` shows a bar on a terminal
    and log lines otherwise, ``False`` nothing.

    Returns the name written (relative to ``folder``), or the names for a folder.

    Example:
        from orch_azure import AzureBlobContainer
        from orch_azure.tasks import blob_upload

        container = AzureBlobContainer.load("sales-raw")
        blob_upload(container, "exports/day.parquet", "2024/06/01.parquet")
    """
    if not isinstance(container, AzureBlobContainer):
        raise TypeError(
            "blob_upload: container must be an AzureBlobContainer block "
            f"(AzureBlobContainer.load('name')), got {type(container).__name__}"
        )
    _check_concurrency(max_concurrency)
    uploads: list[tuple[Any, str, int | None]] = []  # (path or data, relative name, size)
    is_dir = False
    if isinstance(source, bytes | bytearray | memoryview):
        if not name:
            raise ValueError("blob_upload: name is required to upload bytes")
        data = bytes(source)
        uploads.append((data, name, len(data)))
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir():
            is_dir = True
            base = name.strip("/")
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = file.relative_to(path).as_posix()
                uploads.append((file, f"{base}/{rel}" if base else rel, file.stat().st_size))
        elif path.is_file():
            uploads.append((path, name or path.name, path.stat().st_size))
        else:
            raise FileNotFoundError(f"blob_upload: no such file or folder {str(path)!r}")
    elif hasattr(source, "read"):
        if not name:
            raise ValueError("blob_upload: name is required to upload a file object")
        uploads.append((source, name, None))
    else:
        raise TypeError(
            "blob_upload: source must be a path, bytes or a binary file object, "
            f"got {type(source).__name__}"
        )
    total = sum(size or 0 for _, _, size in uploads)
    target = f"{container.container_name}/{container.blob_name(name)}"
    client = container._container("blob_upload")
    # A folder of many files: files in parallel, each in one stream; a single blob: its
    # blocks in parallel.
    per_blob = 1 if is_dir and len(uploads) > 1 else max_concurrency
    with _progress(f"blob_upload {target}", total, progress) as bar:
        hooks = _Hooks(bar)

        def upload(item: Any, rel: str, size: int | None) -> None:
            full = container.blob_name(rel)
            hook = hooks.hook(full)
            options: dict[str, Any] = {"overwrite": overwrite, "max_concurrency": per_blob}
            if hook is not None:
                options["progress_hook"] = hook
            try:
                blob = client.get_blob_client(full)
                if isinstance(item, Path):
                    with item.open("rb") as stream:
                        blob.upload_blob(stream, length=size, **options)
                else:
                    blob.upload_blob(item, length=size, **options)
            except azure_errors() as exc:
                raise container._fail(exc, "blob_upload", full) from exc

        jobs = [functools.partial(upload, item, rel, size) for item, rel, size in uploads]
        _run_all(jobs, max_concurrency if is_dir else 1)
    names = [rel for _, rel, _ in uploads]
    return names if is_dir else names[0]


# --- download -----------------------------------------------------------------------------


def download_to_file(
    container: AzureBlobContainer,
    full: str,
    dest: Path,
    action: str,
    *,
    max_concurrency: int = DEFAULT_CONCURRENCY,
    hook: Callable[[int, int | None], None] | None = None,
    **download_kwargs: Any,
) -> None:
    """Download the blob ``full`` to ``dest`` through a temporary file in its folder,
    renamed when complete: a failed download leaves nothing under ``dest``."""
    blob = container._blob(action, full)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".orch-partial")
    try:
        with os.fdopen(fd, "wb") as out:
            options: dict[str, Any] = {"max_concurrency": max_concurrency, **download_kwargs}
            if hook is not None:
                options["progress_hook"] = hook
            blob.download_blob(**options).readinto(out)
        os.replace(tmp, dest)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, azure_errors()):
            raise container._fail(exc, action, full) from exc
        raise


def _download_bytes(
    container: AzureBlobContainer, full: str, max_concurrency: int, progress: bool | None
) -> bytes:
    blob = container._blob("blob_download", full)
    buffer = io.BytesIO()
    try:
        with _progress(f"blob_download {container.container_name}/{full}", 0, progress) as bar:
            options: dict[str, Any] = {"max_concurrency": max_concurrency}
            hook = _Hooks(bar).hook(full)
            if hook is not None:
                options["progress_hook"] = hook
            downloader = blob.download_blob(**options)
            bar.set_total(downloader.size)
            downloader.readinto(buffer)
    except azure_errors() as exc:
        raise container._fail(exc, "blob_download", full) from exc
    return buffer.getvalue()


@task
def blob_download(
    container: AzureBlobContainer,
    name: str,
    target: str | os.PathLike[str] | None = None,
    *,
    max_concurrency: int = DEFAULT_CONCURRENCY,
    progress: bool | None = None,
) -> bytes | Path:
    """Download a blob to bytes, to a file, or every blob under a prefix to a folder.

    - ``target=None``: returns the blob's bytes.
    - ``target`` an existing folder, or a path ending in ``/``: writes
      ``target/<last part of name>``.
    - ``name`` ending in ``/`` (a prefix, ``""`` for the whole folder): writes every blob
      under it into the folder ``target``, by relative path. A blob name that would
      escape the folder (``../x``) is refused before anything is written.
    - otherwise ``target`` is the file to write (parent folders are created).

    Files are written to a temporary name and renamed when complete, so a failed download
    leaves nothing half-written. Returns the bytes, or the path written.

    Example:
        from orch_azure import AzureBlobContainer
        from orch_azure.tasks import blob_download

        container = AzureBlobContainer.load("sales-raw")
        path = blob_download(container, "2024/06/01.parquet", "/tmp/day.parquet")
        raw = blob_download(container, "2024/06/01.parquet")  # bytes
    """
    _check_concurrency(max_concurrency)
    is_prefix = name == "" or name.endswith("/")
    if target is None:
        if is_prefix:
            raise ValueError("blob_download: downloading a prefix needs a target folder")
        return _download_bytes(container, container.blob_name(name), max_concurrency, progress)
    root = Path(target)
    into_dir = root.is_dir() or os.fspath(target).endswith(("/", os.sep))
    plan: list[tuple[str, Path, int]] = []  # (full name, destination, size)
    if is_prefix:
        prefix = container.blob_name(name)
        for item in _iter_blobs(container, prefix, "blob_download"):
            rel = item.name[len(prefix) :]
            if not rel or rel.endswith("/"):
                continue  # a "folder" marker, not a file
            plan.append(
                (item.name, _safe_join(root, rel, container=container, full=item.name), item.size)
            )
        root.mkdir(parents=True, exist_ok=True)  # once the listing worked (and is safe)
    else:
        full = container.blob_name(name)
        if into_dir:
            last = name.rstrip("/").rsplit("/", 1)[-1]
            dest = _safe_join(root, last, container=container, full=full)
        else:
            dest = root.absolute()
        plan.append((full, dest, 0))
    per_blob = 1 if len(plan) > 1 else max_concurrency
    desc = f"blob_download {container.container_name}/{plan[0][0] if plan else name}"
    with _progress(
        desc + (" ..." if len(plan) > 1 else ""), sum(p[2] for p in plan), progress
    ) as bar:
        hooks = _Hooks(bar)
        temps: list[tuple[Path, Path]] = []
        lock = threading.Lock()

        def fetch(full: str, dest: Path) -> None:
            # Into a temporary name of the destination's folder; renamed once all are in.
            part = dest.with_name(f".{dest.name}.orch-pending")
            download_to_file(
                container,
                full,
                part,
                "blob_download",
                max_concurrency=per_blob,
                hook=hooks.hook(full),
            )
            with lock:
                temps.append((part, dest))

        try:
            _run_all(
                [functools.partial(fetch, full, dest) for full, dest, _ in plan], max_concurrency
            )
        except BaseException:
            for part, _ in temps:
                part.unlink(missing_ok=True)
            raise
        for part, dest in temps:
            os.replace(part, dest)
    return root if is_prefix else plan[0][1]


# --- list ---------------------------------------------------------------------------------


def _iter_blobs(container: AzureBlobContainer, prefix: str, action: str) -> Iterator[Any]:
    """The blobs under ``prefix``: the first page is asked for now (so a missing container
    or a refused listing raises here, in the caller's task), the others while iterating."""
    client = container._container(action)
    pages = client.list_blobs(name_starts_with=prefix or None).by_page()
    try:
        first = list(next(pages, None) or ())
    except azure_errors() as exc:
        raise container._fail(exc, action, None) from exc
    return _rest_of_listing(container, action, first, pages)


def _rest_of_listing(
    container: AzureBlobContainer, action: str, first: list[Any], pages: Iterator[Any]
) -> Iterator[Any]:
    yield from first
    try:
        for page in pages:
            yield from page
    except azure_errors() as exc:
        raise container._fail(exc, action, None) from exc



@task
def blob_list(
    container: AzureBlobContainer, prefix: str = "", glob: str | None = None
) -> Iterator[dict[str, Any]]:
    """Blobs under ``prefix``, page by page (5,000 names a request).

    The first page is listed inside the task, so a missing container or a refused listing
    fails the task (retried, recorded in the run history); the task then returns an
    iterator that lists the next pages as it is consumed (bounded memory).

    ``glob`` filters names (relative to ``folder``) with shell wildcards; ``*`` also
    matches ``/``. Its literal beginning narrows the listing on the server. Yields
    ``{"name", "size", "last_modified", "etag", "content_type"}`` dicts.

    Example:
        from orch_azure import AzureBlobContainer
        from orch_azure.tasks import blob_list

        for blob in blob_list(AzureBlobContainer.load("sales-raw"), prefix="2024/", glob="*.csv"):
            print(blob["name"], blob["size"])
    """
    effective = prefix
    if glob is not None:
        literal = glob_prefix(glob)
        if literal.startswith(prefix):
            effective = literal
        elif not prefix.startswith(literal):
            return iter(())  # the glob cannot match anything under prefix
    blobs = _iter_blobs(container, container.blob_name(effective), "blob_list")
    return _entries(container, blobs, glob)


def _entries(
    container: AzureBlobContainer, blobs: Iterator[Any], glob: str | None
) -> Iterator[dict[str, Any]]:
    for item in blobs:
        rel = container.relative_name(item.name)
        if glob is not None and not fnmatch.fnmatchcase(rel, glob):
            continue
        settings = getattr(item, "content_settings", None)
        yield {
            "name": rel,
            "size": item.size,
            "last_modified": item.last_modified,
            "etag": str(item.etag or "").strip('"'),
            "content_type": getattr(settings, "content_type", None),
        }


# --- copy, delete, exists -----------------------------------------------------------------


@task
def blob_copy(
    container: AzureBlobContainer,
    name: str,
    dest_name: str,
    dest_container: AzureBlobContainer | None = None,
    *,
    timeout: float = 600.0,
) -> str:
    """Copy a blob on the server side and wait until the copy is complete; returns
    ``dest_name``.

    ``dest_container`` defaults to ``container``. Within one storage account the copy is
    authorised by the destination's credentials; from another account the source is read
    through a short read-only SAS made with the source's credentials.

    Example:
        from orch_azure import AzureBlobContainer
        from orch_azure.tasks import blob_copy

        blob_copy(AzureBlobContainer.load("sales-raw"), "2024/06/01.csv", "archive/2024-06-01.csv")
    """
    dest = dest_container or container
    full = container.blob_name(name)
    dest_full = dest.blob_name(dest_name)
    source = container._blob("blob_copy", full)
    try:
        source.get_blob_properties()  # a missing source is named as such
    except azure_errors() as exc:
        raise container._fail(exc, "blob_copy", full) from exc
    url = source.url
    if dest.credentials != container.credentials and "?" not in url:
        url = _sas_url(container, full, 3600.0, "blob_copy")
    target = dest._blob("blob_copy", dest_full)
    try:
        target.start_copy_from_url(url)
        deadline = time.monotonic() + timeout
        while True:
            copy = target.get_blob_properties().copy
            if copy.status in (None, "success"):
                break
            if copy.status != "pending":
                raise AzureError(
                    f"blob_copy: the copy of {container._object(full)} to "
                    f"{dest._object(dest_full)} ended {copy.status} "
                    f"({copy.status_description or 'no reason given'})",
                    copy.status,
                )
            if time.monotonic() > deadline:
                target.abort_copy(copy.id)
                raise AzureError(
                    f"blob_copy: the copy to {dest._object(dest_full)} was not complete after "
                    f"{timeout:.0f} s: aborted",
                    "CopyTimeout",
                )
            time.sleep(0.5)
    except azure_errors() as exc:
        raise dest._fail(exc, "blob_copy", dest_full) from exc
    return dest_name


@task
def blob_delete(container: AzureBlobContainer, names: str | Iterable[str]) -> int:
    """Delete one blob or many (256 per batch request); returns how many were deleted.

    A blob that does not exist is not an error (nothing to delete, not counted); a blob
    the service refuses to delete is (the error lists them). A missing container is an
    error.

    Example:
        from orch_azure import AzureBlobContainer
        from orch_azure.tasks import blob_delete, blob_list

        container = AzureBlobContainer.load("sales-raw")
        blob_delete(container, [b["name"] for b in blob_list(container, prefix="tmp/")])
    """
    client = container._container("blob_delete")
    wanted = [names] if isinstance(names, str) else list(names)
    deleted = 0
    for start in range(0, len(wanted), DELETE_BATCH):
        batch = [container.blob_name(n) for n in wanted[start : start + DELETE_BATCH]]
        try:
            responses = client.delete_blobs(*batch, raise_on_any_failure=False)
        except azure_errors() as exc:
            raise container._fail(exc, "blob_delete", batch[0]) from exc
        refused: list[str] = []
        for full, response in zip(batch, responses, strict=True):
            status = response.status_code
            if status in (200, 202):
                deleted += 1
            elif status == 404:
                code = response.headers.get("x-ms-error-code", "")
                if code == "ContainerNotFound":
                    raise AzureNotFoundError(
                        f"blob_delete: no such container ({container._object(None)}, block "
                        f"{block_label(container)})",
                        code,
                    )
            else:
                refused.append(f"{full} ({response.headers.get('x-ms-error-code') or status})")
        if refused:
            raise AzureError(
                f"blob_delete: {len(refused)} blob(s) of {container._object(None)} were not "
                f"deleted: {', '.join(refused[:10])}" + (" ..." if len(refused) > 10 else ""),
                "PartialBatchFailure",
            )
    return deleted


@task
def blob_exists(container: AzureBlobContainer, name: str) -> bool:
    """Whether the blob exists; a missing *container* is an error, not ``False``.

    Example:
        from orch_azure import AzureBlobContainer
        from orch_azure.tasks import blob_exists

        if not blob_exists(AzureBlobContainer.load("sales-raw"), "2024/06/01.csv"):
            ...
    """
    full = container.blob_name(name)
    client = container._container("blob_exists")
    try:
        if client.get_blob_client(full).exists():
            return True
        if not client.exists():
            raise AzureNotFoundError(
                f"blob_exists: no such container ({container._object(None)}, block "
                f"{block_label(container)})",
                "ContainerNotFound",
            )
    except azure_errors() as exc:
        raise container._fail(exc, "blob_exists", full) from exc
    return False


def _sas_url(container: AzureBlobContainer, full: str, seconds: float, action: str) -> str:
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    service = container.credentials.get_client().blob_service()
    blob = container._blob(action, full)
    now = datetime.now(UTC)
    expiry = now + timedelta(seconds=seconds)
    start = now - timedelta(minutes=5)  # clock skew between this machine and Azure
    permission = BlobSasPermissions(read=True)
    method = container.credentials.method
    key = getattr(service.credential, "account_key", None)
    options: dict[str, Any] = {}
    if key:
        options["account_key"] = key
    elif method in ("service_principal", "default"):
        try:
            options["user_delegation_key"] = service.get_user_delegation_key(start, expiry)
        except azure_errors() as exc:
            raise azure_error(exc, action=action, block=container, obj=full) from exc
    else:
        raise AzureError(
            f"{action}: {block_label(container)} cannot sign a SAS with auth_method "
            f"{method!r}: it needs the account key (account_key or a connection string "
            "with AccountKey) or a token identity allowed to get a user delegation key",
            "CannotSign",
        )
    token = generate_blob_sas(
        account_name=blob.account_name,
        container_name=container.container_name,
        blob_name=full,
        permission=permission,
        expiry=expiry,
        start=start,
        **options,
    )
    return f"{blob.url}?{token}"


@task
def blob_sas_url(container: AzureBlobContainer, name: str, expires_in: float = 3600.0) -> str:
    """A read-only URL of the blob, valid for ``expires_in`` seconds (a SAS signed with the
    account key, or a user delegation key for token credentials).

    Example:
        from orch_azure import AzureBlobContainer
        from orch_azure.tasks import blob_sas_url

        url = blob_sas_url(AzureBlobContainer.load("sales-raw"), "2024/06/01.csv", expires_in=900)
    """
    if expires_in <= 0:
        raise ValueError(f"blob_sas_url: expires_in must be positive, got {expires_in}")
    return _sas_url(container, container.blob_name(name), expires_in, "blob_sas_url")
