"""The closed loop through its services: every path, every refusal, with an injected clock."""

from __future__ import annotations

import datetime as dt

import pytest

from gongzhi.cases import rules, services
from gongzhi.cases.models import (
    AssignmentRole,
    Case,
    CaseEvent,
    EventKind,
    Rating,
    Sla,
    Source,
    Status,
)
from gongzhi.core import calendar, clock, geo
from gongzhi.core.errors import Conflict, DomainError, PermissionDenied
from gongzhi.core.models import AuditEntry, Notification
from gongzhi.core.principals import SYSTEM
from gongzhi.people.models import Resident
from tests.cases.conftest import A1_POINT

MONDAY = "2026-11-23T10:00:00+08:00"


@pytest.fixture
def now():
    with clock.frozen(MONDAY) as travel:
        yield travel


def report(world, **overrides):
    values = dict(
        source=Source.RESIDENT,
        title="路边垃圾堆放",
        description="小区门口垃圾三天没人清运",
        category=world.category("SJ0101"),
        lon=A1_POINT[0],
        lat=A1_POINT[1],
    )
    values.update(overrides)
    return services.submit_case(world.resident, **values)


def kinds(case):
    return list(case.events.values_list("kind", flat=True))


# ---------------------------------------------------------------- intake


def test_resident_report_is_located_numbered_routed_and_timed(world, now):
    case = report(world)
    assert case.number.startswith("20261123") and len(case.number) == 14 and case.number.isdigit()
    assert case.region == world.tree.grid_a1 and case.located_by == "point"
    assert case.region_path == world.tree.grid_a1.path
    assert case.status == Status.SUBMITTED and case.reporter == world.resident
    assert case.suggested_unit == world.department and not case.no_rule
    # SJ0101 accepts within 2 working hours: Monday 12:00.
    assert case.accept_due == clock.now() + dt.timedelta(hours=2)
    assert case.reporter_phone == "13800138000"
    assert kinds(case) == [EventKind.SUBMIT]
    assert AuditEntry.objects.filter(action="case.submit", object_id=str(case.pk)).count() == 1
    # The reporter gets a receipt; dispatchers see the case in their queue, not as a message.
    receipt = Notification.objects.get(kind="case.submitted")
    assert receipt.recipient == world.resident and case.number in receipt.title
    assert receipt.url == f"/cases/mine/{case.number}/"
    assert report(world).number > case.number  # serials grow within the day


def test_gcj02_points_are_converted_before_locating(world, now):
    gcj = geo.wgs84_to_gcj02(*A1_POINT)
    case = report(world, lon=gcj[0], lat=gcj[1], coord_system="gcj02")
    assert case.region == world.tree.grid_a1
    assert case.lon == pytest.approx(A1_POINT[0], abs=1e-5) and case.lat == pytest.approx(
        A1_POINT[1], abs=1e-5
    )


def test_without_a_point_a_verified_resident_is_placed_in_their_grid(world, now):
    Resident.objects.create(
        region=world.tree.grid_a2,
        name="周小梅",
        created_at=clock.now(),
        updated_at=clock.now(),
        account=world.resident,
    )
    case = report(world, lon=None, lat=None)
    assert case.region == world.tree.grid_a2 and case.located_by == "address"
    assert case.verified_reporter and case.reporter_name == "周小梅"


def test_without_any_location_the_case_lands_on_the_street_flagged(world, now):
    case = report(world, lon=None, lat=None)
    assert case.region == world.tree.street and case.located_by == "street"


def test_every_bad_field_is_reported_at_once_and_nothing_is_written(world, now):
    with pytest.raises(services.InvalidCase) as raised:
        services.submit_case(
            world.resident,
            source=Source.RESIDENT,
            title="",
            description="x" * 2001,
            category="XX99",
            lon=200.0,
            lat=None,
            coord_system="mars",
        )
    fields = {field for field, _ in raised.value.errors}
    assert fields == {"title", "description", "category", "lat", "coord_system"}
    assert not Case.objects.exists() and not CaseEvent.objects.exists()


def test_patrol_needs_a_grid_in_the_workers_scope(world, now):
    case = services.submit_case(
        world.grid_worker,
        source=Source.PATROL,
        title="井盖缺失",
        description="人行道井盖缺失",
        category=world.category("BJ0101"),
        grid=world.tree.grid_a1,
    )
    assert case.entered_by == world.grid_worker and case.region == world.tree.grid_a1
    with pytest.raises(PermissionDenied):
        services.submit_case(
            world.grid_worker,
            source=Source.PATROL,
            title="井盖缺失",
            description="另一网格",
            grid=world.tree.grid_b1,
        )


