"""The KPI page: the figures queries.kpis computes for a small fixed dataset, on the page and in the
.xlsx, for the period asked, and only for the user's own area."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from gongzhi.cases import queries, services
from gongzhi.cases.models import Rating, Source
from gongzhi.core import clock
from gongzhi.core.roles import Role
from tests.cases.helpers import A1_POINT, NEIGHBOUR_POINT, neighbour_street
from tests.factories import user_with

TZ = dt.timezone(dt.timedelta(hours=8))
NOVEMBER = (dt.datetime(2026, 11, 1, tzinfo=TZ), dt.datetime(2026, 11, 24, tzinfo=TZ))


def report(user, point=A1_POINT, title="路边垃圾堆放"):
    return services.submit_case(
        user,
        source=Source.RESIDENT,
        title=title,
        description="小区门口垃圾三天没人清运",
        lon=point[0],
        lat=point[1],
    )


@pytest.fixture
def data(world):
    """Three cases in street A on Monday 23 November 2026, one of them accepted late, returned and
    redispatched, one reworked; one case in October; one case in street B.

    Street A in November: accepted 3 (2 on time), closed 2 (2 on time), reopened 1, dispatched 4,
    returned 1, evaluated 2 (1 satisfied).
    """
    w = world
    sj = w.category("SJ0101")  # accept within 2 working hours; needs a grid worker's check
    neighbour = neighbour_street(w.tree)
    resident_b = user_with(Role.RESIDENT, neighbour.community, username="resident_b")

    with clock.frozen("2026-10-15T10:00:00+08:00"):
        services.accept_case(w.dispatcher, report(w.resident, title="十月的事"), category=sj)

    with clock.frozen("2026-11-23T10:00:00+08:00") as t:
        c1, c2, c3 = (report(w.resident, title=f"第{i}件") for i in (1, 2, 3))
        in_b = report(resident_b, NEIGHBOUR_POINT, title="北固的事")
        t.advance(minutes=30)
        for case in (c1, c3):
            case = services.accept_case(w.dispatcher, case, category=sj)
            case = services.dispatch_case(w.dispatcher, case, unit=w.department)
            services.sign_case(w.officer, case)
        services.accept_case(neighbour.dispatcher, in_b, category=sj)
        t.advance(minutes=30)
        c1 = services.reply_case(w.officer, c1, note="已清运")
        c1 = services.verify_case(w.grid_worker, c1, passed=True)
        c3 = services.reply_case(w.officer, c3, note="已清运")
        c3 = services.verify_case(w.grid_worker, c3, passed=False, note="还有残留")
        t.advance(minutes=30)
        c3 = services.reply_case(w.officer, c3, note="已彻底清理")
        c3 = services.verify_case(w.grid_worker, c3, passed=True)
        services.evaluate_case(w.resident, c1, rating=Rating.SATISFIED)
        services.evaluate_case(w.resident, c3, rating=Rating.DISSATISFIED)
        t.to("2026-11-23T14:30:00+08:00")  # 3 working hours after submission: late
        c2 = services.accept_case(w.dispatcher, c2, category=sj)
        c2 = services.dispatch_case(w.dispatcher, c2, unit=w.department)
        c2 = services.return_case(w.officer, c2, reason="不属于本部门职责")
        services.dispatch_case(w.dispatcher, c2, unit=w.community_unit)
    return {"street_b": neighbour.street, "dispatcher_b": neighbour.dispatcher}


@pytest.fixture(autouse=True)
def now():
    with clock.frozen("2026-11-23T18:00:00+08:00") as travel:
        yield travel


def text(response) -> str:
    return response.content.decode()


def cell(row_label: str, page: str) -> str:
    """The table row whose header cell is `row_label`."""
    start = page.index(f'<th scope="row">{row_label}</th>')
    return page[start : page.index("</tr>", start)]


# ---------------------------------------------------------------- who may


def test_the_kpi_page_is_for_those_who_assess(client, world):
    admin = user_with(Role.ADMIN, world.tree.county)
    for user in [world.resident, world.officer, world.grid_worker, admin]:
        client.force_login(user)
        assert client.get("/cases/kpi/").status_code == 403, user.username
        assert client.get("/cases/kpi/", {"format": "xlsx"}).status_code == 403
    for user in [world.leader, world.dispatcher, world.community]:
        client.force_login(user)
        response = client.get("/cases/kpi/")
        assert response.status_code == 200 and "<script>" not in text(response)


# ---------------------------------------------------------------- the figures


def test_the_page_shows_what_queries_kpis_computes(client, world, data):
    total, rows = queries.kpis(world.leader, start=NOVEMBER[0], end=NOVEMBER[1], group_by="region")
    # The fixed dataset, counted by hand.
    assert (total.accepted, total.accepted_on_time, total.closed, total.closed_on_time) == (3, 2, 2, 2)
    assert (total.reopened, total.dispatched, total.returned, total.evaluated, total.satisfied) == (
        1,
        4,
        1,
        2,
        1,
    )
    client.force_login(world.leader)
    page = text(client.get("/cases/kpi/"))  # this month by default, grouped by region
    assert "2026-11-01 至 2026-11-23" in page
    totals = cell("合计", page)
    for expected in [
        "66.67%（2/3）",
        "100.00%（2/2）",
        "50.00%（1/2）",  # rework: 1 of 2 closings; satisfaction: 1 of 2 ratings
        "25.00%（1/4）",
        f"{total.avg_hours}（2 件）",
    ]:
        assert expected in totals, expected
    assert totals.count("50.00%（1/2）") == 2
    assert [r.label for r in rows] == ["马宗岭社区"]
    assert "66.67%（2/3）" in cell("马宗岭社区", page)
    for label, _text in [(d[1], d[2]) for d in queries.KPI_DEFINITIONS]:
        assert label in page and _text in page  # the definitions are written on the page


def test_grouping_by_unit_and_category_and_nothing_to_divide(client, world, data):
    client.force_login(world.leader)
    page = text(client.get("/cases/kpi/", {"group": "unit"}))
    dispatch_centre = cell("未派遣（调度环节）", page)
    assert "66.67%（2/3）" in dispatch_centre and "—" in dispatch_centre  # accepted there, never closed
    department = cell("区综合行政执法局", page)
    assert (
        "25.00%（1/4）" not in department and "33.33%（1/3）" in department
    )  # 1 return of 3 dispatches to it
    community = cell("马宗岭社区居委会", page)  # one dispatch to it, not returned, nothing else yet
    assert "0.00%（0/1）" in community and community.count("—") == 5
    by_category = text(client.get("/cases/kpi/", {"group": "category"}))
    assert "66.67%（2/3）" in cell("市容环境", by_category)


def test_the_period_is_in_local_time(client, world, data):
    client.force_login(world.leader)
    october = text(client.get("/cases/kpi/", {"period": "last_month"}))
    assert "2026-10-01 至 2026-10-31" in october and "100.00%（1/1）" in cell("合计", october)
    year = text(client.get("/cases/kpi/", {"period": "this_year"}))
    assert "75.00%（3/4）" in cell("合计", year)
    # The 23rd alone, then the day before it: nothing to divide, shown as "—", never as 0 %.
    day = text(client.get("/cases/kpi/", {"period": "custom", "start": "2026-11-23", "end": "2026-11-23"}))
    assert "66.67%（2/3）" in cell("合计", day)
    empty = text(client.get("/cases/kpi/", {"period": "custom", "start": "2026-11-22", "end": "2026-11-22"}))
    assert "0.00%" not in cell("合计", empty) and cell("合计", empty).count("—") == 6
    bad = client.get("/cases/kpi/", {"period": "custom", "start": "2026-11-23", "end": "2026-11-01"})
    assert bad.status_code == 400 and "结束日期不能早于开始日期" in text(bad)
    assert client.get("/cases/kpi/", {"period": "custom"}).status_code == 400


def test_the_spreadsheet_has_the_same_numbers(client, world, data):
    total, rows = queries.kpis(world.leader, start=NOVEMBER[0], end=NOVEMBER[1], group_by="unit")
    client.force_login(world.leader)
    response = client.get("/cases/kpi/", {"group": "unit", "format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"] and ".xlsx" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    header, body = values[0], values[1:]
    assert header[:4] == ["分组", "受理及时率（%）", "按时立案数", "立案数"]
    assert len(body) == len(rows) + 1
    last = body[-1]
    assert last[0] == "合计"
    # Numbers stay numbers (percentages in per cent), so the sheet can be summed and charted.
    assert last == ["合计", 66.67, 2, 3, 100, 2, 2, 0, 50, 1, 25, 1, 4, 50, 1, 2, float(total.avg_hours)]
    assert total.avg_hours == Decimal("0.8")  # closings after 0.5 h and 1 h of working time
    by_label = {r[0]: r for r in body}
    for row in rows:
        got = by_label[row.label]
        assert got[3] == row.accepted and got[6] == row.closed and got[12] == row.dispatched
        expected_rate = row.rates["return_rate"]
        assert (got[10] is None) if expected_rate is None else (float(got[10]) == float(expected_rate))
    assert float(last[16]) == float(total.avg_hours)
    about = [r for r in book.worksheets[1].iter_rows(values_only=True)]
    assert about[0] == ("期间", "2026-11-01 — 2026-11-23")
    assert any(r and r[0] == "满意率" for r in about)


# ---------------------------------------------------------------- scope


def test_each_street_sees_only_its_own_numbers(client, world, data):
    client.force_login(world.leader)
    a = text(client.get("/cases/kpi/"))
    assert "66.67%（2/3）" in cell("合计", a) and "北固" not in a
    # Naming the other street is refused, not answered.
    other = client.get("/cases/kpi/", {"region": data["street_b"].code})
    assert other.status_code == 400 and "该区域不在您的管辖范围内" in text(other)
    other_xlsx = client.get("/cases/kpi/", {"region": data["street_b"].code, "format": "xlsx"})
    assert other_xlsx.status_code == 400

    client.force_login(data["dispatcher_b"])
    b = text(client.get("/cases/kpi/"))
    assert "100.00%（1/1）" in cell("合计", b) and "马宗岭" not in b


def test_a_subtree_narrows_the_figures(client, world, data):
    client.force_login(world.leader)
    page = text(client.get("/cases/kpi/", {"region": world.tree.community_b.code}))
    assert cell("合计", page).count("—") == 6  # nothing happened in community B
    page = text(client.get("/cases/kpi/", {"region": world.tree.community_a.code}))
    assert "66.67%（2/3）" in cell("合计", page)
    assert ["马宗岭第1网格"] == [
        r.label
        for r in queries.kpis(
            world.leader, start=NOVEMBER[0], end=NOVEMBER[1], region=world.tree.community_a
        )[1]
    ]
    assert "马宗岭第1网格" in page
