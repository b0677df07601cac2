"""Findings of the security review of the cases app, one test each: scope and personal data, the rules of the
loop, bad input that must be a 4xx and never a 500, and the query count of the queue pages."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from gongzhi.cases import services
from gongzhi.cases.models import Case, EventKind, Source, Status
from gongzhi.core.errors import DomainError, PermissionDenied
from tests.cases.helpers import A1_POINT, make_category, make_rule, submit


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }


@pytest.fixture
def w(world, frozen_clock):
    world.clock = frozen_clock
    return world


def text(response) -> str:
    return response.content.decode()


def resident_case(w, *, anonymous: bool) -> Case:
    return services.submit_case(
        w.resident,
        source=Source.RESIDENT,
        title="楼道堆放杂物",
        description="三单元楼道堆满杂物",
        category=w.category("SJ0101"),
        lon=A1_POINT[0],
        lat=A1_POINT[1],
        anonymous=anonymous,
    )


# ---------------------------------------------------------------- personal data


@pytest.mark.parametrize("anonymous", [True, False])
def test_the_case_page_never_names_the_reporter_in_the_timeline(client, w, anonymous):
    """The timeline named the reporter's account in full (an anonymous one too); now "反映人"."""
    case = resident_case(w, anonymous=anonymous)
    client.force_login(w.dispatcher)
    page = text(client.get(reverse("cases:detail", args=[case.number])))
    assert w.resident.real_name not in page
    assert w.resident.username not in page
    assert "反映人" in page


# ---------------------------------------------------------------- escalation


def whistled_and_returned(w) -> Case:
    case = submit(w.grid_worker, w.tree.grid_a1, category="SJ0801")
    case = services.accept_case(w.community, case)
    case = services.dispatch_case(w.community, case, unit=w.community_unit)
    case = services.sign_case(w.community, case)
    case = services.escalate_case(w.community, case, reason="涉及执法，社区无权处理")
    case = services.dispatch_case(w.dispatcher, case, unit=w.department)
    return services.return_case(w.officer, case, reason="不属于本局职责")


def test_a_returned_escalation_goes_back_to_the_street_not_the_community(w):
    case = whistled_and_returned(w)
    assert case.status == Status.RETURNED and case.escalated_to == w.tree.street
    with pytest.raises(PermissionDenied):
        services.dispatch_case(w.community, case, unit=w.community_unit)
    assert Case.objects.get(pk=case.pk).status == Status.RETURNED
    case = services.dispatch_case(w.dispatcher, case, unit=w.street_unit)
    assert case.status == Status.DISPATCHED


def test_the_community_is_not_offered_its_escalation_to_dispatch(client, w):
    case = whistled_and_returned(w)
    client.force_login(w.community)
    page = text(client.get(reverse("cases:detail", args=[case.number])))
    assert 'id="action-dispatch"' not in page
    client.force_login(w.dispatcher)
    assert 'id="action-dispatch"' in text(client.get(reverse("cases:detail", args=[case.number])))


def test_a_pending_escalation_is_in_the_streets_queue_not_the_communitys(client, w):
    case = whistled_and_returned(w)
    client.force_login(w.community)
    for tab in ("all", "returned"):
        assert case.number not in text(client.get(reverse("cases:dispatch_queue"), {"tab": tab})), tab
    client.force_login(w.dispatcher)
    assert case.number in text(client.get(reverse("cases:dispatch_queue"), {"tab": "returned"}))


def test_a_returned_escalation_is_announced_to_the_street_only(w):
    from gongzhi.core.models import Notification

    whistled_and_returned(w)
    returned = Notification.objects.filter(kind="case.returned")
    assert set(returned.values_list("recipient_id", flat=True)) == {w.dispatcher.pk}


def test_every_step_writes_one_event_and_one_audit_entry(w):
    from gongzhi.cases.models import CaseEvent, Rating
    from gongzhi.core.models import AuditEntry

    case = resident_case(w, anonymous=False)
    case = services.accept_case(w.dispatcher, case)
    case = services.dispatch_case(w.dispatcher, case, unit=w.community_unit)
    case = services.return_case(w.community, case, reason="不属于社区职责")
    case = services.dispatch_case(w.dispatcher, case, unit=w.department)
    case = services.sign_case(w.officer, case)
    case = services.suspend_case(w.officer, case, reason="请补充照片")
    case = services.resume_case(w.resident, case, note="已补充")
    case = services.reply_case(w.officer, case, note="已清理")
    case = services.verify_case(w.grid_worker, case, passed=False, note="没有清理干净")
    case = services.reply_case(w.officer, case, note="再次清理")
    case = services.verify_case(w.grid_worker, case, passed=True)
    case = services.evaluate_case(w.resident, case, rating=Rating.DISSATISFIED)
    case = services.callback_case(w.dispatcher, case, note="已解释", reopen=False)
    events = CaseEvent.objects.filter(case=case)
    audits = AuditEntry.objects.filter(object_type="cases.case", object_id=str(case.pk))
    assert events.count() == 14
    assert sorted(audits.values_list("action", flat=True)) == sorted(
        f"case.{k}" for k in events.values_list("kind", flat=True)
    )


