"""The runtime's engine, behind the public ``orch.flows``, ``orch.tasks``, ``orch.futures``
and ``orch.states``: running task calls (retries, timeouts, caching, limits), run context,
task runners, the result cache, concurrency limits and run logging.

Layer: below the public runtime API; above ``orch.history``, ``orch.secrets`` and
``orch.store``. Users import the public names from ``orch``.
"""
