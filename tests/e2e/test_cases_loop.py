"""The closed loop of 诉求事件 in a real browser, one journey per path, each person signing in in turn:
report → dispatch by the routing rule → sign and reply → field check → closed → 不满意 → callback and
返工 → reply → closed again; a unit's 退单; a community's 上报 and the street's 吹哨; an overdue case
escalated by the deadline sweep under an injected clock."""

import re

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from gongzhi.cases import services
from gongzhi.cases.models import Case, Status
from gongzhi.core import clock, geo
from gongzhi.people.models import Resident
from tests.cases.conftest import build_world
from tests.cases.helpers import submit
from tests.e2e.pages import login, logout, nav_to

PASSWORD = "correct horse 9"  # tests.factories.user_with's default
DEPARTMENT = "区综合行政执法局"
COMMUNITY_UNIT = "马宗岭社区居委会"


@pytest.fixture
def world(default_categories, settings, tmp_path):
    """build_world (units, routing rules, one user per role) in a database the live server shares."""
    settings.MEDIA_ROOT = tmp_path / "media"
    geo.invalidate()  # region ids differ from a previous test's tree
    return build_world()


# ---------------------------------------------------------------- steps on the pages


def as_user(page, base_url, user):
    if page.locator(".topbar-user").count():
        logout(page)
    login(page, base_url, user.username, PASSWORD)
    expect(page.locator(".topbar-user")).to_be_visible()


def open_queue(page, tile, tab=None):
    """诉求事件 → a queue tile on the cases home (调度台, 本单位待办, 待核查) → optionally one of its tabs."""
    nav_to(page, "诉求事件")
    with page.expect_navigation():
        page.locator(".case-home a.tile", has=page.locator("h3", has_text=tile)).click()
    expect(page.locator("h1")).to_have_text(tile)
    if tab:
        with page.expect_navigation():
            page.locator(".case-tabs a", has_text=tab).click()
        expect(page.locator(".case-tabs a.active")).to_contain_text(tab)


def queue_row(page, number):
    return page.locator("table.case-table tbody tr", has=page.get_by_role("link", name=number, exact=True))


def open_case(page, number):
    with page.expect_navigation():
        queue_row(page, number).get_by_role("link", name=number, exact=True).click()
    expect(page.locator(".case-head-meta .mono")).to_have_text(number)


def status(page):
    return page.locator(".case-head-meta .badge[class*='status-']")


def action(page, step):
    """The form of one step on the case page, its card opened if it is folded."""
    card = page.locator(f"details#action-{step}")
    expect(card).to_be_visible()
    if card.get_attribute("open") is None:
        card.locator("summary").click()
    return card.locator("form")


def submit_step(page, form, button):
    with page.expect_navigation():
        form.get_by_role("button", name=button, exact=True).click()


def message(page):
    return page.locator(".messages")


def timeline(page):
    return page.locator(".case-timeline .case-event-head strong")


def staff_reply(page, number, text):
    open_queue(page, "本单位待办")
    open_case(page, number)
    form = action(page, "reply")
    form.get_by_label("处置结果").fill(text)
    submit_step(page, form, "提交处置反馈")
    expect(message(page)).to_contain_text("已提交处置反馈")
    expect(status(page)).to_have_text("已反馈")


def grid_check_passes(page, number, text):
    open_queue(page, "待核查")
    expect(queue_row(page, number)).to_contain_text("已反馈")
    open_case(page, number)
    form = action(page, "verify")
    form.get_by_label("通过：问题已解决").check()
    form.get_by_label("核查情况").fill(text)
    submit_step(page, form, "提交核查结果")
    expect(message(page)).to_contain_text("核查通过，已结案")
    expect(status(page)).to_have_text("已结案")


def dispatched_case(world, *, category, title, unit, description="现场情况见照片"):
    """A patrol case in grid A1, accepted and dispatched by the street's dispatch centre (set-up only)."""
    case = submit(
        world.grid_worker, world.tree.grid_a1, category=category, title=title, description=description
    )
    case = services.accept_case(world.dispatcher, case)
    return services.dispatch_case(world.dispatcher, case, unit=unit)


# ---------------------------------------------------------------- 1. the whole loop, with 返工


