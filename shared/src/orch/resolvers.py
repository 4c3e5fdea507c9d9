"""The secret resolvers that ship with orch-core: ``env://NAME`` and ``file:///path``."""

from __future__ import annotations

import os
from pathlib import Path

from orch.errors import SecretReferenceError
from orch.references import SecretRef


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

    Example:
        >>> resolve_file(SecretRef("file:///run/secrets/db_password"))  # doctest: +SKIP
        'the password'
    """
    path = Path(ref.location).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretReferenceError(f"secret reference {ref}: no such file {str(path)!r}") from None
    except OSError as exc:
        raise SecretReferenceError(
            f"secret reference {ref}: cannot read {str(path)!r} ({exc.strerror})"
        ) from None
    return text.removesuffix("\n").removesuffix("\r")
