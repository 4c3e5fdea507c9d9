"""The ``gcp-sm://`` secret resolver: ``gcp-sm://PROJECT/SECRET[?version=N][#json_key]``.

It reads the secret with the ``GcpCredentials`` block named by
``ORCH_GCP_CREDENTIALS_BLOCK`` when that is set, otherwise with Application Default
Credentials. orch-core caches the value per reference for ``ORCH_SECRET_TTL`` seconds and
lets one caller resolve while concurrent callers of the same reference wait, so a burst
of resolutions makes one API call; it also applies ``#json_key`` (a missing key names the
reference). ``version`` is a version number or ``latest`` (the default).

``?version=N`` comes before ``#json_key``, as in any URL; ``#key?version=N`` is accepted
too (read as the version, not as part of the key).

The credentials block cannot itself hold ``gcp-sm://`` references (its key): to resolve
them it would need that very block, a loop. That is refused with a clear error before
anything is read, and any other loop back into this resolver from the same thread is
refused too, instead of waiting forever on orch-core's per-reference lock.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from orch.integration import SecretReferenceError

if TYPE_CHECKING:
    from orch import SecretRef
    from orch.integration import Resolved

    from orch_gcp.credentials import GcpCredentials

CREDENTIALS_ENV = "ORCH_GCP_CREDENTIALS_BLOCK"
_PARAMS = {"version"}
# The reference this thread is resolving, while it builds the client to do so: a second
# gcp-sm:// resolution inside that is a loop (see the module's docstring).
_resolving = threading.local()


def _credentials(ref: SecretRef) -> GcpCredentials:
    from orch.integration import resolver_credentials

    from orch_gcp.credentials import GcpCredentials

    return (
        resolver_credentials(
            ref,
            GcpCredentials,
            CREDENTIALS_ENV,
            otherwise="use Application Default Credentials",
            loop_fix="from env:// or file://, a key file, or Application Default Credentials",
        )
        or GcpCredentials()
    )


def _split(ref: SecretRef) -> tuple[str, str, str, str | None]:
    """(project, secret, version, key) of ``ref``; ``#KEY?version=N`` read as written."""
    params = dict(ref.params)
    key = ref.key
    if key is not None and "?" in key:
        key, _, query = key.partition("?")
        for part in query.split("&"):
            name, _, value = part.partition("=")
            params[name] = value
    unknown = set(params) - _PARAMS
    if unknown:
        raise SecretReferenceError(
            f"secret reference {ref}: unknown parameter(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(_PARAMS))})"
        )
    project, _, secret = ref.location.strip("/").partition("/")
    if not project or not secret or "/" in secret:
        raise SecretReferenceError(
            f"secret reference {ref}: write gcp-sm://PROJECT/SECRET[?version=N][#key], "
            "e.g. gcp-sm://acme-prod/warehouse#password"
        )
    version = params.get("version") or "latest"
    if version != "latest" and not version.isdigit():
        raise SecretReferenceError(
            f"secret reference {ref}: version must be a number or 'latest', not {version!r}"
        )
    return project, secret, version, key


def resolve_gcp_sm(ref: SecretRef) -> Resolved:
    """Resolve ``gcp-sm://PROJECT/SECRET``: the secret's text (JSON is left to ``#key``),
    or bytes when it is not UTF-8.

    Example:
        >>> from orch import SecretRef
        >>> ref = SecretRef("gcp-sm://acme-prod/warehouse?version=3#password")
        >>> ref.location, ref.params, ref.key
        ('acme-prod/warehouse', {'version': '3'}, 'password')
        >>> ref.resolve()  # doctest: +SKIP
        'the password'
    """
    project, secret, version, key = _split(ref)
    from orch_gcp.errors import GcpError, GcpNotFoundError, gcp_error, gcp_errors
    from orch_gcp.tasks.secret_manager import access_secret

    outer = getattr(_resolving, "ref", None)
    if outer is not None:
        raise SecretReferenceError(
            f"secret reference {ref} is needed to build the Google client that resolves "
            f"{outer}: a loop; the credentials of the gcp-sm:// resolver ({CREDENTIALS_ENV}) "
            "must not depend on gcp-sm:// secrets"
        )
    credentials = _credentials(ref)
    try:
        _resolving.ref = ref
        try:
            credentials.get_client("secretmanager")
        except gcp_errors() as exc:
            raise gcp_error(exc, action="gcp-sm", block=credentials) from exc
        finally:
            _resolving.ref = None
        data = access_secret(credentials, secret, version, project)
    except (GcpError, FileNotFoundError) as exc:
        what = "does not exist" if isinstance(exc, GcpNotFoundError) else "failed"
        raise SecretReferenceError(f"secret reference {ref} {what}: {exc}") from exc
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return data
    if ref.key is not None and ref.key != key:
        # `#KEY?version=N`: the core selects the whole text after '#', so answer with it.
        import json

        try:
            document = json.loads(text)
        except ValueError:
            raise SecretReferenceError(
                f"secret reference {ref}: the secret is not JSON, so it has no key {key!r}"
            ) from None
        if not isinstance(document, dict) or key not in document:
            raise SecretReferenceError(f"secret reference {ref}: the secret has no key {key!r}")
        return {ref.key: document[key]}
    return text
