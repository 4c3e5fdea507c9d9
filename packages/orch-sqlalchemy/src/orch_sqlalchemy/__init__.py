"""orch-sqlalchemy: blocks and tasks for SQL databases through SQLAlchemy.

Names are imported lazily: ``import orch_sqlalchemy`` loads neither SQLAlchemy nor a
driver; they load when a connector first connects.

Example:
    >>> from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector, sql_fetch_all
"""

from __future__ import annotations

from orch.integration import lazy_exports

TYPE_CHECKING = False

# public name → module that defines it
_EXPORTS = {
    "DatabaseCredentials": "orch_sqlalchemy.credentials",
    "SqlAlchemyConnector": "orch_sqlalchemy.connector",
    "SqlError": "orch_sqlalchemy.errors",
    "SqlConnectionError": "orch_sqlalchemy.errors",
    "SqlAuthenticationError": "orch_sqlalchemy.errors",
    "SqlStatementError": "orch_sqlalchemy.errors",
    "SqlLoadError": "orch_sqlalchemy.errors",
    "SqlDriverMissingError": "orch_sqlalchemy.errors",
    "sql_execute": "orch_sqlalchemy.tasks",
    "sql_execute_many": "orch_sqlalchemy.tasks",
    "sql_script": "orch_sqlalchemy.tasks",
    "sql_fetch_one": "orch_sqlalchemy.tasks",
    "sql_fetch_all": "orch_sqlalchemy.tasks",
    "sql_fetch_many": "orch_sqlalchemy.tasks",
    "sql_query_to_dataframe": "orch_sqlalchemy.tasks",
    "sql_load_rows": "orch_sqlalchemy.tasks",
    "sql_upsert": "orch_sqlalchemy.tasks",
}

if TYPE_CHECKING:
    from orch_sqlalchemy.connector import SqlAlchemyConnector as SqlAlchemyConnector
    from orch_sqlalchemy.credentials import DatabaseCredentials as DatabaseCredentials
    from orch_sqlalchemy.errors import SqlAuthenticationError as SqlAuthenticationError
    from orch_sqlalchemy.errors import SqlConnectionError as SqlConnectionError
    from orch_sqlalchemy.errors import SqlDriverMissingError as SqlDriverMissingError
    from orch_sqlalchemy.errors import SqlError as SqlError
    from orch_sqlalchemy.errors import SqlLoadError as SqlLoadError
    from orch_sqlalchemy.errors import SqlStatementError as SqlStatementError
    from orch_sqlalchemy.tasks import sql_execute as sql_execute
    from orch_sqlalchemy.tasks import sql_execute_many as sql_execute_many
    from orch_sqlalchemy.tasks import sql_fetch_all as sql_fetch_all
    from orch_sqlalchemy.tasks import sql_fetch_many as sql_fetch_many
    from orch_sqlalchemy.tasks import sql_fetch_one as sql_fetch_one
    from orch_sqlalchemy.tasks import sql_load_rows as sql_load_rows
    from orch_sqlalchemy.tasks import sql_query_to_dataframe as sql_query_to_dataframe
    from orch_sqlalchemy.tasks import sql_script as sql_script
    from orch_sqlalchemy.tasks import sql_upsert as sql_upsert

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
