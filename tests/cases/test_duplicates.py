"""Likely duplicates (疑似重复) and 并案: finding the same problem written differently, merging, unmerging,
following, and KPIs that count a merged case once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from gongzhi.cases import queries, rules, services
from gongzhi.cases.models import Case, CaseEvent, CaseFollower, EventKind, Source, Status
from gongzhi.core import clock
from gongzhi.core.errors import Conflict, PermissionDenied
from gongzhi.core.models import AuditEntry, Notification
from gongzhi.core.roles import Role
from tests.cases.conftest import A1_POINT
from tests.factories import user_with

MONDAY = "2026-11-23T10:00:00+08:00"
# About 40 m east of A1_POINT, and about 600 m away (both inside grid A1).
NEAR = (A1_POINT[0] + 0.0004, A1_POINT[1])
FAR = (A1_POINT[0] + 0.0062, A1_POINT[1])

# The same problems written by different people, and different problems at the same spot.
PARAPHRASES = [
    (("小区门口路灯坏了", "晚上很黑，走路看不清"), ("大门口的路灯不亮", "夜里出行很不方便，路灯坏了好几天")),
    (("马路上井盖丢了", "很危险，有人差点掉下去"), ("人行道井盖缺失", "路过的人容易掉下去，井盖不见了")),
    (("垃圾桶满了没人清理", "臭味很大"), ("垃圾箱溢满", "长时间无人清运，垃圾桶周围气味难闻")),
    (("楼上装修噪音太大", "中午也在施工"), ("装修扰民", "午休时间还在电钻施工，噪音很大")),
]
UNRELATED = [
    (("小区门口路灯坏了", "晚上很黑"), ("小区门口乱停车", "堵住了消防通道")),
    (("道路积水严重", "下雨后无法通行"), ("小区门口路灯坏了", "晚上很黑")),
    (("马路上井盖丢了", "很危险"), ("楼上装修噪音太大", "中午也在施工")),
]


@pytest.mark.parametrize(("a", "b"), PARAPHRASES)
def test_paraphrases_of_one_problem_read_as_the_same(a, b):
    assert rules.text_similarity(" ".join(a), " ".join(b)) >= rules.DUPLICATE_SIMILARITY


@pytest.mark.parametrize(("a", "b"), UNRELATED)
def test_different_problems_at_the_same_place_do_not(a, b):
    assert rules.text_similarity(" ".join(a), " ".join(b)) < rules.DUPLICATE_SIMILARITY


def test_similarity_is_symmetric_and_bounded():
    a, b = "小区门口路灯坏了", "路灯不亮"
    assert rules.text_similarity(a, b) == pytest.approx(rules.text_similarity(b, a))
    assert rules.text_similarity(a, a) == pytest.approx(1.0)
    assert rules.text_similarity(a, "") == 0.0
    assert rules.text_similarity("，。！", "的了") == 0.0


def test_distance_in_metres():
    # One thousandth of a degree of latitude is about 111 m anywhere.
    assert rules.distance_m(105.585, 30.455, 105.585, 30.456) == pytest.approx(111.2, abs=0.5)
    assert rules.distance_m(*NEAR, *A1_POINT) == pytest.approx(38.4, abs=1)


def test_related_categories_share_a_major_class():
    lamp, signal, litter = (1, 10), (2, 10), (3, 20)
    assert rules.categories_related(lamp, signal)
    assert not rules.categories_related(lamp, litter)
    assert rules.categories_related(None, litter)
    assert rules.categories_related((10, None), lamp)  # a major class and its own minor class


# ---------------------------------------------------------------- finding them among cases


@pytest.fixture
def now():
    with clock.frozen(MONDAY) as travel:
        yield travel


def report(world, who=None, *, title, description, point=A1_POINT, category=None):
    lon, lat = point if point else (None, None)
    return services.submit_case(
        who or world.resident,
        source=Source.RESIDENT,
        title=title,
        description=description,
        category=category,
        lon=lon,
        lat=lat,
    )


def find(world, case, user=None):
    return [d.case.number for d in queries.duplicates_of(user or world.dispatcher, case)]


def test_near_recent_and_alike_is_found_far_old_or_unrelated_is_not(world, now):
    neighbour = user_with(Role.RESIDENT, world.tree.community_a, username="neighbour")
    lamp = world.category("BJ0201")
    first = report(world, title="小区门口路灯坏了", description="晚上很黑，走路看不清", category=lamp)
    now.advance(hours=3)
    second = report(
        world, neighbour, title="大门口的路灯不亮", description="夜里出行很不方便，路灯坏了好几天", point=NEAR
    )
    far = report(world, neighbour, title="路灯不亮", description="路灯坏了，晚上很黑", point=FAR)
    other = report(world, neighbour, title="小区门口乱停车", description="堵住了消防通道", point=NEAR)
    assert find(world, second) == [first.number]
    assert find(world, first) == [second.number]  # both ways: a later report is shown on the earlier one
    assert first.number not in find(world, far)  # ~600 m away
    assert find(world, other) == []  # same spot, another problem
    litter = report(
        world,
        neighbour,
        title="路灯杆下垃圾",
        description="路灯坏了旁边还有垃圾很黑",
        point=NEAR,
        category=world.category("SJ0101"),
    )
    assert first.number not in find(world, litter)  # 市容环境 is not 道路交通

    now.advance(days=8)
    late = report(
        world, neighbour, title="路灯还是不亮", description="小区门口路灯坏了，晚上很黑", point=NEAR
    )
    assert find(world, late) == []  # the first two are more than 7 days old


def test_radius_and_window_come_from_settings(world, now, settings):
    first = report(world, title="小区门口路灯坏了", description="晚上很黑")
    second = report(world, title="路灯不亮", description="小区门口路灯坏了，晚上很黑", point=FAR)
    assert find(world, second) == []
    settings.GONGZHI_DUPLICATE_RADIUS_M = 1000
    assert find(world, second) == [first.number]


def test_without_points_the_same_grid_counts_as_near(world, now):
    a = services.submit_case(
        world.dispatcher,
        source=Source.HOTLINE,
        title="井盖丢失",
        description="马路上井盖丢了，很危险",
        grid=world.tree.grid_a1,
        reporter_phone="13800000001",
    )
    b = services.submit_case(
        world.dispatcher,
        source=Source.HOTLINE,
        title="人行道井盖缺失",
        description="路过的人容易掉下去",
        grid=world.tree.grid_a1,
        reporter_phone="13800000002",
    )
    c = services.submit_case(
        world.dispatcher,
        source=Source.HOTLINE,
        title="井盖丢失",
        description="马路上井盖丢了，很危险",
        grid=world.tree.grid_a2,
        reporter_phone="13800000003",
    )
    assert find(world, b) == [a.number]
    assert find(world, c) == []


def test_duplicates_are_scoped_to_what_the_dispatcher_may_see(world, now):
    from tests.cases.helpers import neighbour_street

    first = report(world, title="小区门口路灯坏了", description="晚上很黑")
    second = report(world, title="路灯不亮", description="小区门口路灯坏了，晚上很黑", point=NEAR)
    outsider = neighbour_street(world.tree).dispatcher
    assert find(world, second) == [first.number]
    assert queries.duplicates_of(outsider, second) == []


# ---------------------------------------------------------------- 并案


@pytest.fixture
def pair(world, now):
    """Two residents report one broken street lamp; a third follows the first report."""
    neighbour = user_with(Role.RESIDENT, world.tree.community_a, username="neighbour")
    follower = user_with(Role.RESIDENT, world.tree.community_a, username="follower")
    lamp = world.category("SJ0101")
    main = report(
        world, title="路边垃圾堆放", description="小区门口垃圾三天没人清运，臭味很大", category=lamp
    )
    dup = report(
        world,
        neighbour,
        title="门口垃圾没人清运",
        description="垃圾堆了好几天，气味难闻",
        point=NEAR,
        category=lamp,
    )
    services.follow_case(
        follower, dup, title="垃圾没人清运", description="门口垃圾堆了好几天", lon=NEAR[0], lat=NEAR[1]
    )
    return main, dup, neighbour, follower


def test_merge_folds_a_duplicate_into_the_main_case(world, pair):
    main, dup, neighbour, follower = pair
    services.merge_cases(world.dispatcher, main, [dup], note="同一处垃圾")
    dup.refresh_from_db()
    assert dup.status == Status.MERGED and dup.merged_into == main
    assert dup.due_at is None and dup.warn_at is None  # no longer due: no light, no overdue count
    assert list(main.merged.all()) == [dup]
    assert CaseEvent.objects.filter(case=dup, kind=EventKind.MERGE, public=True).exists()
    assert AuditEntry.objects.filter(action="case.merge", object_id=str(dup.pk)).exists()
    told = Notification.objects.filter(kind="case.merged").values_list("recipient__username", flat=True)
    assert set(told) == {"neighbour", "follower"}
    # Merged cases leave the dispatcher's queue and the likely-duplicate lists.
    assert dup not in queries.dispatcher_queue(world.dispatcher)
    assert find(world, main) == []


def test_every_step_of_the_main_case_reaches_merged_reporters_and_followers_and_they_close_together(
    world, pair, now
):
    main, dup, neighbour, follower = pair
    services.merge_cases(world.dispatcher, main, [dup])
    Notification.objects.all().delete()
    case = services.accept_case(world.dispatcher, main)
    case = services.dispatch_case(world.dispatcher, case, unit=case.suggested_unit)
    case = services.sign_case(world.officer, case)
    told = set(
        Notification.objects.filter(kind="case.in_progress").values_list("recipient__username", flat=True)
    )
    assert told == {"resident", "neighbour", "follower"}
    # Each is pointed at the case they know: the neighbour at their own number.
    link = Notification.objects.get(kind="case.in_progress", recipient=neighbour).url
    assert link == reverse("cases:mine_detail", args=[dup.number])
    case = services.reply_case(world.officer, case, note="已清运")
    now.advance(hours=1)
    services.verify_case(world.grid_worker, case, passed=True)
    dup.refresh_from_db()
    assert dup.closed_at == clock.now() and dup.status == Status.MERGED
    closed = set(
        Notification.objects.filter(kind="case.closed").values_list("recipient__username", flat=True)
    )
    assert closed == {"resident", "neighbour", "follower"}


def test_unmerge_restores_the_case_with_a_fresh_deadline_and_is_audited(world, pair, now):
    main, dup, *_ = pair
    services.merge_cases(world.dispatcher, main, [dup])
    now.advance(days=1)
    with pytest.raises(Exception) as refused:
        services.unmerge_case(world.dispatcher, dup, reason="")
    assert refused.value.code == "case.reason_required"
    services.unmerge_case(world.dispatcher, dup, reason="不是同一处")
    dup.refresh_from_db()
    assert dup.status == Status.SUBMITTED and dup.merged_into is None
    assert dup.due_at is not None and dup.due_at > clock.now()
    assert AuditEntry.objects.filter(action="case.unmerge", object_id=str(dup.pk)).exists()
    assert list(main.merged.all()) == []
    assert find(world, main) == [dup.number]  # a likely duplicate again, and may be merged again


def test_what_cannot_be_merged(world, pair):
    main, dup, *_ = pair
    with pytest.raises(Exception) as itself:
        services.merge_cases(world.dispatcher, main, [main])
    assert itself.value.code == "case.merge_self"
    # A case already in a unit's hands is not silently withdrawn from it.
    busy = services.accept_case(world.dispatcher, dup)
    busy = services.dispatch_case(world.dispatcher, busy, unit=busy.suggested_unit)
    with pytest.raises(Conflict):
        services.merge_cases(world.dispatcher, main, [busy])
    # Nothing merges into a closed or merged case; a grid worker may not merge at all.
    other = report(world, title="垃圾又堆了", description="门口垃圾没人清运", point=NEAR)
    with pytest.raises(PermissionDenied):
        services.merge_cases(world.grid_worker, main, [other])
    services.reject_case(world.dispatcher, main, reason="重复")
    with pytest.raises(Conflict):
        services.merge_cases(world.dispatcher, main, [other])
    assert Case.objects.get(pk=other.pk).status == Status.SUBMITTED


def test_kpis_count_a_merged_case_once(world, pair, now):
    """Fixed data set: two reports of one problem merged, handled once, overdue once."""
    main, dup, *_ = pair
    services.merge_cases(world.dispatcher, main, [dup])
    case = services.accept_case(world.dispatcher, main)
    case = services.dispatch_case(world.dispatcher, case, unit=case.suggested_unit)
    now.advance(days=10)  # far past every deadline
    services.sweep_deadlines()
    case = services.sign_case(world.officer, case)
    case = services.reply_case(world.officer, case, note="已清运")
    services.verify_case(world.grid_worker, case, passed=True)
    start, end = clock.now() - dt.timedelta(days=30), clock.now() + dt.timedelta(hours=1)
    total, _rows = queries.kpis(world.leader, start=start, end=end)
    assert (total.accepted, total.dispatched, total.closed, total.overdue) == (1, 1, 1, 1)
    stats = queries.intake_stats(world.leader, start=start, end=end)
    assert stats.merged == 1
    assert not CaseEvent.objects.filter(case=dup, kind__in=[EventKind.OVERDUE, EventKind.WARN]).exists()


# ---------------------------------------------------------------- residents: 已有人反映


def test_follow_needs_the_same_problem_and_is_idempotent(world, pair):
    main, dup, neighbour, follower = pair
    with pytest.raises(Conflict):
        services.follow_case(
            follower, main, title="楼上装修噪音", description="中午也在施工", lon=NEAR[0], lat=NEAR[1]
        )
    services.follow_case(
        follower, dup, title="垃圾没人清运", description="门口垃圾堆了好几天", lon=NEAR[0], lat=NEAR[1]
    )
    assert CaseFollower.objects.filter(user=follower).count() == 1
    with pytest.raises(Conflict):  # one's own report is followed already
        services.follow_case(neighbour, dup, title="垃圾没人清运", description="门口垃圾堆了好几天")


def test_a_merged_case_is_followed_through_its_main_case(world, pair):
    main, dup, *_ = pair
    services.merge_cases(world.dispatcher, main, [dup])
    late = user_with(Role.RESIDENT, world.tree.community_a, username="late")
    # The merged case is no longer offered; the main case is.
    with pytest.raises(Conflict):
        services.follow_case(
            late, dup, title="门口垃圾没人清运", description="垃圾堆了好几天", lon=NEAR[0], lat=NEAR[1]
        )
    followed = services.follow_case(
        late, main, title="门口垃圾没人清运", description="垃圾堆了好几天，臭味很大", lon=NEAR[0], lat=NEAR[1]
    )
    assert followed == main


def test_the_reporter_joins_an_existing_case_instead(world, pair, client):
    main, dup, neighbour, _follower = pair
    client.force_login(neighbour)
    page = client.get(reverse("cases:mine_detail", args=[dup.number]))
    assert "已有人反映" in page.content.decode() and main.title in page.content.decode()
    response = client.post(reverse("cases:join", args=[dup.number, main.number]))
    assert response.status_code == 302
    dup.refresh_from_db()
    assert dup.status == Status.MERGED and dup.merged_into == main
    # The main case's timeline records the join without naming the other case's reporter.
    joined = CaseEvent.objects.get(case=main, kind=EventKind.MERGE)
    assert (joined.actor_id, joined.actor_label, joined.note) == (None, "system", dup.number)
    page = client.get(reverse("cases:mine_detail", args=[dup.number])).content.decode()
    assert main.number in page and "合并办理" in page
    assert "评价办理结果" not in page and "反映方式" in page


def test_joining_is_only_into_a_likely_duplicate_and_only_ones_own(world, pair, client):
    main, dup, neighbour, follower = pair
    unrelated = report(world, title="楼上装修噪音太大", description="中午也在施工", point=NEAR)
    client.force_login(neighbour)
    response = client.post(reverse("cases:join", args=[dup.number, unrelated.number]))
    assert response.status_code == 409
    client.force_login(follower)
    response = client.post(reverse("cases:join", args=[dup.number, main.number]))
    assert response.status_code == 404  # not their request
    assert Case.objects.get(pk=dup.pk).status == Status.SUBMITTED


def test_similar_json_offers_likely_duplicates_while_writing_and_follow_opens_progress(world, pair, client):
    main, dup, *_ = pair
    writer = user_with(Role.RESIDENT, world.tree.community_a, username="writer")
    client.force_login(writer)
    data = client.get(
        reverse("cases:similar"),
        {"title": "门口垃圾成堆", "description": "好几天没人清运了，很臭", "lon": NEAR[0], "lat": NEAR[1]},
    ).json()
    numbers = [c["number"] for c in data["cases"]]
    assert set(numbers) == {main.number, dup.number}
    assert set(data["cases"][0]) == {"number", "title", "status", "distance_m", "created_at", "follow_url"}
    assert "resident" not in str(data) and "13800138000" not in str(data)  # nobody's name or phone
    nothing = client.get(
        reverse("cases:similar"), {"title": "楼道灯坏了", "lon": FAR[0], "lat": FAR[1]}
    ).json()
    assert nothing == {"cases": []}
    # Before following, the case is not theirs to open.
    assert client.get(reverse("cases:mine_detail", args=[main.number])).status_code == 404
    response = client.post(
        reverse("cases:follow", args=[main.number]),
        {"title": "门口垃圾成堆", "description": "好几天没人清运了，很臭", "lon": NEAR[0], "lat": NEAR[1]},
    )
    assert response.status_code == 302
    page = client.get(reverse("cases:mine_detail", args=[main.number])).content.decode()
    assert "您关注的问题" in page and "反映方式" not in page
    assert main.title in client.get(reverse("cases:mine")).content.decode()


# ---------------------------------------------------------------- dispatcher page and API


def test_dispatcher_sees_duplicates_and_merges_from_the_case_page(world, pair, client):
    main, dup, *_ = pair
    client.force_login(world.dispatcher)
    page = client.get(reverse("cases:detail", args=[main.number])).content.decode()
    assert "疑似重复" in page and dup.number in page
    response = client.post(
        reverse("cases:merge", args=[main.number]), {"numbers": [dup.number], "note": "同一处"}
    )
    assert response.status_code == 302
    assert Case.objects.get(pk=dup.pk).merged_into == main
    page = client.get(reverse("cases:detail", args=[dup.number])).content.decode()
    assert "已并入" in page and "取消并案" in page
    response = client.post(reverse("cases:unmerge", args=[dup.number]), {"reason": "不是同一处"})
    assert response.status_code == 302
    assert Case.objects.get(pk=dup.pk).status == Status.SUBMITTED


def test_the_merge_form_only_takes_listed_duplicates(world, pair, client):
    main, dup, *_ = pair
    unrelated = report(world, title="楼上装修噪音太大", description="中午也在施工", point=NEAR)
    client.force_login(world.dispatcher)
    response = client.post(reverse("cases:merge", args=[main.number]), {"numbers": [unrelated.number]})
    assert response.status_code == 400
    assert Case.objects.get(pk=unrelated.pk).status == Status.SUBMITTED


def test_api_duplicates_merge_and_unmerge(world, pair, client):
    main, dup, *_ = pair
    client.force_login(world.dispatcher)
    base = "/api/v1/cases/"
    found = client.get(f"{base}{main.number}/duplicates").json()
    assert [d["number"] for d in found] == [dup.number] and found[0]["distance_m"] == pytest.approx(38, abs=2)
    bad = client.post(
        f"{base}{main.number}/merge", {"numbers": ["20990101000001"]}, content_type="application/json"
    )
    assert bad.status_code == 400 and bad.json()["code"] == "case.invalid"
    done = client.post(
        f"{base}{main.number}/merge", {"numbers": [dup.number]}, content_type="application/json"
    )
    assert done.status_code == 200 and done.json()["merged"] == [dup.number]
    detail = client.get(f"{base}{dup.number}").json()
    assert detail["merged_into"] == main.number and detail["status"] == "merged"
    again = client.post(f"{base}{dup.number}/unmerge", {"reason": "误并"}, content_type="application/json")
    assert again.status_code == 200 and again.json()["merged_into"] is None
