"""`gongzhi votes verify MATTER` and `gongzhi votes verify --vote ID`."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gongzhi.core import clock
from gongzhi.deliberation import chain
from gongzhi.deliberation.management.commands.votes import Command
from gongzhi.deliberation.models import Ballot, Elector, Process, Result, VoteRule
from gongzhi.deliberation.services import matters, votes
from tests.deliberation.conftest import cast, new_vote, owners_vote, paper_ballot

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("votes", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(*args):
    err = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("votes", *args, stdout=io.StringIO(), stderr=err)
    return err.getvalue(), str(raised.value)


@pytest.fixture
def matter(town):
    """An owners' matter with two closed votes: three ballots on the first, one on the second."""
    with clock.frozen("2026-11-02T09:00+08:00") as travel:
        fund = owners_vote(town)
        plan = votes.open_vote(
            town.clerk, new_vote(town, fund.matter, VoteRule.OWNERS, title="电梯设计方案", days=15)
        )
        cast(fund, town.users["zhang"], "yes")
        cast(fund, town.users["li"], "yes")
        paper_ballot(town, fund, "赵六", "no")
        cast(plan, town.users["zhao"], "no")
        travel.advance(days=16)
        for vote in (fund, plan):
            votes.close_vote(town.clerk, vote)
    return fund.matter


def fund_of(matter):
    return matter.votes.get(title="筹集维修资金")


def test_an_intact_matter_passes(matter):
    out, err = run("verify", str(matter.pk))
    fund = fund_of(matter)
    assert f"表决“筹集维修资金”（编号 {fund.pk}）：核对选票 3 张，完好" in out
    assert "表决“电梯设计方案”" in out and "核对选票 1 张，完好" in out
    assert "2 次表决全部核验通过" in out and not err


def test_one_vote_can_be_checked_alone(matter):
    fund = fund_of(matter)
    out, _err = run("verify", "--vote", str(fund.pk))
    assert "筹集维修资金" in out and "电梯设计方案" not in out
    assert "1 次表决全部核验通过" in out


def test_an_altered_ballot_fails_naming_its_seq(matter):
    fund = fund_of(matter)
    no = fund.questions.get().options.get(code="no").pk
    Ballot.objects.filter(vote=fund, seq=2).update(choices=[no])
    err, message = fails("verify", str(matter.pk))
    assert "表决“筹集维修资金”" in err and "选票内容与其哈希不符" in err
    assert "第一张出问题的选票序号 2" in err
    assert "电梯设计方案" not in err  # the other vote is intact
    assert "1 次表决未通过核验（共 2 次）" in message


def test_a_deleted_last_ballot_fails(matter):
    fund = fund_of(matter)
    Ballot.objects.filter(vote=fund, seq=3).delete()
    err, message = fails("verify", "--vote", str(fund.pk))
    assert "核对选票 2 张" in err and "最后的选票缺失" in err
    assert "1 次表决未通过核验" in message


def test_an_edited_result_fails(matter):
    fund = fund_of(matter)
    result = Result.objects.get(vote=fund)
    questions = result.questions
    questions[0]["passed"] = True
    Result.objects.filter(pk=result.pk).update(questions=questions)
    err, _message = fails("verify", str(matter.pk))
    assert "结果记录与其哈希封存不符" in err


def test_a_result_resealed_after_editing_fails_on_the_recount(matter):
    # Someone who also recomputes the seal is still caught: the ballots count differently.
    fund = fund_of(matter)
    result = Result.objects.get(vote=fund)
    result.questions[0]["options"][0]["count"] = 3
    result.hash = chain.result_hash(result)
    result.save()
    err, _message = fails("verify", "--vote", str(fund.pk))
    assert "重新计票的结果与公布的结果不同" in err


def test_an_edited_electorate_fails(matter):
    fund = fund_of(matter)
    Elector.objects.filter(vote=fund, name="赵六").update(area="600.00")
    err, message = fails("verify", str(matter.pk))
    assert "表决“筹集维修资金”" in err and "表决名单与开始投票时封存的不一致" in err
    assert "1 次表决未通过核验（共 2 次）" in message


def test_unknown_matter_or_vote_is_a_clear_error(db):
    _err, message = fails("verify", "999999")
    assert message == "议题 999999 不存在"
    _err, message = fails("verify", "--vote", "999999")
    assert message == "表决 999999 不存在"
    _err, message = fails("verify")
    assert "议题编号" in message


def test_a_matter_without_votes_has_nothing_to_verify(town):
    with clock.frozen("2026-11-02T09:00+08:00"):
        matter = matters.create_matter(
            town.clerk, region=town.tree.community_a, title="加装路灯", process=Process.RESIDENTS_MEETING
        )
    out, _err = run("verify", str(matter.pk))
    assert "没有表决" in out


def test_help_describes_the_command():
    text = Command().create_parser("gongzhi", "votes").format_help()
    assert "重新计算选票哈希链和计票结果" in text and "verify" in text
