"""The cases demo: units, rules and ~400 cases played through the real services, loaded once."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import transaction
from django.utils import timezone
from shapely.geometry import Point, shape

from gongzhi.cases import demo as cases_demo
from gongzhi.cases import queries, services
from gongzhi.cases.models import (
    Case,
    CaseAssignment,
    CaseEvent,
    Category,
    EventKind,
    Rating,
    RoutingRule,
    Status,
    Unit,
    UnitKind,
    UnitMember,
)
from gongzhi.core import clock, demo
from gongzhi.core.models import ApiKey, AuditEntry, Level, Notification, Region, User
from gongzhi.people.models import Resident, ResidentStatus

STREET = "510903014"


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    """Load core, people and cases demos once for this module, in a transaction rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        lines = demo.run_all()
        yield lines
        transaction.set_rollback(True)


@pytest.fixture
def street(loaded, db):
    return Region.objects.get(code=STREET)


@pytest.fixture
def accounts(loaded, db):
    return {u.username: u for u in User.objects.filter(username__in=[a.username for a in demo.ACCOUNTS])}


def test_the_loader_reports_what_it_made(loaded, street):
    line = next(line for line in loaded if line.startswith("诉求事件："))
    entry = AuditEntry.objects.get(action="cases.demo_load")
    assert f"{entry.after['cases']} 件" in line
    assert any("用时" in line and "派遣规则" in line for line in loaded)
    # The smart-intake loader adds the three reports of one broken lamp.
    assert entry.after["cases"] == Case.objects.count() - len(cases_demo.DUPLICATES)
    assert 380 <= Case.objects.count() <= 420
    assert any(line.startswith("智能分拨：用") for line in loaded)


def test_every_status_appears(street):
    statuses = Counter(Case.objects.values_list("status", flat=True))
    assert set(statuses) == set(Status.values)
    assert statuses[Status.MERGED] == 1  # the resident who joined the first report of the lamp
    for status in set(Status.values) - {Status.MERGED, Status.CLOSED, Status.REJECTED}:
        assert statuses[status] >= 3, status
    assert statuses[Status.CLOSED] > sum(statuses.values()) / 2  # most of four months' work is done


def test_cases_spread_over_four_months_and_the_whole_street(street):
    now = clock.now()
    created = list(Case.objects.values_list("created_at", flat=True))
    assert min(created) > now - dt.timedelta(days=121) and max(created) < now
    months = Counter((c.year, c.month) for c in created)
    assert sum(n >= 20 for n in months.values()) >= 4
    paths = Case.objects.values_list("region_path", flat=True)
    communities = Counter(path.split("/")[4] for path in paths if path != street.path)
    assert len(communities) == 12
    assert communities.most_common(1)[0][0] == "510903014006"  # the demo accounts' community
    assert not CaseEvent.objects.filter(at__gt=now).exists()
    numbers = list(Case.objects.values_list("number", "created_at"))
    assert all(number.startswith(f"{timezone.localtime(at):%Y%m%d}") for number, at in numbers)


def test_points_lie_in_their_grid_and_addresses_are_matched(street):
    grids = {
        g.pk: shape(g.boundary) for g in Region.objects.filter(level=Level.GRID, path__startswith=street.path)
    }
    located = Case.objects.filter(located_by="point")
    assert located.count() > 250
    for case in located:
        assert grids[case.region_id].contains(Point(case.lon, case.lat)), case.number
    # Hotline calls without a point are placed by their address (观音湖新村 → its grid).
    assert Case.objects.filter(located_by="text", region__level=Level.GRID).exists()
    assert Case.objects.filter(located_by="grid").exists()


def test_smart_intake_demo_has_extra_fields_a_model_and_duplicates(street, accounts):
    from gongzhi.cases.models import CategoryAttribute, CategorySuggestion

    assert CategoryAttribute.objects.filter(category__code="SJ0405", required=True).exists()
    first, second, third = (Case.objects.get(title=title) for title, _d in cases_demo.DUPLICATES)
    assert third.merged_into == first and third.status == Status.MERGED
    assert [d.case for d in queries.duplicates_of(accounts["street"], first)] == [second]
    # Trained on the demo's closed cases, the model suggests a category for each new report.
    assert CategorySuggestion.objects.filter(case__in=[first, second, third]).count() == 3
    assert second.status == Status.SUBMITTED  # left for the dispatcher: routing on its own was off


