"""Rows and tables for the loading tasks: any accepted form of rows as an iterator of
tuples, and the target table's columns, checked before anything is sent.

Tuples/lists are positional, mappings go by column name, pandas DataFrames by their
columns (NaN/NaT become NULL). Errors name the task, the row number or the column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from orch_sqlalchemy.errors import SqlLoadError, label

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

    from orch_sqlalchemy.connector import SqlAlchemyConnector

Row = tuple[Any, ...]


def _is_dataframe(rows: object) -> bool:
    return type(rows).__module__.split(".")[0] == "pandas" and hasattr(rows, "itertuples")


def rows_and_columns(
    rows: Any, columns: Sequence[str] | None, task_name: str
) -> tuple[Iterator[Row], list[str] | None]:
    """Rows as an iterator of tuples, and the column names (None: all, in table order).

    Accepts tuples/lists (positional), mappings (by column name; the first row's keys
    unless ``columns`` is given) and pandas DataFrames (NaN/NaT become NULL).
    """
    if _is_dataframe(rows):
        frame = rows
        cols = [str(c) for c in frame.columns]
        if columns is not None:
            frame, cols = frame[list(columns)], list(columns)
        # object dtype turns numpy scalars into Python ones that every driver adapts.
        clean = frame.astype(object).where(frame.notna(), None)
        return iter(clean.itertuples(index=False, name=None)), cols
    cols_given = list(columns) if columns is not None else None
    if isinstance(rows, list | tuple):
        # A list is passed through as it is: no per-row work on the hot path of COPY.
        if not rows:
            return iter(()), cols_given
        first = rows[0]
        if not isinstance(first, Mapping):
            _check_positional(first, task_name)
            return iter(rows), cols_given
        it = iter(rows[1:])
    else:
        it = iter(rows)
        try:
            first = next(it)
        except StopIteration:
            return iter(()), cols_given
    if isinstance(first, Mapping):
        cols = list(columns) if columns is not None else [str(k) for k in first]
        get = itemgetter(*cols)
        single = len(cols) == 1

        def from_mappings() -> Iterator[Row]:
            for number, row in enumerate(_chain(first, it), start=1):
                try:
                    value = get(row)
                except KeyError as exc:
                    raise SqlLoadError(
                        f"{task_name}: row {number} has no value for column {exc.args[0]!r}"
                    ) from None
                except TypeError:
                    raise SqlLoadError(
                        f"{task_name}: row {number} is a {type(row).__name__}; give every "
                        "row as a mapping like the first one"
                    ) from None
                yield (value,) if single else value

        return from_mappings(), cols
    _check_positional(first, task_name)
    return _chain(first, it), cols_given


def _check_positional(first: object, task_name: str) -> None:
    if isinstance(first, str | bytes) or not isinstance(first, Sequence):
        raise SqlLoadError(
            f"{task_name}: rows must be tuples, lists or mappings (or a DataFrame), "
            f"got {type(first).__name__}"
        )


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def reflect_table(
    conn: Connection,
    table: str,
    schema: str | None,
    task_name: str,
    connector: SqlAlchemyConnector,
) -> Table:
    from sqlalchemy import Column, MetaData, Table, inspect
    from sqlalchemy.exc import NoSuchTableError

    try:
        # Columns only: full reflection (keys, indexes, constraints) costs several more
        # catalog queries, which a small load would feel.
        columns = inspect(conn).get_columns(table, schema=schema)
        return Table(
            table, MetaData(), *(Column(c["name"], c["type"]) for c in columns), schema=schema
        )
    except NoSuchTableError:
        where = f"{schema}.{table}" if schema else table
        raise SqlLoadError(
            f"{task_name}: table {where!r} does not exist in {label(connector)}"
        ) from None


def check_columns(tbl: Table, cols: Sequence[str], task_name: str) -> None:
    unknown = [c for c in cols if c not in tbl.c]
    if unknown:
        raise SqlLoadError(
            f"{task_name}: table {tbl.name!r} has no column(s) {', '.join(map(repr, unknown))} "
            f"(its columns: {', '.join(tbl.c.keys())})"
        )
