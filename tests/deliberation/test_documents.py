"""The printable ballot paper and result notice of a vote, read back from the PDF."""

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from gongzhi.core import clock
from gongzhi.core.errors import DomainError
from gongzhi.deliberation import documents
from gongzhi.deliberation.models import VoteRule
from gongzhi.deliberation.services import votes
from tests.deliberation.conftest import cast, owners_vote, paper_ballot, residents_vote

pytestmark = pytest.mark.django_db
VOTER_LINES = {"业主姓名", "房号", "签名", "日期"}  # table cells come out one per line
RESIDENT_LINES = {"姓名", "房号", "签名", "日期"}
DEADLINE = dt.datetime.fromisoformat("2026-11-30T18:00+08:00")


def text_of(content: bytes) -> str:
    assert content.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def draft_owners_vote(town, **options):
    """The owners' vote in preparation, with the deadline its ballot paper prints."""
    return owners_vote(town, open_=False, closes_at=DEADLINE, **options)


def closed_owners_vote(town):
    """Zhang and Li agree, Zhao (on paper) does not: 300 of 360 m² but only 2 of 3 owners."""
    with clock.frozen("2026-11-02T09:00+08:00") as travel:
        vote = votes.open_vote(town.clerk, draft_owners_vote(town))
        cast(vote, town.users["zhang"], "yes")
        cast(vote, town.users["li"], "yes")
        paper_ballot(town, vote, "赵六", "no")
        travel.advance(days=30)
        votes.close_vote(town.clerk, vote)
        vote.refresh_from_db()
    return vote


def test_ballot_paper_names_the_vote_its_rule_deadline_and_voter_lines(town):
    text = text_of(documents.ballot_paper(draft_owners_vote(town)))
    for expected in (
        "表决票",
        "增设电梯——筹集维修资金",
        "马宗岭社区",
        "阳光小区",
        "第二百七十八条",
        "四分之三以上",
        "2026年11月30日 18:00",
        "是否同意筹集维修资金",
        "同意",
        "不同意",
        "弃权",
        "受托人",
        "授权委托书",
    ):
        assert expected in text, expected
    assert VOTER_LINES <= set(text.splitlines())
    assert "无记名投票" not in text


def test_a_secret_ballot_has_no_name_line_and_says_so(town):
    questions = [
        {"text": "选聘物业服务企业", "kind": "single", "options": ["甲物业", "乙物业"]},
        {
            "text": "增设的便民设施",
            "kind": "multiple",
            "max_choices": 2,
            "options": ["快递柜", "充电桩", "座椅"],
        },
    ]
    named = text_of(documents.ballot_paper(residents_vote(town, questions=questions, open_=False)))
    assert RESIDENT_LINES <= set(named.splitlines())  # the same vote by name has them
    vote = residents_vote(town, secret=True, questions=questions, open_=False)
    text = text_of(documents.ballot_paper(vote))
    assert "无记名投票" in text
    assert "最多选 2 项" in text and "单选" in text
    assert all(label in text for label in ("甲物业", "乙物业", "快递柜", "充电桩", "座椅"))
    assert "过半数" in text and "四分之三" not in text
    assert not RESIDENT_LINES & set(text.splitlines())
    assert "委托投票" in text and "授权委托书" in text


def test_ballot_paper_prints_names_literally(town):
    vote = draft_owners_vote(town)
    vote.title = "A&B <维修>"
    vote.save(update_fields=["title"])
    assert "A&B <维修>" in text_of(documents.ballot_paper(vote))


def test_result_notice_shows_every_threshold_exactly_and_the_hashes(town):
    vote = closed_owners_vote(town)
    result = vote.result
    with clock.frozen("2026-12-03T10:00+08:00"):
        text = text_of(documents.result_notice(vote))
    compact = text.replace(" ", "")
    for expected in (
        "表决结果公告",
        "增设电梯——筹集维修资金",
        "是否同意筹集维修资金",
        "500.00㎡",  # electorate area: 180 + 120 + 60 + 140
        "360.00㎡",
        "18/25",  # turnout by area
        "3/4",  # turnout by owners, and the requirement of the special rule
        "5/6",  # yes by area
        "2/3",  # yes by owners
        "≥2/3",
        "≥3/4",
        "表决结果：未通过",
        "2026年12月3日",
    ):
        assert expected in compact, expected
    assert result.hash in text and result.chain_head in text
    # Turnout by area and owners met, yes by area met, yes by owners (2/3 < 3/4) not.
    verdicts = [line for line in text.splitlines() if line in ("达到", "未达到")]
    assert verdicts == ["达到", "达到", "达到", "未达到"]


def test_result_notice_of_an_open_vote_is_refused(town):
    with clock.frozen("2026-11-02T09:00+08:00"):
        vote = owners_vote(town)
        with pytest.raises(DomainError) as raised:
            documents.result_notice(vote)
    assert raised.value.code == "vote.not_closed"


def closed_residents_vote(town, rule, question, picks):
    """A residents' meeting vote on one question; `picks`: {login: [option labels]}, cast online."""
    with clock.frozen("2026-11-02T09:00+08:00") as travel:
        vote = residents_vote(town, rule=rule, questions=[question], days=7)
        options = {o.label: o.pk for o in vote.questions.get().options.all()}
        question_id = vote.questions.get().pk
        for login, labels in picks.items():
            votes.cast_online(town.users[login], vote, {question_id: [options[label] for label in labels]})
        travel.advance(days=8)
        votes.close_vote(town.clerk, vote)
        vote.refresh_from_db()
    return vote


def test_result_notice_holds_each_option_to_the_majority(town):
    vote = closed_residents_vote(
        town,
        VoteRule.RESIDENTS,
        {"text": "活动室开放时间", "kind": "single", "options": ["全天", "仅白天"]},
        {"zhang": ["全天"], "wang": ["全天"], "li": ["仅白天"]},
    )
    text = text_of(documents.result_notice(vote))
    assert "㎡" not in text  # a residents' meeting counts people, not area
    compact = text.replace(" ", "")
    # Five adults may vote, three took part; each option needs more than half of those present.
    assert "3/5（3/5）" in compact and "2/3（2/3）" in compact and "1/3（1/3）" in compact
    assert "全天：同意人数占到会人数" in compact and ">1/2" in compact
    assert "表决结果：通过；通过的选项：全天" in compact


def test_result_notice_names_the_elected(town):
    vote = closed_residents_vote(
        town,
        VoteRule.ELECTION,
        {"text": "选举居民小组长", "kind": "election", "max_choices": 2, "options": ["陈一", "林二", "吴三"]},
        {"zhang": ["陈一", "林二"], "wang": ["陈一"], "li": ["陈一", "吴三"]},
    )
    compact = text_of(documents.result_notice(vote)).replace(" ", "")
    assert "候选人" in compact and "最多选" not in compact
    assert "表决结果：通过；当选：陈一" in compact
