"""Prefect's ``prefect.schedules`` path, kept so a moved import fails with what to do.

orch has no server or scheduler: a flow is a script, so run it from cron, a systemd
timer, a Kubernetes CronJob or your CI's schedule. ``flow.serve`` is planned (issue 21).
"""

from __future__ import annotations

from orch.lazy import not_in_orch

__getattr__ = not_in_orch(
    __name__,
    "orch has no server or scheduler; run the flow's script from cron, a systemd timer, "
    "a Kubernetes CronJob or a CI schedule (flow.serve is planned: issue 21)",
)
