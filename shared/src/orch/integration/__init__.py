"""The integration kit: what an ``orch-<x>`` package imports from the core besides ``orch``.

A package never imports a private core module; everything it needs is here, under a
public name that stays stable (``docs/contributing.md``, "Writing an integration package"):

- blocks that own clients: ``Connector`` (lazy, per-process, per-content client,
  fork-safe, closed at exit, ``close()`` releases only this block's hold); the
  lower-level ``ProcessResources``, ``ResourceSlot``, ``block_fingerprint``
  for a resource that is not one block's client (e.g. a session shared by connectors);
- progress of long work: ``Progress``;
- errors every package maps its SDK's errors onto: ``ServiceError`` and its kinds
  (``ConnectError``, ``AuthError``, ``NotFoundError``,
  ``AlreadyExistsError``, ``QueryError``, ``TransferError``,
  ``ServiceTimeoutError``, ``MissingDependencyError``), the core's
  ``OrchError``, ``BlockError``, ``BlockValidationError``,
  ``BlockNotFoundError``, ``SecretReferenceError``; the helpers
  ``block_label``, ``first_line`` and ``did_you_mean`` for messages, ``redact`` and
  ``remember_secret`` so that no secret reaches one;
- object names under a block's folder: ``folder_prefix`` (the field's validator),
  ``under_folder``, ``relative_to_folder`` and ``glob_prefix`` (a listing's prefix);
- role interfaces: ``ObjectStore``, ``SqlDatabase``, ``SecretStore``,
  ``Notifier``;
- alerts from flow runs: ``notify_on`` (a flow hook sending through any notifier),
  ``render_template``, ``check_template``, ``run_context`` and
  ``TEMPLATE_FIELDS`` (message templates, secrets masked);
- a task runner that runs calls in other processes or machines (``orch-dask``):
  ``TaskRunner`` to subclass, ``prepare_remote`` (wait for upstream runs, check
  pickling, what to send), ``run_remote`` (in the worker), ``finish_remote`` (the
  state, and the run history the worker sent back), ``waits_for_upstream``;
- the rest of a package's plumbing: ``lazy_exports`` (its ``__init__``),
  ``run_logger_or`` (log lines that reach the run history), ``at_flow_end``
  (release what a task holds when its flow run ends), ``link_run`` (show an outside
  run, job or page with the flow run in ``orch runs show`` and ``orch ui``), ``Resolved``,
  ``secret_cache_ttl`` and ``resolver_credentials`` (a secret resolver).

Importing this module costs next to nothing: each name loads its module on first use.
The contract tests a package runs on its blocks are in ``orch.testing``.

Example:
    from orch.integration import AuthError, Connector, Progress, block_label
"""

from __future__ import annotations

# `import X as X`: names this module re-exports (mypy --strict exports only those).
from orch.errors import AlreadyExistsError as AlreadyExistsError
from orch.errors import AuthError as AuthError
from orch.errors import BlockError as BlockError
from orch.errors import BlockNotFoundError as BlockNotFoundError
from orch.errors import BlockValidationError as BlockValidationError
from orch.errors import ConnectError as ConnectError
from orch.errors import MissingDependencyError as MissingDependencyError
from orch.errors import NotFoundError as NotFoundError
from orch.errors import OrchError as OrchError
from orch.errors import QueryError as QueryError
from orch.errors import SecretReferenceError as SecretReferenceError
from orch.errors import ServiceError as ServiceError
from orch.errors import ServiceTimeoutError as ServiceTimeoutError
from orch.errors import TransferError as TransferError
from orch.errors import did_you_mean as did_you_mean
from orch.lazy import lazy_exports as lazy_exports