# ---------------------------------------------------------------- verification


def test_verification_is_refused_where_the_category_needs_none(w):
    """A grid worker could close a case of a category without field check, bypassing the dispatcher."""
    category = make_category("ZZ0101", requires_verification=False)
    make_rule(category, w.tree.street, w.department)
    case = submit(w.grid_worker, w.tree.grid_a1, category=category)
    case = services.accept_case(w.dispatcher, case)
    case = services.dispatch_case(w.dispatcher, case, unit=w.department)
    case = services.sign_case(w.officer, case)
    case = services.reply_case(w.officer, case, note="已处理")
    with pytest.raises(DomainError) as raised:
        services.verify_case(w.grid_worker, case, passed=True)
    assert raised.value.code == "case.verification_not_required"
    assert Case.objects.get(pk=case.pk).status == Status.REPLIED
    assert not case.events.filter(kind=EventKind.CLOSE).exists()


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("value", ["²", "99999999999999999999999", "abc"])
def test_a_malformed_unit_filter_matches_nothing_and_is_no_server_error(client, w, value):
    """ "²".isdigit() is True but int("²") fails; 10**23 overflowed SQLite: both were 500s."""
    case = submit(w.grid_worker, w.tree.grid_a1, category="SJ0101", point=A1_POINT)
    client.force_login(w.dispatcher)
    for name in ("cases:list", "cases:dispatch_queue"):
        response = client.get(reverse(name), {"unit": value})
        assert response.status_code == 200 and case.number not in text(response), name
    response = client.get(reverse("cases:map_points"), {"unit": value})
    assert response.status_code == 200 and json.loads(response.content)["count"] == 0
    assert json.loads(client.get(reverse("cases:map_points")).content)["count"] == 1


@pytest.mark.parametrize("value", ["2026-13-45", "yesterday"])
def test_an_invalid_date_filter_is_a_400_not_a_silent_no_op(client, w, value):
    """A bad date used to be dropped, listing every case as if the filter had been applied."""
    waiting = services.accept_case(w.dispatcher, submit(w.grid_worker, w.tree.grid_a1, category="SJ0101"))
    sent = submit(w.grid_worker, w.tree.grid_a1, category="SJ0101", point=A1_POINT)
    services.accept_case(w.dispatcher, sent)
    services.dispatch_case(w.dispatcher, sent, unit=w.department)
    for user, name, case in (
        (w.dispatcher, "cases:list", sent),
        (w.dispatcher, "cases:dispatch_queue", waiting),
        (w.officer, "cases:unit_queue", sent),
    ):
        client.force_login(user)
        response = client.get(reverse(name), {"from": value})
        assert response.status_code == 400, name
        assert case.number not in text(response) and 'role="alert"' in text(response), name
        assert case.number in text(client.get(reverse(name), {"from": "2026-11-01"})), name
    client.force_login(w.dispatcher)
    response = client.get(reverse("cases:map_points"), {"to": value})
    assert response.status_code == 400
    assert json.loads(response.content)["details"][0]["field"] == "to"


