"""The ``Block`` base: typed, named, saved configuration and credentials."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Self, SupportsIndex

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from orch.blocks import registry
from orch.errors import BlockError, BlockNotFoundError, BlockValidationError, did_you_mean
from orch.secrets.types import SECRET_TYPES

# Used with fullmatch: a ``$`` would also match before a trailing newline ("prod\n").
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
# A slug is the ``slug`` of ``slug/name``: no "/", no whitespace (``_`` may lead: ``_Foo``).
_SLUG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def kebab_case(name: str) -> str:
    """``SnowflakeCredentials`` → ``snowflake-credentials``; ``S3Bucket`` → ``s3-bucket``."""
    return _CAMEL_BOUNDARY.sub("-", name).lower()


def check_block_name(name: str) -> str:
    """Validate a block's name: letters, digits, ``_ . -``, up to 128 characters."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BlockError(
            f"invalid block name {name!r}: use letters, digits, '_', '.', '-' "
            "(starting with a letter or digit, at most 128 characters)"
        )
    return name


def check_block_type_slug(slug: str) -> str:
    """Validate a block type slug: letters, digits, ``_ . -``, up to 128 characters."""
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise BlockError(
            f"invalid block type slug {slug!r}: use letters, digits, '_', '.', '-' "
            "(no '/' or spaces, at most 128 characters)"
        )
    return slug


def _friendly_errors(cls: type[BaseModel], exc: ValidationError) -> BlockValidationError:
    """A validation error naming the block type and fields, without the input values.

    pydantic's own message echoes the input, which may be a secret.
    """
    slug = getattr(cls, "block_type_slug", cls.__name__)
    lines = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(block)"
        lines.append(f"  {loc}: {err['msg']}")
    return BlockValidationError(
        f"invalid {slug} block:\n" + "\n".join(lines),
        [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ],
    )


@dataclass(frozen=True)
class BlockInfo:
    """One saved block, as listed (no document decoded)."""

    slug: str
    name: str
    schema_version: int
    revision: int
    created_at: float
    updated_at: float

    @property
    def full_name(self) -> str:
        return f"{self.slug}/{self.name}"