def test_resident_report_to_closure_then_dissatisfied_callback_and_rework(page, live_server, world, tmp_path):
    url = live_server.url
    now = timezone.now()
    Resident.objects.create(
        region=world.tree.grid_a1, name="周小梅", account=world.resident, created_at=now, updated_at=now
    )
    photo = tmp_path / "垃圾.jpg"
    Image.new("RGB", (40, 30), (180, 120, 40)).save(photo, "JPEG", quality=90)
    staff = [world.dispatcher, world.officer, world.grid_worker]

    # The resident takes a photo, describes the problem and taps the spot on the map.
    as_user(page, url, world.resident)
    nav_to(page, "随手拍")
    expect(page.locator("h1")).to_have_text("随手拍")
    page.get_by_label("从相册选择").set_input_files(str(photo))
    page.get_by_label("标题").fill("小区门口垃圾堆积")
    page.get_by_label("问题描述").fill("马宗岭路18号门口垃圾三天没人清运")
    page.get_by_label("问题大类").select_option(label="市容环境")
    page.get_by_label("问题小类").select_option(label="暴露垃圾")
    # The boundaries are drawn in path order: street, community, then its first grid.
    grid = page.locator(".report-map path.leaflet-interactive").nth(2)
    grid.hover()
    expect(page.locator(".leaflet-tooltip")).to_have_text("马宗岭第1网格")
    grid.click()
    expect(page.locator("#report-map-status")).to_have_text("已选择位置")
    expect(page.locator("#id_lon")).to_have_value(re.compile(r"^105\.58\d+$"))
    expect(page.locator("#id_lat")).to_have_value(re.compile(r"^30\.45\d+$"))
    with page.expect_navigation():
        page.get_by_role("button", name="提交", exact=True).click()
    expect(page.locator(".report-done h1")).to_have_text("提交成功")
    number = page.locator(".tracking-no").inner_text().strip()
    assert re.fullmatch(r"\d{14}", number), number
    expect(page.locator(".loop-status")).to_contain_text("已提交，等待受理")

    # The street's dispatch centre accepts it and dispatches it to the unit its routing rule names.
    as_user(page, url, world.dispatcher)
    open_queue(page, "调度台", tab="待受理")
    expect(queue_row(page, number)).to_contain_text("待受理")
    expect(queue_row(page, number)).to_contain_text("暴露垃圾")
    open_case(page, number)
    expect(status(page)).to_have_text("待受理")
    expect(page.locator(".kv")).to_contain_text("马宗岭第1网格")
    expect(page.locator(".kv")).to_contain_text("（坐标）")
    expect(page.locator(".kv")).to_contain_text("实名居民")
    report_photo = page.locator(".case-photos img").first
    expect(report_photo).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 40", arg=report_photo.element_handle()
    )
    expect(page.locator(".case-side")).to_contain_text(f"{DEPARTMENT} （按派遣规则）")
    submit_step(page, action(page, "accept"), f"立案并派遣给{DEPARTMENT}")
    expect(message(page)).to_contain_text(f"已立案并派遣给{DEPARTMENT}")
    expect(status(page)).to_have_text("已派遣")
    expect(page.locator(".case-event").last).to_contain_text("按派遣规则")

    # The department signs and replies.
    as_user(page, url, world.officer)
    open_queue(page, "本单位待办", tab="待签收")
    expect(queue_row(page, number)).to_contain_text("待签收")
    open_case(page, number)
    submit_step(page, action(page, "sign"), "签收")
    expect(message(page)).to_contain_text("已签收")
    expect(status(page)).to_have_text("处置中")
    form = action(page, "reply")
    form.get_by_label("处置结果").fill("已清运垃圾，并通知物业每日巡查")
    submit_step(page, form, "提交处置反馈")
    expect(message(page)).to_contain_text("已提交处置反馈")
    expect(status(page)).to_have_text("已反馈")

    # The grid worker checks on site: passed, closed.
    as_user(page, url, world.grid_worker)
    grid_check_passes(page, number, "现场已清理干净")

    # The resident sees it done and is not satisfied.
    as_user(page, url, world.resident)
    nav_to(page, "我的诉求")
    item = page.locator(".resident-cases li", has_text=number)
    expect(item.locator(".loop-status")).to_contain_text("已办结")
    expect(item.locator(".loop-status")).to_contain_text("请您评价")
    with page.expect_navigation():
        item.locator("a.resident-case-link").click()
    rate = page.locator("#rate")
    rate.get_by_label("不满意", exact=True).check()
    rate.get_by_label("说说您的看法（可不填）").fill("第二天又堆起来了")
    with page.expect_navigation():
        rate.get_by_role("button", name="提交评价").click()
    expect(message(page)).to_contain_text("感谢您的评价！")
    expect(page.locator("#rate")).to_have_count(0)
    expect(page.get_by_text("工作人员会尽快回访您。")).to_be_visible()

    # The dispatch centre finds the callback, calls the resident back and sends it back for rework.
    as_user(page, url, world.dispatcher)
    open_queue(page, "调度台", tab="待回访")
    expect(queue_row(page, number)).to_contain_text("已结案")
    open_case(page, number)
    expect(page.locator(".kv")).to_contain_text("不满意")
    form = action(page, "callback")
    form.get_by_label("回访情况").fill("居民反映垃圾点仍有堆放，需要彻底清理")
    form.get_by_label("返工").check()
    submit_step(page, form, "提交回访")
    expect(message(page)).to_contain_text("已返工，退回原承办单位")
    expect(status(page)).to_have_text("处置中")
    expect(timeline(page).last).to_have_text("返工")

    # The same unit (already signed) replies again; the grid worker checks again.
    as_user(page, url, world.officer)
    staff_reply(page, number, "已彻底清理，设置了禁止堆放标识")
    as_user(page, url, world.grid_worker)
    grid_check_passes(page, number, "复查已清理")
    expect(timeline(page)).to_have_text(
        ["提交", "立案", "派遣", "签收", "处置反馈", "结案", "评价", "返工", "处置反馈", "结案"]
    )

    # The resident's timeline: every step in plain words, units but never a handler's name.
    as_user(page, url, world.resident)
    nav_to(page, "我的诉求")
    item = page.locator(".resident-cases li", has_text=number)
    expect(item.locator(".loop-status")).to_contain_text("已办结")
    with page.expect_navigation():
        item.locator("a.resident-case-link").click()
    expect(page.locator(".resident-timeline li strong")).to_have_text(
        [
            "您提交了诉求",
            "已受理",
            "已交办理单位",
            "办理单位已接手",
            "办理单位反馈了处理结果",
            "已办结",
            "您评价了办理结果",
            "重新办理",
            "办理单位反馈了处理结果",
            "已办结",
        ]
    )
    timeline_box = page.locator(".resident-timeline")
    expect(timeline_box).to_contain_text(DEPARTMENT)
    expect(timeline_box).to_contain_text("已彻底清理，设置了禁止堆放标识")
    for person in staff:
        expect(page.locator("main")).not_to_contain_text(person.real_name)
        expect(page.locator("main")).not_to_contain_text(person.username)
    # A new round may be rated again.
    expect(page.locator("#rate")).to_be_visible()
    assert Case.objects.get(number=number).reopen_count == 1


