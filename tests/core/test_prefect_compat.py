"""Prefect 3 names a migrating user types: the ones that map work, the others say the orch way."""

from __future__ import annotations

import importlib
import inspect
import logging
import subprocess
import sys
from typing import Any

import pytest
from orch import flow, task
from orch.errors import MissingContextError, NotInOrchError

from tests.core.runtime_support import flush_history

pytestmark = pytest.mark.usefixtures("flush_history")
__all__ = ["flush_history"]


# --- orch.logging ------------------------------------------------------------------------
def test_orch_logging_get_run_logger_logs_into_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    from orch.logging import get_run_logger

    @flow
    def f() -> None:
        get_run_logger().info("hello from %s", "prefect code")

    f()
    assert "hello from prefect code" in capsys.readouterr().err


def test_orch_logging_get_logger_is_under_orch() -> None:
    from orch.logging import get_logger

    assert get_logger().name == "orch"
    assert get_logger("etl").name == "orch.etl"
    assert isinstance(get_logger("etl"), logging.Logger)


def test_disable_run_logger_lets_task_fn_run_outside_a_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from orch.logging import disable_run_logger, get_run_logger

    @task
    def load(n: int) -> int:
        get_run_logger().info("loading %d", n)
        return n

    with pytest.raises(MissingContextError):
        load.fn(1)
    with disable_run_logger():
        assert load.fn(2) == 2
    assert "loading 2" not in capsys.readouterr().err
    with pytest.raises(MissingContextError):  # back to normal after the block
        load.fn(3)


# --- orch.blocks.system and Secret.get() ------------------------------------------------
def test_blocks_system_names_the_core_blocks() -> None:
    from orch.blocks.system import JSON, Json, Secret
    from orch.system_blocks import Json as CoreJson
    from orch.system_blocks import Secret as CoreSecret

    assert Secret is CoreSecret
    assert JSON is Json is CoreJson


def test_secret_get_returns_the_plain_value_after_load(any_store: str) -> None:
    from orch.blocks.system import Secret

    Secret(value="s3cr3t-token").save("api-token")
    assert Secret.load("api-token").get() == "s3cr3t-token"


def test_secret_get_resolves_a_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    from orch import SecretRef
    from orch.blocks.system import Secret

    monkeypatch.setenv("COMPAT_TOKEN", "from-env")
    Secret(value=SecretRef("env://COMPAT_TOKEN")).save("env-token")
    assert Secret.load("env-token").get() == "from-env"


def test_json_block_under_prefect_name_round_trips() -> None:
    from orch.blocks.system import JSON

    JSON(value={"regions": ["eu", "us"]}).save("settings")
    assert JSON.load("settings").value == {"regions": ["eu", "us"]}


def test_blocks_system_string_names_the_orch_way() -> None:
    with pytest.raises(ImportError, match=r"no String or DateTime block.*Json\(value="):
        from orch.blocks.system import String  # noqa: F401


# --- orch.cache_policies -----------------------------------------------------------------
def test_cache_policy_inputs_caches_by_arguments() -> None:
    from orch.cache_policies import INPUTS

    calls: list[int] = []

    @task(cache_policy=INPUTS)
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    @flow
    def f() -> list[Any]:
        return [square(3), square(3), square(4)]

    assert f() == [9, 9, 16]
    assert f() == [9, 9, 16]  # persistent across flow runs, as Prefect's INPUTS
    assert calls == [3, 4]


def test_inputs_minus_argument_ignores_it() -> None:
    from orch.cache_policies import INPUTS

    calls: list[str] = []

    @task(cache_policy=INPUTS - "debug")
    def fetch(url: str, debug: bool = False) -> str:
        calls.append(url)
        return url.upper()

    @flow
    def f() -> list[str]:
        return [fetch("a", debug=False), fetch("a", debug=True), fetch("b")]

    assert f() == ["A", "A", "B"]
    assert calls == ["a", "b"]


def test_task_source_separates_tasks_with_equal_inputs() -> None:
    from orch.cache_policies import INPUTS, TASK_SOURCE

    @task(cache_policy=INPUTS + TASK_SOURCE)
    def double(x: int) -> int:
        return x * 2

    @task(cache_policy=INPUTS + TASK_SOURCE)
    def triple(x: int) -> int:
        return x * 3

    @flow
    def f() -> list[int]:
        return [double(5), triple(5)]

    assert f() == [10, 15]


def test_run_id_caches_within_one_flow_run_only() -> None:
    from orch.cache_policies import DEFAULT

    calls: list[int] = []

    @task(cache_policy=DEFAULT)
    def work(x: int) -> int:
        calls.append(x)
        return x

    @flow
    def f() -> None:
        work(1)
        work(1)

    f()
    f()
    assert calls == [1, 1]  # cached inside each run, not across the two runs


