"""Every demo account signs in through the real login page, sees its own home and menu, and signs out."""

import re

import pytest
from playwright.sync_api import expect

from gongzhi.core import demo
from gongzhi.core.roles import Role
from tests.e2e.pages import LOGIN_URL, login

# Codes of the demo grid workers' grids: 马宗岭社区居委会 第1网格 and 第2网格.
GRID_OF = {"grid1": ("510903014006001", "第1网格"), "grid2": ("510903014006002", "第2网格")}


@pytest.mark.parametrize("account", demo.ACCOUNTS, ids=[a.username for a in demo.ACCOUNTS])
def test_demo_account_signs_in_sees_its_home_and_signs_out(page, live_server, demo_data, account):
    role = Role(account.role)
    login(page, live_server.url, account.username, demo.DEMO_PASSWORD)

    expect(page).to_have_url(live_server.url + "/")
    expect(page.locator("h1")).to_contain_text(f"{account.real_name}，您好")
    expect(page.locator(".topbar-user .badge.role")).to_have_text(str(role.label))
    expect(page.locator("section.card[data-role]")).to_have_attribute("data-role", role.value)

    nav = page.locator("nav.mainnav")
    regions_link = nav.get_by_role("link", name="区域网格", exact=True)
    keys_link = nav.get_by_role("link", name="接口密钥", exact=True)
    audit_link = nav.get_by_role("link", name="审计日志", exact=True)

    if role == Role.RESIDENT:
        expect(page.locator(".grid-cards .tile h3", has_text="随手拍")).to_be_visible()
        expect(regions_link).to_have_count(0)
    else:
        expect(regions_link).to_be_visible()
    if role == Role.ADMIN:
        expect(keys_link).to_be_visible()
        expect(audit_link).to_be_visible()
    elif role == Role.LEADER:
        expect(audit_link).to_be_visible()
        expect(keys_link).to_have_count(0)
    else:
        expect(keys_link).to_have_count(0)
        expect(audit_link).to_have_count(0)

    if role == Role.GRID_WORKER:
        own_code, own_name = GRID_OF[account.username]
        other_code, other_name = next(v for k, v in GRID_OF.items() if k != account.username)
        regions_link.click()
        expect(page).to_have_url(re.compile(r"/regions/$"))
        expect(page.locator("h1")).to_have_text("区域网格")
        table = page.locator("table.data")
        expect(table.locator("td.mono")).to_have_text([own_code])
        expect(table).to_contain_text(own_name)
        expect(table).not_to_contain_text(other_name)
        expect(table.locator("td.mono", has_text=other_code)).to_have_count(0)

    with page.expect_navigation():
        page.locator(".topbar-user").get_by_role("button", name="退出").click()
    expect(page).to_have_url(LOGIN_URL)
    expect(page.locator(".topbar-user")).to_have_count(0)
    page.goto(live_server.url + "/")
    expect(page).to_have_url(LOGIN_URL)
    expect(page.locator("form.stacked")).to_be_visible()


def test_repeated_wrong_passwords_lock_the_account(page, live_server, demo_data, settings):
    limit = settings.GONGZHI_LOGIN_MAX_FAILURES
    errors = page.locator(".form-errors")
    for attempt in range(1, limit + 1):
        login(page, live_server.url, "resident", "wrong-password")
        expect(page).to_have_url(LOGIN_URL)
        if attempt < limit:
            expect(errors).to_contain_text("用户名或密码错误")
            expect(errors).not_to_contain_text("锁定")
        else:
            expect(errors).to_contain_text("锁定")

    login(page, live_server.url, "resident", demo.DEMO_PASSWORD)
    expect(page).to_have_url(LOGIN_URL)
    expect(errors).to_contain_text("锁定")
    expect(page.locator(".topbar-user")).to_have_count(0)


# Draws two different characters in the h1's own font; missing glyphs would all be the same blank box.
GLYPHS_JS = """(h1) => {
  const font = getComputedStyle(h1).fontWeight + " 48px " + getComputedStyle(h1).fontFamily;
  const draw = (ch) => {
    const canvas = document.createElement("canvas");
    canvas.width = 64; canvas.height = 64;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, 64, 64);
    ctx.fillStyle = "#000"; ctx.font = font; ctx.textBaseline = "top";
    ctx.fillText(ch, 8, 8);
    const data = ctx.getImageData(0, 0, 64, 64).data;
    let inked = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] < 128) inked++;
    return {inked, url: canvas.toDataURL()};
  };
  const a = draw("登"), b = draw("录");
  return {inkedA: a.inked, inkedB: b.inked, same: a.url === b.url, text: h1.textContent.trim()};
}"""


def test_login_page_renders_chinese_glyphs(page, live_server):
    page.goto(live_server.url + "/login/")
    h1 = page.locator("h1")
    expect(h1).to_have_text("登录")
    assert h1.screenshot()  # the heading is laid out and paints
    result = h1.evaluate(GLYPHS_JS)
    assert result["inkedA"] > 20 and result["inkedB"] > 20, result
    assert not result["same"], "登 and 录 render identically: no CJK font (apt-get install fonts-noto-cjk)"
