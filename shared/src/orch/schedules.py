"""Schedules for served flows (Prefect's ``prefect.schedules`` path): ``Cron`` and ``Interval``.

A schedule answers one question, ``next_after(ts)``: the first slot strictly after the Unix
time ``ts``. Two ``orch serve`` processes compute the same slots from the same schedule,
which is what lets the store give each slot to exactly one of them.

Cron expressions are evaluated by `cronsim <https://pypi.org/project/cronsim/>`_ (imported
on first use), in the schedule's time zone: a daily ``0 2 * * *`` in ``Europe/Paris`` runs
at 02:00 Paris time in winter and in summer; on the night the clocks go forward (02:00 does
not exist) it runs at 03:00, and on the night they go back it runs once, as cron does.

Example:
    >>> from orch.schedules import Cron, Interval
    >>> Cron("0 2 * * *", timezone="Europe/Paris").next_after(0.0)  # 1970-01-01 01:00 UTC
    3600.0
    >>> Interval(60).next_after(90.0)
    120.0
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import Any

from orch.errors import OrchError


class ScheduleError(OrchError):
    """A schedule that cannot be used (a wrong cron expression, an unknown time zone...).

    Example:
        >>> try:
        ...     Cron("61 * * * *")
        ... except ScheduleError as exc:
        ...     print("refused")
        refused
    """


def _zone(timezone: str | None) -> Any:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"unknown time zone {timezone!r}: use an IANA name such as 'Europe/Paris' or 'UTC'"
        ) from None


class Schedule(ABC):
    """When a deployment runs: the slots of a ``Cron`` or an ``Interval`` schedule.

    Example:
        >>> Schedule.from_dict(Interval(5).to_dict())
        Interval(interval=5.0)
    """

    timezone: str

    @abstractmethod
    def next_after(self, ts: float) -> float:
        """The first slot strictly after Unix time ``ts``."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (stored with the deployment)."""

    def describe(self) -> str:
        """One line for ``orch deployments ls``."""
        return str(self)

    def slots(self, after: float, until: float, limit: int = 10_000) -> list[float]:
        """The slots in ``(after, until]``, oldest first, at most the last ``limit``.

        Example:
            >>> Interval(10).slots(0, 35)
            [10.0, 20.0, 30.0]
        """
        out: list[float] = []
        ts = after
        # A long outage of a 1-second schedule has many slots: skip to near ``until``.
        if isinstance(self, Interval) and until - after > limit * self.interval:
            ts = until - limit * self.interval
        while True:
            ts = self.next_after(ts)
            if ts > until:
                return out
            out.append(ts)
            if len(out) > limit:
                del out[0]

    def period(self, around: float) -> float:
        """Seconds between the slot after ``around`` and the next one."""
        first = self.next_after(around)
        return self.next_after(first) - first

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Schedule:
        """The schedule ``to_dict`` described.

        Example:
            >>> Schedule.from_dict({"cron": "0 * * * *"})
            Cron(cron='0 * * * *', timezone='UTC')
        """
        if "cron" in data:
            return Cron(data["cron"], timezone=data.get("timezone"))
        if "interval" in data:
            return Interval(
                float(data["interval"]),
                anchor_date=data.get("anchor"),
                timezone=data.get("timezone"),
            )
        raise ScheduleError(f"not a schedule: {data!r}")


# The nicknames of cron(8), as the five fields cronsim reads.
_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class Cron(Schedule):
    """A cron schedule (5 fields, or ``@hourly``/``@daily``/``@weekly``/``@monthly``/
    ``@yearly``), in a time zone.

    Args:
        cron: the expression, e.g. ``"0 2 * * *"`` (02:00 every day).
        timezone: an IANA time zone name (default UTC); slots follow its daylight-saving
            changes.

    Example:
        >>> from datetime import UTC, datetime
        >>> nightly = Cron("0 2 * * *", timezone="Europe/Paris")
        >>> start = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
        >>> datetime.fromtimestamp(nightly.next_after(start), UTC).isoformat()
        '2026-03-01T01:00:00+00:00'
    """

    def __init__(self, cron: str, timezone: str | None = None, **_prefect: Any) -> None:
        text = " ".join(cron.split())
        self.cron = _NICKNAMES.get(text.lower(), text)
        self.timezone = timezone or "UTC"
        self._tz = _zone(self.timezone)
        self.next_after(0.0)  # a wrong expression fails here, where it was written

    def next_after(self, ts: float) -> float:
        from cronsim import CronSim, CronSimError

        # cronsim yields times after its start, at whole seconds: start from ``ts``
        # rounded down, so a slot at exactly ``ts`` is not returned again.
        start = datetime.fromtimestamp(math.floor(ts), self._tz)
        try:
            it = CronSim(self.cron, start)
            slot = next(it)
            while slot.timestamp() <= ts:
                slot = next(it)
        except CronSimError as exc:
            raise ScheduleError(f"cron expression {self.cron!r}: {exc}") from None
        except StopIteration:
            raise ScheduleError(f"cron expression {self.cron!r} never matches") from None
        return float(slot.timestamp())

    def to_dict(self) -> dict[str, Any]:
        return {"cron": self.cron, "timezone": self.timezone}

    def describe(self) -> str:
        return f"cron {self.cron!r} ({self.timezone})"

    def __repr__(self) -> str:
        return f"Cron(cron={self.cron!r}, timezone={self.timezone!r})"


class Interval(Schedule):
    """Every ``interval`` (seconds or a ``timedelta``), counted from ``anchor_date``.

    Args:
        interval: the time between runs (> 0).
        anchor_date: a slot time the others are counted from (a ``datetime`` or a Unix
            time); default 1970-01-01 UTC, so ``Interval(60)`` runs at whole minutes and
            every server computes the same slots.
        timezone: kept for Prefect compatibility (an interval does not depend on it).

    Example:
        >>> Interval(timedelta(hours=1)).next_after(3600.0)
        7200.0
    """

    def __init__(
        self,
        interval: float | timedelta,
        anchor_date: datetime | float | None = None,
        timezone: str | None = None,
        **_prefect: Any,
    ) -> None:
        seconds = interval.total_seconds() if isinstance(interval, timedelta) else interval
        if not (isinstance(seconds, int | float) and seconds > 0):
            raise ScheduleError(f"an interval must be a positive duration, got {interval!r}")
        self.interval = float(seconds)
        if isinstance(anchor_date, datetime):
            anchor = anchor_date.timestamp()
        else:
            anchor = float(anchor_date or 0.0)
        self.anchor = anchor
        self.timezone = timezone or "UTC"

    def next_after(self, ts: float) -> float:
        steps = math.floor((ts - self.anchor) / self.interval) + 1
        slot = self.anchor + steps * self.interval
        if slot <= ts:  # float rounding
            slot += self.interval
        return round(slot, 6)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"interval": self.interval}
        if self.anchor:
            out["anchor"] = self.anchor
        return out

    def describe(self) -> str:
        return f"every {self.interval:g} s"

    def __repr__(self) -> str:
        return f"Interval(interval={self.interval!r})"


def __getattr__(name: str) -> Any:
    if name == "RRule":
        from orch.errors import NotInOrchError

        raise NotInOrchError(
            "orch.schedules has Cron and Interval; RRule schedules are Prefect's: write the "
            "rule as a cron expression"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Cron", "Interval", "Schedule", "ScheduleError"]
