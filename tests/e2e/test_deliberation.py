"""协商议事与表决 in a real browser: a resident's support puts a proposal on the agenda from a phone;
the community accepts it into a residents' meeting and opens a vote; three residents vote on their
phones and keep a receipt; a paper ballot is entered by one staff member and confirmed by another;
the closed vote shows its exact fractions to staff and residents; the receipt checks out; and
`votes verify` passes until a ballot row is altered behind the platform's back."""

import datetime as dt
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from playwright.sync_api import expect

from gongzhi.core import geo
from gongzhi.deliberation.models import Ballot, Matter, PaperEntry, ProposalKind, Vote
from gongzhi.deliberation.services import proposals
from tests.deliberation.conftest import build_community
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.pages import login, logout, nav_to

PASSWORD = "correct horse 9"  # tests.factories.user_with's default
TITLE = "增设电动自行车充电棚"
VOTE_TITLE = "是否同意增设电动自行车充电棚"
QUESTION = "同意在1栋北侧增设电动自行车充电棚，费用由社区公益金列支"
PHONE = {"width": 390, "height": 844}
RECEIPT = re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$")


@pytest.fixture
def community(transactional_db, settings, tmp_path):
    """build_community (a compound, adults, a child, staff of community A) where the live server sees it."""
    settings.MEDIA_ROOT = tmp_path / "media"
    geo.invalidate()  # region ids differ from a previous test's tree
    return build_community()


