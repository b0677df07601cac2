"""A staff member sees the unread count on the bell, opens a message, lands where it points, and the
count goes down; 全部标为已读 clears the rest."""

import re

from django.db import transaction
from playwright.sync_api import expect

from gongzhi.core import notify
from gongzhi.core.roles import Role
from tests.e2e.pages import login
from tests.factories import build_tree, user_with

PASSWORD = "correct horse 9"


def test_bell_message_list_and_mark_read(page, live_server, transactional_db):
    tree = build_tree()
    staff = user_with(Role.COMMUNITY_STAFF, tree.community_a, username="staff_bell", password=PASSWORD)
    with transaction.atomic():
        notify.send(
            [staff], "region.updated", title="马宗岭社区边界已更新", url=f"/regions/{tree.community_a.code}/"
        )
        notify.send([staff], "x.y", title="第二条消息", body="请查看。")
        notify.send([staff], "x.y", title="第三条消息")

    login(page, live_server.url, "staff_bell", PASSWORD)
    bell = page.locator(".topbar .bell")
    expect(bell.locator(".badge.count")).to_have_text("3")

    bell.click()
    expect(page).to_have_url(live_server.url + "/notifications/")
    expect(page.locator(".notification.unread")).to_have_count(3)

    page.get_by_role("link", name=re.compile("马宗岭社区边界已更新")).click()
    expect(page).to_have_url(live_server.url + f"/regions/{tree.community_a.code}/")
    expect(page.locator(".topbar .bell .badge.count")).to_have_text("2")

    page.locator(".topbar .bell").click()
    expect(page.locator(".notification.unread")).to_have_count(2)
    page.get_by_role("button", name="全部标为已读").click()
    expect(page.locator(".notification.unread")).to_have_count(0)
    expect(page.locator(".topbar .bell .badge.count")).to_have_count(0)
    expect(page.locator(".messages")).to_contain_text("已将 2 条消息标为已读")