def test_titles_and_descriptions_are_filled_in_chinese(street):
    for title, description in Case.objects.values_list("title", "description"):
        assert "{" not in title + description
        assert 4 <= len(title) <= 100 and len(description) >= 10
    assert (
        Case.objects.filter(title__contains="路灯").exists()
        and Case.objects.filter(title__contains="楼道").exists()
    )


def test_every_step_and_kpi_event_happened(street):
    kinds = Counter(CaseEvent.objects.values_list("kind", flat=True))
    for kind in [
        EventKind.SUBMIT, EventKind.ACCEPT, EventKind.REJECT, EventKind.DISPATCH, EventKind.WHISTLE,
        EventKind.SIGN, EventKind.REPLY, EventKind.ASSIST_REPLY, EventKind.RETURN, EventKind.ESCALATE,
        EventKind.SUSPEND, EventKind.RESUME, EventKind.CLOSE, EventKind.REOPEN, EventKind.EVALUATE,
        EventKind.CALLBACK, EventKind.WARN, EventKind.OVERDUE,
    ]:  # fmt: skip
        assert kinds[kind] >= 1, kind
    ratings = Counter(CaseEvent.objects.filter(kind=EventKind.EVALUATE).values_list("rating", flat=True))
    assert ratings[Rating.SATISFIED] > ratings[Rating.BASIC] > 0 and ratings[Rating.DISSATISFIED] > 0
    causes = Counter(e.data.get("cause") for e in CaseEvent.objects.filter(kind=EventKind.REOPEN))
    assert causes["verification"] and causes["callback"]
    assert CaseAssignment.objects.filter(whistled=True).exists()
    assert CaseAssignment.objects.filter(role="assist").exists()
    # Only the sweep acts as "system", besides the note on a main case that a resident joined it (whose
    # name staff must not see there); every other step has a real person (or the hotline's key) behind it.
    system = set(CaseEvent.objects.filter(actor_label="system").values_list("kind", flat=True))
    assert system <= {EventKind.WARN, EventKind.OVERDUE, EventKind.AUTO_ESCALATE, EventKind.MERGE}
    assert CaseEvent.objects.filter(actor_label="system", kind=EventKind.MERGE).count() == 1
    hotline = ApiKey.objects.get(name=cases_demo.HOTLINE_KEY)
    assert CaseEvent.objects.filter(kind=EventKind.SUBMIT, actor_label=f"apikey:{hotline.name}").count() > 30


def test_units_members_and_rules(street, accounts):
    units = {u.name: u for u in Unit.objects.all()}
    assert units["南强街道综治中心"].kind == UnitKind.STREET
    assert units["马宗岭社区居委会"].region.code == "510903014006"
    assert units["船山区综合行政执法局"].region.code == "510903"
    assert Unit.objects.filter(kind=UnitKind.COMMUNITY).count() == 12
    assert Unit.objects.filter(kind=UnitKind.PROPERTY).count() == 2

    def membership(username, unit_name):
        return UnitMember.objects.get(user=accounts[username], unit=units[unit_name])

    assert membership("street", "南强街道综治中心").is_head
    assert membership("community", "马宗岭社区居委会").is_head
    assert not membership("dept", "船山区综合行政执法局").is_head

    grid = Region.objects.get(code="510903014006001")
    other_grid = Region.objects.get(code="510903014011001")
    code = {c.code: c for c in Category.objects.all()}
    assert services.route(code["SJ0101"], grid) == units["船山区综合行政执法局"]
    assert services.route(code["SJ0401"], other_grid) == units["船山区综合行政执法局"]
    assert services.route(code["SJ0701"], grid) == units["遂宁锦华物业服务有限公司"]
    assert services.route(code["SJ0701"], other_grid) == units["桐子垭社区居委会"]
    assert services.route(code["BJ0104"], grid) == units["遂宁市燃气公司"]
    assert services.route(code["SJ0801"], other_grid) == units["桐子垭社区居委会"]
    assert services.route(code["SJ0803"], grid) == units["南强街道综治中心"]
    for unrouted in ["SJ0904", "SJ0505", "SJ1001"]:
        assert services.route(code[unrouted], grid) is None, unrouted
    assert RoutingRule.objects.count() > 100
    assert Case.objects.filter(no_rule=True).exists()


