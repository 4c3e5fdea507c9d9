"""Old path of :mod:`orch.secrets.references`, kept while the integration packages move onto
:mod:`orch.integration` (they import these names from here today). Remove once no
package imports ``orch.references``; new code imports from ``orch.integration``.
"""

from __future__ import annotations

from orch.secrets.references import Resolved as Resolved
from orch.secrets.references import SecretRef as SecretRef
from orch.secrets.references import cache_ttl as cache_ttl

__all__ = ["Resolved", "SecretRef", "cache_ttl"]
