"""Secret Manager tasks (extra ``orch-gcp[secret-manager]``): read, write (a new version),
delete.

The first argument is the :class:`~orch_gcp.GcpCredentials` to use; ``secret`` is the
secret's id in ``project`` (default: the credentials' project) or its full name
``projects/P/secrets/S``. The client is Secret Manager's own, over REST, cached per process.
A value read is checked against the CRC32C the service sends, and masked in logs.
"""

from __future__ import annotations

from typing import Any

from orch import task
from orch.integration import remember_secret

from orch_gcp.credentials import GcpCredentials
from orch_gcp.errors import GcpError, gcp_error, gcp_errors

__all__ = ["gcp_secret_delete", "gcp_secret_read", "gcp_secret_write"]


def secret_path(credentials: GcpCredentials, secret: str, project: str | None) -> str:
    """``projects/P/secrets/S`` of ``secret`` (an id, or already a full name)."""
    if secret.startswith("projects/"):
        return secret.split("/versions/")[0]
    if "/" in secret or not secret:
        raise ValueError(f"a secret id has no '/': {secret!r} (or give projects/P/secrets/S)")
    # The holder knows the key's or ADC's project once a client was made (callers make
    # the Secret Manager client first).
    project = project or credentials.project or credentials.get_client().project
    if not project:
        raise ValueError(
            f"secret {secret!r}: no project; give project=, or set project on the "
            "GcpCredentials block"
        )
    return f"projects/{project}/secrets/{secret}"


def _client(credentials: GcpCredentials, action: str, what: str, block: Any) -> Any:
    try:
        return credentials.get_client("secretmanager")
    except gcp_errors(FileNotFoundError) as exc:
        raise gcp_error(exc, action=action, block=block, what=what) from exc


def access_secret(
    credentials: GcpCredentials,
    secret: str,
    version: str | int = "latest",
    project: str | None = None,
    block: Any = None,
) -> bytes:
    """The bytes of one version of ``secret`` (``latest`` by default), CRC32C-checked."""
    client = _client(credentials, "gcp_secret_read", secret, block or credentials)
    path = f"{secret_path(credentials, secret, project)}/versions/{version}"
    try:
        response = client.access_secret_version(request={"name": path})
    except gcp_errors() as exc:
        raise gcp_error(
            exc, action="gcp_secret_read", block=block or credentials, what=path
        ) from exc
    data = bytes(response.payload.data)
    expected = response.payload.data_crc32c
    if expected:
        import google_crc32c

        if int(google_crc32c.value(data)) != int(expected):
            raise GcpError(f"gcp_secret_read: {path}: the value failed its CRC32C check")
    remember_secret(data)
    return data


def add_version(
    credentials: GcpCredentials,
    secret: str,
    value: bytes,
    project: str | None = None,
    block: Any = None,
    create: bool = True,
) -> str:
    """Add ``value`` as a new version of ``secret`` (created first if missing and
    ``create``); returns the version's name."""
    import google.api_core.exceptions as api
    import google_crc32c

    who = block or credentials
    client = _client(credentials, "gcp_secret_write", secret, who)
    path = secret_path(credentials, secret, project)
    payload = {"data": value, "data_crc32c": int(google_crc32c.value(value))}
    try:
        try:
            version = client.add_secret_version(request={"parent": path, "payload": payload})
        except api.NotFound:
            if not create:
                raise
            parent, _, secret_id = path.rpartition("/secrets/")
            client.create_secret(
                request={
                    "parent": parent,
                    "secret_id": secret_id,
                    "secret": {"replication": {"automatic": {}}},
                }
            )
            version = client.add_secret_version(request={"parent": path, "payload": payload})
    except gcp_errors() as exc:
        raise gcp_error(exc, action="gcp_secret_write", block=who, what=path) from exc
    return str(version.name)


def remove_secret(
    credentials: GcpCredentials, secret: str, project: str | None = None, block: Any = None
) -> str:
    """Delete ``secret`` with all its versions; returns its name."""
    who = block or credentials
    client = _client(credentials, "gcp_secret_delete", secret, who)
    path = secret_path(credentials, secret, project)
    try:
        client.delete_secret(request={"name": path})
    except gcp_errors() as exc:
        raise gcp_error(exc, action="gcp_secret_delete", block=who, what=path) from exc
    return path


@task
def gcp_secret_read(
    credentials: GcpCredentials,
    secret: str,
    *,
    version: str | int = "latest",
    project: str | None = None,
    as_bytes: bool = False,
) -> str | bytes:
    """The value of ``secret`` (``version``, default the latest) as text, or bytes with
    ``as_bytes``; masked in every log.

    Example:
        from orch_gcp import GcpCredentials, gcp_secret_read

        password = gcp_secret_read(GcpCredentials.load("prod"), "warehouse-password")
    """
    data = access_secret(credentials, secret, version, project)
    if as_bytes:
        return data
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise GcpError(
            f"gcp_secret_read: secret {secret!r} is not UTF-8 text: read it with as_bytes=True"
        ) from None
    remember_secret(text)
    return text


@task
def gcp_secret_write(
    credentials: GcpCredentials,
    secret: str,
    value: str | bytes,
    *,
    project: str | None = None,
    create: bool = True,
) -> str:
    """Add ``value`` as the newest version of ``secret`` (created if missing, unless
    ``create=False``); returns the version's name (``projects/P/secrets/S/versions/N``).

    Example:
        from orch_gcp import GcpCredentials, gcp_secret_write

        gcp_secret_write(GcpCredentials.load("prod"), "warehouse-password", "s3cret")
    """
    data = value.encode() if isinstance(value, str) else bytes(value)
    remember_secret(data)
    return add_version(credentials, secret, data, project, create=create)


@task
def gcp_secret_delete(
    credentials: GcpCredentials, secret: str, *, project: str | None = None
) -> str:
    """Delete ``secret`` and every version of it; returns its name.

    Example:
        from orch_gcp import GcpCredentials, gcp_secret_delete

        gcp_secret_delete(GcpCredentials.load("prod"), "old-password")
    """
    return remove_secret(credentials, secret, project)
