"""orch-vault's blocks keep the contract of :mod:`orch.testing` (against OpenBao).

``VaultCredentials`` is a Connector (its client is one logged-in hvac client);
``VaultSecret`` uses its credentials' client. Saved and loaded, each pickles by its name
with no secret byte in the pickle.
"""

from __future__ import annotations

from typing import Any

import pytest
from orch.testing import BlockContract, ConnectorContract
from orch_vault import VaultClient, VaultCredentials, VaultSecret

from tests.backends.vault import VaultServer


class TestVaultCredentials(ConnectorContract):
    block_type = VaultCredentials

    @pytest.fixture
    def block(self, vault_server: VaultServer, approle: dict[str, Any]) -> VaultCredentials:
        return VaultCredentials(
            url=vault_server.url,
            auth_method="approle",
            role_id=approle["role_id"],
            secret_id=approle["secret_id"],
        )

    def probe(self, client: VaultClient) -> None:
        client.call(lambda c: c.auth.token.lookup_self())


class TestVaultCredentialsUserpass(BlockContract):
    block_type = VaultCredentials

    @pytest.fixture
    def block(self, vault_server: VaultServer) -> VaultCredentials:
        return VaultCredentials(
            url=vault_server.url,
            auth_method="userpass",
            username="contract-user",
            password="contract-Password-1",
        )


class TestVaultSecret(BlockContract):
    block_type = VaultSecret

    @pytest.fixture
    def block(self, vault_server: VaultServer) -> VaultSecret:
        return VaultSecret(
            credentials=VaultCredentials(url=vault_server.url, token="hvs.contract-Token-1"),
            mount="secret",
            path="contract/app",
        )
