"""DatabaseCredentials and SqlAlchemyConnector as blocks: validation, masking, the store."""

from __future__ import annotations

import ast
import sqlite3
import subprocess
import sys
from pathlib import Path

import orch_sqlalchemy
import pytest
from orch import Block, SecretRef, SecretStr
from orch.errors import BlockValidationError
from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector, SqlError, sql_fetch_one

PASSWORD = "pw-Very-Secret-42"


def pg_credentials(pg_database: str, password: str = PASSWORD) -> DatabaseCredentials:
    # The PostgreSQL fixture trusts local logins: any password is accepted.
    host_port, _, name = pg_database.split("@", 1)[1].partition("/")
    host, _, port = host_port.partition(":")
    return DatabaseCredentials(
        driver="postgresql",
        host=host,
        port=int(port),
        database=name,
        username="postgres",
        password=SecretStr(password),
    )


def test_exactly_one_form_is_required() -> None:
    with pytest.raises(BlockValidationError, match="give either url, or driver"):
        DatabaseCredentials(host="db")
    with pytest.raises(BlockValidationError, match=r"not both \(got url and driver, host\)"):
        DatabaseCredentials(url=SecretStr("sqlite://"), driver="sqlite", host="db")
    with pytest.raises(BlockValidationError, match="is not a SQLAlchemy driver name"):
        DatabaseCredentials(driver="postgres ql")
    with pytest.raises(BlockValidationError, match="is not a SQLAlchemy driver name"):
        DatabaseCredentials(driver="postgresql\n")
    with pytest.raises(
        BlockValidationError, match=r"(?s)invalid database-credentials block:.*port: "
    ):
        DatabaseCredentials(driver="postgresql", port=99999)


def test_secrets_are_masked_everywhere() -> None:
    creds = DatabaseCredentials(driver="postgresql", host="db", username="u", password=PASSWORD)
    whole = DatabaseCredentials(url=SecretStr(f"postgresql://u:{PASSWORD}@db/x"))
    for block in (creds, whole, SqlAlchemyConnector(credentials=whole)):
        for text in (repr(block), str(block), block.model_dump_json(), str(block.model_dump())):
            assert PASSWORD not in text
    assert whole.describe() == "postgresql+psycopg://u@db/x"
    assert creds.describe() == "postgresql+psycopg://u@db"


def test_url_from_parts_or_whole_uses_the_extras_drivers() -> None:
    creds = DatabaseCredentials(
        driver="postgresql",
        host="db",
        port=5433,
        database="x",
        username="u",
        password=PASSWORD,
        query={"sslmode": "require"},
    )
    url = creds.get_url()
    assert (url.drivername, url.host, url.port, url.database, url.username, url.password) == (
        "postgresql+psycopg",
        "db",
        5433,
        "x",
        "u",
        PASSWORD,
    )
    assert url.query == {"sslmode": "require"}
    assert (
        DatabaseCredentials(url=SecretStr("mysql://u@h/d")).get_url().drivername == "mysql+pymysql"
    )
    assert DatabaseCredentials(driver="mysql+mysqldb").get_url().drivername == "mysql+mysqldb"
    with pytest.raises(BlockValidationError, match="url is not a SQLAlchemy URL") as info:
        DatabaseCredentials(url=SecretStr(f"not a url {PASSWORD}")).get_url()
    assert PASSWORD not in str(info.value)


def test_url_reference_is_resolved_on_use(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TEST_DB_URL", f"sqlite:///{tmp_path / 'ref.db'}")
    db = SqlAlchemyConnector(credentials=DatabaseCredentials(url=SecretRef("env://TEST_DB_URL")))
    assert db.credentials.describe() == "the database at env://TEST_DB_URL"
    assert sql_fetch_one(db, "SELECT 1 + 1") == (2,)
    db.dispose()


def test_save_and_load_keep_the_password_encrypted(pg_database: str, orch_home: Path) -> None:
    creds = pg_credentials(pg_database)
    creds.save("warehouse")
    SqlAlchemyConnector(credentials=DatabaseCredentials.load("warehouse"), pool_size=2).save("wh")
    SqlAlchemyConnector(
        credentials=DatabaseCredentials(url=SecretStr(f"postgresql://u:{PASSWORD}@h/d"))
    ).save("inline")
    stored = b"".join(p.read_bytes() for p in orch_home.rglob("*") if p.is_file())
    assert PASSWORD.encode() not in stored
    with sqlite3.connect(orch_home / "orch.db") as conn:
        docs = {
            r[0]: r[1]
            for r in conn.execute("SELECT slug || '/' || name, document FROM orch_blocks")
        }
    # The connector refers to the saved credentials by name.
    assert '{"$block":"database-credentials/warehouse"}' in docs["sqlalchemy-connector/wh"]

    loaded = Block.load("sqlalchemy-connector/wh")
    assert isinstance(loaded, SqlAlchemyConnector)
    assert loaded.pool_size == 2
    assert loaded.credentials.password is not None
    assert loaded.credentials.password.get_secret_value() == PASSWORD
    with loaded:
        assert sql_fetch_one(loaded, "SELECT current_database()") == (
            pg_database.rsplit("/", 1)[1],
        )
    inline = SqlAlchemyConnector.load("inline")
    assert inline.credentials.get_url().password == PASSWORD


def test_importing_and_listing_types_loads_no_sqlalchemy() -> None:
    code = (
        "import sys, orch_sqlalchemy\n"
        "from orch_sqlalchemy import DatabaseCredentials, SqlAlchemyConnector\n"
        "from orch.blocks.registry import get_block_class\n"
        "get_block_class('sqlalchemy-connector'); get_block_class('database-credentials')\n"
        "SqlAlchemyConnector(credentials=DatabaseCredentials(driver='sqlite'))\n"
        "print([m for m in ('sqlalchemy', 'psycopg', 'pymysql', 'pandas', 'sqlparse')"
        " if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_missing_driver_is_named() -> None:
    db = SqlAlchemyConnector(credentials=DatabaseCredentials(driver="postgresql+psycopg2"))
    with pytest.raises(
        SqlError, match=r"the database driver 'postgresql\+psycopg2' .* not installed"
    ):
        sql_fetch_one(db, "SELECT 1")


def test_the_package_imports_only_orch_and_the_kit_from_the_core() -> None:
    # The kit's rule (docs/contributing.md): no private core module, no `_private` name.
    src = Path(orch_sqlalchemy.__file__).parent
    wrong = []
    for path in sorted(src.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
                imported = [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names, imported = [a.name for a in node.names], []
            else:
                continue
            for module in names:
                core = module == "orch" or module.startswith("orch.")
                if core and (
                    module not in ("orch", "orch.integration")
                    or any(n.startswith("_") for n in imported)
                ):
                    wrong.append(f"{path.name}: {module} {imported}")
    assert wrong == []
