"""orch-snowflake: Snowflake credentials, a reusable connector and warehouse tasks.

Names are imported lazily: ``import orch_snowflake`` loads neither
snowflake-connector-python nor pandas; they load when a connector first connects or a
task needs them.

Example:
    >>> from orch_snowflake import SnowflakeConnector, SnowflakeCredentials, snowflake_query
"""

from __future__ import annotations

from orch.integration import lazy_exports

TYPE_CHECKING = False

# public name → module that defines it
_EXPORTS = {
    "SnowflakeCredentials": "orch_snowflake.credentials",
    "SnowflakeConnector": "orch_snowflake.connector",
    "DedicatedSession": "orch_snowflake.connector",
    "load_private_key": "orch_snowflake.credentials",
    "SnowflakeError": "orch_snowflake.errors",
    "SnowflakeKeyError": "orch_snowflake.errors",
    "SnowflakeConnectionError": "orch_snowflake.errors",
    "SnowflakeAuthenticationError": "orch_snowflake.errors",
    "SnowflakeQueryError": "orch_snowflake.errors",
    "SnowflakeLoadError": "orch_snowflake.errors",
    "SnowflakeTimeoutError": "orch_snowflake.errors",
    "SnowflakeDependencyError": "orch_snowflake.errors",
    "quote_name": "orch_snowflake.tasks",
    "table_name": "orch_snowflake.tasks",
    "snowflake_query": "orch_snowflake.tasks",
    "snowflake_multiquery": "orch_snowflake.tasks",
    "snowflake_fetch_many": "orch_snowflake.tasks",
    "snowflake_query_pandas": "orch_snowflake.tasks",
    "snowflake_query_arrow": "orch_snowflake.tasks",
    "snowflake_load_dataframe": "orch_snowflake.tasks",
    "snowflake_put_and_copy": "orch_snowflake.tasks",
    "snowflake_execute_async": "orch_snowflake.tasks",
    "snowflake_wait_for_query": "orch_snowflake.tasks",
}

if TYPE_CHECKING:
    from orch_snowflake.connector import DedicatedSession as DedicatedSession
    from orch_snowflake.connector import SnowflakeConnector as SnowflakeConnector
    from orch_snowflake.credentials import SnowflakeCredentials as SnowflakeCredentials
    from orch_snowflake.credentials import load_private_key as load_private_key
    from orch_snowflake.errors import SnowflakeAuthenticationError as SnowflakeAuthenticationError
    from orch_snowflake.errors import SnowflakeConnectionError as SnowflakeConnectionError
    from orch_snowflake.errors import SnowflakeDependencyError as SnowflakeDependencyError
    from orch_snowflake.errors import SnowflakeError as SnowflakeError
    from orch_snowflake.errors import SnowflakeKeyError as SnowflakeKeyError
    from orch_snowflake.errors import SnowflakeLoadError as SnowflakeLoadError
    from orch_snowflake.errors import SnowflakeQueryError as SnowflakeQueryError
    from orch_snowflake.errors import SnowflakeTimeoutError as SnowflakeTimeoutError
    from orch_snowflake.tasks import quote_name as quote_name
    from orch_snowflake.tasks import snowflake_execute_async as snowflake_execute_async
    from orch_snowflake.tasks import snowflake_fetch_many as snowflake_fetch_many
    from orch_snowflake.tasks import snowflake_load_dataframe as snowflake_load_dataframe
    from orch_snowflake.tasks import snowflake_multiquery as snowflake_multiquery
    from orch_snowflake.tasks import snowflake_put_and_copy as snowflake_put_and_copy
    from orch_snowflake.tasks import snowflake_query as snowflake_query
    from orch_snowflake.tasks import snowflake_query_arrow as snowflake_query_arrow
    from orch_snowflake.tasks import snowflake_query_pandas as snowflake_query_pandas
    from orch_snowflake.tasks import snowflake_wait_for_query as snowflake_wait_for_query
    from orch_snowflake.tasks import table_name as table_name

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
