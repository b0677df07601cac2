"""A community worker loads their spreadsheet, reads what is wrong, fixes it, loads it again and finds
the people they added — the whole 台账 journey in a real browser."""

import csv

import pytest
from playwright.sync_api import expect

from gongzhi.core import demo
from gongzhi.core.validators import citizen_id_check_char
from tests.e2e.pages import login

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
HEADER = ["姓名", "公民身份号码", "出生日期", "联系电话", "现住址", "所属网格"]
GRID = "510903014006001"  # 马宗岭社区 第1网格


def citizen_id(first17: str) -> str:
    return first17 + citizen_id_check_char(first17)


NEW_1 = citizen_id("51090319570315991")  # synthetic, sequence 991: not in the demo
NEW_2 = citizen_id("51090319620704992")
BAD_CHECK = NEW_2[:-1] + ("0" if NEW_2[-1] != "0" else "1")


def write(path, rows):
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        csv.writer(f).writerows([HEADER, *rows])
    return path


@pytest.fixture
def immediate_tasks(settings):
    # The live server has no worker process beside it: run the import task when it is queued.
    settings.TASKS = IMMEDIATE


def upload(page, base_url, path):
    page.goto(base_url + "/people/import/")
    page.get_by_label("台账类型").select_option("residents")
    scope = page.get_by_label("导入范围")
    scope.select_option(scope.locator("option", has_text="马宗岭社区").first.get_attribute("value"))
    page.get_by_label("台账文件").set_input_files(str(path))
    with page.expect_navigation():
        page.get_by_role("button", name="开始导入").click()


def test_fix_the_reported_rows_then_import_and_find(page, live_server, demo_data, immediate_tasks, tmp_path):
    login(page, live_server.url, "community", demo.DEMO_PASSWORD)

    bad = write(
        tmp_path / "马宗岭台账.csv",
        [
            ["钱多多", NEW_1, "", "13912340001", "马宗岭路18号", GRID],
            ["孙错号", BAD_CHECK, "", "", "马宗岭路18号", GRID],
            ["李无日", "", "1990-02-30", "", "马宗岭路18号", GRID],
            ["赵走错", NEW_2, "", "", "马宗岭路18号", "第9网格"],
            ["钱重复", NEW_1, "", "", "马宗岭路18号", GRID],
        ],
    )
    upload(page, live_server.url, bad)

    expect(page.locator("h1")).to_contain_text("马宗岭台账.csv")
    expect(page.get_by_text("有错误，未导入").first).to_be_visible()
    errors = page.locator("table.data tbody tr")
    expect(errors).to_have_count(4)
    expected = [
        ("3", "公民身份号码", f"身份证号码校验位错误，应为 {NEW_2[-1]}"),
        ("4", "出生日期", "日期“1990-02-30”不存在"),
        ("5", "所属网格", "找不到网格“第9网格”"),
        ("6", "公民身份号码", "与第 2 行的证件号码重复"),
    ]
    for i, (row, column, message) in enumerate(expected):
        cells = errors.nth(i).locator("td")
        expect(cells.nth(0)).to_have_text(row)
        expect(cells.nth(1)).to_have_text(column)
        expect(cells.nth(2)).to_have_text(message)

    # Nothing was half-imported: the good first row is not there either.
    page.goto(live_server.url + "/people/?q=" + NEW_1)
    expect(page.get_by_text("没有找到")).to_be_visible()

    fixed = write(
        tmp_path / "马宗岭台账（改）.csv",
        [
            ["钱多多", NEW_1, "", "13912340001", "马宗岭路18号", GRID],
            ["孙错号", NEW_2, "", "", "马宗岭路18号", GRID],
            ["李无日", "", "1990-02-28", "", "马宗岭路18号", GRID],
        ],
    )
    upload(page, live_server.url, fixed)
    expect(page.get_by_text("已完成").first).to_be_visible()

    # Find them in seconds: by initials, by the last digits of the ID, by phone.
    for query, name in (("qdd", "钱多多"), (NEW_2[-6:], "孙错号"), ("13912340001", "钱多多")):
        page.goto(f"{live_server.url}/people/?q={query}")
        expect(page.locator("table.data tbody tr")).to_have_count(1)
        expect(page.locator("table.data tbody tr td").first).to_have_text(name)
