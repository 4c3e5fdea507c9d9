"""orch-gcp's blocks keep the contract of :mod:`orch.testing` (against the emulators).

``GcpCredentials`` is a Connector (its client is the holder of one google.auth
credentials object and its clients); ``GcsBucket``, ``BigQueryWarehouse`` and
``GcpSecret`` are blocks that use their credentials' clients. Every one, saved and
loaded, pickles by its name with no secret byte in the pickle.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from orch.testing import BlockContract, ConnectorContract
from orch_gcp import BigQueryWarehouse, GcpCredentials, GcpSecret, GcsBucket

from .conftest import PROJECT

PRIVATE_KEY_ID = "contract0private0key0id0000000000000001"


def _key_info(private_key_pem: str) -> dict[str, str]:
    return {
        # (no "type": the masking check would find "service_account" in the field's name)
        "project_id": "contract-key-project",
        "private_key_id": PRIVATE_KEY_ID,
        "private_key": private_key_pem,
        "client_email": "contract@contract-key-project.iam.gserviceaccount.com",
        "token_uri": "http://127.0.0.1:9/token",
    }


class TestGcpCredentials(ConnectorContract):
    block_type = GcpCredentials

    @pytest.fixture
    def block(self, gcs_server: str) -> GcpCredentials:
        # A project of its own: no other test holds an equal block's client, so the
        # contract's "last close()" is the last whatever ran before.
        return GcpCredentials(
            anonymous=True, project=f"{PROJECT}-contract", endpoints={"storage": gcs_server}
        )

    def probe(self, client: Any) -> None:
        list(client.client("storage").list_buckets(max_results=1))


class TestGcpCredentialsWithAKey(BlockContract):
    block_type = GcpCredentials

    @pytest.fixture
    def block(self, private_key_pem: str) -> GcpCredentials:
        return GcpCredentials(service_account_info=_key_info(private_key_pem), project=PROJECT)


class TestGcsBucket(BlockContract):
    block_type = GcsBucket

    @pytest.fixture
    def block(self, private_key_pem: str) -> GcsBucket:
        creds = GcpCredentials(service_account_info=_key_info(private_key_pem))
        return GcsBucket(bucket="contract-bucket", bucket_folder="raw", credentials=creds)


class TestBigQueryWarehouse(BlockContract):
    block_type = BigQueryWarehouse

    @pytest.fixture
    def block(self, private_key_pem: str) -> BigQueryWarehouse:
        creds = GcpCredentials(service_account_info=_key_info(private_key_pem))
        return BigQueryWarehouse(credentials=creds, default_dataset="analytics", location="EU")


class TestGcpSecret(BlockContract):
    block_type = GcpSecret

    @pytest.fixture
    def block(self, private_key_pem: str) -> GcpSecret:
        creds = GcpCredentials(service_account_info=_key_info(private_key_pem))
        return GcpSecret(secret_name="contract-secret", credentials=creds)


def test_a_pickled_loaded_block_holds_no_key_bytes(private_key_pem: str) -> None:
    creds = GcpCredentials(service_account_info=_key_info(private_key_pem), project=PROJECT)
    bucket = GcsBucket(bucket="pickled", credentials=creds)
    bucket.save("pickled")
    loaded = GcsBucket.load("pickled")
    data = pickle.dumps(loaded)
    body = private_key_pem.splitlines()[5]
    assert body.encode() not in data
    assert PRIVATE_KEY_ID.encode() not in data
    assert pickle.loads(data) == loaded


def test_importing_the_package_loads_no_google_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, orch_gcp, orch_gcp.tasks; "
        "loaded = sorted(m for m in sys.modules if m.startswith(('google', 'pydantic'))); "
        "print(loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
