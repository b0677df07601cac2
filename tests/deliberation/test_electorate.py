"""Who may vote: the electorate each rule computes from the people ledger, frozen when the vote opens,
with the reason everyone considered is or is not eligible, and staff changes with a recorded reason."""

from __future__ import annotations

import datetime as dt

import pytest

from gongzhi.core import clock
from gongzhi.core.errors import Conflict, DomainError, PermissionDenied
from gongzhi.core.models import AuditEntry
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from gongzhi.deliberation.models import Elector, Participation, Process, Vote, VoteRule, VoteStatus
from gongzhi.deliberation.services import votes
from gongzhi.people import services as people
from tests.deliberation.conftest import matter_at, new_vote, person, residents_vote, yes_no
from tests.factories import user_with

pytestmark = pytest.mark.django_db

NOW = "2027-03-01T09:00+08:00"
TODAY = dt.date(2027, 3, 1)
STEPS_BEFORE = {
    Process.RESIDENTS_MEETING: ("convene",),
    Process.VILLAGERS_MEETING: ("convene",),
    Process.REPRESENTATIVES_MEETING: ("convene",),
    Process.OWNERS_ASSEMBLY: ("announce",),
}


def opened(town, process: str, rule: str, *, step: str = "decide", compound: str = "", questions=None):
    """An open vote of a new matter of community A whose earlier steps are recorded."""
    before = ("propose", "discuss") if process == Process.FOUR_TWO else STEPS_BEFORE[process]
    matter = matter_at(town, process, upto=before, compound=compound)
    return votes.open_vote(town.clerk, new_vote(town, matter, rule, step=step, questions=questions))


def by_name(vote) -> dict[str, Elector]:
    return {e.name: e for e in Elector.objects.filter(vote=vote).order_by("pk")}


def members(elector: Elector) -> set[int]:
    return set(elector.members.values_list("pk", flat=True))


# ---------------------------------------------------------------- what each rule considers


def test_residents_meeting_adults_vote_the_child_does_not_and_the_neighbour_is_not_considered(town):
    with clock.frozen(NOW):
        vote = opened(town, Process.RESIDENTS_MEETING, VoteRule.RESIDENTS)
    found = by_name(vote)
    assert set(found) == {"张三", "王芳", "李明", "赵六", "孙七", "张小宝"}  # not 周八 of community B
    for resident in (town.zhang, town.wang, town.li, town.zhao, town.sun):
        elector = found[resident.name]
        assert elector.eligible is True
        assert elector.reason == "年满十八周岁的本社区居民"
        assert elector.resident_id == resident.pk and members(elector) == {resident.pk}
    child = found["张小宝"]
    assert child.eligible is False
    assert child.reason.startswith("未满十八周岁") and "10岁" in child.reason
    assert found["张三"].household_id == town.zhang.household_id == child.household_id
    assert list(votes.electors_of(town.users["neighbour"], vote)) == []


def test_the_eighteenth_birthday_counts_on_the_day_the_vote_opens(town):
    with clock.frozen(NOW):
        person(town.tree.grid_a1, "满十八", dt.date(2009, 3, 1))
        person(town.tree.grid_a1, "差一天", dt.date(2009, 3, 2))
        vote = opened(town, Process.RESIDENTS_MEETING, VoteRule.RESIDENTS)
    found = by_name(vote)
    assert found["满十八"].eligible is True
    assert found["差一天"].eligible is False and "17岁" in found["差一天"].reason


def test_people_who_moved_out_are_not_considered(town):
    with clock.frozen(NOW):
        people.move_out(SYSTEM, town.zhao, on_date=TODAY, destination="成都")
        vote = opened(town, Process.RESIDENTS_MEETING, VoteRule.RESIDENTS)
    assert "赵六" not in by_name(vote)


def test_villagers_meeting_floating_residents_do_not_vote(town):
    with clock.frozen(NOW):
        floating = person(town.tree.grid_a2, "钱流动", dt.date(1988, 4, 4), residence_type="floating")
        vote = opened(town, Process.VILLAGERS_MEETING, VoteRule.VILLAGERS)
    assert floating.residence_type == "floating"
    found = by_name(vote)
    assert found["钱流动"].eligible is False
    assert found["钱流动"].reason == "非本村户籍村民"
    assert members(found["钱流动"]) == {floating.pk}  # kept as considered, but …
    assert found["张三"].eligible is True and found["张三"].reason == "年满十八周岁的本村村民"
    assert found["张小宝"].eligible is False
    assert "周八" not in found
    assert list(votes.electors_of(town.users["zhang"], vote)) == [found["张三"]]


