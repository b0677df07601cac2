"""The whole path of an owners' vote through the services, start to verified result."""

import pytest

from gongzhi.core import clock
from gongzhi.core.errors import Conflict, PermissionDenied
from gongzhi.deliberation.models import Ballot, Elector
from gongzhi.deliberation.services import votes
from tests.deliberation.conftest import owners_vote

pytestmark = pytest.mark.django_db


def test_owners_special_vote_end_to_end(town):
    with clock.frozen("2026-11-02T09:00+08:00") as travel:
        vote = owners_vote(town)
        electors = list(Elector.objects.filter(vote=vote).order_by("pk"))
        assert [e.name for e in electors] == [
            "张三",
            "王芳、李明",
            "赵六",
            "建设单位（未售出或未交付的房屋）",
        ]
        assert [str(e.area) for e in electors] == ["180.00", "120.00", "60.00", "140.00"]
        question = vote.questions.get()
        yes = question.options.get(code="yes").pk
        no = question.options.get(code="no").pk
        receipt = votes.cast_online(town.users["zhang"], vote, {question.pk: [yes]})
        votes.cast_online(town.users["li"], vote, {question.pk: [yes]})
        with pytest.raises(Conflict):
            votes.cast_online(town.users["wang"], vote, {question.pk: [no]})  # her co-owner voted already
        with pytest.raises(PermissionDenied):
            votes.cast_online(town.users["sun"], vote, {question.pk: [yes]})
        zhao = Elector.objects.get(vote=vote, name="赵六")
        entry = votes.enter_paper_ballot(town.clerk, vote, elector=zhao, choices={question.pk: [no]})
        with pytest.raises(PermissionDenied):
            votes.confirm_paper_ballot(town.clerk, entry, choices={question.pk: [no]})
        with pytest.raises(Conflict):
            votes.confirm_paper_ballot(town.checker, entry, choices={question.pk: [yes]})
        votes.confirm_paper_ballot(town.checker, entry, choices={question.pk: [no]})
        travel.advance(days=16)
        result = votes.close_vote(town.clerk, vote)
    assert result.participants == 3 and str(result.participant_area) == "360.00"
    outcome = result.questions[0]
    assert outcome["valid"] is True
    # yes: 300 of 360 m² (≥ 3/4) but 2 of 3 owners (< 3/4): fails on headcount
    assert outcome["passed"] is False
    assert [t["fraction"] for t in outcome["thresholds"]] == ["18/25", "3/4", "5/6", "2/3"]
    assert votes.verify(vote).ok
    assert votes.receipt_ballots(vote, receipt)[0]["choices"] == ["同意"]
    Ballot.objects.filter(vote=vote, seq=2).update(choices=[no])
    check = votes.verify(vote)
    assert not check.ok and check.seq == 2
