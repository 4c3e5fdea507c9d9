"""The secret resolvers that ship with orch-core: ``env://NAME`` and ``file:///path``."""

from __future__ import annotations

import os
from pathlib import Path

from orch.errors import SecretReferenceError
from orch.secrets.references import SecretRef


def resolve_env(ref: SecretRef) -> str:
    """``env://NAME``: the environment variable ``NAME``.

    Example:
        >>> os.environ["ORCH_DOC_TOKEN"] = "s3cr3t"
        >>> resolve_env(SecretRef("env://ORCH_DOC_TOKEN"))
        's3cr3t'
    """
    name = ref.location
    value = os.environ.get(name)
    if value is None:
        raise SecretReferenceError(
            f"secret reference {ref}: environment variable {name!r} is not set"
        )
    return value


def resolve_file(ref: SecretRef) -> str:
    """``file:///path``: the file's text, without its trailing newline.

    At most ``ORCH_FILE_SECRET_MAX_BYTES`` (1 MiB by default) are read: a larger file, or
    a device such as ``/dev/zero``, is an error naming the reference, found after reading
    one byte more than the limit (never the whole file).

    Example:
        >>> resolve_file(SecretRef("file:///run/secrets/db_password"))  # doctest: +SKIP
        'the password'
    """
    from orch.errors import OrchError
    from orch.settings import file_secret_max_bytes

    try:
        limit = file_secret_max_bytes()
    except OrchError as exc:
        raise SecretReferenceError(f"secret reference {ref}: {exc}") from None
    path = Path(ref.location).expanduser()
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except FileNotFoundError:
        raise SecretReferenceError(f"secret reference {ref}: no such file {str(path)!r}") from None
    except OSError as exc:
        raise SecretReferenceError(
            f"secret reference {ref}: cannot read {str(path)!r} ({exc.strerror})"
        ) from None
    if len(data) > limit:
        raise SecretReferenceError(
            f"secret reference {ref}: the file is larger than {limit} bytes "
            "(the limit of ORCH_FILE_SECRET_MAX_BYTES)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # The codec's own message quotes the offending byte, a piece of the secret.
        raise SecretReferenceError(f"secret reference {ref}: the file is not UTF-8 text") from None
    # Universal newlines, as text-mode reading gave before: \r\n and \r become \n.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.removesuffix("\n")