def test_a_floating_resident_with_a_login_cannot_vote_in_the_villagers_meeting(town):
    account = user_with(Role.RESIDENT, town.tree.community_a, username="qian")
    with clock.frozen(NOW):
        person(town.tree.grid_a2, "钱流动", dt.date(1988, 4, 4), residence_type="流动", account=account)
        vote = opened(town, Process.VILLAGERS_MEETING, VoteRule.VILLAGERS)
        with pytest.raises(PermissionDenied):
            votes.cast_online(account, vote, yes_no(vote))
    assert not Participation.objects.filter(vote=vote).exists()


ELECTION = [{"text": "选举村民小组长", "kind": "election", "max_choices": 1, "options": ["甲", "乙"]}]


def test_an_election_in_a_village_process_is_for_registered_villagers_only(town):
    with clock.frozen(NOW):
        floating = person(town.tree.grid_a2, "钱流动", dt.date(1988, 4, 4), residence_type="floating")
        village = opened(town, Process.VILLAGERS_MEETING, VoteRule.ELECTION, questions=ELECTION)
        residents = opened(town, Process.RESIDENTS_MEETING, VoteRule.ELECTION, questions=ELECTION)
    in_village = by_name(village)
    assert in_village["钱流动"].eligible is False and in_village["钱流动"].reason == "非本村户籍村民"
    assert in_village["张三"].eligible is True and in_village["张三"].reason == "年满十八周岁的本村村民"
    assert Elector.objects.filter(vote=village, eligible=True).count() == 5
    # A residents' meeting elects among everyone living here, registered or not.
    assert by_name(residents)["钱流动"].eligible is True
    assert by_name(residents)["钱流动"].resident_id == floating.pk


def test_party_members_meeting_lists_probationary_members_without_a_vote(town):
    with clock.frozen(NOW):
        probationary = person(town.tree.grid_a1, "吴预备", dt.date(1995, 1, 1), political_status="预备党员")
        person(town.tree.grid_b1, "郑党员", dt.date(1970, 1, 1), political_status="中共党员")  # community B
        vote = opened(town, Process.FOUR_TWO, VoteRule.PARTY_MEMBERS, step="review")
    found = by_name(vote)
    assert set(found) == {"孙七", "吴预备"}
    assert found["孙七"].eligible is True and found["孙七"].reason == "正式党员"
    assert members(found["孙七"]) == {town.sun.pk}
    assert found["吴预备"].eligible is False and found["吴预备"].reason == "预备党员没有表决权"
    assert found["吴预备"].resident_id == probationary.pk and members(found["吴预备"]) == set()


def test_owners_are_grouped_with_their_units_and_areas(town):
    with clock.frozen(NOW):
        vote = opened(town, Process.OWNERS_ASSEMBLY, VoteRule.OWNERS, compound="阳光小区")
    electors = list(Elector.objects.filter(vote=vote).order_by("pk"))
    assert [e.name for e in electors] == ["张三", "王芳、李明", "赵六", "建设单位（未售出或未交付的房屋）"]
    assert [e.units for e in electors] == ["1栋101、1栋102", "1栋201", "1栋202", "1栋底商"]
    assert [str(e.area) for e in electors] == ["180.00", "120.00", "60.00", "140.00"]
    assert all(e.eligible for e in electors)
    assert [members(e) for e in electors] == [
        {town.zhang.pk},
        {town.wang.pk, town.li.pk},
        {town.zhao.pk},
        set(),  # nobody may cast the developer's ballot online
    ]
    assert "2套房屋" in electors[0].reason
    assert list(votes.electors_of(town.users["sun"], vote)) == []  # a tenant owns nothing
    assert list(votes.electors_of(town.users["li"], vote)) == [electors[1]]


def test_owners_of_another_compound_are_not_considered(town):
    with clock.frozen(NOW):
        other = people.create_building(
            SYSTEM, town.tree.grid_a2, name="2栋", address="马宗岭路20号", compound="月亮小区", floors=3
        )
        unit = people.create_unit(SYSTEM, other, label="301", exclusive_area="90.00")
        people.add_ownership(SYSTEM, town.sun, unit)
        vote = opened(town, Process.OWNERS_ASSEMBLY, VoteRule.OWNERS, compound="阳光小区")
    assert "孙七" not in by_name(vote)


