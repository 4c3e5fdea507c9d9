"""Error types of orch-core.

Every message names what is wrong (block, field, reference) and never carries a
secret value. The SDK's or driver's own exception is kept as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to a mistyped ``word``, or ``""``."""
    import difflib

    choices = {k.lower(): k for k in known}
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {choices[close[0]]!r}?)" if close else ""


class OrchError(Exception):
    """Base class of every error orch raises on purpose."""


class BlockError(OrchError):
    """A block could not be built, saved or loaded."""


class BlockValidationError(BlockError, ValueError):
    """Field values given to a block are wrong; the message names block type and field.

    ``errors`` lists ``{"field", "message", "type"}`` per problem (never the input value).
    """

    errors: list[dict[str, str]]

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class BlockNotFoundError(BlockError, KeyError):
    """No block of that type and name is saved."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class BlockExistsError(BlockError):
    """`save(name, overwrite=False)` found the name taken."""


class BlockConflictError(BlockError):
    """The block changed in the store since it was loaded; saving would lose that update."""


class BlockInUseError(BlockError):
    """A block that other blocks reference cannot be deleted."""


class BlockTypeNotFoundError(BlockError):
    """The block type is not installed (the message names the distribution to install)."""


class BlockSchemaError(BlockError):
    """A stored document is of a schema version this code cannot read."""


class BlockCorruptError(BlockError):
    """A stored document cannot be decoded."""


class BlockIntegrityError(BlockCorruptError):
    """A stored block row fails its integrity check (edited outside orch, or unsigned)."""


class SecretError(OrchError):
    """A secret could not be resolved or decrypted."""


class SecretReferenceError(SecretError, ValueError):
    """A secret reference is malformed, of an unknown scheme, or points at nothing."""


class SecretKeyError(SecretError):
    """The store's encryption key is missing or is not the key the store was written with."""


class StoreError(OrchError):
    """The block store cannot be opened or used."""


class ConfigFileError(OrchError, ValueError):
    """A declarative block file (``orch block apply``) is invalid."""


class RunError(OrchError):
    """Base class of the flow/task runtime's errors."""


class RunFailedError(RunError):
    """A run ended Failed or Crashed without an exception of its own to re-raise."""


class MissingContextError(RunError):
    """A run-only API (``get_run_logger()``, ``get_run_context()``) was called outside a run."""


class ParameterValidationError(RunError, TypeError):
    """A flow's arguments do not match its type hints; the message names the parameter."""


class SerializationError(RunError):
    """A value could not be pickled (for the cache or a worker process); names the task."""


class ConcurrencyError(RunError):
    """A concurrency limit is misconfigured or a slot could not be acquired in time."""


class NotInOrchError(OrchError, ImportError, NotImplementedError):
    """A Prefect name orch does not have; the message says what to use instead.

    An ``ImportError`` (``from orch.artifacts import ...``) and a ``NotImplementedError``
    (``flow.serve()``), so code that guards either way keeps working.
    """


class TerminationSignal(BaseException):
    """Raised in a flow's main thread when the process gets SIGTERM: the run is recorded
    Crashed, then the process ends as SIGTERM would have ended it.

    A ``BaseException``, like ``KeyboardInterrupt``, so ``except Exception`` in user code
    does not swallow it.

    Example:
        ``kill -TERM <pid>`` of a running flow: ``orch runs ls`` shows it Crashed.
    """


# --- errors of integration packages ----------------------------------------------------------
# Every package maps its SDK's exceptions onto these (in its errors.py), usually through
# classes of its own that also derive from one of them (``SqlAuthenticationError(SqlError,
# AuthError)``), so users can catch ``AuthError`` whatever the service. Messages name the
# block (``orch.integration.block_label``) and the object, never a secret; the SDK's
# exception is kept as ``__cause__`` (``raise ... from exc``).


class ServiceError(OrchError):
    """A call to an external service, made by a package's block or task, failed.

    ``code`` is the service's own error code when it has one (``NoSuchKey``, ``28P01``).

    Example:
        raise NotFoundError(f"no object s3://{bucket}/{key} ({block_label(block)})",
                            code="NoSuchKey") from exc
    """

    code: str | None

    def __init__(self, message: str, code: str | None = None) -> None:
        # Only the message in args: builtin bases such as PermissionError (an OSError)
        # would read a second argument as an errno.
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> tuple[object, ...]:
        # Back from a process-pool worker with its code (kept in __dict__), whatever the
        # signature of a package's subclass, as long as it takes the message first.
        return (type(self), (str(self),), self.__dict__)


class ConnectError(ServiceError):
    """The service could not be reached (refused, unknown host, network, timed out)."""


class AuthError(ServiceError, PermissionError):
    """The service refused the credentials (login failed) or denied the operation."""


class NotFoundError(ServiceError, LookupError):
    """The object the operation names (bucket, key, table, secret) does not exist."""


class AlreadyExistsError(ServiceError):
    """Creating an object that already exists (and the call did not ask to replace it)."""


class QueryError(ServiceError):
    """A statement or query failed; the message names the block and its first line."""


class TransferError(ServiceError):
    """An upload, download or bulk load failed part-way; the message says what was kept."""


class ServiceTimeoutError(ServiceError, TimeoutError):
    """The operation did not finish in the time allowed (and was cancelled if it could)."""


class MissingDependencyError(ServiceError, ImportError):
    """An optional dependency (a driver, an extra) is not installed; names what to install."""