def test_hotline_needs_the_callers_number(world, now):
    with pytest.raises(services.InvalidCase) as raised:
        services.submit_case(
            world.dispatcher,
            source=Source.HOTLINE,
            title="噪声",
            description="夜间施工",
            grid=world.tree.grid_b1,
        )
    assert [f for f, _ in raised.value.errors] == ["reporter_phone"]


def test_a_case_no_rule_matches_is_flagged_for_the_street(world, now):
    case = report(world, category=world.category("SJ0901"))
    assert case.no_rule and case.suggested_unit is None


# ---------------------------------------------------------------- the whole loop


def run_to_reply(world, case):
    case = services.accept_case(world.dispatcher, case)
    case = services.dispatch_case(world.dispatcher, case, unit=case.suggested_unit)
    case = services.sign_case(world.officer, case)
    return services.reply_case(world.officer, case, note="已清运")


def test_the_closed_loop_with_verification_evaluation_callback_and_rework(world, now):
    case = report(world)
    case = services.accept_case(world.dispatcher, case)
    assert case.status == Status.ACCEPTED
    now.advance(minutes=30)
    case = services.dispatch_case(world.dispatcher, case, unit=world.department)
    # SJ0101: 1 working day from Monday 10:30 → Tuesday 10:30; yellow at 80 %.
    assert case.handle_due.astimezone(clock.now().tzinfo) == clock.now() + dt.timedelta(days=1)
    assert case.status == Status.DISPATCHED and case.unit == world.department
    assert Notification.objects.filter(recipient=world.officer, kind="case.dispatched").exists()
    case = services.sign_case(world.officer, case)
    assert case.status == Status.IN_PROGRESS
    now.advance(hours=2)
    case = services.reply_case(world.officer, case, note="已清运")
    assert case.status == Status.REPLIED
    assert Notification.objects.filter(recipient=world.grid_worker, kind="case.verify").exists()
    case = services.verify_case(world.grid_worker, case, passed=True, note="现场已清理")
    assert case.status == Status.CLOSED
    close = case.events.get(kind=EventKind.CLOSE)
    assert close.on_time is True and close.data == {"verified": True}
    # Accepted Monday 10:00, closed Monday 12:30 + lunch: 2.5 h of working time... minus nothing.
    assert close.working_seconds == int(
        calendar.working_time_between(case.accepted_at, case.closed_at).total_seconds()
    )
    case = services.evaluate_case(world.resident, case, rating=Rating.DISSATISFIED, comment="又堆上了")
    assert case.callback_pending
    with pytest.raises(Conflict):
        services.evaluate_case(world.resident, case, rating=Rating.SATISFIED)
    case = services.callback_case(world.dispatcher, case, note="居民反映反复堆放", reopen=True)
    assert case.status == Status.IN_PROGRESS and case.reopen_count == 1 and not case.callback_pending
    assert case.unit == world.department
    lead = case.assignments.get(ended_at__isnull=True)
    assert lead.role == AssignmentRole.LEAD and lead.signed_at is not None
    case = services.reply_case(world.officer, case, note="已安排每日巡查清运")
    case = services.verify_case(world.grid_worker, case, passed=True)
    case = services.evaluate_case(world.resident, case, rating=Rating.SATISFIED)
    assert case.rating == Rating.SATISFIED and not case.callback_pending
    assert kinds(case) == [
        "submit",
        "accept",
        "dispatch",
        "sign",
        "reply",
        "close",
        "evaluate",
        "reopen",
        "reply",
        "close",
        "evaluate",
    ]
    # One audit entry per transition.
    assert AuditEntry.objects.filter(object_type="cases.case", object_id=str(case.pk)).count() == 11


def test_failed_verification_reopens_to_the_same_unit_with_a_fresh_deadline(world, now):
    case = run_to_reply(world, report(world))
    now.advance(hours=5)
    with pytest.raises(DomainError):
        services.verify_case(world.grid_worker, case, passed=False)  # a reason is required
    case = services.verify_case(world.grid_worker, case, passed=False, note="垃圾仍在")
    assert case.status == Status.IN_PROGRESS and case.reopen_count == 1 and case.unit == world.department
    assert case.handle_due == rules.deadline(clock.now(), calendar.office_day_length(), 80).due
    assert case.events.last().data == {"cause": "verification"}


