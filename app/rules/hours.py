"""Opening hours such as "mon-fri 09:00-18:00": parsing and checking a moment against them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import regex

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = regex.compile(
    r"^(?:(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*|daily)\s+)?"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)
MINUTES_PER_DAY = 24 * 60


class HoursError(ValueError):
    """A range that cannot be read; the message says how it should look."""


@dataclass(frozen=True)
class HourRange:
    """Days (0 = Monday) and minutes since midnight; end <= start crosses midnight."""

    days: frozenset[int]
    start: int
    end: int

    def __str__(self) -> str:
        """As an owner writes it: "mon-fri 09:00-18:00"."""
        return f"{_day_names(self.days)} {_clock(self.start)}-{_clock(self.end)}"

    def contains(self, weekday: int, minute: int) -> bool:
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        # Crosses midnight: the evening belongs to the named day, the small hours to the next.
        return (weekday in self.days and minute >= self.start) or (
            (weekday - 1) % 7 in self.days and minute < self.end
        )


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _day_names(days: frozenset[int]) -> str:
    """ "daily", or runs of days such as "mon-fri,sun"."""
    if len(days) == 7:
        return "daily"
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(
        DAY_NAMES[run[0]] if len(run) == 1 else f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}"
        for run in runs
    )


def _minutes(clock: str, *, is_end: bool) -> int:
    hours, minutes = (int(part) for part in clock.split(":"))
    if is_end and hours == 24 and minutes == 0:
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        raise HoursError(f"{clock!r} is not a time of day (00:00 to 23:59, or 24:00 as an end)")
    return hours * 60 + minutes


def _days(spec: str | None) -> frozenset[int]:
    if spec is None or spec == "daily":
        return frozenset(range(7))
    days: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        for name in (first, last or first):
            if name not in DAY_NAMES:
                raise HoursError(f"{name!r} is not a day; use {', '.join(DAY_NAMES)} or daily")
        start, stop = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        # "sat-mon" wraps around the week.
        days.update((start + offset) % 7 for offset in range((stop - start) % 7 + 1))
    return frozenset(days)


def parse_range(text: str) -> HourRange:
    """One range, e.g. "mon-fri 09:00-18:00", "sat 10:00-14:00", "fri 22:00-02:00"."""
    found = _RANGE.match(" ".join(text.lower().split()))
    if not found:
        raise HoursError(
            f'{text!r} is not an hours range; write e.g. "mon-fri 09:00-18:00" or '
            '"daily 08:00-20:00"'
        )
    start = _minutes(found["start"], is_end=False)
    end = _minutes(found["end"], is_end=True)
    if start == end:
        raise HoursError(f"{text!r} starts and ends at the same time")
    return HourRange(days=_days(found["days"]), start=start, end=end)


def parse_hours(value: str | list[str]) -> tuple[HourRange, ...]:
    """A string or a list of ranges."""
    items = [value] if isinstance(value, str) else value
    if not items:
        raise HoursError("needs at least one range")
    # Dashes as word processors write them ("mon–fri 10:00–19:00") are the hyphen meant.
    items = [item.replace("\u2013", "-").replace("\u2014", "-") for item in items]
    for item in items:
        several = [part.strip() for part in _SEPARATORS.split(item) if part.strip()]
        if len(several) > 1:
            listed = ", ".join(f'"{part}"' for part in several)
            raise HoursError(f"{item!r} holds several ranges: write them as a list, [{listed}]")
    return tuple(parse_range(item) for item in items)


# Between ranges written in one string, after a range's end time: a comma, a semicolon, "and",
# "и" (a comma between days, "mon,wed 10:00-12:00", stays).
_SEPARATORS = re.compile(r"(?<=\d)\s*(?:[,;]|\band\b|\bи\b)\s*")


def is_within(ranges: tuple[HourRange, ...], local: datetime) -> bool:
    """Whether a local wall-clock moment falls in any of the ranges."""
    minute = local.hour * 60 + local.minute
    return any(r.contains(local.weekday(), minute) for r in ranges)