# Not `from typing import TYPE_CHECKING`: importing typing costs several ms at start-up.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import TypeVar

    from orch.blocks.base import Block
    from orch.engine.context import at_flow_end as at_flow_end
    from orch.engine.context import link_run as link_run
    from orch.engine.run_logging import run_logger_or as run_logger_or
    from orch.engine.task_engine import finish_remote as finish_remote
    from orch.engine.task_engine import prepare_remote as prepare_remote
    from orch.engine.task_engine import run_remote as run_remote
    from orch.engine.task_engine import waits_for_upstream as waits_for_upstream
    from orch.engine.task_runners import TaskRunner as TaskRunner
    from orch.secrets.references import SecretRef

    B = TypeVar("B", bound=Block)
    from orch.integration.connector import ClientT as ClientT
    from orch.integration.connector import Connector as Connector
    from orch.integration.notify import TEMPLATE_FIELDS as TEMPLATE_FIELDS
    from orch.integration.notify import NotifyHook as NotifyHook
    from orch.integration.notify import check_template as check_template
    from orch.integration.notify import notify_on as notify_on
    from orch.integration.notify import render_template as render_template
    from orch.integration.notify import run_context as run_context
    from orch.integration.paths import folder_prefix as folder_prefix
    from orch.integration.paths import glob_prefix as glob_prefix
    from orch.integration.paths import relative_to_folder as relative_to_folder
    from orch.integration.paths import under_folder as under_folder
    from orch.integration.progress import Progress as Progress
    from orch.integration.progress import format_amount as format_amount
    from orch.integration.resources import ProcessResources as ProcessResources
    from orch.integration.resources import ResourceSlot as ResourceSlot
    from orch.integration.resources import block_fingerprint as block_fingerprint
    from orch.integration.roles import Notifier as Notifier
    from orch.integration.roles import ObjectStore as ObjectStore
    from orch.integration.roles import SecretStore as SecretStore
    from orch.integration.roles import Severity as Severity
    from orch.integration.roles import SqlDatabase as SqlDatabase
    from orch.secrets.redaction import redact as redact
    from orch.secrets.redaction import remember as remember_secret
    from orch.secrets.references import Resolved as Resolved
    from orch.secrets.references import cache_ttl as secret_cache_ttl

# public name → (module, name there): loaded on first use (these modules cost more)
_LAZY = {
    "ClientT": ("orch.integration.connector", "ClientT"),
    "Connector": ("orch.integration.connector", "Connector"),
    "Progress": ("orch.integration.progress", "Progress"),
    "format_amount": ("orch.integration.progress", "format_amount"),
    "folder_prefix": ("orch.integration.paths", "folder_prefix"),
    "glob_prefix": ("orch.integration.paths", "glob_prefix"),
    "relative_to_folder": ("orch.integration.paths", "relative_to_folder"),
    "under_folder": ("orch.integration.paths", "under_folder"),
    "redact": ("orch.secrets.redaction", "redact"),
    "remember_secret": ("orch.secrets.redaction", "remember"),
    "Resolved": ("orch.secrets.references", "Resolved"),
    "secret_cache_ttl": ("orch.secrets.references", "cache_ttl"),
    "ProcessResources": ("orch.integration.resources", "ProcessResources"),
    "ResourceSlot": ("orch.integration.resources", "ResourceSlot"),
    "block_fingerprint": ("orch.integration.resources", "block_fingerprint"),
    "Notifier": ("orch.integration.roles", "Notifier"),
    "NotifyHook": ("orch.integration.notify", "NotifyHook"),
    "TEMPLATE_FIELDS": ("orch.integration.notify", "TEMPLATE_FIELDS"),
    "check_template": ("orch.integration.notify", "check_template"),
    "notify_on": ("orch.integration.notify", "notify_on"),
    "render_template": ("orch.integration.notify", "render_template"),
    "run_context": ("orch.integration.notify", "run_context"),
    "ObjectStore": ("orch.integration.roles", "ObjectStore"),
    "SecretStore": ("orch.integration.roles", "SecretStore"),
    "Severity": ("orch.integration.roles", "Severity"),
    "SqlDatabase": ("orch.integration.roles", "SqlDatabase"),
    "run_logger_or": ("orch.engine.run_logging", "run_logger_or"),
    "at_flow_end": ("orch.engine.context", "at_flow_end"),
    "link_run": ("orch.engine.context", "link_run"),
    "TaskRunner": ("orch.engine.task_runners", "TaskRunner"),
    "finish_remote": ("orch.engine.task_engine", "finish_remote"),
    "prepare_remote": ("orch.engine.task_engine", "prepare_remote"),
    "run_remote": ("orch.engine.task_engine", "run_remote"),
    "waits_for_upstream": ("orch.engine.task_engine", "waits_for_upstream"),
}

