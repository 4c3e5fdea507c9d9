"""Bulk-load tasks: a DataFrame through a stage (Parquet, ``PUT``, ``COPY INTO``), and local
files ``PUT`` to a stage and copied in.

Both are all-or-nothing: the rows arrive by one ``COPY INTO`` that aborts on the first
error, in a transaction of a session of their own, so a failure leaves the target table
as it was and raises :class:`~orch_snowflake.errors.SnowflakeLoadError`. Long loads log
their progress (through the run logger inside a run).
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from orch import task
from orch.integration import Progress

from orch_snowflake._sql import file_format_clause, quote_name, table_name
from orch_snowflake.connector import DedicatedSession, SnowflakeConnector
from orch_snowflake.errors import SnowflakeError, SnowflakeLoadError, SnowflakeQueryError, label
from orch_snowflake.tasks.queries import BYTES_THRESHOLD, ROWS_THRESHOLD, _columns, _require

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from snowflake.connector.cursor import SnowflakeCursor

DEFAULT_CHUNK_ROWS = 500_000

_ARROW_TYPES = [
    ("is_boolean", "BOOLEAN"),
    ("is_integer", "NUMBER(38,0)"),
    ("is_floating", "FLOAT"),
    ("is_string", "VARCHAR"),
    ("is_large_string", "VARCHAR"),
    ("is_binary", "BINARY"),
    ("is_large_binary", "BINARY"),
    ("is_date", "DATE"),
    ("is_time", "TIME"),
]


def _snowflake_type(arrow_type: Any) -> str:
    import pyarrow.types as pat

    if pat.is_timestamp(arrow_type):
        return "TIMESTAMP_TZ" if arrow_type.tz else "TIMESTAMP_NTZ"
    if pat.is_decimal(arrow_type):
        return f"NUMBER({arrow_type.precision},{arrow_type.scale})"
    if pat.is_dictionary(arrow_type):
        return _snowflake_type(arrow_type.value_type)
    for check, name in _ARROW_TYPES:
        if getattr(pat, check)(arrow_type):
            return name
    return "VARIANT"


def _put_statement(local: str, stage_path: str) -> str:
    # The connector parses PUT itself: the file URL goes in single quotes.
    url = "file://" + local.replace("\\", "/").replace("'", "\\'")
    return f"PUT '{url}' {stage_path} PARALLEL = 4 AUTO_COMPRESS = FALSE OVERWRITE = TRUE"


@contextlib.contextmanager
def _temporary_stage(session: DedicatedSession, task_name: str) -> Iterator[str]:
    name = quote_name(f"ORCH_STAGE_{uuid.uuid4().hex[:16].upper()}")
    session.execute(f"CREATE TEMPORARY STAGE {name}", task=task_name).close()
    try:
        yield "@" + name
    finally:
        with contextlib.suppress(SnowflakeError):
            session.execute(f"DROP STAGE IF EXISTS {name}", task=task_name).close()


def _copy_rows(cur: SnowflakeCursor) -> int:
    """Rows loaded, from COPY INTO's result (one row per file)."""
    names = [n.lower() for n in _columns(cur)]
    index = names.index("rows_loaded") if "rows_loaded" in names else 3
    return sum(int(row[index] or 0) for row in cur.fetchall() if len(row) > index)


