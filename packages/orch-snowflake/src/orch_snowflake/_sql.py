"""SQL text that orch-snowflake writes itself: quoted identifiers, DDL literals and
file format clauses.

Values never go through here: they are bound as parameters. Only what Snowflake can't
bind (table and column names, stage names, file format options of DDL) is written into
SQL, and always quoted or validated first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_OPTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def quote_name(name: str) -> str:
    """Quote one identifier so it means what a Snowflake user expects.

    A plain name (``orders``, ``Order_Id``) is upper-cased, as Snowflake does with unquoted
    names, then quoted; a name already in double quotes is kept as it is (case-sensitive);
    anything else (spaces, dashes, dots...) is quoted as given.

    Example:
        >>> quote_name("orders"), quote_name('"MixedCase"'), quote_name("my col")
        ('"ORDERS"', '"MixedCase"', '"my col"')
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"an identifier must be a non-empty string, got {name!r}")
    if len(name) >= 2 and name[0] == name[-1] == '"':
        inner = name[1:-1]
        if '"' in inner.replace('""', ""):
            raise ValueError(f"invalid quoted identifier {name!r}: double its inner quotes")
        return name
    if _PLAIN.fullmatch(name):
        return f'"{name.upper()}"'
    return '"' + name.replace('"', '""') + '"'


def table_name(table: str | Sequence[str]) -> str:
    """``table``, ``schema.table`` or ``db.schema.table`` (or a tuple of parts), quoted.

    Example:
        >>> table_name("analytics.orders")
        '"ANALYTICS"."ORDERS"'
    """
    parts = _split_name(table) if isinstance(table, str) else list(table)
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"a table is [database.][schema.]table, got {table!r}")
    return ".".join(quote_name(p) for p in parts)


def _split_name(name: str) -> list[str]:
    parts, current, quoted, i = [], "", False, 0
    while i < len(name):
        ch = name[i]
        if ch == '"':
            if quoted and name[i + 1 : i + 2] == '"':
                current += '""'
                i += 2
                continue
            quoted = not quoted
            current += ch
        elif ch == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
        i += 1
    if quoted:
        raise ValueError(f"unbalanced double quote in {name!r}")
    parts.append(current)
    return parts


def literal(value: Any) -> str:
    """A SQL literal for a DDL option (file format options can't be bound).

    Example:
        >>> literal("UTF8"), literal(True), literal(("NULL", ""))
        ("'UTF8'", 'TRUE', "('NULL', '')")
    """
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "(" + ", ".join(literal(v) for v in value) + ")"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def file_format_clause(file_format: str | Mapping[str, Any]) -> str:
    """The ``(…)`` of ``FILE_FORMAT =``: from a type, a mapping of options or a format's name.

    Example:
        >>> file_format_clause("csv"), file_format_clause({"type": "csv", "skip_header": 1})
        ('(TYPE = CSV)', '(TYPE = CSV SKIP_HEADER = 1)')
    """
    if isinstance(file_format, Mapping):
        opts = []
        for key, value in file_format.items():
            if not _OPTION.fullmatch(key):
                raise ValueError(f"invalid file format option name {key!r}")
            # TYPE takes a keyword (CSV, PARQUET), the other options literals.
            lit = str(value).upper() if key.upper() == "TYPE" else literal(value)
            if key.upper() == "TYPE" and not _OPTION.fullmatch(lit):
                raise ValueError(f"invalid file format TYPE {value!r}")
            opts.append(f"{key.upper()} = {lit}")
        return "(" + " ".join(opts) + ")"
    if file_format.upper() in {"CSV", "JSON", "PARQUET", "AVRO", "ORC", "XML"}:
        return f"(TYPE = {file_format.upper()})"
    # A named file format object.
    return f"(FORMAT_NAME = {literal(table_name(file_format))})"
