"""Old path of :mod:`orch.secrets.redaction`, kept while the integration packages move onto
:mod:`orch.integration` (they import these names from here today). Remove once no
package imports ``orch.redaction``; new code imports from ``orch.integration``.
"""

from __future__ import annotations

from orch.secrets.redaction import redact as redact
from orch.secrets.redaction import remember as remember

__all__ = ["redact", "remember"]