def test_none_policy_never_caches_and_is_neutral_in_a_sum() -> None:
    from orch.cache_policies import INPUTS, NONE

    calls: list[int] = []

    @task(cache_policy=NONE)
    def work(x: int) -> int:
        calls.append(x)
        return x

    @flow
    def f() -> None:
        work(1)
        work(1)

    f()
    assert calls == [1, 1]
    assert work.cache_key_fn is None
    assert repr(NONE + INPUTS) == "INPUTS"


def test_cache_policy_and_cache_key_fn_together_is_refused() -> None:
    from orch.cache_policies import INPUTS
    from orch.tasks import task_input_hash

    with pytest.raises(ValueError, match="cache_policy or cache_key_fn, not both"):

        @task(cache_policy=INPUTS, cache_key_fn=task_input_hash)
        def f(x: int) -> int:
            return x


def test_with_options_keeps_the_policy() -> None:
    from orch.cache_policies import INPUTS

    @task(cache_policy=INPUTS)
    def f(x: int) -> int:
        return x

    assert f.with_options(retries=1).cache_policy is INPUTS


# --- what orch does not have: errors that name the orch way ------------------------------
@pytest.mark.parametrize(
    ("module", "name", "says"),
    [
        ("orch.artifacts", "create_markdown_artifact", "get_run_logger"),
        ("orch.variables", "Variable", "Json"),
        ("orch.schedules", "RRule", "cron expression"),
    ],
)
def test_server_modules_name_the_orch_way(module: str, name: str, says: str) -> None:
    mod = importlib.import_module(module)  # importable, so doctest and tools still work
    with pytest.raises(ImportError, match=says) as caught:
        getattr(mod, name)
    assert isinstance(caught.value, NotInOrchError)
    if module != "orch.schedules":
        assert f"{module}.{name} is Prefect's, not orch's" in str(caught.value)
    assert not hasattr(mod, "__wrapped__")  # probes for dunders stay AttributeError


def test_from_import_of_a_server_name_keeps_the_message() -> None:
    with pytest.raises(ImportError, match="no server to hold variables"):
        from orch.variables import Variable  # noqa: F401


def test_flow_deploy_names_the_orch_way_and_serve_takes_prefects_arguments() -> None:
    from orch.schedules import Cron

    @flow
    def etl(day: str = "today") -> None:
        pass

    # Prefect's spelling of serve's arguments builds the same deployment (serve() itself
    # runs until SIGTERM: tests/core/test_serve.py)
    deployment = etl.to_deployment(
        name="etl", cron="0 2 * * *", timezone="Europe/Paris", parameters={"day": "x"}
    )
    assert isinstance(deployment.schedule, Cron)
    assert deployment.schedule.timezone == "Europe/Paris"
    assert deployment.parameters == {"day": "x"}
    assert deployment.flow_name == "etl"
    with pytest.raises(NotInOrchError, match=r"no server or work pool.*python your_flow.py"):
        etl.deploy(name="etl", work_pool_name="pool", image="img")


def test_import_orch_does_not_load_the_compat_modules() -> None:
    code = (
        "import sys, orch\n"
        "print(sorted(m for m in sys.modules if m in {'orch.logging', 'orch.cache_policies',"
        " 'orch.artifacts', 'orch.blocks.system'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the block methods a Prefect flow calls, with Prefect's argument names ---------------
@pytest.mark.parametrize(
    ("module", "block", "method", "parameters"),
    [
        ("orch_aws", "S3Bucket", "upload_from_path", ["from_path", "to_path"]),
        ("orch_aws", "S3Bucket", "download_object_to_path", ["from_path", "to_path"]),
        ("orch_aws", "S3Bucket", "read_path", ["path"]),
        ("orch_aws", "S3Bucket", "write_path", ["path", "content"]),
        ("orch_sqlalchemy", "SqlAlchemyConnector", "execute", ["operation", "parameters"]),
        (
            "orch_sqlalchemy",
            "SqlAlchemyConnector",
            "execute_many",
            ["operation", "seq_of_parameters"],
        ),
        ("orch_sqlalchemy", "SqlAlchemyConnector", "fetch_one", ["operation", "parameters"]),
        (
            "orch_sqlalchemy",
            "SqlAlchemyConnector",
            "fetch_many",
            ["operation", "parameters", "size"],
        ),
        ("orch_sqlalchemy", "SqlAlchemyConnector", "fetch_all", ["operation", "parameters"]),
    ],
)
def test_block_methods_keep_prefects_names(
    module: str, block: str, method: str, parameters: list[str]
) -> None:
    # Called for real against moto and PostgreSQL by tests/docs/test_migrating_from_prefect.py.
    cls = getattr(pytest.importorskip(module), block)
    names = list(inspect.signature(getattr(cls, method)).parameters)
    assert names[1 : 1 + len(parameters)] == parameters
