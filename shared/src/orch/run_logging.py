"""Old path of :mod:`orch.engine.run_logging`, kept while the integration packages move onto
:mod:`orch.integration` (they import these names from here today). Remove once no
package imports ``orch.run_logging``; new code imports from ``orch.integration``.
"""

from __future__ import annotations

from orch.engine.run_logging import run_logger_or as run_logger_or

__all__ = ["run_logger_or"]
