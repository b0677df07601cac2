"""Working time on the Chinese statutory calendar.

Holiday facts below are what chinesecalendar 1.11 ships (chinese_calendar/constants.py, tables
`holidays` and `workdays` for 2026), following the State Council's 2026 holiday arrangement:
Spring Festival off 2026-02-15..23 with Saturdays 02-14 and 02-28 worked; Mid-Autumn off 09-25..27;
National Day off 10-01..07 with Sunday 09-20 and Saturday 10-10 worked.
"""

import datetime as dt
import logging
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from gongzhi.core import calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_CALENDAR = {"GONGZHI_OFFICE_HOURS": "09:00-12:00,13:30-17:30", "GONGZHI_CALENDAR_FILE": ""}


def at(text: str) -> dt.datetime:
    """'2026-11-23 10:00' in Beijing time."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def default_calendar(settings):
    settings.GONGZHI_OFFICE_HOURS = DEFAULT_CALENDAR["GONGZHI_OFFICE_HOURS"]
    settings.GONGZHI_CALENDAR_FILE = ""
    calendar.load_calendar_overrides.cache_clear()
    yield
    calendar.load_calendar_overrides.cache_clear()


# --- Working days -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-02-13", True),  # Friday before the Spring Festival
        ("2026-02-14", True),  # Saturday, adjusted working day (调休)
        ("2026-02-15", False),
        ("2026-02-17", False),  # Spring Festival day (Tuesday)
        ("2026-02-23", False),  # last day off (Monday)
        ("2026-02-24", True),
        ("2026-02-28", True),  # Saturday, adjusted working day
        ("2026-03-01", False),  # ordinary Sunday
        ("2026-09-20", True),  # Sunday, adjusted working day
        ("2026-09-25", False),  # Mid-Autumn Festival (Friday)
        ("2026-09-30", True),
        ("2026-10-01", False),
        ("2026-10-07", False),
        ("2026-10-08", True),
        ("2026-10-10", True),  # Saturday, adjusted working day
        ("2026-10-11", False),
    ],
)
def test_statutory_working_days_2026(day, working):
    assert calendar.is_working_day(dt.date.fromisoformat(day)) is working


def test_years_without_data_fall_back_to_monday_to_friday(caplog):
    calendar._warn_uncovered_year.cache_clear()
    with caplog.at_level(logging.WARNING, logger="gongzhi.core.calendar"):
        assert calendar.is_working_day(dt.date(2099, 1, 1))  # a Thursday: no holiday data, so worked
        assert calendar.is_working_day(dt.date(2099, 1, 2))
        assert not calendar.is_working_day(dt.date(2099, 1, 3))  # Saturday
        assert not calendar.is_working_day(dt.date(2099, 1, 4))
    warnings = [r for r in caplog.records if r.name == "gongzhi.core.calendar"]
    assert len(warnings) == 1
    assert "2099" in warnings[0].getMessage()


def test_override_file(settings, tmp_path):
    path = tmp_path / "calendar.csv"
    path.write_text(
        "date,kind\n2026-10-08,holiday\n2026-10-11,workday\n2099-01-01,holiday\n", encoding="utf-8"
    )
    settings.GONGZHI_CALENDAR_FILE = str(path)
    calendar.load_calendar_overrides.cache_clear()

    assert not calendar.is_working_day(dt.date(2026, 10, 8))
    assert calendar.is_working_day(dt.date(2026, 10, 11))
    assert not calendar.is_working_day(dt.date(2099, 1, 1))
    assert calendar.is_working_day(dt.date(2026, 10, 9))  # not overridden
    # Wednesday 30 Sept 16:30 + 2h: 1h that day, the holiday week and the new holiday on 8 Oct pass,
    # the second hour is Friday 9 Oct 09:00-10:00.
    assert calendar.add_working_hours(at("2026-09-30 16:30"), 2) == at("2026-10-09 10:00")


def test_override_file_is_cached_per_path(settings, tmp_path):
    path = tmp_path / "calendar.csv"
    path.write_text("date,kind\n2026-10-08,holiday\n", encoding="utf-8")
    settings.GONGZHI_CALENDAR_FILE = str(path)
    assert not calendar.is_working_day(dt.date(2026, 10, 8))
    path.write_text("date,kind\n", encoding="utf-8")
    assert not calendar.is_working_day(dt.date(2026, 10, 8))  # still the cached load
    calendar.load_calendar_overrides.cache_clear()
    assert calendar.is_working_day(dt.date(2026, 10, 8))


@pytest.mark.parametrize(
    "content",
    ["day,kind\n2026-10-08,holiday\n", "date,kind\n2026-13-01,holiday\n", "date,kind\n2026-10-08,weekend\n"],
)
def test_bad_override_file(settings, tmp_path, content):
    path = tmp_path / "calendar.csv"
    path.write_text(content, encoding="utf-8")
    settings.GONGZHI_CALENDAR_FILE = str(path)
    with pytest.raises(ImproperlyConfigured):
        calendar.is_working_day(dt.date(2026, 10, 8))


def test_missing_override_file(settings, tmp_path):
    settings.GONGZHI_CALENDAR_FILE = str(tmp_path / "missing.csv")
    with pytest.raises(ImproperlyConfigured):
        calendar.is_working_day(dt.date(2026, 10, 8))


# --- Office hours -------------------------------------------------------------------------------


def test_default_office_hours():
    h = dt.timedelta(hours=1)
    assert calendar.office_periods() == ((9 * h, 12 * h), (13.5 * h, 17.5 * h))
    assert calendar.office_day_length() == 7 * h


def test_office_hours_are_sorted(settings):
    settings.GONGZHI_OFFICE_HOURS = "13:00-17:00, 08:30-12:00"
    h = dt.timedelta(hours=1)
    assert calendar.office_periods() == ((8.5 * h, 12 * h), (13 * h, 17 * h))
    assert calendar.office_day_length() == dt.timedelta(hours=7.5)


@pytest.mark.parametrize(
    "spec", ["", "9-17", "09:00", "09:00-08:00", "09:00-12:00,11:00-13:00", "25:00-26:00", "09:60-10:00"]
)
def test_bad_office_hours(spec):
    with pytest.raises(ImproperlyConfigured):
        calendar.parse_office_hours(spec)


def test_office_hours_setting_is_validated(settings):
    settings.GONGZHI_OFFICE_HOURS = "09:00-12:00;13:30-17:30"
    with pytest.raises(ImproperlyConfigured):
        calendar.add_working_hours(at("2026-11-23 10:00"), 1)


# --- Adding working time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        ("2026-11-23 10:00", 1, "2026-11-23 11:00"),
        ("2026-11-23 11:00", 2, "2026-11-23 14:30"),  # lunch break 12:00-13:30 skipped
        ("2026-11-23 09:00", 3, "2026-11-23 12:00"),  # ends exactly at the lunch break
        ("2026-11-23 09:00", 7, "2026-11-23 17:30"),  # ends exactly at closing, not next morning
        ("2026-11-23 16:30", 1, "2026-11-23 17:30"),
        ("2026-11-23 16:30", 1.5, "2026-11-24 09:30"),
        ("2026-11-23 07:00", 1, "2026-11-23 10:00"),  # before opening: the clock starts at 09:00
        ("2026-11-23 12:30", 1, "2026-11-23 14:30"),  # during lunch: starts at 13:30
        ("2026-11-23 18:00", 1, "2026-11-24 10:00"),  # after closing: next morning
        ("2026-11-21 10:00", 1, "2026-11-23 10:00"),  # Saturday: Monday morning
        ("2026-02-13 16:30", 2, "2026-02-14 10:00"),  # into the adjusted working Saturday
        ("2026-02-14 17:00", 1, "2026-02-24 09:30"),  # across the Spring Festival
        ("2026-09-30 10:00", 7, "2026-10-08 10:00"),  # across National Day
    ],
)
def test_add_working_hours(start, hours, expected):
    assert calendar.add_working_hours(at(start), hours) == at(expected)


@pytest.mark.parametrize(
    "amount", [1.5, Decimal("1.5"), dt.timedelta(minutes=90), Decimal("1.50000000000000000001")]
)
def test_hours_types(amount):
    assert calendar.add_working_hours(at("2026-11-23 11:00"), amount) == at("2026-11-23 14:00")


def test_add_zero_returns_start_unchanged():
    saturday_night = at("2026-11-21 23:00")
    assert calendar.add_working_hours(saturday_night, 0) == saturday_night
    assert calendar.add_working_days(saturday_night, 0) == saturday_night


def test_result_is_in_the_deployment_zone():
    start = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing
    result = calendar.add_working_hours(start, 1)
    assert result == at("2026-11-23 11:00")
    assert result.utcoffset() == dt.timedelta(hours=8)
    assert (result.hour, result.minute) == (11, 0)


def test_rejects_naive_and_negative():
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add_working_hours(dt.datetime(2026, 11, 23, 10), 1)
    with pytest.raises(ValueError):
        calendar.add_working_hours(at("2026-11-23 10:00"), -1)
    with pytest.raises(ValueError):
        calendar.add_working_days(at("2026-11-23 10:00"), -1)
    with pytest.raises(ValueError):
        calendar.add_working_hours(at("2026-11-23 10:00"), float("nan"))
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.working_time_between(dt.datetime(2026, 11, 23, 10), at("2026-11-23 11:00"))


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        ("2026-11-20 10:00", 1, "2026-11-23 10:00"),  # Friday + 1 = Monday, same time
        ("2026-11-21 10:00", 1, "2026-11-23 17:30"),  # Saturday + 1 = the whole of Monday
        ("2026-11-23 18:00", 1, "2026-11-24 17:30"),
        ("2026-11-23 10:00", 5, "2026-11-30 10:00"),
        ("2026-09-18 10:00", 1, "2026-09-20 10:00"),  # Friday + 1 = the adjusted working Sunday
        ("2026-09-30 10:00", 1, "2026-10-08 10:00"),
        ("2026-02-13 10:00", 2, "2026-02-24 10:00"),  # Fri, then Sat 14 Feb, then after the festival
    ],
)
def test_add_working_days(start, days, expected):
    assert calendar.add_working_days(at(start), days) == at(expected)


def test_many_working_days():
    start = at("2025-01-06 10:00")
    end = calendar.add_working_days(start, 250)
    # The 250th working day after 6 Jan 2025, counted day by day with chinese_calendar.is_workday.
    assert end == at("2026-01-08 10:00")
    assert calendar.working_time_between(start, end) == 250 * calendar.office_day_length()


# --- Elapsed working time -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        ("2026-11-23 08:00", "2026-11-23 18:00", 7),
        ("2026-11-23 11:00", "2026-11-23 14:30", 2),
        ("2026-11-20 17:00", "2026-11-23 09:30", 1),  # over the weekend
        ("2026-09-30 17:00", "2026-10-08 09:30", 1),  # over National Day
        ("2026-11-23 10:00", "2026-11-23 10:00", 0),
        ("2026-11-23 12:00", "2026-11-23 10:00", 0),  # end before start
        ("2026-11-21 08:00", "2026-11-22 20:00", 0),  # weekend only
    ],
)
def test_working_time_between(start, end, hours):
    assert calendar.working_time_between(at(start), at(end)) == dt.timedelta(hours=hours)


# --- Properties ---------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=dt.datetime(2025, 1, 1),
    max_value=dt.datetime(2026, 6, 30),
    timezones=st.sampled_from([SHANGHAI, dt.UTC]),
)
minutes = st.integers(min_value=0, max_value=20 * 7 * 60).map(lambda m: dt.timedelta(minutes=m))


def _in_office_hours(moment: dt.datetime) -> bool:
    local = moment.astimezone(SHANGHAI)
    offset = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
    return calendar.is_working_day(local.date()) and any(
        start <= offset <= end for start, end in calendar.office_periods()
    )


@given(t=moments, a=minutes, b=minutes)
def test_property_adding_is_associative(t, a, b):
    with override_settings(**DEFAULT_CALENDAR):
        assert calendar.add_working_hours(calendar.add_working_hours(t, a), b) == calendar.add_working_hours(
            t, a + b
        )


@given(t=moments, h=minutes)
def test_property_elapsed_time_inverts_adding(t, h):
    with override_settings(**DEFAULT_CALENDAR):
        end = calendar.add_working_hours(t, h)
        assert end >= t
        assert calendar.working_time_between(t, end) == h
        if h:
            assert _in_office_hours(end)


@given(
    day=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2026, 6, 30)),
    minute=st.integers(min_value=0, max_value=24 * 60 - 1),
    h=minutes,
)
def test_property_elapsed_time_from_inside_office_hours(day, minute, h):
    with override_settings(**DEFAULT_CALENDAR):
        t = dt.datetime.combine(day, dt.time(), tzinfo=SHANGHAI) + dt.timedelta(minutes=minute)
        if not _in_office_hours(t):
            t = calendar.add_working_hours(t, dt.timedelta(minutes=1)) - dt.timedelta(minutes=1)
        assert _in_office_hours(t)
        assert calendar.working_time_between(t, calendar.add_working_hours(t, h)) == h
