"""The staff pages of the closed loop: queues by role, the case page and its steps, intake and the map.

Each page shows only what is in the user's scope (404 or nothing otherwise), each step goes through its
service, and a refused step shows the Chinese reason and changes nothing."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from gongzhi.cases import rules, services
from gongzhi.cases.models import (
    AssignmentRole,
    Case,
    CaseEvent,
    CasePhoto,
    EventKind,
    Rating,
    Sla,
    Source,
    Status,
)
from gongzhi.core import clock
from gongzhi.core.roles import Role
from tests.cases.helpers import (
    A1_POINT,
    NEIGHBOUR_POINT,
    make_category,
    make_rule,
    make_unit,
    neighbour_street,
    png,
    submit,
)
from tests.factories import user_with


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
    """The conftest world at Monday 2026-11-23 10:00 (a working day)."""
    world.clock = frozen_clock
    return world


def text(response) -> str:
    return response.content.decode()


def get(client, user, url, **params):
    client.force_login(user)
    return client.get(url, params)


def step(client, user, case, name, data=None):
    client.force_login(user)
    return client.post(reverse("cases:step", args=[case.number, name]), data or {})


def fresh(case) -> Case:
    return Case.objects.get(pk=case.pk)


def kinds(case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).order_by("at", "pk").values_list("kind", flat=True))


def detail_url(case) -> str:
    return reverse("cases:detail", args=[case.number])


def no_inline_script(html: str) -> bool:
    """CSP: every <script> has a src, except JSON data blocks that never run."""
    tags = re.findall(r"<script\b[^>]*>", html)
    return all("src=" in tag or 'type="application/json"' in tag for tag in tags)


# Cases in the states the steps start from. SJ0101 (暴露垃圾) routes to the department and needs a field
# check; SJ0801 (邻里纠纷) routes to community A's committee and needs none.


def garbage(w, **kw):
    kw.setdefault("point", A1_POINT)
    return submit(w.grid_worker, w.tree.grid_a1, category="SJ0101", **kw)


def dispute(w):
    return submit(
        w.dispatcher, w.tree.grid_a1, category="SJ0801", source=Source.HOTLINE, reporter_phone="13912345678"
    )


def dispatched(w, case=None, **kw):
    case = case or garbage(w)
    services.accept_case(w.dispatcher, case)
    return services.dispatch_case(w.dispatcher, case, unit=case.suggested_unit, **kw)


def in_progress(w, case=None):
    case = dispatched(w, case)
    member = w.officer if case.unit == w.department else w.community
    return services.sign_case(member, case)


def replied(w, case=None):
    case = in_progress(w, case)
    member = w.officer if case.unit == w.department else w.community
    return services.reply_case(member, case, note="已清运完毕")


def resident_case(w):
    return services.submit_case(
        w.resident,
        source=Source.RESIDENT,
        title="楼道堆放杂物",
        description="三单元楼道堆满杂物",
        category=w.category("SJ0101"),
        lon=A1_POINT[0],
        lat=A1_POINT[1],
    )


def dissatisfied(w):
    case = replied(w, resident_case(w))
    services.verify_case(w.grid_worker, case, passed=True)
    return services.evaluate_case(w.resident, case, rating=Rating.DISSATISFIED, comment="没有清理干净")


# ---------------------------------------------------------------- landing page


def test_home_sends_each_role_to_its_work(client, w):
    garbage(w)
    page = text(get(client, w.dispatcher, reverse("cases:home")))
    assert 'href="/cases/dispatch/"' in page and "调度台" in page
    assert re.search(r"<strong>1</strong> 件待办", page)
    assert 'href="/cases/all/"' in page and 'href="/cases/map/"' in page
    assert f'href="{reverse("cases:kpi")}"' in page
    assert 'href="/cases/new/"' in page
    assert 'href="/cases/verify/"' not in page  # street staff do not verify

    worker = text(get(client, w.grid_worker, reverse("cases:home")))
    assert 'href="/cases/verify/"' in worker and 'href="/cases/new/"' in worker
    assert 'href="/cases/dispatch/"' not in worker and 'href="/cases/unit/"' not in worker
    assert f'href="{reverse("cases:kpi")}"' not in worker

    officer = text(get(client, w.officer, reverse("cases:home")))
    assert 'href="/cases/unit/"' in officer and "本单位待办" in officer
    assert 'href="/cases/dispatch/"' not in officer

    assert get(client, w.resident, reverse("cases:home")).url == reverse("cases:mine")


# ------------------------------------------------------- queues: the right cases, never the neighbour's


def test_dispatcher_queue_shows_the_streets_cases_and_not_the_neighbours(client, w):
    ours = garbage(w, title="我街道的垃圾")
    nb = neighbour_street(w.tree)
    theirs = submit(nb.grid_worker, nb.grid, title="邻街道的垃圾", point=NEIGHBOUR_POINT)

    page = text(get(client, w.dispatcher, reverse("cases:dispatch_queue")))
    assert ours.number in page and theirs.number not in page
    assert "剩余 2.0 工作小时" in page  # 暴露垃圾: 2 working hours to accept
    other = text(get(client, nb.dispatcher, reverse("cases:dispatch_queue")))
    assert theirs.number in other and ours.number not in other

    # Community staff dispatch their own community only.
    in_b = submit(w.dispatcher, w.tree.grid_b1, title="金鱼社区的事")
    community = text(get(client, w.community, reverse("cases:dispatch_queue")))
    assert ours.number in community and in_b.number not in community
    assert get(client, w.officer, reverse("cases:dispatch_queue")).status_code == 403


def test_dispatcher_tabs_split_the_work(client, w):
    unrouted = submit(w.grid_worker, w.tree.grid_a1, category="SJ0901", title="政策咨询无规则")
    routed = garbage(w, title="有规则的垃圾")
    to_dispatch = garbage(w, title="已立案待派遣")
    services.accept_case(w.dispatcher, to_dispatch)
    returned = dispatched(w, garbage(w, title="被退回的"))
    services.return_case(w.officer, returned, reason="不属于本部门")

    def tab(name):
        return text(get(client, w.dispatcher, reverse("cases:dispatch_queue"), tab=name))

    page = tab("unrouted")
    assert unrouted.number in page and routed.number not in page and "无匹配规则" in page
    page = tab("submitted")
    assert unrouted.number in page and routed.number in page and to_dispatch.number not in page
    page = tab("accepted")
    assert to_dispatch.number in page and routed.number not in page
    page = tab("returned")
    assert returned.number in page and routed.number not in page
    assert re.search(r"退单 <span class=\"count\">1</span>", page)


def test_overdue_cases_show_red_and_the_working_time_overdue(client, w):
    case = garbage(w)
    w.clock.advance(days=1)
    services.sweep_deadlines()
    case = fresh(case)
    assert case.sla == Sla.RED
    over = -rules.time_left(clock.now(), case.due_at)
    page = text(get(client, w.dispatcher, reverse("cases:dispatch_queue"), tab="submitted"))
    assert "红灯" in page
    assert f"超期 {over.total_seconds() / 3600:.1f} 工作小时" in page


def test_unit_queue_shows_the_units_cases_only(client, w):
    ours = dispatched(w)
    to_community = dispatched(w, dispute(w))
    page = text(get(client, w.officer, reverse("cases:unit_queue")))
    assert ours.number in page and to_community.number not in page
    assert "待签收" in page and "主办" in page
    signed_tab = text(get(client, w.officer, reverse("cases:unit_queue"), tab="in_progress"))
    assert ours.number not in signed_tab
    services.sign_case(w.officer, ours)
    assert ours.number in text(get(client, w.officer, reverse("cases:unit_queue"), tab="in_progress"))
    assert ours.number not in text(get(client, w.officer, reverse("cases:unit_queue"), tab="sign"))

    community = text(get(client, w.community, reverse("cases:unit_queue")))
    assert to_community.number in community and ours.number not in community
    assert get(client, w.grid_worker, reverse("cases:unit_queue")).status_code == 403


def test_verify_queue_shows_replies_in_the_workers_grid_only(client, w):
    mine = replied(w)
    elsewhere = replied(w, submit(w.dispatcher, w.tree.grid_a2, category="SJ0101", title="第2网格的"))
    page = text(get(client, w.grid_worker, reverse("cases:verify_queue")))
    assert mine.number in page and elsewhere.number not in page
    assert get(client, w.dispatcher, reverse("cases:verify_queue")).status_code == 403


def test_case_list_filters_sorts_and_stays_in_scope(client, w):
    a1 = garbage(w, title="第1网格路灯")
    a2 = submit(w.dispatcher, w.tree.grid_a2, category="SJ0801", title="第2网格纠纷")
    nb = neighbour_street(w.tree)
    theirs = submit(nb.grid_worker, nb.grid, title="邻街道的")

    worker = text(get(client, w.grid_worker, reverse("cases:list")))
    assert a1.number in worker and a2.number not in worker and theirs.number not in worker

    def listed(**params):
        page = text(get(client, w.dispatcher, reverse("cases:list"), **params))
        return {n for n in (a1.number, a2.number, theirs.number) if n in page}

    assert listed() == {a1.number, a2.number}
    assert listed(q="纠纷") == {a2.number}
    assert listed(q=a1.number) == {a1.number}
    assert listed(category="SJ01") == {a1.number}
    assert listed(region=w.tree.grid_a2.code) == {a2.number}
    assert listed(region=nb.grid.code) == set()  # another street's region filters to nothing
    assert listed(source=Source.HOTLINE) == set()
    assert listed(**{"from": "2026-11-24"}) == set()
    page = text(get(client, w.dispatcher, reverse("cases:list"), sort="number"))
    assert page.index(a1.number) < page.index(a2.number)
    page = text(get(client, w.dispatcher, reverse("cases:list"), sort="-created", q="网格"))
    assert "共 2 件" in page


def test_queues_paginate(client, w):
    for i in range(31):
        garbage(w, title=f"第{i}件")
    page1 = text(get(client, w.dispatcher, reverse("cases:dispatch_queue")))
    assert "第 1 / 2 页" in page1
    page2 = text(get(client, w.dispatcher, reverse("cases:dispatch_queue"), page=2))
    assert "第 2 / 2 页" in page2
    assert len(re.findall(r'href="/cases/c/\d+/"', page1)) == 30
    assert len(re.findall(r'href="/cases/c/\d+/"', page2)) == 1


# ---------------------------------------------------------------- the case page and its scope


def test_case_page_shows_what_a_handler_needs(client, w):
    case = garbage(w, photos=[png()])
    response = get(client, w.dispatcher, detail_url(case))
    page = text(response)
    assert response.status_code == 200 and no_inline_script(page)
    assert "小区门口垃圾三天没人清运" in page
    assert "南强街道 › 马宗岭社区 › 马宗岭第1网格" in page
    assert "市容环境 / 暴露垃圾" in page
    assert "2026年11月23日 10:00" in page  # the timeline and the submission time
    assert "剩余 2.0 工作小时" in page
    assert 'data-casemap="point"' in page and 'data-lon="105.585"' in page
    photo = CasePhoto.objects.get(case=case)
    assert reverse("cases:photo", args=[photo.pk]) in page
    assert "按派遣规则" in page and w.department.name in page
    # The dispatcher may accept, reject or ask for more; not sign or reply.
    for title in ("立案", "不予受理", "待补充材料"):
        assert f"<h3>{title}</h3>" in page
    for title in ("签收", "处置反馈", "现场核查"):
        assert f"<h3>{title}</h3>" not in page

    officer_page = text(get(client, w.officer, detail_url(dispatched(w))))
    assert "<h3>签收</h3>" in officer_page and "<h3>退单</h3>" in officer_page
    assert "<h3>立案</h3>" not in officer_page and "<h3>上报</h3>" not in officer_page  # departments return


def test_the_assignment_chain_shows_escalation_and_the_whistle(client, w):
    case = in_progress(w, dispute(w))
    services.escalate_case(w.community, case, reason="涉及多个部门，社区无法解决")
    services.dispatch_case(w.dispatcher, case, unit=w.department, assist_units=[w.community_unit])
    page = text(get(client, w.dispatcher, detail_url(case)))
    assert "吹哨" in page and "上报至" in page and "南强街道" in page
    assert page.count("马宗岭社区居委会") >= 2  # the first lead, then the assisting unit
    assert "协办" in page and "吹哨派遣" in page
    assert "协办单位：马宗岭社区居委会" in page


def test_reporter_phone_is_masked_everywhere(client, w):
    case = dispute(w)
    for url in (detail_url(case), reverse("cases:list"), reverse("cases:dispatch_queue")):
        page = text(get(client, w.dispatcher, url))
        assert "13912345678" not in page, url
    assert "139****5678" in text(get(client, w.dispatcher, detail_url(case)))

    anonymous = submit(
        w.dispatcher, w.tree.grid_a1, source=Source.HOTLINE, reporter_phone="13700001111", anonymous=True
    )
    page = text(get(client, w.dispatcher, detail_url(anonymous)))
    assert "匿名" in page and "1370000" not in page and "****1111" not in page


def test_out_of_scope_users_get_404_on_detail_photo_and_nothing_on_the_map(client, w):
    case = dispatched(w, garbage(w, photos=[png()]))
    photo = CasePhoto.objects.get(case=case)
    other_worker = user_with(Role.GRID_WORKER, w.tree.grid_b1)
    stranger = user_with(Role.DEPARTMENT_STAFF, w.tree.county)  # a department staff in no unit of the case
    other_unit, other_member = make_unit("区住建局", w.tree.county)
    nb = neighbour_street(w.tree)
    for user in (other_worker, stranger, other_member, nb.dispatcher):
        client.force_login(user)
        assert client.get(detail_url(case)).status_code == 404
        assert client.get(reverse("cases:photo", args=[photo.pk])).status_code == 404
        points = client.get(reverse("cases:map_points"))
        assert case.number not in text(points)
        before = fresh(case).status
        assert step(client, user, case, "sign").status_code == 404
        assert fresh(case).status == before

    # The unit's own member and the grid's worker do see it, photo included.
    for user in (w.officer, w.grid_worker):
        client.force_login(user)
        assert client.get(detail_url(case)).status_code == 200
        served = client.get(reverse("cases:photo", args=[photo.pk]))
        assert served.status_code == 200 and served["Content-Type"] == "image/png"
        assert b"".join(served.streaming_content).startswith(b"\x89PNG")


def test_a_department_sees_a_case_only_once_it_was_sent_there(client, w):
    case = garbage(w)
    assert get(client, w.officer, detail_url(case)).status_code == 404
    dispatched(w, case)
    assert get(client, w.officer, detail_url(case)).status_code == 200


# ---------------------------------------------------------------- one test per step, through case_step


def test_accept(client, w):
    case = submit(w.grid_worker, w.tree.grid_a1, title="未分类")
    response = step(
        client, w.dispatcher, case, "accept", {"category": w.category("SJ0801").pk, "note": "属实"}
    )
    assert response.status_code == 302 and response.url == detail_url(case)
    case = fresh(case)
    assert case.status == Status.ACCEPTED and case.category.code == "SJ0801"
    assert case.suggested_unit == w.community_unit  # routed by the category chosen at acceptance
    assert "已立案" in text(client.get(response.url))


def test_accept_needs_a_category(client, w):
    case = submit(w.grid_worker, w.tree.grid_a1, title="未分类")
    response = step(client, w.dispatcher, case, "accept", {"note": "属实"})
    assert response.status_code == 400 and "立案前请选择事件分类" in text(response)
    assert 'id="action-accept" open' in text(response)
    assert fresh(case).status == Status.SUBMITTED


def test_accept_and_dispatch_to_the_suggested_unit_in_one_click(client, w):
    case = garbage(w)
    page = text(get(client, w.dispatcher, detail_url(case)))
    assert f'name="then_dispatch" value="{w.department.pk}"' in page
    assert "立案并派遣给区综合行政执法局" in page
    response = step(
        client,
        w.dispatcher,
        case,
        "accept",
        {"category": w.category("SJ0101").pk, "then_dispatch": w.department.pk},
    )
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == Status.DISPATCHED and case.unit == w.department
    assert kinds(case) == [EventKind.SUBMIT, EventKind.ACCEPT, EventKind.DISPATCH]
    assert CaseEvent.objects.get(case=case, kind=EventKind.DISPATCH).data["suggested"] is True
    assert "已立案并派遣给区综合行政执法局" in text(client.get(response.url))


def test_accept_and_dispatch_is_all_or_nothing_when_the_suggestion_changes(client, w):
    case = garbage(w)
    response = step(
        client,
        w.dispatcher,
        case,
        "accept",
        {"category": w.category("SJ0801").pk, "then_dispatch": w.department.pk},
    )
    assert response.status_code == 409
    assert "建议派遣单位已变化" in text(response)
    case = fresh(case)
    assert case.status == Status.SUBMITTED and case.category.code == "SJ0101"
    assert kinds(case) == [EventKind.SUBMIT]


def test_one_click_only_to_a_unit_the_dispatcher_may_send_work_to(client, w):
    nb = neighbour_street(w.tree)
    far_unit, _member = make_unit("北固乡环卫所", nb.street, kind="street")
    make_rule(w.category("SJ0102"), w.tree.street, far_unit)
    case = submit(w.grid_worker, w.tree.grid_a1, category="SJ0102", title="渣土")
    assert case.suggested_unit == far_unit
    assert "then_dispatch" not in text(get(client, w.dispatcher, detail_url(case)))
    response = step(
        client,
        w.dispatcher,
        case,
        "accept",
        {"category": w.category("SJ0102").pk, "then_dispatch": far_unit.pk},
    )
    assert response.status_code == 403 and "您不能向该单位派遣事件" in text(response)
    assert fresh(case).status == Status.SUBMITTED and kinds(case) == [EventKind.SUBMIT]


def test_no_one_click_button_without_a_suggestion(client, w):
    case = submit(w.grid_worker, w.tree.grid_a1, category="SJ0901", title="无规则")
    page = text(get(client, w.dispatcher, detail_url(case)))
    assert "then_dispatch" not in page and "无匹配规则" in page


def test_reject(client, w):
    case = garbage(w)
    response = step(client, w.dispatcher, case, "reject", {"reason": "属于民事纠纷，请通过诉讼解决"})
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == Status.REJECTED
    assert CaseEvent.objects.get(case=case, kind=EventKind.REJECT).note == "属于民事纠纷，请通过诉讼解决"


def test_reject_without_a_reason_keeps_the_page_and_changes_nothing(client, w):
    case = garbage(w)
    response = step(client, w.dispatcher, case, "reject", {"reason": "  "})
    assert response.status_code == 400
    assert "请填写不予受理理由" in text(response)
    assert fresh(case).status == Status.SUBMITTED


def test_dispatch_with_assisting_units(client, w):
    case = garbage(w)
    services.accept_case(w.dispatcher, case)
    response = step(
        client,
        w.dispatcher,
        case,
        "dispatch",
        {"unit": w.department.pk, "assist_units": [w.community_unit.pk], "note": "请尽快清运"},
    )
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == Status.DISPATCHED and case.unit == w.department
    roles = {(a.unit_id, a.role) for a in case.assignments.all()}
    assert roles == {(w.department.pk, AssignmentRole.LEAD), (w.community_unit.pk, AssignmentRole.ASSIST)}
    assert "已派遣给区综合行政执法局" in text(client.get(response.url))


def test_dispatch_keeps_the_note_when_the_unit_is_missing(client, w):
    case = garbage(w)
    services.accept_case(w.dispatcher, case)
    response = step(client, w.dispatcher, case, "dispatch", {"note": "请尽快清运"})
    assert response.status_code == 400
    page = text(response)
    assert "请选择主办单位" in page and "请尽快清运" in page
    assert fresh(case).status == Status.ACCEPTED


def test_sign(client, w):
    case = dispatched(w)
    response = step(client, w.officer, case, "sign")
    assert response.status_code == 302 and fresh(case).status == Status.IN_PROGRESS
    assert fresh(case).assignments.get(role=AssignmentRole.LEAD).signed_at == clock.now()


def test_reply_with_photos(client, w):
    case = in_progress(w)
    client.force_login(w.officer)
    response = client.post(
        reverse("cases:step", args=[case.number, "reply"]),
        {"note": "已清运，现场已冲洗", "photos": [png("a.png"), png("b.png", (0, 90, 0))]},
    )
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == Status.REPLIED
    reply = CaseEvent.objects.get(case=case, kind=EventKind.REPLY)
    assert reply.photos.count() == 2
    page = text(client.get(detail_url(case)))
    for photo in reply.photos.all():
        assert reverse("cases:photo", args=[photo.pk]) in page


def test_reply_refuses_more_than_nine_photos(client, w):
    case = in_progress(w)
    client.force_login(w.officer)
    response = client.post(
        reverse("cases:step", args=[case.number, "reply"]),
        {"note": "已清运", "photos": [png(f"{i}.png") for i in range(10)]},
    )
    assert response.status_code == 400 and "照片最多 9 张" in text(response)
    assert fresh(case).status == Status.IN_PROGRESS and not CasePhoto.objects.filter(case=case).exists()


def test_assist_reply(client, w):
    case = dispatched(w, assist_units=[w.community_unit])
    page = text(get(client, w.community, detail_url(case)))
    assert "<h3>协办意见</h3>" in page and "<h3>处置反馈</h3>" not in page
    response = step(client, w.community, case, "assist_reply", {"note": "社区已通知物业配合"})
    assert response.status_code == 302
    event = CaseEvent.objects.get(case=case, kind=EventKind.ASSIST_REPLY)
    assert event.note == "社区已通知物业配合" and event.unit == w.community_unit
    assert fresh(case).status == Status.DISPATCHED


def test_return(client, w):
    case = dispatched(w)
    response = step(client, w.officer, case, "return", {"reason": "属于物业管理范围"})
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == Status.RETURNED and case.unit is None
    assert case.number in text(get(client, w.dispatcher, reverse("cases:dispatch_queue"), tab="returned"))


def test_escalate_then_the_street_whistles_a_department(client, w):
    case = in_progress(w, dispute(w))
    response = step(client, w.community, case, "escalate", {"reason": "需要执法部门介入"})
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == Status.ESCALATED and case.escalated_to == w.tree.street

    # The community that raised it may not dispatch it: the street does.
    refused = step(client, w.community, case, "dispatch", {"unit": w.department.pk})
    assert refused.status_code == 403
    assert "没有权限" in text(refused)
    assert fresh(case).status == Status.ESCALATED

    response = step(client, w.dispatcher, case, "dispatch", {"unit": w.department.pk, "note": "吹哨"})
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == Status.DISPATCHED and case.escalation_level == 2
    assert case.assignments.get(ended_at__isnull=True, role=AssignmentRole.LEAD).whistled
    assert "已吹哨" in text(client.get(response.url))


def test_suspend_and_resume(client, w):
    case = garbage(w)
    response = step(client, w.dispatcher, case, "suspend", {"reason": "请补充现场照片"})
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == Status.SUSPENDED and case.due_at is None
    assert "暂停计时" in text(get(client, w.dispatcher, detail_url(case)))
    w.clock.advance(days=2)
    response = step(client, w.dispatcher, case, "resume", {"note": "已补充"})
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == Status.SUBMITTED
    assert rules.time_left(clock.now(), case.due_at).total_seconds() == pytest.approx(2 * 3600)


def test_verify_pass_closes(client, w):
    case = replied(w)
    page = text(get(client, w.grid_worker, detail_url(case)))
    assert "<h3>现场核查</h3>" in page
    client.force_login(w.grid_worker)
    response = client.post(
        reverse("cases:step", args=[case.number, "verify"]),
        {"result": "pass", "note": "现场已清理", "photos": [png()]},
    )
    assert response.status_code == 302
    assert fresh(case).status == Status.CLOSED
    assert CasePhoto.objects.filter(case=case, event__kind=EventKind.CLOSE).count() == 1


def test_verify_fail_reopens_and_needs_a_reason(client, w):
    case = replied(w)
    response = step(client, w.grid_worker, case, "verify", {"result": "fail"})
    assert response.status_code == 400 and "核查不通过请说明原因" in text(response)
    assert fresh(case).status == Status.REPLIED
    response = step(client, w.grid_worker, case, "verify", {"result": "fail", "note": "仍有垃圾"})
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == Status.IN_PROGRESS and case.reopen_count == 1 and case.unit == w.department


def test_close_without_verification(client, w):
    case = replied(w, dispute(w))
    page = text(get(client, w.dispatcher, detail_url(case)))
    assert "<h3>结案</h3>" in page
    response = step(client, w.dispatcher, case, "close", {"note": "双方已和解"})
    assert response.status_code == 302 and fresh(case).status == Status.CLOSED


def test_close_is_refused_where_a_field_check_is_required(client, w):
    case = replied(w)
    assert "<h3>结案</h3>" not in text(get(client, w.dispatcher, detail_url(case)))
    response = step(client, w.dispatcher, case, "close", {"note": "结案"})
    assert response.status_code == 400 and "须经网格员现场核查后结案" in text(response)
    assert fresh(case).status == Status.REPLIED


def test_callback_with_rework(client, w):
    case = dissatisfied(w)
    page = text(get(client, w.dispatcher, detail_url(case)))
    assert "<h3>回访</h3>" in page
    response = step(client, w.dispatcher, case, "callback", {"note": "居民反映仍有杂物", "reopen": "on"})
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == Status.IN_PROGRESS and case.reopen_count == 1 and not case.callback_pending


def test_callback_without_rework(client, w):
    case = dissatisfied(w)
    response = step(client, w.dispatcher, case, "callback", {"note": "已解释，居民表示理解"})
    assert response.status_code == 302
    case = fresh(case)
    assert case.status == Status.CLOSED and not case.callback_pending
    assert kinds(case)[-1] == EventKind.CALLBACK


def test_an_illegal_step_shows_the_reason_and_changes_nothing(client, w):
    case = garbage(w)
    before = kinds(case)
    response = step(client, w.officer, case, "sign")
    # The officer cannot even see a case not sent to their unit.
    assert response.status_code == 404
    response = step(client, w.dispatcher, case, "sign")
    assert response.status_code == 409
    page = text(response)
    assert "该事件当前状态为“待受理”，不能签收" in page
    assert fresh(case).status == Status.SUBMITTED and kinds(case) == before

    response = step(client, w.dispatcher, case, "dispatch", {"unit": w.department.pk})
    assert response.status_code == 409 and "不能派遣" in text(response)
    assert fresh(case).status == Status.SUBMITTED and kinds(case) == before


def test_a_step_the_user_cannot_take_explains_itself_and_changes_nothing(client, w):
    case = garbage(w)
    services.accept_case(w.dispatcher, case)
    response = step(client, w.grid_worker, case, "dispatch", {"unit": w.department.pk})
    assert response.status_code == 400
    page = text(response)
    box = re.search(r'<div class="form-errors" role="alert"><p>(.*?)</p>', page).group(1)
    assert box.startswith("请修改以下问题后再提交；") and "选择一个有效的选项" in box
    assert 'id="action-dispatch"' not in page  # no dispatch form for a grid worker
    assert fresh(case).status == Status.ACCEPTED


def test_signing_twice_is_refused(client, w):
    case = dispatched(w, assist_units=[w.community_unit])
    assert step(client, w.community, case, "sign").status_code == 302
    response = step(client, w.community, case, "sign")
    assert response.status_code == 409 and "本单位已签收该事件" in text(response)


def test_unknown_steps_and_get_requests_are_refused(client, w):
    case = garbage(w)
    client.force_login(w.dispatcher)
    assert client.post(reverse("cases:step", args=[case.number, "evaluate"])).status_code == 404
    assert client.post(reverse("cases:step", args=[case.number, "teleport"])).status_code == 404
    assert client.get(reverse("cases:merge", args=[case.number])).status_code == 405
    assert client.get(reverse("cases:step", args=[case.number, "accept"])).status_code == 405
    assert fresh(case).status == Status.SUBMITTED


# ---------------------------------------------------------------- staff intake


def test_intake_lists_every_field_error_and_writes_nothing(client, w):
    client.force_login(w.dispatcher)
    response = client.post(
        reverse("cases:staff_intake"),
        {
            "source": Source.HOTLINE,
            "request_type": "complaint",
            "title": "",
            "description": "",
            "coord_system": "wgs84",
        },
    )
    assert response.status_code == 400
    page = text(response)
    for message in ("请填写标题", "请描述问题", "热线来电请记录来电号码"):
        assert message in page, message
    # Each error sits under its field.
    assert re.search(r'name="title"[^>]*>.*?请填写标题', page, re.S)
    assert re.search(r'name="reporter_phone"[^>]*>.*?热线来电请记录来电号码', page, re.S)
    assert not Case.objects.exists()


def test_hotline_intake_creates_the_case_and_opens_it(client, w):
    client.force_login(w.dispatcher)
    response = client.post(
        reverse("cases:staff_intake"),
        {
            "source": Source.HOTLINE,
            "request_type": "complaint",
            "title": "夜间施工噪声",
            "description": "工地每晚十一点后还在施工",
            "category": w.category("SJ0301").pk,
            "grid": w.tree.grid_a2.pk,
            "reporter_name": "王小明",
            "reporter_phone": "13612345678",
            "address": "马宗岭路 8 号",
            "coord_system": "wgs84",
        },
    )
    case = Case.objects.get()
    assert response.status_code == 302 and response.url == detail_url(case)
    assert case.source == Source.HOTLINE and case.region == w.tree.grid_a2 and case.entered_by == w.dispatcher
    assert case.reporter_phone == "13612345678"
    page = text(client.get(response.url))
    assert f"已登记，编号 {case.number}" in page
    assert "136****5678" in page and "13612345678" not in page and "王小明" not in page and "王**" in page


def test_patrol_intake_prefills_the_workers_grid_and_takes_a_map_point(client, w):
    page = text(get(client, w.grid_worker, reverse("cases:staff_intake")))
    assert re.search(rf'<option value="{w.tree.grid_a1.pk}" selected>', page)
    assert re.search(r'value="patrol"[^>]*checked', page)
    assert 'data-casemap="pick"' in page and no_inline_script(page)
    response = client.post(
        reverse("cases:staff_intake"),
        {
            "source": Source.PATROL,
            "request_type": "event",
            "title": "井盖缺失",
            "description": "人行道井盖缺失",
            "category": w.category("BJ0102").pk,
            "grid": w.tree.grid_a1.pk,
            "lon": A1_POINT[0],
            "lat": A1_POINT[1],
            "coord_system": "wgs84",
            "photos": [png()],
        },
    )
    case = Case.objects.get()
    assert response.status_code == 302
    assert case.located_by == "point" and case.lon == pytest.approx(A1_POINT[0])
    assert case.photos.count() == 1


def test_patrol_outside_the_workers_grid_is_refused(client, w):
    client.force_login(w.grid_worker)
    response = client.post(
        reverse("cases:staff_intake"),
        {
            "source": Source.PATROL,
            "request_type": "event",
            "title": "别处的事",
            "description": "不在我的网格",
            "grid": w.tree.grid_b1.pk,
            "coord_system": "wgs84",
        },
    )
    assert response.status_code == 400
    assert "选择一个有效的选项" in text(response) or "Select a valid choice" in text(response)
    assert not Case.objects.exists()


def test_department_referral_without_view_rights_returns_to_the_form(client, w):
    client.force_login(w.officer)
    page = text(client.get(reverse("cases:staff_intake")))
    assert re.search(r'value="referral"[^>]*checked', page)
    response = client.post(
        reverse("cases:staff_intake"),
        {
            "source": Source.REFERRAL,
            "request_type": "report",
            "title": "转办：违规广告",
            "description": "区局转来：沿街违规户外广告",
            "grid": w.tree.grid_a1.pk,
            "coord_system": "wgs84",
        },
    )
    case = Case.objects.get()
    assert response.status_code == 302 and response.url == reverse("cases:staff_intake")
    assert case.source == Source.REFERRAL and case.entered_by == w.officer
    assert f"已登记，编号 {case.number}" in text(client.get(response.url))


def test_intake_is_for_staff_only(client, w):
    assert get(client, w.resident, reverse("cases:staff_intake")).status_code == 403
    assert get(client, w.leader, reverse("cases:staff_intake")).status_code == 403


# ---------------------------------------------------------------- the map


def test_map_page_and_points_are_scoped(client, w):
    ours = garbage(w)
    hidden = garbage(w, point=None, title="无坐标")
    nb = neighbour_street(w.tree)
    theirs = submit(nb.grid_worker, nb.grid, point=NEIGHBOUR_POINT)

    page = get(client, w.dispatcher, reverse("cases:map"), sla="green")
    html = text(page)
    assert page.status_code == 200 and no_inline_script(html)
    assert 'data-casemap="open"' in html and 'data-points-url="/cases/map/points.json?sla=green"' in html
    assert "马宗岭第1网格" in html and "北固村第1网格" not in html  # only the grids in scope

    data = get(client, w.dispatcher, reverse("cases:map_points")).json()
    numbers = {p["number"] for p in data["points"]}
    assert ours.number in numbers and theirs.number not in numbers and hidden.number not in numbers
    point = next(p for p in data["points"] if p["number"] == ours.number)
    assert point["url"] == detail_url(ours) and point["sla"] == "green" and point["sla_label"] == "正常"
    assert (point["lon"], point["lat"]) == pytest.approx(A1_POINT)

    assert get(client, w.dispatcher, reverse("cases:map_points"), sla="red").json()["points"] == []
    assert get(client, w.resident, reverse("cases:map_points")).status_code == 403


def test_staff_pages_render_without_inline_script(client, w):
    case = garbage(w)
    for user, url in (
        (w.dispatcher, reverse("cases:home")),
        (w.dispatcher, reverse("cases:dispatch_queue")),
        (w.dispatcher, reverse("cases:list")),
        (w.dispatcher, reverse("cases:map")),
        (w.dispatcher, reverse("cases:staff_intake")),
        (w.dispatcher, detail_url(case)),
        (w.grid_worker, reverse("cases:verify_queue")),
        (w.leader, reverse("cases:list")),
    ):
        response = get(client, user, url)
        assert response.status_code == 200, url
        assert no_inline_script(text(response)), url


def test_helpers_build_a_routed_unit_for_a_new_category(w):
    category = make_category("ZZ0101", "测试小类", requires_verification=False)
    unit, member = make_unit("区水务局", w.tree.county)
    make_rule(category, w.tree.community_a, unit)
    case = submit(w.grid_worker, w.tree.grid_a1, category=category)
    assert case.suggested_unit == unit and not case.no_rule
    assert services.is_member(member, unit)
