"""Secret references (``env://NAME``, ``aws-sm://prod/db#password``, ...) and their resolution.

A reference stands in a secret field in place of a value. Only the reference is stored;
the value is fetched by the resolver registered for its scheme when the secret is used,
cached in this process for ``ORCH_SECRET_TTL`` seconds (default 300), and never persisted.

Resolvers are plug-ins: a callable taking the ``SecretRef`` and returning ``str``,
``bytes`` or a mapping. They are registered by scheme through the entry-point group
``orch.secret_resolvers`` or at run time with ``register_resolver``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from orch._catalog import SCHEMES as _PACKAGE_SCHEMES
from orch.errors import SecretReferenceError

Resolved = str | bytes | Mapping[str, Any]
Resolver = Callable[["SecretRef"], Resolved]

# Used with fullmatch (a ``$`` would also match before a trailing newline).
_REF = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<rest>.*)", re.DOTALL)
_USERINFO_PASSWORD = re.compile(r"^([^/@:]*):[^/@]*@")


def _masked(ref: str) -> str:
    """The reference as safe to print: a password typed into it by mistake is masked."""
    match = _REF.fullmatch(ref)
    if not match:
        return "<not a reference>"
    rest = _USERINFO_PASSWORD.sub(r"\1:***@", match["rest"])
    return f"{match['scheme']}://{rest}"


class SecretRef:
    """A reference to a secret held elsewhere: ``scheme://location[?param=v][#key]``.

    ``#key`` picks one key of a JSON/mapping value; ``?params`` are resolver options.

    Example:
        >>> ref = SecretRef("aws-sm://prod/snowflake?region=eu-west-1#password")
        >>> (ref.scheme, ref.location, ref.key, ref.params)
        ('aws-sm', 'prod/snowflake', 'password', {'region': 'eu-west-1'})
    """

    __slots__ = ("key", "location", "params", "ref", "scheme")

    def __init__(self, ref: str) -> None:
        if isinstance(ref, SecretRef):
            ref = ref.ref
        if not isinstance(ref, str):
            raise SecretReferenceError(
                f"a secret reference must be a string like 'env://NAME', got {type(ref).__name__}"
            )
        match = _REF.fullmatch(ref.strip())
        if not match:
            raise SecretReferenceError(
                "a secret reference must look like 'scheme://location', e.g. 'env://NAME'"
            )
        scheme, rest = match["scheme"], match["rest"]
        if not is_known_scheme(scheme):
            raise SecretReferenceError(
                f"unknown secret reference scheme {scheme!r} in {_masked(ref)!r}; "
                f"known schemes: {', '.join(sorted(known_schemes()))}"
            )
        rest, _, key = rest.partition("#")
        location, _, query = rest.partition("?")
        if not location:
            raise SecretReferenceError(f"secret reference {_masked(ref)!r} names no location")
        self.ref = ref.strip()
        self.scheme = scheme
        self.location = location
        self.key = key or None
        self.params = dict(parse_qsl(query, keep_blank_values=True))

    def resolve(self) -> Resolved:
        """The referenced value, through the in-process TTL cache."""
        return resolve(self)

    def __str__(self) -> str:
        return _masked(self.ref)

    def __repr__(self) -> str:
        return f"SecretRef({_masked(self.ref)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretRef) and other.ref == self.ref

    def __hash__(self) -> int:
        return hash(("SecretRef", self.ref))

    def __reduce__(self) -> tuple[Any, ...]:
        return (SecretRef, (self.ref,))


# --- the resolver registry -------------------------------------------------------------

_registry_lock = threading.Lock()
_registered: dict[str, Resolver] = {}
_entry_points: dict[str, Any] | None = None


def _builtins() -> dict[str, Resolver]:
    from orch.secrets import resolvers

    return {"env": resolvers.resolve_env, "file": resolvers.resolve_file}


def _scan_entry_points() -> dict[str, Any]:
    global _entry_points
    if _entry_points is None:
        from importlib.metadata import entry_points

        _entry_points = {ep.name: ep for ep in entry_points(group="orch.secret_resolvers")}
    return _entry_points


def register_resolver(scheme: str, resolver: Resolver) -> None:
    """Register ``resolver`` for ``scheme://`` references in this process.

    Example:
        >>> register_resolver("upper", lambda ref: ref.location.upper())
        >>> SecretRef("upper://abc").resolve()
        'ABC'
    """
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
        raise SecretReferenceError(f"invalid secret reference scheme {scheme!r}")
    with _registry_lock:
        _registered[scheme] = resolver


def known_schemes() -> set[str]:
    """Schemes that may be used: registered, installed, or served by an orch package
    (``orch._catalog``, generated from the packages' entry points, even when not installed)."""
    return {"env", "file"} | set(_registered) | set(_scan_entry_points()) | set(_PACKAGE_SCHEMES)


def is_known_scheme(scheme: str) -> bool:
    if scheme in ("env", "file") or scheme in _registered or scheme in _PACKAGE_SCHEMES:
        return True
    return scheme in _scan_entry_points()


def get_resolver(scheme: str) -> Resolver:
    """The resolver for ``scheme``; a clear error if no installed package serves it."""
    resolver = _registered.get(scheme)
    if resolver is not None:
        return resolver
    builtin = _builtins().get(scheme)
    if builtin is not None:
        return builtin
    entry = _scan_entry_points().get(scheme)
    if entry is not None:
        loaded: Resolver = entry.load()
        with _registry_lock:
            _registered.setdefault(scheme, loaded)
        return loaded
    dist = _PACKAGE_SCHEMES.get(scheme)
    hint = f": pip install {dist}" if dist else ""
    raise SecretReferenceError(f"no resolver is installed for {scheme}:// references{hint}")


# --- resolution with a TTL cache ------------------------------------------------------

_cache: dict[str, tuple[float, Resolved]] = {}
_flight_locks: dict[str, threading.Lock] = {}
_ttl: float | None = None


def set_cache_ttl(seconds: float | None) -> None:
    """Override ``ORCH_SECRET_TTL`` for this process (``None`` goes back to the setting)."""
    global _ttl
    _ttl = seconds


def clear_cache() -> None:
    """Drop every cached resolved value (the next use resolves again)."""
    _cache.clear()


def cache_ttl() -> float:
    """How long, in seconds, a resolved value is reused before it is resolved again.

    Example:
        >>> cache_ttl() >= 0
        True
    """
    return _cache_ttl()


def _cache_ttl() -> float:
    if _ttl is not None:
        return _ttl
    from orch.settings import secret_ttl_seconds

    return secret_ttl_seconds()


def resolve(ref: SecretRef) -> Resolved:
    """Resolve ``ref``; concurrent callers of one reference share a single resolver call."""
    hit = _cache.get(ref.ref)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    lock = _flight_locks.get(ref.ref)
    if lock is None:
        with _registry_lock:
            lock = _flight_locks.setdefault(ref.ref, threading.Lock())
    with lock:
        hit = _cache.get(ref.ref)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        resolver = get_resolver(ref.scheme)
        try:
            raw = resolver(ref)
        except SecretReferenceError:
            raise
        except Exception as exc:
            raise SecretReferenceError(
                f"could not resolve secret reference {ref}: {type(exc).__name__}: {exc}"
            ) from exc
        value = _select_key(ref, raw)
        ttl = _cache_ttl()
        if ttl > 0:
            _cache[ref.ref] = (time.monotonic() + ttl, value)
        return value


def _select_key(ref: SecretRef, raw: Resolved) -> Resolved:
    """Apply the reference's ``#key`` to a mapping or JSON value."""
    if ref.key is None:
        return raw
    mapping: Any = raw
    if isinstance(raw, str | bytes):
        try:
            mapping = json.loads(raw)
        except ValueError:
            raise SecretReferenceError(
                f"secret reference {ref} asks for key {ref.key!r} but the secret is not JSON"
            ) from None
    if not isinstance(mapping, Mapping):
        raise SecretReferenceError(
            f"secret reference {ref} asks for key {ref.key!r} but the secret is not an object"
        )
    if ref.key not in mapping:
        raise SecretReferenceError(
            f"secret reference {ref}: the secret has no key {ref.key!r} "
            f"(keys: {', '.join(sorted(map(str, mapping)))})"
        )
    value = mapping[ref.key]
    if isinstance(value, str | bytes | Mapping):
        return value
    return json.dumps(value)
