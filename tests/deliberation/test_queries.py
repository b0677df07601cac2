"""Live figures of a running vote judge the quorum as the count at closing will."""

import pytest

from gongzhi.core import clock
from gongzhi.deliberation import queries
from gongzhi.deliberation.models import Elector, Process, VoteRule
from gongzhi.deliberation.services import matters, votes
from gongzhi.people.models import Resident
from tests.deliberation.conftest import matter_at, new_vote

pytestmark = pytest.mark.django_db


def test_a_villagers_meeting_has_its_quorum_through_households_before_it_has_it_by_headcount(town):
    # 张三, 王芳 and 李明 share household H101; 赵六 and 孙七 have none on record and count on their own.
    Resident.objects.filter(pk__in=[town.wang.pk, town.li.pk]).update(household=town.zhang.household)
    with clock.frozen("2026-11-02T09:00+08:00"):
        matter = matter_at(town, Process.VILLAGERS_MEETING, upto=("convene",))
        vote = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.VILLAGERS))
        assert queries.turnout(vote).quorum.met is False
        for resident in (town.zhang, town.zhao):  # 2 of 5 villagers, 2 of 3 households
            matters.sign_in(town.clerk, vote, Elector.objects.get(vote=vote, resident=resident))
        quorum = queries.turnout(vote).quorum
    assert quorum.code == "participation_households" and quorum.met
    assert (quorum.part, quorum.whole) == (2, 3)
