"""Who hears about what: authors about their proposals, organisers about the agenda, electors about votes."""

import pytest
from django.urls import reverse

from gongzhi.core import clock
from gongzhi.core.models import Notification
from gongzhi.deliberation.models import ProposalKind, ProposalStatus
from gongzhi.deliberation.services import proposals, votes
from tests.deliberation.conftest import matter_at, owners_vote

pytestmark = pytest.mark.django_db
NOW = "2026-11-02T09:00+08:00"


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).order_by("pk").values_list("kind", flat=True))


def test_the_author_and_the_organisers_hear_when_a_proposal_reaches_the_agenda_and_is_answered(town):
    with clock.frozen(NOW):
        proposals.set_agenda_threshold(town.clerk, town.tree.community_a, 2)
        proposal = proposals.raise_proposal(
            town.users["zhang"], kind=ProposalKind.PROPOSAL, title="增设充电棚", body="楼下乱拉电线"
        )
        proposals.support(town.users["wang"], proposal)
        assert kinds(town.users["zhang"]) == [] and kinds(town.clerk) == []
        proposals.support(town.users["li"], proposal)
        assert kinds(town.users["zhang"]) == ["proposal_agenda"]
        assert kinds(town.clerk) == kinds(town.checker) == ["proposal_agenda"]
        assert kinds(town.outsider_staff) == []  # the neighbouring community's staff are not organisers
        matter = matter_at(town, "residents", upto=())
        proposals.answer(town.clerk, proposal, decision=ProposalStatus.ACCEPTED, text="采纳", matter=matter)
    told = Notification.objects.filter(recipient=town.users["zhang"]).order_by("pk").last()
    assert told.kind == "proposal_answered" and "已采纳" in told.title
    assert told.url == reverse("deliberation:resident_proposal", args=[proposal.pk])


def test_electors_with_a_login_hear_when_a_vote_opens_and_when_its_result_is_out(town):
    with clock.frozen(NOW) as travel:
        vote = owners_vote(town)
        # owners with logins: 张三, 王芳 and 李明 (one group, both told), 赵六; 孙七 owns nothing
        told = {u for u in town.users.values() if kinds(u) == ["vote_opened"]}
        assert told == {town.users[name] for name in ("zhang", "wang", "li", "zhao")}
        assert "11月17日" in Notification.objects.filter(kind="vote_opened").first().title
        travel.advance(days=16)
        votes.close_vote(town.clerk, vote)
    assert kinds(town.users["zhao"]) == ["vote_opened", "vote_closed"]
    assert kinds(town.users["sun"]) == []
