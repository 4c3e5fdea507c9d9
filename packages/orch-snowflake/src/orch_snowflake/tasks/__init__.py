"""Every ready-made Snowflake task, in one place.

Each task takes the connector first, then plain values, and returns plain Python data
(or pandas/Arrow with the ``pandas`` extra); ``task.fn`` is the bare function, usable
without the orch runtime. They live in modules named for what they do:

- :mod:`orch_snowflake.tasks.queries`: ``snowflake_query``, ``snowflake_multiquery``,
  ``snowflake_fetch_many`` (streamed), ``snowflake_query_pandas``,
  ``snowflake_query_arrow``, ``snowflake_execute_async`` + ``snowflake_wait_for_query``;
- :mod:`orch_snowflake.tasks.loads`: ``snowflake_load_dataframe``, ``snowflake_put_and_copy``;
- :mod:`orch_snowflake._sql`: how names are quoted (``quote_name`` and ``table_name``,
  exported here).

Example:
    from orch_snowflake.tasks import snowflake_query
"""

from __future__ import annotations

from orch_snowflake._sql import quote_name, table_name
from orch_snowflake.tasks.loads import (
    DEFAULT_CHUNK_ROWS,
    snowflake_load_dataframe,
    snowflake_put_and_copy,
)
from orch_snowflake.tasks.queries import (
    Row,
    snowflake_execute_async,
    snowflake_fetch_many,
    snowflake_multiquery,
    snowflake_query,
    snowflake_query_arrow,
    snowflake_query_pandas,
    snowflake_wait_for_query,
)

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "Row",
    "quote_name",
    "snowflake_execute_async",
    "snowflake_fetch_many",
    "snowflake_load_dataframe",
    "snowflake_multiquery",
    "snowflake_put_and_copy",
    "snowflake_query",
    "snowflake_query_arrow",
    "snowflake_query_pandas",
    "snowflake_wait_for_query",
    "table_name",
]
