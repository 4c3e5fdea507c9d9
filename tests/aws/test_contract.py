"""orch-aws's blocks keep the contract of :mod:`orch.testing` (against the moto server).

``AwsCredentials`` is a Connector (its client is the holder of one boto3 session and its
clients); ``S3Bucket`` and ``AwsSecret`` are blocks that use their credentials' clients.
Every one, saved and loaded, pickles by its name with no secret byte in the pickle.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from orch.testing import BlockContract, ConnectorContract
from orch_aws import AwsCredentials, AwsSecret, S3Bucket

from .conftest import REGION

KEY_ID = "AKIACONTRACTKEY00001"
SECRET_KEY = "contract-Secret-Access-Key-1"
TOKEN = "contract-Session-Token-1"


def _credentials(endpoint: str) -> AwsCredentials:
    return AwsCredentials(
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=TOKEN,
        region_name=REGION,
        endpoint_url=endpoint,
    )


class TestAwsCredentials(ConnectorContract):
    block_type = AwsCredentials

    @pytest.fixture
    def block(self, moto_server: str) -> AwsCredentials:
        return _credentials(moto_server)

    def probe(self, client: Any) -> None:
        client.client("s3").list_buckets()


class TestS3Bucket(BlockContract):
    block_type = S3Bucket

    @pytest.fixture
    def block(self, moto_server: str) -> S3Bucket:
        return S3Bucket(
            bucket_name="contract-bucket",
            bucket_folder="raw",
            credentials=_credentials(moto_server),
        )


class TestAwsSecret(BlockContract):
    block_type = AwsSecret

    @pytest.fixture
    def block(self, moto_server: str) -> AwsSecret:
        return AwsSecret(secret_name="contract/secret", credentials=_credentials(moto_server))


@pytest.mark.parametrize("kind", ["aws-credentials", "s3-bucket"])
def test_a_pickled_loaded_block_holds_no_secret_bytes(moto_server: str, kind: str) -> None:
    # A loaded block sent to a process pool travels by name: its keys never do. A block
    # that already made its client pickles the same way (the client stays behind).
    creds = _credentials(moto_server)
    block: AwsCredentials | S3Bucket = (
        creds if kind == "aws-credentials" else S3Bucket(bucket_name="pickled", credentials=creds)
    )
    block.save("pickled")
    loaded = type(block).load("pickled")
    loaded.get_client()
    data = pickle.dumps(loaded)
    for secret in (KEY_ID, SECRET_KEY, TOKEN):
        assert secret.encode() not in data
    back = pickle.loads(data)
    assert back == loaded
    assert back.get_client() is loaded.get_client()  # the same process: the same client
