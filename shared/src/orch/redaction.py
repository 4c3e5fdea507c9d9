"""Redaction of secret values that this process has seen.

Every secret value revealed through ``get_secret_value()`` (literal or resolved from a
reference) is remembered here, so that log records, stored errors and run history can be
scrubbed of it even when user code prints it by accident.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

MASK = "**********"
# Values shorter than this are not redacted: masking "a" or "1" would shred every log line.
MIN_REDACTED_LENGTH = 4

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def remember(value: object) -> None:
    """Remember a revealed secret (str, bytes, or a dict/list of them) for redaction."""
    global _pattern
    new = [v for v in _strings(value) if len(v) >= MIN_REDACTED_LENGTH and v not in _values]
    if not new:
        return
    with _lock:
        _values.update(new)
        _pattern = None  # rebuilt lazily by the next redact()


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
            alternatives = sorted(_values, key=len, reverse=True)
            pattern = _pattern = re.compile("|".join(map(re.escape, alternatives)))
    return pattern.sub(MASK, text)


def has_secrets() -> bool:
    """Whether any secret value has been revealed in this process."""
    return bool(_values)


def forget_all() -> None:
    """Forget every remembered value (tests only)."""
    global _pattern
    with _lock:
        _values.clear()
        _pattern = None


class RedactingFilter(logging.Filter):
    """A logging filter that masks remembered secrets in the record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _values:
            return True
        message = record.getMessage()
        cleaned = redact(message)
        exc_text = None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            exc_text = redact(formatted)
        if cleaned != message or (exc_text is not None):
            record.msg, record.args = cleaned, None
            if exc_text is not None:
                record.exc_info, record.exc_text = None, exc_text
        return True


def install_logging_filter(logger: logging.Logger | None = None) -> None:
    """Add :class:`RedactingFilter` to every handler of ``logger`` (the root by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
