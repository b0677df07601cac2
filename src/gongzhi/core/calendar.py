"""Working time on the Chinese statutory calendar (法定节假日 and 调休 working days).

Deadlines such as "reply within 5 working days" are counted in office hours: only time inside the
office periods (settings.GONGZHI_OFFICE_HOURS, default "09:00-12:00,13:30-17:30") of working days
counts. Working days come from the `chinesecalendar` package, overridden by the optional CSV in
settings.GONGZHI_CALENDAR_FILE (header `date,kind`, kind = holiday|workday). Years the package does
not cover fall back to Monday–Friday with a logged warning.

All arithmetic is on wall-clock time in the deployment time zone (settings.TIME_ZONE); nothing here
reads the current time.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import logging
import math
import re
from decimal import Decimal
from numbers import Real

import chinese_calendar
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

logger = logging.getLogger(__name__)

DEFAULT_OFFICE_HOURS = "09:00-12:00,13:30-17:30"

Period = tuple[dt.timedelta, dt.timedelta]  # offsets from midnight: [start, end)

_ZERO = dt.timedelta(0)
_DAY = dt.timedelta(days=1)
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")


# --- Working days -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def load_calendar_overrides(path: str) -> dict[dt.date, bool]:
    """Read an override CSV into {date: is_working_day}. Cached per path; call `.cache_clear()` to reload."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != ["date", "kind"]:
                raise ImproperlyConfigured(f"GONGZHI_CALENDAR_FILE {path}: header must be 'date,kind'")
            overrides: dict[dt.date, bool] = {}
            for line_no, row in enumerate(reader, start=2):
                raw_date, kind = (row.get("date") or "").strip(), (row.get("kind") or "").strip().lower()
                if not raw_date and not kind:
                    continue
                try:
                    day = dt.date.fromisoformat(raw_date)
                except ValueError:
                    raise ImproperlyConfigured(
                        f"GONGZHI_CALENDAR_FILE {path} line {line_no}: bad date {raw_date!r}"
                    ) from None
                if kind not in {"holiday", "workday"}:
                    raise ImproperlyConfigured(
                        f"GONGZHI_CALENDAR_FILE {path} line {line_no}: kind must be holiday or workday"
                    )
                overrides[day] = kind == "workday"
    except OSError as exc:
        raise ImproperlyConfigured(f"GONGZHI_CALENDAR_FILE {path} cannot be read: {exc}") from exc
    return overrides


@functools.cache
def _warn_uncovered_year(year: int) -> None:
    # Cached so each year is reported once per process rather than once per date.
    logger.warning(
        "No statutory holiday data for %s; treating Monday-Friday as working days. "
        "Upgrade chinesecalendar or set GONGZHI_CALENDAR_FILE.",
        year,
    )


def _overrides() -> dict[dt.date, bool]:
    path = getattr(settings, "GONGZHI_CALENDAR_FILE", "")
    return load_calendar_overrides(str(path)) if path else {}


def is_working_day(day: dt.date) -> bool:
    """Whether `day` is a working day (statutory calendar, with overrides and a Mon–Fri fallback)."""
    if isinstance(day, dt.datetime):
        day = day.date()
    overrides = _overrides()
    if day in overrides:
        return overrides[day]
    statutory = _statutory_working_day(day)
    if statutory is None:
        _warn_uncovered_year(day.year)
        return day.weekday() < 5
    return statutory


@functools.lru_cache(maxsize=8192)
def _statutory_working_day(day: dt.date) -> bool | None:
    # Cached: the package's data is fixed per process and its lookup scans every holiday on each call.
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


# --- Office hours -----------------------------------------------------------------------------------