class Block(BaseModel):
    """Base class of every block: a pydantic model that can be saved by name.

    Subclasses declare typed fields; secret fields use ``SecretStr``, ``SecretBytes``
    or ``SecretDict`` and may hold a ``SecretRef``. Unknown fields are an error.

    Example:
        >>> from orch import Block, SecretStr, SecretRef
        >>> class ApiCredentials(Block):
        ...     '''Credentials of our internal API.
        ...
        ...     Example:
        ...         ApiCredentials(url="https://api", token=SecretRef("env://API_TOKEN"))
        ...     '''
        ...     url: str
        ...     token: SecretStr
        >>> ApiCredentials(url="https://api", token="t0ken").save("prod")  # doctest: +SKIP
        'api-credentials/prod'
        >>> ApiCredentials.load("prod").token  # doctest: +SKIP
        SecretStr('**********')
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    block_type_slug: ClassVar[str] = "block"
    block_schema_version: ClassVar[int] = 1
    # Field names that look secret (…key, …token) but are not, on purpose (e.g. a key *path*).
    block_not_secret: ClassVar[frozenset[str]] = frozenset()

    _block_name: str | None = PrivateAttr(default=None)
    _block_revision: int | None = PrivateAttr(default=None)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _friendly_errors(type(self), exc) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise _friendly_errors(cls, exc) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise _friendly_errors(type(self), exc) from None

    def __eq__(self, other: object) -> bool:
        # Blocks are equal by type and fields; where they were saved does not matter.
        if not isinstance(other, Block):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "block_type_slug" not in cls.__dict__:
            cls.block_type_slug = kebab_case(cls.__name__)
        # A base with abstract methods (orch.integration.Connector, a role) is no block
        # type of its own: it cannot be built, so it is not listed nor loadable.
        if not inspect.isabstract(cls):
            registry.register(cls)

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        # A saved block pickles by its name: the receiver (a process-pool worker) loads it
        # from the store, so no secret travels through the pipe or sits in a pickle. By
        # name only while it still equals what is stored: a block changed after it was
        # loaded (a field set, a model_copy(update=...)) must arrive as it is, so that one
        # goes by value, as does an unsaved block. One store read per pickle, which
        # happens once per task sent to a process.
        name = self.block_document_name
        if name is not None and _same_as_stored(self, name):
            return (_load_saved, (type(self), name))
        return super().__reduce_ex__(protocol)

    # --- identity --------------------------------------------------------------------
    @property
    def block_name(self) -> str | None:
        """The name this block was saved or loaded under, else ``None``."""
        return self._block_name

    @property
    def block_document_name(self) -> str | None:
        """``slug/name`` if this block is saved, else ``None``."""
        return None if self._block_name is None else f"{self.block_type_slug}/{self._block_name}"

    # --- metadata --------------------------------------------------------------------
    @classmethod
    def block_description(cls) -> str:
        """The first paragraph of the class docstring."""
        doc = inspect.getdoc(cls) or ""
        return doc.split("\n\n", 1)[0].strip() if cls.__doc__ else ""

    @classmethod
    def block_example(cls) -> str:
        """The ``Example:`` section of the class docstring (a usage example)."""
        if not cls.__doc__:
            return ""
        doc = inspect.cleandoc(cls.__doc__)
        match = re.search(r"^Examples?:\s*\n(?P<body>(?:[ \t]+.*\n?|\s*\n)+)", doc, re.M)
        return inspect.cleandoc(match["body"]) if match else ""

    @classmethod
    def secret_fields(cls) -> list[str]:
        """Names of the fields typed as secrets (directly or inside Optional/Union)."""
        found = []
        for name, field in cls.model_fields.items():
            if _mentions_secret(field.annotation):
                found.append(name)
        return found

    @classmethod
    def block_schema(cls) -> dict[str, Any]:
        """JSON schema of the fields, with ``secret_fields`` and the type's metadata."""
        schema = cls.model_json_schema()
        schema["block_type_slug"] = cls.block_type_slug
        schema["block_schema_version"] = cls.block_schema_version
        schema["secret_fields"] = cls.secret_fields()
        return schema

    @classmethod
    def block_sample(cls) -> Self:
        """A valid instance with placeholder values (docs, the block contract test).

        The default fills each required field from its type; override it when a validator
        needs a particular combination of fields.
        """
        values = {
            name: _sample_value(name, field.annotation)
            for name, field in cls.model_fields.items()
            if field.is_required()
        }
        return cls(**values)

    @classmethod
    def migrate_document(cls, data: dict[str, Any], from_version: int) -> dict[str, Any]:
        """Upgrade a stored document of an older schema version (override per type).

        The default keeps the fields as they are, which suits added optional fields.
        """
        return data

    # --- persistence -----------------------------------------------------------------
    def save(self, name: str, overwrite: bool = False) -> str:
        """Save under ``name``; returns ``slug/name``.

        With ``overwrite=False`` an existing name raises ``BlockExistsError``. Saving a
        block that was loaded checks it was not changed meanwhile (``BlockConflictError``).
        """
        from orch.blocks.block_store import save_block

        check_block_type_slug(self.block_type_slug)
        return save_block(self, check_block_name(name), overwrite=overwrite)

    @classmethod
    def load(cls, name: str) -> Self:
        """Load a saved block: ``Cls.load("prod")`` or ``Block.load("slug/prod")``."""
        from orch.blocks.block_store import load_block

        slug, bare = cls._split(name)
        block = load_block(slug, bare)
        if not isinstance(block, cls):
            raise BlockError(
                f"block {slug}/{bare} is a {type(block).__name__}, not a {cls.__name__}"
            )
        return block

    @classmethod
    def delete(cls, name: str) -> None:
        """Delete a saved block; refused while other saved blocks reference it."""
        from orch.blocks.block_store import delete_block

        slug, bare = cls._split(name)
        delete_block(slug, bare)

    @classmethod
    def list_saved(cls) -> list[BlockInfo]:
        """Saved blocks of this type (all types when called on ``Block``)."""
        from orch.blocks.block_store import list_blocks

        return list_blocks(None if cls is Block else cls.block_type_slug)

    @classmethod
    def _split(cls, name: str) -> tuple[str, str]:
        if "/" in name:
            slug, _, bare = name.partition("/")
            if cls is not Block and slug != cls.block_type_slug:
                raise BlockError(
                    f"{name!r} is not a {cls.block_type_slug} block "
                    f"(use {cls.block_type_slug}/NAME or Block.load({name!r}))"
                )
            return check_block_type_slug(slug), check_block_name(bare)
        if cls is Block:
            from orch.blocks.block_store import find_by_name, list_blocks

            matches = find_by_name(check_block_name(name))
            if len(matches) == 1:
                return matches[0].slug, name
            if not matches:
                saved = {i.name: i.full_name for i in list_blocks()}
                hint = did_you_mean(name, saved)
                close = hint.removeprefix(" (did you mean ").removesuffix("?)").strip("'")
                if close in saved:  # suggest the full name, which always works
                    hint = f" (did you mean {saved[close]!r}?)"
                raise BlockNotFoundError(f"no saved block is named {name!r}{hint}")
            options = ", ".join(m.full_name for m in matches)
            raise BlockError(f"several blocks are named {name!r}: say which ({options})")
        return cls.block_type_slug, check_block_name(name)


def _load_saved(cls: type[Block], name: str) -> Block:
    """Unpickling a saved block: load it again from the store (no secret was pickled)."""
    return cls.load(name)


def _same_as_stored(block: Block, name: str) -> bool:
    try:
        return bool(type(block).load(name) == block)
    except BlockError:  # deleted or unreadable meanwhile: send the value
        return False


def _sample_value(name: str, annotation: Any) -> Any:
    import enum
    import types
    import typing

    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType) and args:
        return _sample_value(name, args[0])
    if isinstance(annotation, type):
        if issubclass(annotation, SECRET_TYPES):
            sample = f"sample-secret-{name}"
            return {"str": sample, "bytes": sample.encode(), "dict": {"sample": sample}}[
                annotation._kind
            ]
        if issubclass(annotation, Block):
            return annotation.block_sample()
        if issubclass(annotation, enum.Enum):
            return next(iter(annotation))
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, int | float):
            return 1
        if issubclass(annotation, str):
            return f"sample-{name}"
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set):
        return []
    if origin is dict or annotation is dict:
        return {}
    return f"sample-{name}"


def _mentions_secret(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, SECRET_TYPES):
        return True
    return any(_mentions_secret(arg) for arg in getattr(annotation, "__args__", ()) or ())