def test_every_demo_account_has_work_in_its_queue(street, accounts):
    assert queries.dispatcher_queue(accounts["street"]).count() >= 10
    assert queries.dispatcher_queue(accounts["street"], tab="unrouted").exists()
    assert queries.dispatcher_queue(accounts["street"], tab="escalated").exists()
    assert queries.dispatcher_queue(accounts["street"], tab="returned").exists()
    assert queries.dispatcher_queue(accounts["community"]).exists()
    for username in ("street", "community", "dept"):
        assert queries.unit_queue(accounts[username]).exists(), username
    assert queries.unit_queue(accounts["dept"], tab="sign").exists()
    for username in ("grid1", "grid2", "community"):
        assert queries.verify_queue(accounts[username]).exists(), username
    # A department sees the work it was sent, not the whole district.
    dept_cases = queries.cases_visible_to(accounts["dept"])
    assert 0 < dept_cases.count() < Case.objects.count()
    assert not dept_cases.exclude(assignments__unit__name="船山区综合行政执法局").exists()


def test_the_resident_account_is_linked_and_has_requests(street, accounts):
    resident = accounts["resident"]
    record = Resident.objects.get(account=resident)
    assert record.region.code == "510903014006001" and record.status == ResidentStatus.LIVING_HERE
    assert record.name == resident.real_name
    mine = Counter(queries.my_cases(resident).values_list("status", flat=True))
    assert mine[Status.CLOSED] and sum(mine.values()) - mine[Status.CLOSED] - mine[Status.REJECTED] > 0
    assert all(c.verified_reporter for c in queries.my_cases(resident))
    # Other residents reported too, each linked to a ledger entry of their own community.
    reporters = User.objects.filter(reported_cases__isnull=False).exclude(pk=resident.pk).distinct()
    assert reporters.count() >= 10
    for user in reporters:
        assert user.resident_record.region.path.startswith(street.path)


def test_kpis_for_the_street_are_all_there(street, accounts):
    now = clock.now()
    for days in (30, 120):
        total, rows = queries.kpis(accounts["leader"], start=now - dt.timedelta(days=days), end=now)
        assert all(value is not None for value in total.rates.values()), (days, total.rates)
        assert total.avg_hours is not None and total.avg_hours > 0
        assert total.overdue > 0 and total.reopened > 0 and total.returned > 0
        assert 60 <= total.rates["accept_rate"] < 100
        assert 60 <= total.rates["on_time_close_rate"] < 100
        assert 60 <= total.rates["satisfaction_rate"] < 100
        assert len(rows) >= 12
    total, rows = queries.kpis(
        accounts["leader"], start=now - dt.timedelta(days=120), end=now, group_by="unit"
    )
    assert {"船山区综合行政执法局", "南强街道综治中心", "马宗岭社区居委会"} <= {r.label for r in rows}


def test_loading_again_adds_nothing(street):
    tables = (Case, CaseEvent, CaseAssignment, Unit, UnitMember, RoutingRule, User, ApiKey, Notification)
    case_audit = AuditEntry.objects.filter(action__startswith="case")
    before = [m.objects.count() for m in tables] + [case_audit.count()]
    lines = demo.run_all()
    assert [m.objects.count() for m in tables] + [case_audit.count()] == before
    assert any(line.startswith("诉求事件：") and "已存在" in line for line in lines)


def test_the_same_seed_plans_the_same_cases(street):
    world = cases_demo.build_world(street)
    end = clock.now()
    first = cases_demo.plan_cases(world, end - dt.timedelta(days=120), end)
    second = cases_demo.plan_cases(world, end - dt.timedelta(days=120), end)
    describe = lambda plans: [  # noqa: E731
        (p.created_at, p.place.grid.code, p.template.title, p.source, p.stop) for p, _rng in plans
    ]
    assert describe(first) == describe(second)
    assert len(first) == Case.objects.count() - len(cases_demo.DUPLICATES)