def _parse_time(text: str, spec: str) -> dt.timedelta:
    match = _TIME_RE.fullmatch(text.strip())
    if not match:
        raise ImproperlyConfigured(f"GONGZHI_OFFICE_HOURS {spec!r}: {text!r} is not HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ImproperlyConfigured(f"GONGZHI_OFFICE_HOURS {spec!r}: {text!r} is not a time of day")
    return dt.timedelta(hours=hours, minutes=minutes)


@functools.lru_cache(maxsize=8)
def parse_office_hours(spec: str) -> tuple[Period, ...]:
    """Parse "09:00-12:00,13:30-17:30" into sorted, non-overlapping (start, end) offsets from midnight."""
    periods: list[Period] = []
    for chunk in spec.split(","):
        if not chunk.strip():
            continue
        bounds = chunk.split("-")
        if len(bounds) != 2:
            raise ImproperlyConfigured(f"GONGZHI_OFFICE_HOURS {spec!r}: {chunk!r} is not HH:MM-HH:MM")
        start, end = (_parse_time(b, spec) for b in bounds)
        if end <= start:
            raise ImproperlyConfigured(f"GONGZHI_OFFICE_HOURS {spec!r}: {chunk!r} ends before it starts")
        periods.append((start, end))
    if not periods:
        raise ImproperlyConfigured("GONGZHI_OFFICE_HOURS is empty")
    periods.sort()
    for (_, previous_end), (start, _) in zip(periods, periods[1:], strict=False):
        if start < previous_end:
            raise ImproperlyConfigured(f"GONGZHI_OFFICE_HOURS {spec!r}: periods overlap")
    return tuple(periods)


def office_periods() -> tuple[Period, ...]:
    """The configured office periods as (start, end) offsets from midnight."""
    return parse_office_hours(getattr(settings, "GONGZHI_OFFICE_HOURS", None) or DEFAULT_OFFICE_HOURS)


def office_day_length() -> dt.timedelta:
    """Working time in one full working day (7 hours with the default office hours)."""
    return sum((end - start for start, end in office_periods()), _ZERO)


# --- Arithmetic -------------------------------------------------------------------------------------


def _zone() -> dt.tzinfo:
    # The office's zone, not a per-request activated one: deadlines must not depend on the viewer.
    return timezone.get_default_timezone()


def _to_local_naive(value: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime")
    if timezone.is_naive(value):
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(_zone()).replace(tzinfo=None)


def _from_local_naive(value: dt.datetime) -> dt.datetime:
    return timezone.make_aware(value, _zone())


def _as_timedelta(hours: int | float | Decimal | dt.timedelta) -> dt.timedelta:
    if isinstance(hours, dt.timedelta):
        amount = hours
    elif isinstance(hours, bool):
        raise TypeError("hours must be a number or a timedelta, not bool")
    elif isinstance(hours, Decimal):
        if not hours.is_finite():
            raise ValueError("hours must be finite")
        # Exact to the microsecond, without a detour through float.
        amount = dt.timedelta(microseconds=int((hours * 3_600_000_000).to_integral_value()))
    elif isinstance(hours, Real):
        if not math.isfinite(hours):
            raise ValueError("hours must be finite")
        amount = dt.timedelta(hours=float(hours))
    else:
        raise TypeError("hours must be a number or a timedelta")
    if amount < _ZERO:
        raise ValueError("working time to add must not be negative")
    return amount


def add_working_hours(start: dt.datetime, hours: int | float | Decimal | dt.timedelta) -> dt.datetime:
    """The moment `hours` of working time after `start`, as an aware datetime in the deployment zone.

    Only time inside office periods on working days counts. If `start` is outside office hours the
    clock starts at the next office period. A result falling exactly on the end of a period stays
    there (17:30, not 09:00 the next working day). Adding zero returns `start` unchanged.
    """
    remaining = _as_timedelta(hours)
    cursor = _to_local_naive(start, "start")
    if remaining == _ZERO:
        return start
    periods = office_periods()
    day_length = office_day_length()

    day = cursor.date()
    offset = cursor - dt.datetime.combine(day, dt.time())
    while True:
        if is_working_day(day):
            if offset == _ZERO and remaining > day_length:
                # Skip a whole working day at once.
                remaining -= day_length
            else:
                for period_start, period_end in periods:
                    if offset >= period_end:
                        continue
                    begin = max(offset, period_start)
                    available = period_end - begin
                    if remaining <= available:
                        return _from_local_naive(dt.datetime.combine(day, dt.time()) + begin + remaining)
                    remaining -= available
                    offset = period_end
        day += dt.timedelta(days=1)
        offset = _ZERO


def add_working_days(start: dt.datetime, n: int) -> dt.datetime:
    """Add `n` working days, where one working day is one office day's worth of working time.

    That is `add_working_hours(start, n * office_day_length())`, so the time of day is kept when
    `start` is inside office hours: Friday 10:00 + 1 working day = 10:00 on the next working day.
    From outside office hours the count starts at the next office period, so Saturday 10:00 + 1
    working day = 17:30 on the next working day (the end of that whole day), and Monday 18:00
    + 1 working day = Tuesday 17:30.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("n must be an int")
    if n < 0:
        raise ValueError("n must not be negative")
    return add_working_hours(start, n * office_day_length())


def working_time_between(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Working time elapsed from `start` to `end` (zero if `end` is not after `start`)."""
    begin = _to_local_naive(start, "start")
    finish = _to_local_naive(end, "end")
    if finish <= begin:
        return _ZERO
    periods = office_periods()
    day_length = office_day_length()

    total = _ZERO
    day, last_day = begin.date(), finish.date()
    while day <= last_day:
        if is_working_day(day):
            midnight = dt.datetime.combine(day, dt.time())
            if begin <= midnight and midnight + _DAY <= finish:
                total += day_length
            else:
                for period_start, period_end in periods:
                    overlap = min(finish, midnight + period_end) - max(begin, midnight + period_start)
                    if overlap > _ZERO:
                        total += overlap
        day += dt.timedelta(days=1)
    return total
