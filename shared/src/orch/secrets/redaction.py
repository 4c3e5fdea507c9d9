"""Redaction of secret values that this process has seen.

Every secret value revealed through ``get_secret_value()`` (literal or resolved from a
reference) is remembered here, so that log records, stored errors and run history can be
scrubbed of it even when user code prints it by accident. The forms a value takes once
escaped — in a ``repr()`` / ``%r`` (``\\n``, ``\\\\``, ``\\'``) or in JSON — are masked too,
so a PEM key or a password holding quotes is masked wherever it is written.

Process-pool workers get the revealed values with each task (``revealed``), and an
uncaught exception that Python prints is masked as well (see ``remember``).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import reprlib
    from types import TracebackType

MASK = "**********"
# Values shorter than this are not redacted: masking "a" or "1" would shred every log line.
MIN_REDACTED_LENGTH = 4

_lock = threading.Lock()
# The values revealed (what a worker process is sent) ...
_values: set[str] = set()
# ... and every form they are masked in: the values and their escaped forms.
_forms: set[str] = set()
_pattern: re.Pattern[str] | None = None
_hooks_installed = False


def remember(value: object) -> None:
    """Remember a revealed secret (str, bytes, or a dict/list of them) for redaction.

    The first value remembered also makes Python's report of an uncaught exception (in the
    main thread or another thread) masked, when the program kept the default hooks.
    """
    global _pattern
    new = [v for v in _strings(value) if len(v) >= MIN_REDACTED_LENGTH and v not in _values]
    if not new:
        return
    forms = {form for v in new for form in _escaped_forms(v)}
    with _lock:
        _values.update(new)
        _forms.update(forms)
        _pattern = None  # rebuilt lazily by the next redact()
    if not _hooks_installed:
        _install_excepthooks()


def _escaped_forms(value: str) -> set[str]:
    """``value`` and what it becomes in a repr (either quoting), ascii(), JSON, a bytes
    repr, a JSON-encoded repr (stored parameters) and a URL (a password in a DSN): one
    literal each to match. A value without special characters has one form: itself."""
    import json
    from urllib.parse import quote, quote_plus

    python = {repr(value)[1:-1], repr('"' + value)[2:-1], ascii(value)[1:-1]}
    try:
        raw = value.encode()
        python |= {repr(raw)[2:-1], repr(b'"' + raw)[3:-1]}
    except UnicodeEncodeError:  # lone surrogates: no bytes form
        pass
    forms = {value, *python, quote(value, safe=""), quote(value), quote_plus(value)}
    for text in (value, *python):
        forms.add(json.dumps(text)[1:-1])
        forms.add(json.dumps(text, ensure_ascii=False)[1:-1])
    return {f for f in forms if len(f) >= MIN_REDACTED_LENGTH}


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        try:
            yield value.decode()
        except UnicodeDecodeError:
            return
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif value is not None and not isinstance(value, bool):
        text = str(value)
        if text:
            yield text


def redact(text: str) -> str:
    """Return ``text`` with every remembered secret value replaced by a mask.

    Example:
        >>> remember("hunter2-hunter2")
        >>> redact("password is hunter2-hunter2")
        'password is **********'
    """
    global _pattern
    if not _values or not text:
        return text
    pattern = _pattern
    if pattern is None:
        with _lock:
            # Longest first, so a secret containing another is masked whole.
            alternatives = sorted(_forms, key=len, reverse=True)
            pattern = _pattern = re.compile("|".join(map(re.escape, alternatives)))
    return pattern.sub(MASK, text)


def revealed() -> tuple[str, ...]:
    """The values revealed so far, for a worker process to ``remember`` (never log them).

    Example:
        >>> remember("s3cr3t-value")
        >>> "s3cr3t-value" in revealed()
        True
    """
    if not _values:
        return ()
    with _lock:
        return tuple(_values)


def forget_all() -> None:
    """Forget every remembered value (tests only)."""
    global _pattern
    with _lock:
        _values.clear()
        _forms.clear()
        _pattern = None


def masking_repr(maxstring: int = 200, maxitems: int = 20) -> reprlib.Repr:
    """A bounded ``reprlib.Repr`` that masks secrets *before* it truncates.

    A plain ``reprlib`` repr cuts a long string in two halves, neither of which is the
    whole secret, so masking its output afterwards misses both.

    Example:
        >>> masking_repr().repr("x" * 300)[:5]
        "'xxxx"
    """
    import builtins
    import reprlib

    class _MaskingRepr(reprlib.Repr):
        def repr_str(self, x: str, level: int) -> str:
            return super().repr_str(redact(x) if _values else x, level)

        def repr_instance(self, x: Any, level: int) -> str:
            if not _values:
                return super().repr_instance(x, level)
            try:
                s = redact(builtins.repr(x))
            except Exception:
                return f"<{type(x).__name__}>"
            if len(s) > self.maxother:
                i = max(0, (self.maxother - 3) // 2)
                j = max(0, self.maxother - 3 - i)
                s = s[:i] + self.fillvalue + s[len(s) - j :]
            return s

    r = _MaskingRepr()
    r.maxstring = r.maxother = maxstring
    r.maxlist = r.maxtuple = r.maxdict = r.maxset = r.maxfrozenset = r.maxdeque = maxitems
    return r


# Record attributes set by the run logger that may hold a run name built from a secret.
_LABELS = ("run_label", "flow_run_name", "task_run_name")


class RedactingFilter(logging.Filter):
    """A logging filter that masks remembered secrets in the record's final message, its
    traceback and its run label (``Flow run 'name'``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _values:
            return True
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, redact(formatted)
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        attrs = record.__dict__
        for name in _LABELS:
            value = attrs.get(name)
            if type(value) is str:
                attrs[name] = redact(value)
        return True


# --- uncaught exceptions ----------------------------------------------------------------
def _install_excepthooks() -> None:
    """Mask Python's own report of an uncaught exception, when the program did not set its
    own hook: the exception object is left as raised (code that catches it still sees its
    message); only what is printed is masked."""
    global _hooks_installed
    with _lock:
        if _hooks_installed:
            return
        _hooks_installed = True
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _masked_excepthook
    if threading.excepthook is threading.__excepthook__:
        threading.excepthook = _masked_thread_excepthook


def _masked_report(
    exc_type: type[BaseException], exc: BaseException | None, tb: TracebackType | None
) -> str:
    import traceback

    return redact("".join(traceback.format_exception(exc_type, exc, tb)))


def _masked_excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    try:
        text = _masked_report(exc_type, exc, tb)
    except Exception:  # never lose the report: fall back to Python's own
        sys.__excepthook__(exc_type, exc, tb)
        return
    if sys.stderr is not None:
        sys.stderr.write(text)
        sys.stderr.flush()


def _masked_thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or sys.stderr is None:
        threading.__excepthook__(args)  # silent for SystemExit; its own stream otherwise
        return
    name = args.thread.name if args.thread is not None else threading.get_ident()
    try:
        text = _masked_report(args.exc_type, args.exc_value, args.exc_traceback)
    except Exception:
        threading.__excepthook__(args)
        return
    sys.stderr.write(f"Exception in thread {name}:\n{text}")
    sys.stderr.flush()
