"""A deployment: a flow, a name, a schedule, default parameters and the serving policies.

Example:
    >>> from orch.deployments.model import Deployment
    >>> from orch.schedules import Interval
    >>> Deployment("every-minute", schedule=Interval(60)).overlap
    'skip'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orch.errors import OrchError
from orch.schedules import Cron, Interval, Schedule

if TYPE_CHECKING:
    from datetime import timedelta

    from orch.flows import Flow

OVERLAP_POLICIES = ("skip", "queue", "allow")


class DeploymentError(OrchError):
    """A deployment that cannot be served or found (the message says why).

    Example:
        >>> raise DeploymentError("no deployment named 'x'")
        Traceback (most recent call last):
        orch.deployments.model.DeploymentError: no deployment named 'x'
    """


@dataclass
class Deployment:
    """What ``flow.to_deployment`` returns and ``orch.serve`` serves.

    Args:
        name: unique in the store (``orch deployments run NAME``).
        flow: the flow to run (None for a deployment read back from the store).
        schedule: a ``Cron`` or ``Interval``; None for one that only runs on request.
        parameters: the flow's parameters for every run (a request can override some).
        paused: start paused (``orch deployments resume NAME`` starts it).
        catch_up: after an outage, how many of the missed slots still run (the latest
            ones, one after another unless ``overlap="allow"``); 0 (default) skips them
            all.
        overlap: when a slot comes while a run of this deployment is still going:
            ``skip`` (default) it, ``queue`` it until the run ends, or ``allow`` both.
        retry_crashed: how many times a run whose serving process died is run again by a
            surviving server (default 0).
        description: free text shown by ``orch deployments inspect``.
        entrypoint: ``module:flow`` (informative; set by ``orch serve``).

    Example:
        >>> Deployment("nightly", schedule=Cron("0 2 * * *"), catch_up=1).catch_up
        1
    """

    name: str
    flow: Flow[..., Any] | None = None
    schedule: Schedule | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    paused: bool = False
    catch_up: int = 0
    overlap: str = "skip"
    retry_crashed: int = 0
    description: str | None = None
    entrypoint: str | None = None
    flow_name: str = ""

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise DeploymentError("a deployment needs a name")
        if self.overlap not in OVERLAP_POLICIES:
            raise DeploymentError(
                f"deployment {self.name!r}: overlap must be one of {', '.join(OVERLAP_POLICIES)}"
                f", got {self.overlap!r}"
            )
        if self.catch_up < 0 or self.retry_crashed < 0:
            raise DeploymentError(
                f"deployment {self.name!r}: catch_up and retry_crashed must be >= 0"
            )
        if self.flow is not None and not self.flow_name:
            self.flow_name = self.flow.name
        try:
            json.dumps(self.parameters)
        except TypeError as exc:
            raise DeploymentError(
                f"deployment {self.name!r}: parameters must be JSON values ({exc})"
            ) from None

    def schedule_json(self) -> str | None:
        return None if self.schedule is None else json.dumps(self.schedule.to_dict())


def make_schedule(
    cron: str | None = None,
    interval: float | timedelta | None = None,
    schedule: Schedule | None = None,
    timezone: str | None = None,
) -> Schedule | None:
    """The one schedule given as ``cron=``, ``interval=`` or ``schedule=`` (or None).

    Example:
        >>> make_schedule(cron="*/5 * * * *", timezone="Europe/Paris")
        Cron(cron='*/5 * * * *', timezone='Europe/Paris')
    """
    given = [x for x in (cron, interval, schedule) if x is not None]
    if len(given) > 1:
        raise DeploymentError("give one of cron=, interval= or schedule=, not several")
    if cron is not None:
        return Cron(cron, timezone=timezone)
    if interval is not None:
        return Interval(interval, timezone=timezone)
    return schedule


def deployment_for(
    flow: Flow[..., Any],
    name: str | None = None,
    *,
    cron: str | None = None,
    interval: float | timedelta | None = None,
    schedule: Schedule | None = None,
    schedules: list[Schedule] | None = None,
    timezone: str | None = None,
    parameters: dict[str, Any] | None = None,
    paused: bool = False,
    catch_up: int = 0,
    overlap: str = "skip",
    retry_crashed: int = 0,
    description: str | None = None,
    entrypoint: str | None = None,
) -> Deployment:
    """``flow.to_deployment(...)``: a ``Deployment`` of ``flow`` (name defaults to the flow's).

    Example:
        >>> from orch import flow
        >>> @flow
        ... def etl() -> None: ...
        >>> deployment_for(etl, cron="0 2 * * *").name
        'etl'
    """
    if schedules:
        if len(schedules) > 1 or schedule is not None:
            raise DeploymentError(
                "orch serves one schedule per deployment: make one deployment per schedule"
            )
        schedule = schedules[0]
    fn = getattr(flow, "fn", None)
    return Deployment(
        name=name or flow.name,
        flow=flow,
        schedule=make_schedule(cron, interval, schedule, timezone),
        parameters=dict(parameters or {}),
        paused=paused,
        catch_up=int(catch_up),
        overlap=overlap,
        retry_crashed=int(retry_crashed),
        description=description or flow.description,
        entrypoint=entrypoint or (f"{fn.__module__}:{fn.__name__}" if fn is not None else None),
    )
