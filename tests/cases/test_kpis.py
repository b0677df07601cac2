"""KPIs on a fixed dataset against values computed by hand (office hours 09:00–12:00, 13:30–17:30).

Category SJ0101 (暴露垃圾): accept within 2 working hours, handle within 1 working day, verified.
Week of Monday 2026-11-23, all working days.

c1 (grid A1): submit Mon 09:00, accept 10:00 (on time), dispatch to the department, reply Mon 15:00,
   verified and closed Mon 16:00 (on time; 立案→结案 2 h + 2.5 h = 4.5 h), rated 满意.
c2 (grid A1): accept Mon 14:00 (late: due 11:00), reply Wed 10:00 (late: due Tue 14:00), closed Wed 10:00
   (3.5 + 7 + 1 = 11.5 h), rated 不满意 → callback reopens → reply Wed 15:00, closed Wed 15:30 on time
   (3.5 + 7 + 3 + 2 = 15.5 h from the same acceptance), rated 基本满意.
c3 (grid A1): accept Mon 09:30 (on time), dispatch to the community, returned, dispatched to the
   department, never signed; the Thursday sweep finds it overdue.
c4 (grid B1): accept Mon 09:00 (on time), reply Mon 11:00, verification fails Mon 14:00 (返工), reply and
   close Tue 10:00 on time (7 + 1 = 8 h).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from gongzhi.cases import queries, services
from gongzhi.cases.models import Rating, Source
from gongzhi.core import clock
from gongzhi.core.roles import Role
from tests.factories import user_with

NOV = (
    dt.datetime.fromisoformat("2026-11-01T00:00+08:00"),
    dt.datetime.fromisoformat("2026-12-01T00:00+08:00"),
)


def at(text: str):
    return clock.frozen(f"2026-11-{text}:00+08:00")


@pytest.fixture
def dataset(world):
    w = world
    grid_b_worker = user_with(Role.GRID_WORKER, w.tree.grid_b1)
    sj0101 = w.category("SJ0101")

    def submit(lon):
        with at("23T09:00"):
            return services.submit_case(
                w.resident,
                source=Source.RESIDENT,
                title="垃圾",
                description="垃圾未清运",
                category=sj0101,
                lon=lon,
                lat=30.455,
            )

    c1, c2, c3, c4 = submit(105.585), submit(105.585), submit(105.585), submit(105.605)
    with at("23T10:00"):
        c1 = services.accept_case(w.dispatcher, c1)
        c1 = services.dispatch_case(w.dispatcher, c1, unit=w.department)
        c1 = services.sign_case(w.officer, c1)
    with at("23T15:00"):
        c1 = services.reply_case(w.officer, c1, note="已清运")
    with at("23T16:00"):
        c1 = services.verify_case(w.grid_worker, c1, passed=True)
    with at("23T16:30"):
        services.evaluate_case(w.resident, c1, rating=Rating.SATISFIED)

    with at("23T14:00"):
        c2 = services.accept_case(w.dispatcher, c2)
        c2 = services.dispatch_case(w.dispatcher, c2, unit=w.department)
        c2 = services.sign_case(w.officer, c2)
    with at("25T10:00"):
        c2 = services.reply_case(w.officer, c2, note="已清运")
        c2 = services.verify_case(w.grid_worker, c2, passed=True)
    with at("25T11:00"):
        c2 = services.evaluate_case(w.resident, c2, rating=Rating.DISSATISFIED)
        c2 = services.callback_case(w.dispatcher, c2, note="仍有垃圾", reopen=True)
    with at("25T15:00"):
        c2 = services.reply_case(w.officer, c2, note="再次清运")
    with at("25T15:30"):
        c2 = services.verify_case(w.grid_worker, c2, passed=True)
    with at("25T16:00"):
        services.evaluate_case(w.resident, c2, rating=Rating.BASIC)

    with at("23T09:30"):
        c3 = services.accept_case(w.dispatcher, c3)
        c3 = services.dispatch_case(w.dispatcher, c3, unit=w.community_unit)
    with at("23T10:00"):
        c3 = services.return_case(w.community, c3, reason="非本社区职责")
        c3 = services.dispatch_case(w.dispatcher, c3, unit=w.department)

    with at("23T09:00"):
        c4 = services.accept_case(w.dispatcher, c4)
        c4 = services.dispatch_case(w.dispatcher, c4, unit=w.department)
        c4 = services.sign_case(w.officer, c4)
    with at("23T11:00"):
        c4 = services.reply_case(w.officer, c4, note="已清运")
    with at("23T14:00"):
        c4 = services.verify_case(grid_b_worker, c4, passed=False, note="仍有残留")
    with at("24T10:00"):
        c4 = services.reply_case(w.officer, c4, note="已彻底清理")
        c4 = services.verify_case(grid_b_worker, c4, passed=True)

    with at("26T09:00"):
        services.sweep_deadlines()
    return w


def figures(row):
    return {
        "accepted": (row.accepted_on_time, row.accepted),
        "closed": (row.closed_on_time, row.closed),
        "overdue": row.overdue,
        "reopened": row.reopened,
        "returned": (row.returned, row.dispatched),
        "satisfied": (row.satisfied, row.evaluated),
        "rates": {k: (str(v) if v is not None else None) for k, v in row.rates.items()},
        "avg_hours": str(row.avg_hours) if row.avg_hours is not None else None,
    }


def test_street_totals_match_hand_computed_values(dataset):
    total, _rows = queries.kpis(dataset.dispatcher, start=NOV[0], end=NOV[1])
    assert figures(total) == {
        "accepted": (3, 4),
        "closed": (3, 4),
        "overdue": 1,
        "reopened": 2,
        "returned": (1, 5),
        "satisfied": (2, 3),
        "rates": {
            "accept_rate": "75.00",
            "on_time_close_rate": "75.00",
            "rework_rate": "50.00",
            "return_rate": "20.00",
            "satisfaction_rate": "66.67",
        },
        # (4.5 + 11.5 + 15.5 + 8) / 4 = 9.875 h
        "avg_hours": "9.9",
    }
    assert total.avg_seconds == pytest.approx(9.875 * 3600)


def test_per_community(dataset):
    _total, rows = queries.kpis(dataset.dispatcher, start=NOV[0], end=NOV[1], group_by="region")
    by_name = {row.label: row for row in rows}
    assert set(by_name) == {"马宗岭社区", "金鱼社区"}
    a, b = by_name["马宗岭社区"], by_name["金鱼社区"]
    assert figures(a)["accepted"] == (2, 3) and figures(a)["closed"] == (2, 3)
    assert a.rates["rework_rate"] == Decimal("33.33") and a.rates["return_rate"] == Decimal("25.00")
    assert a.overdue == 1 and a.avg_hours == Decimal("10.5")  # (4.5 + 11.5 + 15.5) / 3
    assert figures(b)["closed"] == (1, 1) and b.reopened == 1 and b.rates["return_rate"] == Decimal("0.00")
    assert b.rates["satisfaction_rate"] is None  # nobody rated: shown as "—", never 0 %
    assert b.avg_hours == Decimal("8.0")


def test_per_unit_and_per_category(dataset):
    _total, rows = queries.kpis(dataset.dispatcher, start=NOV[0], end=NOV[1], group_by="unit")
    by_name = {row.label: row for row in rows}
    assert by_name["马宗岭社区居委会"].dispatched == 1 and by_name["马宗岭社区居委会"].returned == 1
    department = by_name["区综合行政执法局"]
    assert (department.dispatched, department.closed, department.closed_on_time) == (4, 4, 3)
    assert department.overdue == 1 and department.reopened == 2
    _total, rows = queries.kpis(dataset.dispatcher, start=NOV[0], end=NOV[1], group_by="category")
    assert [(row.label, row.closed, row.accepted) for row in rows] == [("市容环境", 4, 4)]


def test_period_and_scope(dataset):
    wednesday = (
        dt.datetime.fromisoformat("2026-11-25T00:00+08:00"),
        dt.datetime.fromisoformat("2026-11-26T00:00+08:00"),
    )
    total, _ = queries.kpis(dataset.dispatcher, start=wednesday[0], end=wednesday[1])
    assert (total.accepted, total.closed, total.evaluated, total.reopened) == (0, 2, 2, 1)
    # Community A's staff see only community A.
    total, _ = queries.kpis(dataset.community, start=NOV[0], end=NOV[1])
    assert (total.accepted, total.closed) == (3, 3)
    # Roles without cases.kpi see nothing.
    total, _ = queries.kpis(dataset.grid_worker, start=NOV[0], end=NOV[1])
    assert total.accepted == 0 and total.rates["accept_rate"] is None
