"""Steps shared by browser journeys."""

import re

from playwright.sync_api import expect

LOGIN_URL = re.compile(r"/login/")


def login(page, base_url, username, password):
    """Sign in through the real login page, arriving from the home page's redirect."""
    page.goto(base_url + "/")
    expect(page).to_have_url(LOGIN_URL)
    page.get_by_label("用户名", exact=True).fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    with page.expect_navigation():
        page.locator("form.stacked").get_by_role("button", name="登录").click()


def logout(page):
    """Sign out with the top bar's button; the next `login` starts from the login page again."""
    with page.expect_navigation():
        page.locator(".topbar-user").get_by_role("button", name="退出").click()
    expect(page).to_have_url(LOGIN_URL)


def nav_to(page, entry):
    """Follow an entry of the main menu (诉求事件, 随手拍, 我的诉求…)."""
    with page.expect_navigation():
        page.locator("nav.mainnav").get_by_role("link", name=entry, exact=True).click()
