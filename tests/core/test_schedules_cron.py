"""The cron layer of served flows: slots in a time zone, across daylight-saving changes,
computed from fixed clocks (no waiting)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from orch.errors import NotInOrchError
from orch.schedules import Cron, Interval, Schedule, ScheduleError

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def _slots(schedule: Schedule, start: datetime, n: int, tz: ZoneInfo) -> list[str]:
    ts = start.timestamp()
    out = []
    for _ in range(n):
        ts = schedule.next_after(ts)
        out.append(datetime.fromtimestamp(ts, tz).isoformat())
    return out


def test_nightly_cron_keeps_local_time_across_the_spring_change() -> None:
    # Paris moves 02:00 -> 03:00 on 2026-03-29: 02:30 does not exist that night.
    nightly = Cron("30 2 * * *", timezone="Europe/Paris")
    got = _slots(nightly, datetime(2026, 3, 27, 12, tzinfo=UTC), 4, PARIS)
    assert got == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",  # the missing 02:30 runs when the clock reaches 03:00
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_nightly_cron_runs_once_when_the_hour_repeats_in_autumn() -> None:
    # Paris moves 03:00 -> 02:00 on 2026-10-25: 02:30 happens twice; run once.
    nightly = Cron("30 2 * * *", timezone="Europe/Paris")
    got = _slots(nightly, datetime(2026, 10, 23, 12, tzinfo=UTC), 3, PARIS)
    assert got == [
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]
    gaps = {
        b - a
        for a, b in zip(
            [datetime.fromisoformat(x) for x in got],
            [datetime.fromisoformat(x) for x in got[1:]],
            strict=False,
        )
    }
    assert gaps == {timedelta(hours=24), timedelta(hours=25)}


def test_hourly_cron_runs_every_real_hour_through_both_changes() -> None:
    hourly = Cron("0 * * * *", timezone="America/New_York")
    # 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST
    for start in (
        datetime(2026, 3, 8, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 4, 30, tzinfo=UTC),
    ):
        ts = start.timestamp()
        slots = []
        for _ in range(4):
            ts = hourly.next_after(ts)
            slots.append(ts)
        assert [b - a for a, b in itertools.pairwise(slots)] == [3600.0] * 3


def test_a_utc_cron_ignores_local_changes_and_slots_are_strictly_after() -> None:
    cron = Cron("0 2 * * *")
    slot = cron.next_after(datetime(2026, 3, 29, 0, tzinfo=UTC).timestamp())
    assert datetime.fromtimestamp(slot, UTC) == datetime(2026, 3, 29, 2, tzinfo=UTC)
    assert cron.next_after(slot) == slot + 86400  # a slot is never returned twice
    assert cron.next_after(slot - 0.5) == slot


def test_nicknames_intervals_and_round_trips() -> None:
    assert Cron("@daily").cron == "0 0 * * *"
    assert Cron("@hourly", timezone="Europe/Paris").next_after(0.0) == 3600.0
    every = Interval(timedelta(minutes=15))
    assert every.next_after(0.0) == 900.0
    assert every.slots(0.0, 3600.0) == [900.0, 1800.0, 2700.0, 3600.0]
    anchored = Interval(60, anchor_date=datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC))
    assert anchored.next_after(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) % 60 == 30
    for schedule in (Cron("*/5 * * * *", timezone="Europe/Paris"), every, anchored):
        back = Schedule.from_dict(schedule.to_dict())
        assert back.next_after(12345.0) == schedule.next_after(12345.0)
    # a long outage of a 1-second schedule is bounded
    assert len(Interval(1).slots(0.0, 1e6, limit=5)) == 5


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: Cron("61 * * * *"), "Bad minute"),
        (lambda: Cron("* * * *"), "Wrong number of fields"),
        (lambda: Cron("0 2 * * *", timezone="Mars/Olympus"), "unknown time zone"),
        (lambda: Interval(0), "positive duration"),
    ],
)
def test_wrong_schedules_fail_where_they_are_written(make: object, says: str) -> None:
    with pytest.raises(ScheduleError, match=says):
        make()  # type: ignore[operator]


def test_rrule_is_not_in_orch() -> None:
    import orch.schedules

    with pytest.raises(NotInOrchError, match="cron expression"):
        orch.schedules.RRule  # noqa: B018