# ---------------------------------------------------------------- 2. 退单 and dispatch elsewhere


def test_unit_returns_a_case_and_the_dispatcher_sends_it_to_another_unit(page, live_server, world):
    url = live_server.url
    case = dispatched_case(world, category="SJ0105", title="楼顶违建阳光房", unit=world.community_unit)

    as_user(page, url, world.community)
    open_queue(page, "本单位待办")
    open_case(page, case.number)
    expect(status(page)).to_have_text("已派遣")
    form = action(page, "return")
    form.get_by_label("退单理由").fill("违法建设查处属综合执法局职责，社区无执法权")
    submit_step(page, form, "退单")
    expect(message(page)).to_contain_text("已退单")
    expect(status(page)).to_have_text("已退单")
    expect(page.locator("details#action-reply")).to_have_count(0)

    as_user(page, url, world.dispatcher)
    open_queue(page, "调度台", tab="退单")
    expect(queue_row(page, case.number)).to_contain_text("已退单")
    open_case(page, case.number)
    last = page.locator(".case-event").last
    expect(last.locator("strong")).to_have_text("退单")
    expect(last).to_contain_text(COMMUNITY_UNIT)
    expect(last).to_contain_text("违法建设查处属综合执法局职责，社区无执法权")
    form = action(page, "dispatch")
    form.get_by_label("主办单位").select_option(label=f"{DEPARTMENT}（职能部门）")
    form.get_by_label("派遣意见").fill("请执法局依法查处")
    submit_step(page, form, "派遣")
    expect(message(page)).to_contain_text(f"已派遣给{DEPARTMENT}")
    expect(status(page)).to_have_text("已派遣")
    chain = page.locator(".case-chain li")
    expect(chain).to_have_count(2)
    expect(chain.nth(0)).to_have_class(re.compile(r"\bended\b"))
    expect(chain.nth(0)).to_contain_text(COMMUNITY_UNIT)
    expect(chain.nth(1)).to_have_class(re.compile(r"\bactive\b"))
    expect(chain.nth(1)).to_contain_text(DEPARTMENT)
    expect(timeline(page).last).to_have_text("派遣")

    # The other unit now has it to sign; the community that returned it no longer does.
    as_user(page, url, world.officer)
    open_queue(page, "本单位待办", tab="待签收")
    expect(queue_row(page, case.number)).to_contain_text("已派遣")
    as_user(page, url, world.community)
    open_queue(page, "本单位待办")
    expect(queue_row(page, case.number)).to_have_count(0)


# ---------------------------------------------------------------- 3. 上报 and 吹哨报到