def test_representatives_meeting_starts_empty_and_staff_add_members_with_a_reason(town):
    with clock.frozen(NOW) as travel:
        vote = opened(town, Process.REPRESENTATIVES_MEETING, VoteRule.REPRESENTATIVES)
        assert not Elector.objects.filter(vote=vote).exists()
        with pytest.raises(PermissionDenied):
            votes.cast_online(town.users["wang"], vote, yes_no(vote))
        with pytest.raises(DomainError) as blank:
            votes.add_elector(town.clerk, vote, resident=town.wang, reason="  ")
        assert blank.value.code == "elector.reason_required"
        assert not Elector.objects.filter(vote=vote).exists()
        travel.advance(minutes=5)
        elector = votes.add_elector(town.clerk, vote, resident=town.wang, reason="第一村民小组选出的代表")
        with pytest.raises(Conflict):
            votes.add_elector(town.clerk, vote, resident=town.wang, reason="重复")
        with pytest.raises(DomainError) as outside:
            votes.add_elector(town.clerk, vote, resident=town.neighbour, reason="邻社区")
        assert outside.value.code == "elector.outside_region"
        with pytest.raises(PermissionDenied):
            votes.add_elector(town.outsider_staff, vote, resident=town.li, reason="代表")
        votes.cast_online(town.users["wang"], vote, yes_no(vote))
    elector.refresh_from_db()
    assert elector.eligible is True and elector.reason == "工作人员加入"
    assert elector.change_reason == "第一村民小组选出的代表"
    assert elector.changed_by == town.clerk and elector.changed_at == travel.at
    assert members(elector) == {town.wang.pk}
    assert Elector.objects.filter(vote=vote).count() == 1
    entry = AuditEntry.objects.get(action="vote.elector_add")
    assert entry.actor == town.clerk and entry.object_id == str(vote.pk)
    assert entry.after == {"elector": elector.pk, "reason": "第一村民小组选出的代表"}


def test_staff_may_add_someone_the_ledger_left_out(town):
    with clock.frozen(NOW):
        vote = opened(town, Process.RESIDENTS_MEETING, VoteRule.RESIDENTS)
        child = by_name(vote)["张小宝"]
        added = votes.add_elector(town.clerk, vote, resident=town.child, reason="经核实出生日期登记有误")
    assert added.pk == child.pk  # the same entry, not a second one
    assert added.eligible is True and added.change_reason == "经核实出生日期登记有误"
    assert Elector.objects.filter(vote=vote, resident=town.child).count() == 1


# ---------------------------------------------------------------- the snapshot


def test_the_electorate_is_frozen_when_the_vote_opens(town):
    latecomer = user_with(Role.RESIDENT, town.tree.community_a, username="latecomer")
    with clock.frozen(NOW) as travel:
        vote = opened(town, Process.RESIDENTS_MEETING, VoteRule.RESIDENTS)
        before = sorted(Elector.objects.filter(vote=vote).values_list("name", "eligible"))
        travel.advance(hours=1)
        person(town.tree.grid_a1, "钱新来", dt.date(1985, 5, 5), account=latecomer)
        people.move_out(SYSTEM, town.zhao, on_date=clock.today(), destination="重庆")
        with pytest.raises(PermissionDenied):
            votes.cast_online(latecomer, vote, yes_no(vote))
        votes.cast_online(town.users["zhao"], vote, yes_no(vote))  # eligible when the vote opened
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    assert sorted(Elector.objects.filter(vote=vote).values_list("name", "eligible")) == before
    assert "钱新来" not in by_name(vote)
    assert result.electorate == 5 and result.participants == 1


def test_owners_electorate_ignores_ownership_changes_after_opening(town):
    with clock.frozen(NOW):
        vote = opened(town, Process.OWNERS_ASSEMBLY, VoteRule.OWNERS, compound="阳光小区")
        people.add_ownership(SYSTEM, town.sun, town.units["底商"])
        with pytest.raises(PermissionDenied):
            votes.cast_online(town.users["sun"], vote, yes_no(vote))
    developer = Elector.objects.get(vote=vote, units="1栋底商")
    assert developer.name == "建设单位（未售出或未交付的房屋）" and members(developer) == set()


# ---------------------------------------------------------------- removing with a reason


def test_removing_an_elector_needs_a_reason_and_is_audited(town):
    with clock.frozen(NOW):
        vote = opened(town, Process.RESIDENTS_MEETING, VoteRule.RESIDENTS)
        zhao = by_name(vote)["赵六"]
        with pytest.raises(DomainError) as blank:
            votes.remove_elector(town.clerk, zhao, reason="")
        assert blank.value.code == "elector.reason_required"
        zhao.refresh_from_db()
        assert zhao.eligible is True
        with pytest.raises(PermissionDenied):
            votes.remove_elector(town.outsider_staff, zhao, reason="已迁出")
        removed = votes.remove_elector(town.clerk, zhao, reason="已于上月迁出本社区")
        with pytest.raises(PermissionDenied):
            votes.cast_online(town.users["zhao"], vote, yes_no(vote))
        with pytest.raises(Conflict):
            votes.remove_elector(town.clerk, zhao, reason="再次移出")
        with pytest.raises(Conflict):
            votes.remove_elector(town.clerk, by_name(vote)["张小宝"], reason="未成年")
    removed.refresh_from_db()
    assert removed.eligible is False and removed.reason == "工作人员移出"
    assert removed.change_reason == "已于上月迁出本社区" and removed.changed_by == town.clerk
    entry = AuditEntry.objects.get(action="vote.elector_remove")
    assert entry.actor == town.clerk
    assert entry.after == {"elector": zhao.pk, "reason": "已于上月迁出本社区"}