def test_closing_without_verification_only_where_the_category_allows(world, now):
    case = run_to_reply(world, report(world))
    with pytest.raises(DomainError) as raised:
        services.close_case(world.dispatcher, case)
    assert raised.value.code == "case.verification_required"
    dispute = report(world, category=world.category("SJ0801"), title="邻里噪音纠纷")
    dispute = services.accept_case(world.dispatcher, dispute)
    dispute = services.dispatch_case(world.dispatcher, dispute, unit=world.community_unit)
    dispute = services.sign_case(world.community, dispute)
    dispute = services.reply_case(world.community, dispute, note="已调解")
    dispute = services.close_case(world.community, dispute, note="调解成功")
    assert dispute.status == Status.CLOSED


def test_reject_needs_a_reason_and_tells_the_reporter(world, now):
    case = report(world)
    with pytest.raises(DomainError):
        services.reject_case(world.dispatcher, case, reason=" ")
    case = services.reject_case(world.dispatcher, case, reason="不属于本平台受理范围")
    assert case.status == Status.REJECTED
    assert Notification.objects.filter(recipient=world.resident, kind="case.rejected").exists()


def test_a_unit_returns_a_case_that_is_not_theirs(world, now):
    case = report(world)
    case = services.accept_case(world.dispatcher, case)
    case = services.dispatch_case(world.dispatcher, case, unit=world.community_unit)
    with pytest.raises(PermissionDenied):
        services.return_case(world.officer, case, reason="不是我们的")
    case = services.return_case(world.community, case, reason="属于执法部门职责")
    assert case.status == Status.RETURNED and case.unit is None
    assert not case.assignments.filter(ended_at__isnull=True).exists()
    assert Notification.objects.filter(recipient=world.dispatcher, kind="case.returned").exists()
    case = services.dispatch_case(world.dispatcher, case, unit=world.department)
    assert case.status == Status.DISPATCHED and case.unit == world.department


def test_community_escalates_to_the_street_which_whistles_a_department(world, now):
    case = report(world)
    case = services.accept_case(world.community, case)
    case = services.dispatch_case(world.community, case, unit=world.community_unit)
    case = services.sign_case(world.community, case)
    case = services.escalate_case(world.community, case, reason="涉及占道经营执法，社区无权处理")
    assert case.status == Status.ESCALATED and case.escalated_to == world.tree.street
    # The community that raised it cannot dispatch its own escalation; the street can.
    with pytest.raises(PermissionDenied):
        services.dispatch_case(world.community, case, unit=world.department)
    case = services.dispatch_case(
        world.dispatcher, case, unit=world.department, assist_units=[world.community_unit]
    )
    assert case.escalation_level == 2
    assert case.events.last().kind == EventKind.WHISTLE
    assert case.assignments.filter(ended_at__isnull=True, whistled=True).count() == 2
    case = services.sign_case(world.officer, case)  # 报到
    case = services.sign_case(world.community, case)  # 协办 signs too
    case = services.assist_reply_case(world.community, case, note="已配合劝离")
    with pytest.raises(DomainError):
        services.reply_case(world.community, case, note="协办不能替主办反馈")
    case = services.reply_case(world.officer, case, note="已依法处置")
    assert case.status == Status.REPLIED
    assert kinds(case)[-6:] == ["escalate", "whistle", "sign", "sign", "assist_reply", "reply"]


def test_departments_return_rather_than_escalate(world, now):
    case = run_to_reply(world, report(world))
    case = services.verify_case(world.grid_worker, case, passed=False, note="未处理")
    with pytest.raises(DomainError) as raised:
        services.escalate_case(world.officer, case, reason="x")
    assert raised.value.code == "case.department_cannot_escalate"


def test_suspension_stops_the_clock_and_resumption_keeps_the_time_left(world, now):
    case = report(world)
    case = services.accept_case(world.dispatcher, case)
    case = services.dispatch_case(world.dispatcher, case, unit=world.department)
    case = services.sign_case(world.officer, case)
    now.advance(hours=1)  # 11:00 Monday; due Tuesday 10:00 → 6 working hours left
    case = services.suspend_case(world.officer, case, reason="请提供具体位置照片")
    assert case.status == Status.SUSPENDED and case.due_at is None
    assert case.suspended_remaining == dt.timedelta(hours=6)
    now.to("2026-11-25T15:00:00+08:00")  # two days later
    case = services.resume_case(world.resident, case, note="已补充照片")
    assert case.status == Status.IN_PROGRESS
    assert calendar.working_time_between(clock.now(), case.due_at) == dt.timedelta(hours=6)
    assert case.handle_due == case.due_at
    # The pause (Mon 11:00 → Wed 15:00 = 1 + 7 + 4.5 h... of working time) does not count as handling.
    assert case.suspended_working == calendar.working_time_between(
        dt.datetime.fromisoformat("2026-11-23T11:00:00+08:00"), clock.now()
    )


# ---------------------------------------------------------------- who may do what


