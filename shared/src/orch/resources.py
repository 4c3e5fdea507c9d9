"""Old path of :mod:`orch.integration.resources`, kept while the integration packages move onto
:mod:`orch.integration` (they import these names from here today). Remove once no
package imports ``orch.resources``; new code imports from ``orch.integration``.
"""

from __future__ import annotations

from orch.integration.resources import OwnsProcessResource as OwnsProcessResource
from orch.integration.resources import ProcessResources as ProcessResources
from orch.integration.resources import ResourceSlot as ResourceSlot
from orch.integration.resources import block_fingerprint as block_fingerprint

__all__ = ["OwnsProcessResource", "ProcessResources", "ResourceSlot", "block_fingerprint"]