@pytest.mark.parametrize(
    "start, end", [("9999-12-31", "9999-12-31"), ("0001-01-01", "0001-01-02"), ("1900-01-01", "2026-01-01")]
)
def test_kpi_page_refuses_dates_outside_the_supported_window(client, w, start, end):
    client.force_login(w.dispatcher)
    response = client.get(reverse("cases:kpi"), {"period": "custom", "start": start, "end": end})
    assert response.status_code == 400
    response = client.get(
        reverse("cases:kpi"), {"period": "custom", "start": start, "end": end, "format": "xlsx"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize("value", ["abc", "99999999999999999999999"])
def test_unit_member_actions_with_a_malformed_user_id_are_a_404(client, w, value):
    from gongzhi.core.models import User
    from gongzhi.core.roles import Role
    from tests.factories import user_with

    admin = user_with(Role.ADMIN, w.tree.street)
    client.force_login(admin)
    url = reverse("cases:unit_members", args=[w.community_unit.pk])
    response = client.post(url, {"action": "remove", "user": value})
    assert response.status_code == 404
    assert User.objects.filter(pk=w.community.pk, unit_memberships__unit=w.community_unit).exists()


def test_dispatch_with_a_huge_unit_id_is_a_form_error(client, w):
    case = submit(w.grid_worker, w.tree.grid_a1, category="SJ0101")
    case = services.accept_case(w.dispatcher, case)
    client.force_login(w.dispatcher)
    url = reverse("cases:step", args=[case.number, "dispatch"])
    response = client.post(url, {"unit": "99999999999999999999999", "assist_units": ["99999999999999999999"]})
    assert response.status_code == 400
    assert Case.objects.get(pk=case.pk).status == Status.ACCEPTED


# ---------------------------------------------------------------- queries


def test_the_dispatcher_queue_costs_the_same_for_thirty_cases(client, w, django_assert_max_num_queries):
    for i in range(30):
        case = submit(
            w.grid_worker, w.tree.grid_a1, category="SJ0101" if i % 2 else "SJ0801", title=f"事件{i}"
        )
        if i % 3 == 0:
            services.accept_case(w.dispatcher, case)
            services.dispatch_case(w.dispatcher, case, unit=w.community_unit)
    client.force_login(w.community)
    with django_assert_max_num_queries(18):
        response = client.get(reverse("cases:unit_queue"))
    assert response.status_code == 200 and text(response).count('class="sla-') == 10
    client.force_login(w.dispatcher)
    client.get(reverse("cases:dispatch_queue"))  # warm the session and the caches
    with django_assert_max_num_queries(20):
        response = client.get(reverse("cases:dispatch_queue"))
    assert response.status_code == 200 and text(response).count('class="sla-') == 20
    with django_assert_max_num_queries(20):
        response = client.get(reverse("cases:list"))
    assert response.status_code == 200


def test_map_points_json_carries_no_reporter_data(client, w):
    services.submit_case(
        w.dispatcher,
        source=Source.HOTLINE,
        title="路灯不亮",
        description="楼下路灯坏了一周",
        category=w.category("SJ0101"),
        lon=A1_POINT[0],
        lat=A1_POINT[1],
        reporter_name="张三丰",
        reporter_phone="13912345678",
    )
    client.force_login(w.dispatcher)
    body = json.loads(client.get(reverse("cases:map_points")).content)
    assert body["count"] == 1
    assert "13912345678" not in json.dumps(body, ensure_ascii=False)
    assert "张三丰" not in json.dumps(body, ensure_ascii=False)


# ---------------------------------------------------------------- no input is a server error


ODD_VALUES = ["\x00", "²", "-1", "99999999999999999999999", "1e400", "' OR 1=1 --", "%", "a" * 3000]


def test_odd_query_parameters_never_cause_a_server_error(client, w):
    case = submit(w.grid_worker, w.tree.grid_a1, category="SJ0101", point=A1_POINT)
    names = [
        "q",
        "status",
        "sla",
        "source",
        "category",
        "unit",
        "region",
        "from",
        "to",
        "sort",
        "tab",
        "page",
    ]
    pages = [
        (w.dispatcher, reverse("cases:list")),
        (w.dispatcher, reverse("cases:dispatch_queue")),
        (w.dispatcher, reverse("cases:map")),
        (w.dispatcher, reverse("cases:map_points")),
        (w.grid_worker, reverse("cases:verify_queue")),
        (w.community, reverse("cases:unit_queue")),
        (w.dispatcher, reverse("cases:kpi")),
        (w.resident, reverse("cases:mine")),
    ]
    for user, url in pages:
        client.force_login(user)
        for name in names:
            for value in ODD_VALUES:
                response = client.get(url, {name: value})
                assert response.status_code < 500, (url, name, value)
    client.force_login(w.dispatcher)
    for name in ("q", "category", "region"):
        response = client.get("/api/v1/cases", {name: "\x00"})
        assert response.status_code < 500, name
    response = client.get("/api/v1/cases/kpis", {"region": "\x00"})
    assert response.status_code < 500
    assert client.get(reverse("cases:detail", args=[case.number + "\x00"])).status_code < 500


def test_post_only_endpoints_refuse_get(client, w):
    case = resident_case(w, anonymous=False)
    client.force_login(w.resident)
    for name in ("cases:rate", "cases:supplement"):
        assert client.get(reverse(name, args=[case.number])).status_code == 405, name
    client.force_login(w.dispatcher)
    assert client.get(reverse("cases:step", args=[case.number, "accept"])).status_code == 405
    assert client.post(reverse("cases:map_points")).status_code == 405


def test_every_notification_link_opens_for_its_recipient(client, w):
    """Each message of a loop with return, escalation, whistle, rework and callback leads somewhere its
    recipient may go (their case page, their own request or their queue) — never a 404 or a 403."""
    from gongzhi.cases.models import Rating
    from gongzhi.core.models import Notification

    whistled_and_returned(w)
    case = resident_case(w, anonymous=True)
    case = services.accept_case(w.dispatcher, case)
    case = services.dispatch_case(w.dispatcher, case, unit=w.department, assist_units=[w.community_unit])
    case = services.sign_case(w.officer, case)
    case = services.suspend_case(w.officer, case, reason="请补充照片")
    case = services.resume_case(w.resident, case, note="已补充")
    case = services.reply_case(w.officer, case, note="已清理")
    case = services.verify_case(w.grid_worker, case, passed=False, note="没有清理干净")
    case = services.reply_case(w.officer, case, note="再次清理")
    case = services.verify_case(w.grid_worker, case, passed=True)
    case = services.evaluate_case(w.resident, case, rating=Rating.DISSATISFIED)
    w.clock.advance(days=10)
    services.sweep_deadlines()
    notes = list(Notification.objects.select_related("recipient").exclude(url=""))
    assert {n.kind for n in notes} >= {"case.returned", "case.dispatched", "case.verify", "case.callback"}
    for note in notes:
        client.force_login(note.recipient)
        assert client.get(note.url).status_code == 200, (note.kind, note.recipient.username, note.url)
