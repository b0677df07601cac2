"""已有人反映 and 并案 in a real browser: a resident writing a report is shown the same problem already
reported nearby and follows it instead; a second resident files anyway; the dispatcher sees the likely
duplicate on the case page and merges it; the follower and the merged reporter see the main case's
progress."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from gongzhi.cases import services
from gongzhi.cases.models import Case, Source, Status
from gongzhi.core import geo
from gongzhi.core.roles import Role
from gongzhi.people.models import Resident
from tests.cases.conftest import A1_POINT, build_world
from tests.e2e.pages import nav_to
from tests.e2e.test_cases_loop import as_user
from tests.factories import user_with


@pytest.fixture
def world(default_categories, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    geo.invalidate()
    return build_world()


def test_resident_follows_instead_of_filing_and_dispatcher_merges_a_duplicate(page, live_server, world):
    url = live_server.url
    now = timezone.now()
    first = services.submit_case(
        world.resident,
        source=Source.RESIDENT,
        title="小区门口路灯坏了",
        description="晚上很黑，走路看不清，老人出门不方便",
        lon=A1_POINT[0],
        lat=A1_POINT[1],
    )
    writer = user_with(Role.RESIDENT, world.tree.community_a, username="writer")
    Resident.objects.create(
        region=world.tree.grid_a1, name="王建华", account=writer, created_at=now, updated_at=now
    )

    # The writer starts a report of the same lamp; before submitting, the page offers the existing one.
    as_user(page, url, writer)
    nav_to(page, "随手拍")
    page.get_by_label("标题").fill("大门口的路灯不亮")
    page.get_by_label("问题描述").fill("夜里出行很不方便，路灯坏了好几天")
    similar = page.locator("#report-similar")
    expect(similar).to_be_visible()
    expect(similar).to_contain_text("已有人反映")
    expect(similar).to_contain_text("小区门口路灯坏了")
    with page.expect_navigation():
        similar.get_by_role("button", name="关注此问题，不再重复提交").click()
    expect(page.locator(".messages, [role=status]").first).to_contain_text("关注")
    expect(page.locator("body")).to_contain_text("这是您关注的问题")
    assert Case.objects.count() == 1  # nothing filed twice

    # Another resident files anyway; the dispatcher merges the duplicate into the first case.
    neighbour = user_with(Role.RESIDENT, world.tree.community_a, username="neighbour")
    second = services.submit_case(
        neighbour,
        source=Source.RESIDENT,
        title="门口那盏路灯一直不亮",
        description="小区门口路灯坏了，晚上很黑",
        lon=A1_POINT[0] + 0.0003,
        lat=A1_POINT[1],
    )
    as_user(page, url, world.dispatcher)
    page.goto(f"{url}/cases/c/{first.number}/")
    merge = page.locator("section#merge")
    expect(merge).to_contain_text("疑似重复")
    expect(merge).to_contain_text(second.number)
    merge.get_by_label(second.number).check()
    with page.expect_navigation():
        merge.get_by_role("button", name="并入本案").click()
    expect(page.locator("section#merge")).to_contain_text("已并入本案")
    assert Case.objects.get(pk=second.pk).status == Status.MERGED

    # The merged reporter sees the main case's progress under their own number.
    as_user(page, url, neighbour)
    page.goto(f"{url}/cases/mine/{second.number}/")
    expect(page.locator("body")).to_contain_text(re.compile(f"已与同一问题（编号 {first.number}）合并办理"))