def test_community_escalates_and_the_street_whistles_a_department(page, live_server, world):
    url = live_server.url
    case = dispatched_case(world, category="SJ0802", title="物业堵占消防通道", unit=world.community_unit)
    assert case.unit == world.community_unit  # SJ08 is the community's by the routing rules

    as_user(page, url, world.community)
    open_queue(page, "本单位待办", tab="待签收")
    open_case(page, case.number)
    submit_step(page, action(page, "sign"), "签收")
    expect(status(page)).to_have_text("处置中")
    form = action(page, "escalate")
    form.get_by_label("上报原因").fill("物业拒不整改，需执法部门处理")
    submit_step(page, form, "上报街道")
    expect(message(page)).to_contain_text("已上报街道")
    expect(status(page)).to_have_text("已上报")
    # The street handles an escalation; the community that raised it cannot dispatch it.
    expect(page.locator("details#action-dispatch")).to_have_count(0)

    as_user(page, url, world.dispatcher)
    open_queue(page, "调度台", tab="上报待处理")
    expect(queue_row(page, case.number)).to_contain_text("已上报")
    open_case(page, case.number)
    expect(page.locator(".case-side")).to_contain_text("上报至")
    expect(page.locator(".case-side")).to_contain_text("南强街道")
    form = action(page, "dispatch")
    expect(form).to_contain_text("派遣给职能部门即为“吹哨”")
    form.get_by_label("主办单位").select_option(label=f"{DEPARTMENT}（职能部门）")
    submit_step(page, form, "派遣")
    expect(message(page)).to_contain_text(f"已吹哨，派遣给{DEPARTMENT}")
    expect(timeline(page).last).to_have_text("吹哨派遣")
    active = page.locator(".case-chain li.active")
    expect(active).to_contain_text(DEPARTMENT)
    expect(active).to_contain_text("吹哨")

    # The department reports in (报到) and replies.
    as_user(page, url, world.officer)
    open_queue(page, "本单位待办", tab="待签收")
    open_case(page, case.number)
    submit_step(page, action(page, "sign"), "签收")
    expect(message(page)).to_contain_text("已签收")
    expect(page.locator(".case-chain li.active")).to_contain_text("报到")
    form = action(page, "reply")
    form.get_by_label("处置结果").fill("已责令物业清理消防通道并立案处罚")
    submit_step(page, form, "提交处置反馈")
    expect(message(page)).to_contain_text("已提交处置反馈")
    expect(status(page)).to_have_text("已反馈")
    expect(timeline(page)).to_have_text(
        ["提交", "立案", "派遣", "签收", "上报", "吹哨派遣", "签收", "处置反馈"]
    )


# ---------------------------------------------------------------- 4. overdue → 超期自动上报


def test_overdue_case_is_escalated_by_the_sweep_and_the_unit_is_told(page, live_server, world):
    url = live_server.url
    # Monday 10:00; 占道经营 has one working day to handle and escalates automatically when overdue.
    with clock.frozen("2026-11-23T10:00:00+08:00") as travel:
        category = world.category("SJ0401")
        assert category.auto_escalate
        case = dispatched_case(world, category="SJ0401", title="早市占道摆摊", unit=world.community_unit)
        assert case.status == Status.DISPATCHED
        travel.advance(days=2)  # Wednesday 10:00: a working day past the deadline
        assert services.sweep_deadlines() == {"yellow": 0, "red": 1, "escalated": 1}

        as_user(page, url, world.dispatcher)
        open_queue(page, "调度台", tab="上报待处理")
        expect(queue_row(page, case.number)).to_contain_text("已上报")
        open_case(page, case.number)
        expect(status(page)).to_have_text("已上报")
        expect(timeline(page)).to_have_text(["提交", "立案", "派遣", "红灯超期", "超期自动上报"])
        escalation = page.locator(".case-event").last
        expect(escalation).to_contain_text("系统")
        expect(escalation).to_contain_text(COMMUNITY_UNIT)
        expect(escalation).to_contain_text("超期未办结，自动上报街道")
        expect(page.locator(".case-side")).to_contain_text("南强街道")
        expect(page.locator("details#action-dispatch")).to_be_visible()

        # The community unit was told in one digest, and its queue no longer holds the case.
        as_user(page, url, world.community)
        page.locator(".topbar .bell").click()
        expect(page).to_have_url(url + "/notifications/")
        digest = page.locator(".notification.unread", has_text="1 件事件已超期（红灯）")
        expect(digest).to_have_count(1)
        with page.expect_navigation():
            digest.get_by_role("link").click()
        expect(page).to_have_url(url + "/cases/unit/")
        expect(queue_row(page, case.number)).to_have_count(0)