@task
def snowflake_load_dataframe(
    connector: SnowflakeConnector,
    df: pd.DataFrame | pa.Table,
    table: str | Sequence[str],
    mode: Literal["append", "replace", "create"] = "append",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: bool | None = None,
) -> int:
    """Bulk-load a pandas DataFrame or a pyarrow Table; return the rows loaded.

    The frame is written to Parquet files of ``chunk_rows`` rows, ``PUT`` to a temporary
    stage, and copied in by one ``COPY INTO`` (columns matched by name), so the load is
    all-or-nothing: a failure leaves the target table as it was.

    - ``append``: into an existing table;
    - ``create``: create the table from the frame's columns (error if it exists);
    - ``replace``: load a new table from the frame's columns, then put it in place of the
      old one (created if missing) in one statement.

    Names are quoted by :func:`quote_name` (plain names upper-cased, as Snowflake does).

    Progress (the kit's :class:`~orch.integration.Progress`): the rows staged, as a bar
    on a terminal or a line every 10 s through the run logger otherwise, a line when
    ``COPY INTO`` starts and a summary at the end. ``progress=None`` reports only frames
    of 100,000 rows or more; ``True`` always, ``False`` never.

    Example:
        import pandas as pd
        from orch_snowflake import SnowflakeConnector, snowflake_load_dataframe

        sf = SnowflakeConnector.load("analytics")
        df = pd.DataFrame({"id": [1, 2], "name": ["a", "b"]})
        snowflake_load_dataframe(sf, df, "staging.customers", mode="replace")
    """
    _require("pyarrow", "arrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    if mode not in ("append", "replace", "create"):
        raise ValueError(
            f"snowflake_load_dataframe: mode must be 'append', 'replace' or 'create', got {mode!r}"
        )
    if chunk_rows < 1:
        raise ValueError(f"snowflake_load_dataframe: chunk_rows must be >= 1, got {chunk_rows}")
    task_name = "snowflake_load_dataframe"
    target = table_name(table)
    is_arrow = isinstance(df, pa.Table)
    total = df.num_rows if is_arrow else len(df)

    def chunk(start: int) -> pa.Table:
        if is_arrow:
            return df.slice(start, chunk_rows)
        try:
            return pa.Table.from_pandas(df.iloc[start : start + chunk_rows], preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SnowflakeLoadError(
                f"{task_name} on {label(connector)}: the frame for {target} can't be "
                f"written as Parquet (nothing was loaded): {exc}"
            ) from exc

    first = chunk(0)
    columns = [f"{quote_name(field.name)} {_snowflake_type(field.type)}" for field in first.schema]
    ddl_columns = ", ".join(columns)
    meter = Progress(
        f"{task_name} into {target} on {label(connector)}",
        total=total,
        unit="rows",
        enabled=progress if progress is not None else total >= ROWS_THRESHOLD,
        logger="orch_snowflake",
    )
    meter.note(f"staging Parquet files of up to {chunk_rows:,} rows ({total:,} rows)")
    # A session of our own: the temporary stage and tables live in it, and the copy
    # commits alone (no other thread's statement can join the transaction).
    with (
        meter,
        tempfile.TemporaryDirectory(prefix="orch-snowflake-") as tmp,
        connector.dedicated_session() as session,
        _temporary_stage(session, task_name) as stage,
    ):
        # Files are written and uploaded chunk by chunk: memory holds one chunk.
        part, start = 0, 0
        while start < total:
            data = first if start == 0 else chunk(start)
            path = os.path.join(tmp, f"part-{part:05d}.parquet")
            # Microsecond timestamps: what Snowflake's Parquet reader maps without loss.
            pq.write_table(data, path, coerce_timestamps="us", allow_truncated_timestamps=True)
            session.execute(_put_statement(path, f"{stage}/load"), task=task_name).close()
            os.remove(path)
            meter.advance(data.num_rows)
            part, start = part + 1, start + chunk_rows
        copy = (
            f"COPY INTO {{table}} FROM {stage}/load/ "
            "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) "
            "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE ON_ERROR = ABORT_STATEMENT PURGE = TRUE"
        )
        if total:
            meter.note(f"COPY INTO from {part} staged file(s)")
        try:
            loaded = _load(session, task_name, target, mode, ddl_columns, copy, total)
        except BaseException:
            meter.failed(f"failed; {target} is as it was")
            raise
        meter.finish("loaded", loaded)
    return loaded


def _load(
    session: DedicatedSession,
    task_name: str,
    target: str,
    mode: str,
    ddl_columns: str,
    copy: str,
    expected: int,
) -> int:
    def run(statement: str) -> SnowflakeCursor:
        try:
            return session.execute(statement, task=task_name)
        except SnowflakeQueryError as exc:
            raise SnowflakeLoadError(str(exc), code=exc.code) from exc.__cause__

    def copy_into(table: str) -> int:
        if not expected:
            return 0
        # COPY INTO is one statement (atomic on Snowflake); the explicit transaction
        # keeps it all-or-nothing on engines that copy file by file, and lets a count
        # that does not add up roll the copy back.
        with session.transaction(task_name), run(copy.format(table=table)) as cur:
            loaded = _copy_rows(cur)
            if loaded != expected:
                raise SnowflakeLoadError(
                    f"{task_name} on {label(session.connector)}: {expected} rows "
                    f"were staged for {target} but COPY INTO "
                    f"reported {loaded}; the copy was rolled back"
                )
            return loaded

    if mode == "append":
        return copy_into(target)
    if mode == "create":
        run(f"CREATE TABLE {target} ({ddl_columns})").close()
        try:
            return copy_into(target)
        except BaseException:
            # The table is ours: created by this call, so a failed load removes it.
            with contextlib.suppress(SnowflakeError):
                session.execute(f"DROP TABLE IF EXISTS {target}", task=task_name).close()
            raise
    # replace: load a staging table beside the target, then put it in place with one
    # statement. (Not a TEMPORARY table: some engines can't COPY into one in a transaction.)
    staging = quote_name(f"ORCH_LOAD_{uuid.uuid4().hex[:16].upper()}")
    if "." in target:
        staging = target.rsplit(".", 1)[0] + "." + staging
    run(f"CREATE TRANSIENT TABLE {staging} ({ddl_columns})").close()
    try:
        loaded = copy_into(staging)
        run(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {staging}").close()
        return loaded
    finally:
        with contextlib.suppress(SnowflakeError):
            session.execute(f"DROP TABLE IF EXISTS {staging}", task=task_name).close()


@task
def snowflake_put_and_copy(
    connector: SnowflakeConnector,
    path_or_glob: str | os.PathLike[str],
    table: str | Sequence[str],
    file_format: str | Mapping[str, Any] = "CSV",
    stage: str | None = None,
    purge: bool = True,
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    """Upload local files (a path or a glob) to a stage and ``COPY INTO`` a table.

    ``file_format`` is a type (``"CSV"``, ``"PARQUET"``, ``"JSON"``...), a mapping of
    format options (``{"type": "csv", "skip_header": 1, "field_delimiter": ";"}``) or the
    name of a file format object. Files go to a temporary stage unless ``stage`` names
    one (``"my_stage"`` or ``"my_stage/some/path"``). The copy is one statement that aborts
    on the first error, so either every file is loaded or none. Parquet/ORC/Avro columns
    are matched by name. Returns COPY INTO's report, one dict per file.

    Progress (the kit's :class:`~orch.integration.Progress`): the files uploaded, as a
    bar on a terminal or a line every 10 s through the run logger otherwise, a line when
    ``COPY INTO`` starts and a summary at the end. ``progress=None`` reports only when
    the files add up to 8 MiB or more; ``True`` always, ``False`` never.

    Example:
        from orch_snowflake import SnowflakeConnector, snowflake_put_and_copy

        sf = SnowflakeConnector.load("analytics")
        snowflake_put_and_copy(
            sf, "exports/orders-*.csv", "raw.orders",
            file_format={"type": "csv", "skip_header": 1},
        )
    """
    task_name = "snowflake_put_and_copy"
    pattern = os.fspath(path_or_glob)
    files = sorted(glob.glob(os.path.expanduser(pattern)))
    if not files:
        raise SnowflakeLoadError(f"{task_name} on {label(connector)}: no file matches {pattern!r}")
    target = table_name(table)
    fmt = file_format_clause(file_format)
    by_name = any(k in fmt for k in ("PARQUET", "ORC", "AVRO"))
    prefix = f"orch-{uuid.uuid4().hex[:12]}"
    large = sum(os.path.getsize(f) for f in files) >= BYTES_THRESHOLD
    meter = Progress(
        f"{task_name} into {target} on {label(connector)}",
        total=len(files),
        unit="files",
        enabled=progress if progress is not None else large,
        logger="orch_snowflake",
    )
    meter.note(f"uploading ({len(files)} files)")
    with meter, contextlib.ExitStack() as stack:
        session = stack.enter_context(connector.dedicated_session())
        if stage is None:
            base = stack.enter_context(_temporary_stage(session, task_name))
        else:
            head, _, rest = stage.lstrip("@").partition("/")
            base = "@" + table_name(head) + (f"/{rest.strip('/')}" if rest else "")
        location = f"{base}/{prefix}"
        for local in files:
            absolute = str(Path(local).resolve())
            session.execute(_put_statement(absolute, location), task=task_name).close()
            meter.advance(1)
        statement = (
            f"COPY INTO {target} FROM {location}/ FILE_FORMAT = {fmt} "
            + ("MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE " if by_name else "")
            + f"ON_ERROR = ABORT_STATEMENT PURGE = {'TRUE' if purge else 'FALSE'}"
        )
        meter.note(f"COPY INTO from {len(files)} staged file(s)")
        try:
            # One statement, and a transaction for engines that copy file by file.
            with session.transaction(task_name), session.execute(statement, task=task_name) as cur:
                names = [n.lower() for n in _columns(cur)]
                report = [dict(zip(names, row, strict=False)) for row in cur.fetchall()]
        except SnowflakeQueryError as exc:
            meter.failed(f"failed; {target} is as it was")
            raise SnowflakeLoadError(str(exc), code=exc.code) from exc.__cause__
        meter.finish("copied", len(report))
    return report