def test_someone_whose_paper_ballot_waits_for_confirmation_cannot_be_removed(town):
    with clock.frozen(NOW):
        vote = opened(town, Process.RESIDENTS_MEETING, VoteRule.RESIDENTS)
        found = by_name(vote)
        votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote, "no"), elector=found["李明"])
        with pytest.raises(Conflict) as pending:
            votes.remove_elector(town.clerk, found["李明"], reason="核实后不符合条件")
        assert pending.value.code == "elector.has_voted"
    assert Elector.objects.filter(vote=vote, eligible=True).count() == 5
    assert not AuditEntry.objects.filter(action="vote.elector_remove").exists()


def test_nobody_is_removed_once_anyone_has_voted(town):
    # Taking a non-voter off after votes are in would lower the bar the votes are measured against.
    with clock.frozen(NOW):
        vote = opened(town, Process.RESIDENTS_MEETING, VoteRule.RESIDENTS)
        found = by_name(vote)
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))
        for name in ("张三", "赵六"):
            with pytest.raises(Conflict) as refused:
                votes.remove_elector(town.clerk, found[name], reason="核实后不符合条件")
            assert refused.value.code == "elector.voting_started"
        added = votes.add_elector(town.clerk, vote, resident=town.child, reason="经核实出生日期登记有误")
    assert added.eligible is True  # adding someone only raises the bar, so it is still allowed
    assert Elector.objects.filter(vote=vote, eligible=True).count() == 6
    assert not AuditEntry.objects.filter(action="vote.elector_remove").exists()


def test_the_owners_electorate_comes_from_the_property_register_only(town):
    with clock.frozen(NOW):
        vote = opened(town, Process.OWNERS_ASSEMBLY, VoteRule.OWNERS, compound="阳光小区")
        sealed = vote.electorate_hash
        with pytest.raises(DomainError) as added:
            votes.add_elector(town.clerk, vote, resident=town.sun, reason="租户代表")
        assert added.value.code == "elector.owners_from_register"
        with pytest.raises(DomainError) as removed:
            votes.remove_elector(town.clerk, by_name(vote)["赵六"], reason="房屋已出售")
        assert removed.value.code == "elector.owners_from_register"
    assert Elector.objects.filter(vote=vote, eligible=True).count() == 4
    assert list(votes.electors_of(town.users["sun"], vote)) == []
    assert Vote.objects.get(pk=vote.pk).electorate_hash == sealed
    assert not AuditEntry.objects.filter(action__startswith="vote.elector_").exists()


def test_a_removed_elector_can_be_added_back(town):
    with clock.frozen(NOW):
        vote = opened(town, Process.RESIDENTS_MEETING, VoteRule.RESIDENTS)
        zhao = by_name(vote)["赵六"]
        votes.remove_elector(town.clerk, zhao, reason="误以为已迁出")
        again = votes.add_elector(town.clerk, vote, resident=town.zhao, reason="核实仍在本社区居住")
        votes.cast_online(town.users["zhao"], vote, yes_no(vote))
    assert again.pk == zhao.pk and again.eligible is True
    assert Elector.objects.filter(vote=vote, resident=town.zhao).count() == 1


def test_the_electorate_changes_only_while_the_vote_is_open(town):
    with clock.frozen(NOW) as travel:
        draft = residents_vote(town, days=3, open_=False)
        with pytest.raises(Conflict):
            votes.add_elector(town.clerk, draft, resident=town.zhang, reason="提前加入")
        vote = votes.open_vote(town.clerk, draft)
        travel.advance(days=4)
        votes.close_vote(town.clerk, vote)
        with pytest.raises(Conflict):
            votes.add_elector(town.clerk, vote, resident=town.child, reason="补录")
        with pytest.raises(Conflict):
            votes.remove_elector(town.clerk, by_name(vote)["张三"], reason="补录")
    vote.refresh_from_db()
    assert vote.status == VoteStatus.CLOSED
    assert Elector.objects.filter(vote=vote, eligible=True).count() == 5