def test_illegal_steps_change_nothing(world, now):
    case = report(world)
    for step in (
        lambda: services.sign_case(world.officer, case),
        lambda: services.verify_case(world.grid_worker, case, passed=True),
        lambda: services.close_case(world.dispatcher, case),
        lambda: services.evaluate_case(world.resident, case, rating=Rating.SATISFIED),
    ):
        with pytest.raises(DomainError):
            step()
    case.refresh_from_db()
    assert case.status == Status.SUBMITTED and kinds(case) == ["submit"]


def test_only_the_reporter_rates_and_only_staff_in_scope_dispatch(world, now):
    case = run_to_reply(world, report(world))
    case = services.verify_case(world.grid_worker, case, passed=True)
    with pytest.raises(PermissionDenied):
        services.evaluate_case(world.community, case, rating=Rating.SATISFIED)
    other = report(world, lon=105.605, lat=30.455)  # grid B1, community B
    with pytest.raises(PermissionDenied):
        services.accept_case(world.community, other)  # community A staff
    with pytest.raises(PermissionDenied):
        services.verify_case(world.grid_worker, other, passed=True)


# ---------------------------------------------------------------- the sweep


def test_sweep_turns_yellow_then_red_and_is_idempotent(world, now):
    case = report(world)
    case = services.accept_case(world.dispatcher, case)
    case = services.dispatch_case(world.dispatcher, case, unit=world.department)
    now.to(case.warn_at)
    assert services.sweep_deadlines() == {"yellow": 1, "red": 0, "escalated": 0}
    assert services.sweep_deadlines() == {"yellow": 0, "red": 0, "escalated": 0}
    now.to(case.due_at)
    assert services.sweep_deadlines()["red"] == 1
    assert services.sweep_deadlines()["red"] == 0
    case.refresh_from_db()
    assert case.sla == Sla.RED
    assert kinds(case)[-2:] == [EventKind.WARN, EventKind.OVERDUE]
    # One digest per unit, and the street's dispatchers are told to supervise (督办).
    assert Notification.objects.filter(recipient=world.officer, kind="case.red").count() == 1
    assert Notification.objects.filter(recipient=world.dispatcher, kind="case.red").count() == 1
    # A department case never auto-escalates.
    assert case.status == Status.DISPATCHED


def test_overdue_community_case_escalates_automatically(world, now):
    case = report(world, category=world.category("SJ0401"))  # 占道经营: auto-escalates
    case = services.accept_case(world.dispatcher, case)
    case = services.dispatch_case(world.dispatcher, case, unit=world.community_unit)
    case = services.sign_case(world.community, case)
    now.to(case.due_at + dt.timedelta(minutes=1))
    result = services.sweep_deadlines()
    assert result["red"] == 1 and result["escalated"] == 1
    case.refresh_from_db()
    assert case.status == Status.ESCALATED and case.escalated_to == world.tree.street
    assert case.unit is None and case.sla == Sla.GREEN
    assert not case.assignments.filter(ended_at__isnull=True).exists()
    assert kinds(case)[-2:] == [EventKind.OVERDUE, EventKind.AUTO_ESCALATE]
    assert services.sweep_deadlines()["escalated"] == 0
    case = services.dispatch_case(world.dispatcher, case, unit=world.department)
    assert case.events.last().kind == EventKind.WHISTLE


def test_suspended_cases_are_not_swept(world, now):
    case = report(world)
    case = services.suspend_case(world.dispatcher, case, reason="请补充位置")
    now.advance(days=30)
    assert services.sweep_deadlines() == {"yellow": 0, "red": 0, "escalated": 0}


def test_sweep_works_without_an_actor(world, now):
    report(world)
    now.advance(days=3)
    services.sweep_deadlines()
    assert AuditEntry.objects.filter(action="case.sweep").get().actor_label == "system"
    assert SYSTEM  # the sweep runs as the system; no user is needed


def test_integrator_sources_need_the_submit_action(world, now):
    for source in (Source.API, Source.OPEN311):
        with pytest.raises(PermissionDenied):
            report(world, source=source)
    assert not Case.objects.exists()


def test_a_community_cannot_dispatch_to_another_communitys_unit(world, now):
    case = services.accept_case(world.community, report(world))
    with pytest.raises(PermissionDenied) as raised:
        services.dispatch_case(world.community, case, unit=world.other_community_unit)
    assert raised.value.code == "case.unit_out_of_reach"
    with pytest.raises(PermissionDenied):
        services.dispatch_case(
            world.community, case, unit=world.community_unit, assist_units=[world.other_community_unit]
        )
    case.refresh_from_db()
    assert case.status == Status.ACCEPTED and not case.assignments.exists()