__all__ = [
    "TEMPLATE_FIELDS",
    "AlreadyExistsError",
    "AuthError",
    "BlockError",
    "BlockNotFoundError",
    "BlockValidationError",
    "ClientT",
    "ConnectError",
    "Connector",
    "MissingDependencyError",
    "NotFoundError",
    "Notifier",
    "NotifyHook",
    "ObjectStore",
    "OrchError",
    "ProcessResources",
    "Progress",
    "QueryError",
    "Resolved",
    "ResourceSlot",
    "SecretReferenceError",
    "SecretStore",
    "ServiceError",
    "ServiceTimeoutError",
    "Severity",
    "SqlDatabase",
    "TaskRunner",
    "TransferError",
    "at_flow_end",
    "block_fingerprint",
    "block_label",
    "check_template",
    "did_you_mean",
    "finish_remote",
    "first_line",
    "folder_prefix",
    "format_amount",
    "glob_prefix",
    "lazy_exports",
    "link_run",
    "notify_on",
    "prepare_remote",
    "redact",
    "relative_to_folder",
    "remember_secret",
    "render_template",
    "resolver_credentials",
    "run_context",
    "run_logger_or",
    "run_remote",
    "secret_cache_ttl",
    "under_folder",
    "waits_for_upstream",
]


def __getattr__(name: str) -> object:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(target[0]), target[1])
    globals()[name] = value  # later reads cost nothing
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def block_label(block: object, detail: str | None = None) -> str:
    """How to name a block in a message: ``s3-bucket/prod``, or ``an unsaved S3Bucket``.

    ``detail`` says more about an unsaved one (its target, never a secret).

    Example:
        >>> from orch import Block
        >>> class ApiConnector(Block):
        ...     url: str
        >>> block_label(ApiConnector(url="https://api"), "https://api")
        'an unsaved ApiConnector (https://api)'
    """
    name = getattr(block, "block_document_name", None)
    if name:
        return str(name)
    more = f" ({detail})" if detail else ""
    return f"an unsaved {type(block).__name__}{more}"


def first_line(text: object, limit: int = 120) -> str:
    """The first meaningful line of a statement or message, shortened: for messages.

    Blank lines and SQL comments (``--``) are skipped; longer than ``limit`` ends in
    ``...``.

    Example:
        >>> first_line("-- nightly\\nSELECT *\\nFROM events")
        'SELECT *'
    """
    for line in str(text).splitlines():
        line = line.strip()
        if line and not line.startswith("--"):
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return "(empty statement)"


def resolver_credentials(
    ref: SecretRef, cls: type[B], env_var: str, *, otherwise: str, loop_fix: str
) -> B | None:
    """The saved ``cls`` block named by ``$env_var`` that a secrets-manager resolver reads
    ``ref`` with, or ``None`` when the variable is unset (the package's default applies).

    A block that is not saved, or that holds one of its own secrets as a reference of
    ``ref``'s scheme (which this same resolver would need that block to read: a loop), is a
    clear ``SecretReferenceError``. ``otherwise`` says what unsetting the variable
    does, ``loop_fix`` where that block should get its secret instead.

    Example:
        creds = resolver_credentials(
            ref, AwsCredentials, "ORCH_AWS_CREDENTIALS_BLOCK",
            otherwise="use boto3's default chain", loop_fix="from env:// or a profile",
        ) or AwsCredentials()
    """
    import os

    from orch.errors import BlockNotFoundError, SecretReferenceError
    from orch.secrets import SecretRef

    name = os.environ.get(env_var, "").strip()
    if not name:
        return None
    try:
        credentials = cls.load(name)
    except BlockNotFoundError as exc:
        raise SecretReferenceError(
            f"secret reference {ref}: {env_var} is {name!r}, but {exc}; save that "
            f"{cls.__name__} block, or unset {env_var} to {otherwise}"
        ) from exc
    for field in type(credentials).model_fields:
        inner = getattr(getattr(credentials, field), "reference", None)
        if isinstance(inner, SecretRef) and inner.scheme == ref.scheme:
            raise SecretReferenceError(
                f"secret reference {ref} cannot be resolved: the {cls.__name__} block "
                f"{name!r} named by {env_var} holds {field} as {inner}, which the "
                f"{ref.scheme}:// resolver would need that same block to read (a loop); "
                f"give that block its secret {loop_fix}"
            )
    return credentials
