"""Pure rules of the closed loop: transitions, routing specificity, deadlines on the working calendar."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongzhi.cases import rules
from gongzhi.cases.models import LimitUnit, Sla, Status
from gongzhi.core import calendar
from gongzhi.core.errors import Conflict

CST = ZoneInfo("Asia/Shanghai")
ALL_STATUSES = list(Status)


@pytest.mark.parametrize("step", sorted(rules.STEPS))
def test_every_illegal_transition_is_refused_with_a_clear_error(step):
    for status in ALL_STATUSES:
        if status in rules.STEPS[step]:
            rules.ensure_step(step, status)  # allowed: no error
            continue
        with pytest.raises(Conflict) as raised:
            rules.ensure_step(step, status)
        assert raised.value.code == f"case.cannot_{step}"
        assert str(status.label) in raised.value.message
        assert str(rules.STEP_NAMES[step]) in raised.value.message


def test_final_states_allow_only_what_follows_closing():
    assert rules.steps_from(Status.REJECTED) == []
    assert rules.steps_from(Status.MERGED) == []
    assert set(rules.steps_from(Status.CLOSED)) == {"evaluate", "callback"}
    assert set(rules.steps_from(Status.SUBMITTED)) == {"accept", "reject", "suspend"}


def test_the_loop_in_order_is_allowed():
    path = [
        ("accept", Status.SUBMITTED),
        ("dispatch", Status.ACCEPTED),
        ("sign", Status.DISPATCHED),
        ("reply", Status.IN_PROGRESS),
        ("verify", Status.REPLIED),
        ("evaluate", Status.CLOSED),
    ]
    for step, status in path:
        assert rules.allowed(step, status)


A, B = "51/5109/510903/510903014/", "51/5109/510903/510903015/"
COMMUNITY = A + "510903014006/"
GRID = COMMUNITY + "510903014006001/"


def test_deepest_region_wins():
    candidates = [
        rules.Rule("SJ0101", "51/5109/510903/", 1),
        rules.Rule("SJ0101", A, 2),
        rules.Rule("SJ0101", COMMUNITY, 3),
    ]
    assert rules.pick_rule(candidates, ["SJ0101", "SJ01"], GRID).unit_id == 3


def test_minor_category_beats_major_at_the_same_depth_but_not_a_deeper_region():
    candidates = [rules.Rule("SJ01", A, 1), rules.Rule("SJ0101", A, 2)]
    assert rules.pick_rule(candidates, ["SJ0101", "SJ01"], GRID).unit_id == 2
    candidates.append(rules.Rule("SJ01", COMMUNITY, 3))
    assert rules.pick_rule(candidates, ["SJ0101", "SJ01"], GRID).unit_id == 3


def test_rules_outside_the_subtree_or_category_do_not_match():
    candidates = [rules.Rule("SJ0101", B, 1), rules.Rule("SJ0201", A, 2)]
    assert rules.pick_rule(candidates, ["SJ0101", "SJ01"], GRID) is None
    # A sibling code sharing a prefix is not an ancestor.
    assert rules.pick_rule([rules.Rule("SJ0101", "51/5109/510903/5109030140/", 1)], ["SJ0101"], GRID) is None


def test_limits_in_days_are_whole_office_days():
    assert rules.limit_as_working_time(2, LimitUnit.DAYS) == 2 * calendar.office_day_length()
    assert rules.limit_as_working_time("0.5", LimitUnit.HOURS) == dt.timedelta(minutes=30)


def test_deadline_across_the_national_day_holiday():
    # 2026-09-30 (Wed) 16:00 + 1 working day: 1 Oct–7 Oct are holidays, so the deadline is 8 Oct.
    start = dt.datetime(2026, 9, 30, 16, 0, tzinfo=CST)
    d = rules.deadline(start, rules.limit_as_working_time(1, LimitUnit.DAYS), 80)
    assert d.due.astimezone(CST) == dt.datetime(2026, 10, 8, 16, 0, tzinfo=CST)
    # 80 % of 7 h = 5 h 36 min: 1.5 h on 30 Sep, 3 h on the morning of 8 Oct, 1 h 06 min after lunch.
    assert d.warn.astimezone(CST) == dt.datetime(2026, 10, 8, 14, 36, tzinfo=CST)


def test_deadline_counts_an_adjusted_working_saturday():
    # Sunday 2026-09-20 is a make-up working day before the Mid-Autumn holiday (调休); Saturday is not.
    assert calendar.is_working_day(dt.date(2026, 9, 20))
    assert not calendar.is_working_day(dt.date(2026, 9, 19))
    start = dt.datetime(2026, 9, 18, 17, 0, tzinfo=CST)  # Friday, 30 min before closing
    d = rules.deadline(start, dt.timedelta(hours=2), 50)
    assert d.due.astimezone(CST) == dt.datetime(2026, 9, 20, 10, 30, tzinfo=CST)


moments = st.datetimes(
    min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 20), timezones=st.just(CST)
)
limits = st.integers(min_value=1, max_value=60 * 7 * 20).map(lambda m: dt.timedelta(minutes=m))


@given(start=moments, limit=limits, percent=st.integers(1, 100))
def test_property_deadline_is_exactly_the_limit_in_working_time(start, limit, percent):
    d = rules.deadline(start, limit, percent)
    assert calendar.working_time_between(start, d.due) == limit
    assert start <= d.warn <= d.due
    assert calendar.working_time_between(start, d.warn) == limit * percent / 100


@given(start=moments, limit=limits, pause_at=st.integers(0, 100), pause_for=st.integers(0, 60 * 24 * 30))
def test_property_a_pause_does_not_eat_into_the_limit(start, limit, pause_at, pause_for):
    """Suspending (待补充材料) and resuming keeps exactly the working time that was left."""
    due = rules.deadline(start, limit, 80).due
    suspended = calendar.add_working_hours(start, limit * pause_at / 100)
    remaining = rules.time_left(suspended, due)
    resumed = suspended + dt.timedelta(minutes=pause_for)
    new_due = rules.resume_deadline(resumed, remaining)
    used = calendar.working_time_between(start, suspended) + calendar.working_time_between(resumed, new_due)
    assert abs(used - limit) <= dt.timedelta(microseconds=1)


@given(now=moments, due=moments)
def test_property_time_left_is_signed_working_time(now, due):
    left = rules.time_left(now, due)
    if now <= due:
        assert left == calendar.working_time_between(now, due)
    else:
        assert left == -calendar.working_time_between(due, now)


def test_sla_state():
    t = dt.datetime(2026, 11, 23, 10, 0, tzinfo=CST)
    hour = dt.timedelta(hours=1)
    assert rules.sla_state(t, t + hour, t + 2 * hour) == Sla.GREEN
    assert rules.sla_state(t, t, t + hour) == Sla.YELLOW
    assert rules.sla_state(t, t - hour, t) == Sla.RED
    assert rules.sla_state(t, None, None) == Sla.GREEN


@given(part=st.integers(0, 10_000), whole=st.integers(0, 10_000))
def test_property_ratio_is_exact_and_none_without_a_denominator(part, whole):
    value = rules.ratio(part, whole)
    if whole == 0:
        assert value is None and rules.percent(value) is None
    else:
        assert value == Fraction(part, whole)


def test_percent_matches_the_standard_worked_example():
    # DOMAIN: 972 due, 911 closed, 737 on time → 93.72 %, 75.82 %.
    assert str(rules.percent(rules.ratio(911, 972))) == "93.72"
    assert str(rules.percent(rules.ratio(737, 972))) == "75.82"