@pytest.fixture
def phone(browser, request):
    """Opens a fresh phone (its own context: its own session) per call; all are closed afterwards."""
    contexts = []

    def open_phone():
        context = browser.new_context(
            viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        contexts.append(context)
        return context.new_page()

    yield open_phone
    report = getattr(request.node, "rep_call", None)
    for n, context in enumerate(contexts):
        if report is not None and report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for page in context.pages:
                try:
                    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-phone{n}.png"), full_page=True)
                except Exception as exc:  # a screenshot must never hide the real failure
                    print(f"could not save a phone screenshot for {request.node.nodeid}: {exc}")
        context.close()


# ---------------------------------------------------------------- steps on the pages


def as_user(page, base_url, user):
    if page.locator(".topbar-user").count():
        logout(page)
    login(page, base_url, user.username, PASSWORD)
    expect(page.locator(".topbar-user")).to_be_visible()


def message(page):
    return page.locator(".messages")


def click_through(page, locator):
    with page.expect_navigation():
        locator.click()


def open_hall(page):
    """议事厅 from the main menu."""
    nav_to(page, "议事厅")
    expect(page.locator("h1")).to_have_text("议事厅")
    expect(page.get_by_test_id("deliberation-home")).to_be_visible()


def vote_on_phone(page, base_url, user, vote_pk):
    """A resident opens the vote from 议事厅 on their phone, chooses 同意 and gets a receipt code."""
    if not page.locator(".topbar-user").count():
        as_user(page, base_url, user)
    open_hall(page)
    link = page.get_by_test_id(f"vote-{vote_pk}")
    expect(link).to_contain_text(VOTE_TITLE)
    expect(link).to_contain_text("待投票")
    click_through(page, link)
    expect(page.locator("h1")).to_have_text(VOTE_TITLE)
    expect(page.get_by_test_id("what-counts")).to_contain_text("经参加人员过半数同意")
    question = page.get_by_test_id("ballot").locator("fieldset.ballot-question")
    expect(question.locator("legend")).to_have_text(f"1. {QUESTION}")
    expect(question.locator("label.ballot-option")).to_have_text(["同意", "不同意", "弃权"])
    page.get_by_test_id("option-同意").click()
    expect(page.get_by_role("radio", name="同意", exact=True)).to_be_checked()
    click_through(page, page.locator("#cast"))
    expect(message(page)).to_contain_text("投票成功！")
    code = page.locator("#receipt-code")
    expect(code).to_have_text(RECEIPT)
    expect(page.get_by_test_id("voted")).to_contain_text("网上投票")
    expect(page.get_by_test_id("ballot")).to_have_count(0)  # one ballot each: no second form
    return code.inner_text().strip()


def threshold_rows(page):
    return page.get_by_test_id("vote-result").get_by_test_id("threshold")


def expect_result(page):
    """The sealed result: 4 of 5 adults took part (> 1/2), 3 of 4 agreed (> 1/2): passed."""
    result = page.get_by_test_id("vote-result")
    expect(result).to_have_count(1)
    expect(result.locator("dl.kv dd").nth(0)).to_have_text("5 人")
    expect(result.locator("dl.kv dd").nth(1)).to_have_text("4 人")
    question = result.get_by_test_id("result-question")
    expect(question.locator("h4")).to_contain_text(QUESTION)
    expect(question.get_by_test_id("result-passed")).to_have_text("通过")
    expect(question.get_by_test_id("result-failed")).to_have_count(0)
    tally = question.locator("table.data").first.locator("tbody tr")
    expect(tally).to_have_text(
        [re.compile(r"^同意\s*3$"), re.compile(r"^不同意\s*1$"), re.compile(r"^弃权\s*0$")]
    )
    expect(question.locator("tfoot")).to_contain_text("4")
    rows = threshold_rows(page)
    expect(rows).to_have_count(2)
    expect(rows.get_by_test_id("fraction")).to_have_text(["4/5", "3/4"])
    expect(rows.nth(0)).to_contain_text("到会人员占应到人数")
    expect(rows.nth(0).locator("td").nth(1)).to_have_text("4 / 5")
    expect(rows.nth(0).locator("td").nth(3)).to_have_text("> 1/2")
    expect(rows.nth(0).locator("td").nth(4)).to_have_text("达到")
    expect(rows.nth(1)).to_contain_text("同意人数占到会人数")
    expect(rows.nth(1).locator("td").nth(1)).to_have_text("3 / 4")
    expect(rows.nth(1).locator("td").nth(3)).to_have_text("> 1/2")
    expect(rows.nth(1).locator("td").nth(4)).to_have_text("达到")


# ---------------------------------------------------------------- the journey


def test_proposal_to_agenda_vote_on_phones_paper_ballot_result_receipt_and_verify(
    page, phone, live_server, community
):
    url = live_server.url
    town = community
    zhang, wang, li = town.users["zhang"], town.users["wang"], town.users["li"]

    # Set-up: three supports put a proposal of community A on the agenda; its author and 王芳 support it.
    proposals.set_agenda_threshold(town.clerk, town.tree.community_a, 3)
    proposal = proposals.raise_proposal(
        zhang, kind=ProposalKind.PROPOSAL, title=TITLE, body="1栋楼道里停满电动车，充电有火灾隐患"
    )
    proposals.support(zhang, proposal)
    proposals.support(wang, proposal)

    # 李明 opens 议事厅 on his phone and adds the third support: the proposal is on the agenda.
    li_phone = phone()
    as_user(li_phone, url, li)
    open_hall(li_phone)
    item = li_phone.get_by_test_id(f"proposal-{proposal.pk}")
    expect(item).to_contain_text(TITLE)
    expect(item).to_contain_text("附议 2/3")
    click_through(li_phone, item)
    expect(li_phone.locator("h1")).to_have_text(TITLE)
    expect(li_phone.get_by_test_id("support-count")).to_have_text("2/3")
    expect(li_phone.get_by_test_id("on-agenda")).to_have_count(0)
    click_through(li_phone, li_phone.locator("#support"))
    expect(message(li_phone)).to_contain_text("这条提议已列入议程")
    expect(li_phone.get_by_test_id("support-count")).to_have_text("3/3")
    expect(li_phone.get_by_test_id("on-agenda")).to_be_visible()
    expect(li_phone.get_by_test_id("supported")).to_be_visible()
    expect(li_phone.get_by_test_id("proposal-status")).to_have_text("已列入议程")
    expect(li_phone.locator("#support")).to_have_count(0)

    # The clerk finds it in the queue and accepts it into a new residents' meeting matter.
    as_user(page, url, town.clerk)
    nav_to(page, "协商议事")
    queue = page.locator("#proposal-queue").get_by_test_id("queue-row").filter(has_text=TITLE)
    expect(queue).to_contain_text("已列入议程")
    expect(queue).to_contain_text("3/3")
    click_through(page, queue.get_by_role("link", name=TITLE))
    expect(page.get_by_test_id("proposal-status")).to_have_text("已列入议程")
    expect(page.get_by_test_id("support-count")).to_have_text("3")
    form = page.locator("#answer-form")
    form.get_by_label("采纳，转为议题").check()
    form.get_by_label("答复内容").fill("采纳。提交居民会议表决。")
    expect(form.get_by_label("转入已有议题")).to_have_value("")
    form.get_by_label("新议题的议事程序").select_option(label="居民会议")
    click_through(page, form.locator("#submit-answer"))
    expect(message(page)).to_contain_text("已答复")
    expect(page.locator("h1")).to_have_text(TITLE)
    expect(page.locator(".page-head")).to_contain_text("居民会议")
    expect(page.get_by_test_id("matter-status")).to_have_text("进行中")
    matter = Matter.objects.get(title=TITLE)
    expect(page).to_have_url(f"{url}/deliberation/matters/{matter.pk}/")
    steps = page.get_by_test_id("step")
    expect(steps).to_have_count(3)
    expect(steps.nth(0)).to_have_attribute("data-state", "next")

    # 召集: the first step is recorded; the vote is the next step.
    form = page.locator("#step-form")
    expect(form).to_have_attribute("data-step", "convene")
    expect(form.get_by_label("日期")).to_have_value(timezone.localdate().isoformat())
    form.get_by_label("地点").fill("马宗岭社区议事厅")
    form.get_by_label("会议记录/公开内容").fill("张贴通知，定于本周六召开居民会议表决充电棚事宜")
    click_through(page, form.locator("#record-step"))
    expect(message(page)).to_contain_text("已记录“召集会议并通知居民”")
    expect(page.locator("#step-convene")).to_have_attribute("data-state", "done")
    expect(page.locator("#step-decide")).to_have_attribute("data-state", "next")

    # A yes/no vote under the residents' meeting rule, closing in three days.
    click_through(page, page.locator("#new-vote"))
    expect(page.locator("h1")).to_have_text("发起表决")
    form = page.locator("#vote-form")
    deadline = timezone.localtime(timezone.now() + dt.timedelta(days=3)).replace(second=0, microsecond=0)
    form.get_by_label("表决事项").fill(VOTE_TITLE)
    form.get_by_label("表决规则").select_option(label="居民会议")
    expect(form.get_by_label("截止时间")).to_have_attribute("type", "datetime-local")
    form.get_by_label("截止时间").fill(deadline.strftime("%Y-%m-%dT%H:%M"))
    expect(form.get_by_label("无记名投票")).not_to_be_checked()
    expect(form.get_by_label("允许网上投票")).to_be_checked()
    first = form.get_by_test_id("question-1")
    first.get_by_label("第1项表决内容").fill(QUESTION)
    expect(first.get_by_label("类型")).to_have_value("yes_no")
    click_through(page, form.locator("#create-vote"))
    expect(message(page)).to_contain_text("表决已建立")
    expect(page.get_by_test_id("vote-status")).to_have_text("准备中")
    vote = Vote.objects.get(matter=matter)
    assert vote.closes_at == deadline
    click_through(page, page.locator("#open-vote"))
    expect(message(page)).to_contain_text("表决已开始")
    expect(page.get_by_test_id("vote-status")).to_have_attribute("data-status", "open")
    expect(page.get_by_test_id("turnout").locator("dd").first).to_have_text("5 人")
    expect(page.get_by_test_id("voted")).to_have_text("0 人")

    # 张三, 王芳 and 李明 vote 同意 on their phones, each getting a receipt code.
    zhang_phone = phone()
    zhang_code = vote_on_phone(zhang_phone, url, zhang, vote.pk)
    expect(zhang_phone.get_by_test_id("deadline")).to_have_text(deadline.strftime("%Y-%m-%d %H:%M"))
    wang_code = vote_on_phone(phone(), url, wang, vote.pk)
    li_code = vote_on_phone(li_phone, url, li, vote.pk)
    assert len({zhang_code, wang_code, li_code}) == 3

    # The clerk enters 赵六's paper ballot (不同意); it waits for a second person.
    page.reload()
    expect(page.get_by_test_id("voted")).to_have_text("3 人")
    click_through(page, page.locator("#paper-link"))
    expect(page.locator("h1")).to_have_text("纸质选票录入")
    form = page.locator("#paper-entry-form")
    form.get_by_label("选民/业主").select_option(label="赵六")
    form.get_by_label("不同意", exact=True).check()
    click_through(page, form.locator("#enter-ballot"))
    expect(message(page)).to_contain_text("已录入赵六的选票，请另一位工作人员确认")
    entry = PaperEntry.objects.get(vote=vote)
    pending = page.get_by_test_id("pending-entry")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("赵六")
    expect(pending).to_contain_text("等待另一位工作人员确认")
    expect(page.locator(f"#confirm-{entry.pk}")).to_have_count(0)  # not by the one who entered it

    # The checker types it again from the paper, without seeing the first entry, and confirms.
    as_user(page, url, town.checker)
    nav_to(page, "协商议事")
    click_through(page, page.get_by_test_id("matter-row").get_by_role("link", name=TITLE))
    click_through(page, page.get_by_test_id("vote-row").get_by_role("link", name=VOTE_TITLE))
    click_through(page, page.locator("#paper-link"))
    click_through(page, page.locator(f"#confirm-{entry.pk}"))
    form = page.locator("#paper-confirm-form")
    expect(page.locator("#confirm h2")).to_have_text("确认 赵六 的选票")
    expect(form.get_by_role("radio", checked=True)).to_have_count(0)
    form.get_by_label("不同意", exact=True).check()
    click_through(page, form.locator("#confirm-entry"))
    expect(message(page)).to_contain_text("两次录入一致，赵六的选票已计入")
    expect(page.get_by_test_id("pending-entry")).to_have_count(0)

    # The clerk closes the vote: the result shows exact fractions, and the decision passed.
    as_user(page, url, town.clerk)
    page.goto(f"{url}/deliberation/votes/{vote.pk}/")
    expect(page.get_by_test_id("voted")).to_have_text("4 人")
    participations = page.locator("#participations tbody tr")
    expect(participations).to_have_count(4)
    expect(participations.last).to_contain_text("赵六")
    expect(participations.last).to_contain_text("纸质选票")
    click_through(page, page.locator("#close-vote"))
    expect(message(page)).to_contain_text("表决已结束，结果已计算并封存")
    expect(page.get_by_test_id("vote-status")).to_have_attribute("data-status", "closed")
    expect_result(page)
    # The participations table says who voted and how, never what.
    expect(page.locator("#participations")).not_to_contain_text("不同意")

    # 张三 sees the same result on his phone, on the vote and on the matter.
    zhang_phone.reload()
    expect(zhang_phone.locator("#receipt-code")).to_have_count(0)  # shown once only
    expect(zhang_phone.get_by_test_id("ballot")).to_have_count(0)
    expect_result(zhang_phone)
    open_hall(zhang_phone)
    expect(zhang_phone.get_by_test_id(f"result-{vote.pk}")).to_contain_text("通过")

    # Anyone holding 张三's code can check his ballot was counted as cast.
    receipt = phone()
    receipt.goto(f"{url}/deliberation/receipt/")
    receipt.get_by_label("表决编号").fill(str(vote.pk))
    receipt.get_by_label("回执码").fill(zhang_code.lower())
    click_through(receipt, receipt.locator("#check-receipt"))
    found = receipt.get_by_test_id("receipt-result")
    expect(found).to_contain_text(VOTE_TITLE)
    ballot = found.get_by_test_id("receipt-ballot")
    expect(ballot).to_have_count(1)
    expect(ballot).to_contain_text(QUESTION)
    expect(ballot.get_by_test_id("receipt-choice")).to_have_text("同意")
    expect(ballot).to_contain_text("已计入")

    # `votes verify` recomputes the chain and the tally: intact, until a ballot row is altered.
    out = io.StringIO()
    call_command("votes", "verify", str(matter.pk), stdout=out)
    assert "完好" in out.getvalue()
    assert "1 次表决全部核验通过" in out.getvalue()
    no = vote.questions.get().options.get(code="no")
    assert Ballot.objects.filter(vote=vote).count() == 4
    assert Ballot.objects.filter(vote=vote, seq=2).update(choices=[no.pk]) == 1
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="1 次表决未通过核验"):
        call_command("votes", "verify", str(matter.pk), stdout=out, stderr=err)
    assert "序号 2" in err.getvalue()
    assert "完好" not in out.getvalue()
