"""The services of the deliberation module: proposals and micro-wishes, matters and their steps, votes
(casting, paper and proxy ballots, changing, secrecy, counting) and the hash chain that seals them."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone, translation
from PIL import Image

from gongzhi.core import clock
from gongzhi.core.errors import Conflict, DomainError, PermissionDenied
from gongzhi.core.models import AuditEntry, Notification
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from gongzhi.deliberation import chain, queries
from gongzhi.deliberation.models import (
    Ballot,
    Channel,
    Elector,
    Matter,
    MatterStatus,
    PaperEntry,
    Participation,
    Process,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Publication,
    Result,
    Support,
    Vote,
    VoteRule,
    VoteStatus,
)
from gongzhi.deliberation.services import matters, proposals, votes
from gongzhi.people import services as people
from gongzhi.people.models import Household, Resident
from tests.deliberation.conftest import matter_at, new_vote, owners_vote, person, residents_vote, yes_no
from tests.factories import user_with

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

NOW = "2027-03-01T09:00+08:00"
TODAY = dt.date(2027, 3, 1)


def png(name: str = "photo.png") -> SimpleUploadedFile:
    """A small real PNG as a browser would upload it."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 160, 60)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def labels(vote, *names: str) -> dict:
    question = vote.questions.get()
    return {question.pk: [question.options.get(label=name).pk for name in names]}


def elector(vote, name: str) -> Elector:
    return Elector.objects.get(vote=vote, name=name)


def option_count(result: Result, code: str) -> int:
    return next(o["count"] for o in result.questions[0]["options"] if o["code"] == code)


# ================================================================ proposals and micro-wishes


def test_only_verified_residents_and_staff_of_the_community_raise_proposals(town):
    unverified = user_with(Role.RESIDENT, town.tree.community_a, username="unverified")
    with clock.frozen(NOW):
        with pytest.raises(PermissionDenied) as denied:
            proposals.raise_proposal(unverified, kind=ProposalKind.PROPOSAL, title="装路灯", body="楼下太黑")
        assert denied.value.code == "proposal.not_verified"
        mine = proposals.raise_proposal(
            town.users["zhang"],
            kind=ProposalKind.PROPOSAL,
            title="装路灯",
            body="楼下太黑",
            compound="阳光小区",
        )
        staff = proposals.raise_proposal(
            town.clerk, kind=ProposalKind.WISH, title="轮椅", body="需要一台轮椅", region=town.tree.grid_a2
        )
        for outsider in (town.outsider_staff, town.leader, town.users["wang"]):
            with pytest.raises(PermissionDenied):
                proposals.raise_proposal(
                    outsider, kind=ProposalKind.PROPOSAL, title="x", body="y", region=town.tree.community_a
                )
        with pytest.raises(DomainError):
            proposals.raise_proposal(town.users["zhang"], kind="petition", title="x", body="y")
        with pytest.raises(DomainError):
            proposals.raise_proposal(town.users["zhang"], kind=ProposalKind.PROPOSAL, title=" ", body="y")
    assert mine.region == town.tree.community_a and mine.author == town.users["zhang"]
    assert mine.status == ProposalStatus.OPEN and mine.compound == "阳光小区"
    assert staff.region == town.tree.community_a  # a grid's proposal belongs to its community
    assert Proposal.objects.count() == 2
    assert AuditEntry.objects.filter(action="proposal.raise").count() == 2


def test_one_support_per_resident_by_constraint_and_by_the_service(town):
    with clock.frozen(NOW):
        proposal = proposals.raise_proposal(
            town.users["zhang"], kind=ProposalKind.PROPOSAL, title="装路灯", body="楼下太黑"
        )
        Support.objects.create(proposal=proposal, resident=town.zhao, at=clock.now())
        with pytest.raises(IntegrityError), transaction.atomic():
            Support.objects.create(proposal=proposal, resident=town.zhao, at=clock.now())
        proposals.support(town.users["wang"], proposal)
        with pytest.raises(Conflict) as twice:
            proposals.support(town.users["wang"], proposal)
    assert twice.value.code == "proposal.already_supported"
    proposal.refresh_from_db()
    assert proposal.support_count == 1  # the service counted wang once (zhao's row went round it)
    assert Support.objects.filter(proposal=proposal, resident=town.wang).count() == 1


def test_reaching_the_threshold_puts_a_proposal_on_the_agenda(town):
    with clock.frozen(NOW) as travel:
        with pytest.raises(DomainError):
            proposals.set_agenda_threshold(town.clerk, town.tree.community_a, 0)
        with pytest.raises(DomainError):
            proposals.set_agenda_threshold(town.clerk, town.tree.grid_a1, 3)
        with pytest.raises(PermissionDenied):
            proposals.set_agenda_threshold(town.outsider_staff, town.tree.community_a, 3)
        proposals.set_agenda_threshold(town.clerk, town.tree.community_a, 3)
        proposal = proposals.raise_proposal(
            town.users["zhang"], kind=ProposalKind.PROPOSAL, title="装路灯", body="楼下太黑"
        )
        assert proposal.supports_needed == 3
        assert proposals.support(town.users["wang"], proposal).status == ProposalStatus.OPEN
        after_two = proposals.support(town.users["li"], proposal)
        assert after_two.status == ProposalStatus.OPEN and after_two.supports_missing == 1
        travel.advance(hours=2)
        third = proposals.support(town.users["zhao"], proposal)
        assert third.status == ProposalStatus.AGENDA and third.support_count == 3
        assert third.on_agenda_at == travel.at
        with pytest.raises(Conflict):
            proposals.support(town.users["sun"], proposal)
        proposals.set_agenda_threshold(town.clerk, town.tree.community_a, 50)  # later ones only
    proposal.refresh_from_db()
    assert proposal.support_count == 3 and proposal.supports_needed == 3
    assert AuditEntry.objects.filter(action="proposal.agenda").count() == 1


def test_the_neighbour_and_staff_cannot_support(town):
    with clock.frozen(NOW):
        proposal = proposals.raise_proposal(
            town.users["zhang"], kind=ProposalKind.PROPOSAL, title="装路灯", body="楼下太黑"
        )
        with pytest.raises(PermissionDenied) as neighbour:
            proposals.support(town.users["neighbour"], proposal)
        with pytest.raises(PermissionDenied) as staff:
            proposals.support(town.clerk, proposal)
    assert neighbour.value.code == "proposal.other_community"
    assert staff.value.code == "proposal.not_verified"
    assert not Support.objects.exists()


def test_accepting_needs_a_matter_of_the_same_community(town):
    with clock.frozen(NOW):
        proposal = proposals.raise_proposal(
            town.users["zhang"], kind=ProposalKind.PROPOSAL, title="装路灯", body="楼下太黑"
        )
        elsewhere = matters.create_matter(
            town.outsider_staff,
            region=town.tree.community_b,
            title="金鱼社区路灯",
            process=Process.CONSULTATION,
        )
        ours = matter_at(town, Process.CONSULTATION, title="阳光小区路灯")
        with pytest.raises(DomainError) as none:
            proposals.answer(town.clerk, proposal, decision=ProposalStatus.ACCEPTED, text="采纳")
        with pytest.raises(DomainError) as other:
            proposals.answer(
                town.clerk, proposal, decision=ProposalStatus.ACCEPTED, text="采纳", matter=elsewhere
            )
        assert none.value.code == other.value.code == "proposal.matter_required"
        with pytest.raises(PermissionDenied):
            proposals.answer(
                town.outsider_staff, proposal, decision=ProposalStatus.ACCEPTED, text="采纳", matter=ours
            )
        with pytest.raises(PermissionDenied):
            proposals.answer(
                town.users["wang"], proposal, decision=ProposalStatus.ACCEPTED, text="采纳", matter=ours
            )
        accepted = proposals.answer(
            town.clerk, proposal, decision=ProposalStatus.ACCEPTED, text="转为议题协商", matter=ours
        )
        assert accepted.matter == ours and accepted.answered_by == town.clerk
        assert accepted.answered_at == clock.now()
        with pytest.raises(Conflict):
            proposals.answer(town.clerk, proposal, decision=ProposalStatus.DECLINED, text="改变主意")
        done = proposals.answer(town.clerk, proposal, decision=ProposalStatus.DONE, text="路灯已安装")
    assert done.status == ProposalStatus.DONE and done.matter == ours
    assert list(ours.proposals.all()) == [proposal]


def test_declining_needs_a_reason(town):
    with clock.frozen(NOW):
        proposal = proposals.raise_proposal(
            town.users["zhang"], kind=ProposalKind.PROPOSAL, title="建停车场", body="车位不够"
        )
        with pytest.raises(DomainError) as blank:
            proposals.answer(town.clerk, proposal, decision=ProposalStatus.DECLINED, text="  ")
        assert blank.value.code == "proposal.answer_required"
        with pytest.raises(DomainError):
            proposals.answer(town.clerk, proposal, decision=ProposalStatus.OPEN, text="再议")
        declined = proposals.answer(
            town.clerk, proposal, decision=ProposalStatus.DECLINED, text="规划不允许占用绿地"
        )
        with pytest.raises(Conflict):
            proposals.support(town.users["wang"], proposal)
    assert declined.status == ProposalStatus.DECLINED and declined.answer == "规划不允许占用绿地"


def test_a_micro_wish_is_claimed_and_fulfilled_with_a_photo(town):
    unverified = user_with(Role.RESIDENT, town.tree.community_a, username="unverified")
    with clock.frozen(NOW) as travel:
        wish = proposals.raise_proposal(
            town.users["zhao"], kind=ProposalKind.WISH, title="一台收音机", body="想听川剧"
        )
        plain = proposals.raise_proposal(town.users["zhao"], kind=ProposalKind.PROPOSAL, title="x", body="y")
        with pytest.raises(DomainError):
            proposals.claim_wish(town.users["wang"], plain, claimant="王芳")
        with pytest.raises(DomainError):
            proposals.claim_wish(town.users["wang"], wish, claimant=" ")
        with pytest.raises(PermissionDenied):
            proposals.claim_wish(unverified, wish, claimant="热心人")
        with pytest.raises(PermissionDenied):
            proposals.claim_wish(town.outsider_staff, wish, claimant="金鱼社区")
        with pytest.raises(Conflict):
            proposals.fulfil_wish(town.users["wang"], wish, photo=png())  # not claimed yet
        claimed = proposals.claim_wish(town.users["wang"], wish, claimant="王芳志愿服务队")
        assert claimed.status == ProposalStatus.CLAIMED and claimed.claimed_by == town.users["wang"]
        with pytest.raises(Conflict):
            proposals.claim_wish(town.users["li"], wish, claimant="李明")
        for stranger in (town.users["li"], town.outsider_staff):
            with pytest.raises(PermissionDenied):
                proposals.fulfil_wish(stranger, wish, photo=png())
        with pytest.raises(DomainError) as no_photo:
            proposals.fulfil_wish(town.users["wang"], wish, photo=None)
        assert no_photo.value.code == "proposal.photo_required"
        travel.advance(days=3)
        done = proposals.fulfil_wish(town.users["wang"], wish, photo=png("收音机.png"), note="已送到家中")
    assert done.status == ProposalStatus.FULFILLED and done.fulfilled_at == travel.at
    assert done.fulfilment_note == "已送到家中"
    photo = done.fulfilment_photo
    assert photo.content_type == "image/png" and (photo.width, photo.height) == (8, 8)
    assert photo.uploaded_by == town.users["wang"]
    assert AuditEntry.objects.filter(action="proposal.fulfil").get().after == {"photo": photo.pk}


def test_staff_may_fulfil_a_wish_a_resident_claimed(town):
    with clock.frozen(NOW):
        wish = proposals.raise_proposal(
            town.users["zhao"], kind=ProposalKind.WISH, title="轮椅", body="腿脚不便"
        )
        proposals.claim_wish(town.users["sun"], wish, claimant="孙七")
        with pytest.raises(DomainError):  # not a picture
            proposals.fulfil_wish(
                town.clerk, wish, photo=SimpleUploadedFile("a.png", b"not an image", content_type="image/png")
            )
        done = proposals.fulfil_wish(town.clerk, wish, photo=png())
    assert done.status == ProposalStatus.FULFILLED and done.fulfilment_photo is not None


# ================================================================ matters and their steps


def test_four_two_steps_only_in_order_with_closed_votes_and_publications(town):
    with clock.frozen(NOW) as travel:
        matter = matters.create_matter(
            town.clerk, region=town.tree.community_a, title="修建村道", process=Process.FOUR_TWO
        )
        with pytest.raises(Conflict) as early:
            matters.record_step(town.clerk, matter, code="discuss", held_on=TODAY, minutes="商议")
        assert early.value.code == "matter.step_order" and "村党组织提议" in early.value.message
        with pytest.raises(DomainError):
            matters.record_step(town.clerk, matter, code="vote", held_on=TODAY)
        with pytest.raises(DomainError):
            matters.record_step(town.clerk, matter, code="propose", held_on=TODAY + dt.timedelta(days=1))
        with pytest.raises(PermissionDenied):
            matters.record_step(town.outsider_staff, matter, code="propose", held_on=TODAY)
        matters.record_step(town.clerk, matter, code="propose", held_on=TODAY, participants="村党支部")
        with pytest.raises(Conflict) as again:
            matters.record_step(town.clerk, matter, code="propose", held_on=TODAY)
        assert again.value.code == "matter.step_recorded"
        matters.record_step(town.clerk, matter, code="discuss", held_on=TODAY, photos=[png()])
        with pytest.raises(Conflict) as no_vote:
            matters.record_step(town.clerk, matter, code="review", held_on=TODAY)
        assert no_vote.value.code == "matter.vote_not_closed"

        with pytest.raises(DomainError) as wrong_rule:
            new_vote(town, matter, VoteRule.VILLAGERS, step="review")
        assert wrong_rule.value.code == "vote.rule_not_allowed"
        decide_early = new_vote(town, matter, VoteRule.REPRESENTATIVES, step="decide", days=30)
        with pytest.raises(Conflict) as not_reached:
            votes.open_vote(town.clerk, decide_early)
        assert not_reached.value.code == "vote.step_not_reached"
        review = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.PARTY_MEMBERS, step="review"))
        with pytest.raises(Conflict):
            matters.record_step(town.clerk, matter, code="review", held_on=TODAY)  # still open
        votes.cast_online(town.users["sun"], review, yes_no(review))
        travel.advance(days=11)
        assert votes.close_vote(town.clerk, review).questions[0]["passed"] is True
        matters.record_step(town.clerk, matter, code="review", held_on=clock.today(), minutes="党员大会审议")

        decide = votes.open_vote(town.clerk, decide_early)
        for resident in (town.wang, town.li, town.zhao):
            votes.add_elector(town.clerk, decide, resident=resident, reason="村民代表")
        for name in ("wang", "li"):
            votes.cast_online(town.users[name], decide, yes_no(decide))
        with pytest.raises(Conflict):
            matters.record_step(town.clerk, matter, code="decide", held_on=clock.today())
        travel.advance(days=11)
        outcome = votes.close_vote(town.clerk, decide).questions[0]
        assert (outcome["valid"], outcome["passed"]) == (True, True)  # 2 of 3 present, 2 of 2 agree
        matters.record_step(town.clerk, matter, code="decide", held_on=clock.today(), minutes="代表会议决议")

        with pytest.raises(Conflict) as incomplete:
            matters.close_matter(town.clerk, matter)
        assert incomplete.value.code == "matter.steps_missing" and "决议公开" in incomplete.value.message
        with pytest.raises(Conflict):
            matters.record_step(town.clerk, matter, code="publish_result", held_on=clock.today(), minutes="x")
        with pytest.raises(DomainError) as empty:
            matters.record_step(town.clerk, matter, code="publish_decision", held_on=clock.today())
        assert empty.value.code == "matter.text_required"
        matters.record_step(
            town.clerk, matter, code="publish_decision", held_on=clock.today(), minutes="决议：修建村道"
        )
        with pytest.raises(Conflict) as still:
            matters.close_matter(town.clerk, matter)
        assert "实施结果公开" in still.value.message
        travel.advance(days=30)
        matters.record_step(
            town.clerk, matter, code="publish_result", held_on=clock.today(), minutes="村道已建成"
        )
        closed = matters.close_matter(town.clerk, matter)
        with pytest.raises(Conflict):
            matters.close_matter(town.clerk, matter)
        with pytest.raises(Conflict):
            new_vote(town, Matter.objects.get(pk=matter.pk), VoteRule.VILLAGERS, step="decide")
        with pytest.raises(Conflict):
            matters.add_task(town.clerk, matter, title="养护", owner="村委会")

    assert closed.status == MatterStatus.CLOSED and closed.closed_at == travel.at
    assert list(matter.steps.values_list("code", flat=True)) == [
        "propose",
        "discuss",
        "review",
        "decide",
        "publish_decision",
        "publish_result",
    ]
    assert matter.steps.get(code="discuss").attachments.count() == 1
    published = {p.step_code: p for p in Publication.objects.filter(matter=matter)}
    assert set(published) == {"publish_decision", "publish_result"}
    assert published["publish_decision"].title == "修建村道：决议公开"
    assert published["publish_decision"].content == "决议：修建村道"
    assert published["publish_result"].region == town.tree.community_a
    assert published["publish_result"].published_by == town.clerk


def test_no_vote_is_created_for_a_matter_closed_meanwhile(town):
    with clock.frozen(NOW) as travel:
        matter = matter_at(town, Process.RESIDENTS_MEETING, upto=("convene",))
        vote = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.RESIDENTS))
        travel.advance(days=11)
        votes.close_vote(town.clerk, vote)
        for code in ("decide", "publish_decision"):
            matters.record_step(town.clerk, matter, code=code, held_on=clock.today(), minutes="记录")
        matters.close_matter(town.clerk, Matter.objects.get(pk=matter.pk))  # another request
        with pytest.raises(Conflict):
            new_vote(town, matter, VoteRule.RESIDENTS)
    assert Vote.objects.filter(matter=matter).count() == 1


def test_a_matter_is_created_at_community_level_with_a_known_process(town):
    with clock.frozen(NOW):
        with pytest.raises(DomainError):
            matters.create_matter(
                town.clerk, region=town.tree.grid_a1, title="x", process=Process.CONSULTATION
            )
        with pytest.raises(DomainError):
            matters.create_matter(town.clerk, region=town.tree.community_a, title="x", process="referendum")
        with pytest.raises(DomainError) as compound:
            matters.create_matter(
                town.clerk, region=town.tree.community_a, title="x", process=Process.OWNERS_ASSEMBLY
            )
        assert compound.value.code == "matter.compound_required"
        with pytest.raises(PermissionDenied):
            matters.create_matter(
                town.outsider_staff, region=town.tree.community_a, title="x", process=Process.CONSULTATION
            )


def test_consultation_ends_in_a_written_outcome_and_tasks(town):
    with clock.frozen(NOW) as travel:
        matter = matter_at(town, Process.CONSULTATION, upto=("prepare",), title="小区停车")
        consult = {"code": "consult", "held_on": TODAY, "minutes": "协商会议记录"}
        with pytest.raises(DomainError) as alone:  # one party alone is not a consultation
            matters.record_step(town.clerk, matter, parties=["property"], **consult)
        assert alone.value.code == "matter.parties_required"
        with pytest.raises(DomainError) as unknown:
            matters.record_step(town.clerk, matter, parties=["property", "mayor"], **consult)
        assert unknown.value.code == "matter.unknown_party"
        record = matters.record_step(
            town.clerk,
            matter,
            participants="居民代表、物业公司、业主委员会、派出所",
            parties=["residents", "property", "owners_committee", "departments", "property"],
            **consult,
        )
        assert record.parties == ["residents", "property", "owners_committee", "departments"]
        with pytest.raises(DomainError):
            matters.record_step(town.clerk, matter, code="outcome", held_on=TODAY, minutes="")
        with pytest.raises(Conflict):
            matters.close_matter(town.clerk, matter)
        matters.record_step(town.clerk, matter, code="outcome", held_on=TODAY, minutes="划定临时停车位40个")
        with pytest.raises(DomainError):
            matters.add_task(town.clerk, matter, title="划线", owner=" ")
        task = matters.add_task(
            town.clerk, matter, title="施划停车位", owner="物业公司", due_on=TODAY + dt.timedelta(days=30)
        )
        with pytest.raises(PermissionDenied):
            matters.complete_task(town.outsider_staff, task, note="完成")
        travel.advance(days=7)
        done = matters.complete_task(town.clerk, task, note="已施划40个车位")
        with pytest.raises(Conflict):
            matters.complete_task(town.clerk, task, note="again")
        closed = matters.close_matter(town.clerk, matter)
    assert closed.outcome == "划定临时停车位40个" and closed.status == MatterStatus.CLOSED
    assert done.done_on == dt.date(2027, 3, 8) and done.done_note == "已施划40个车位"
    assert list(matter.tasks.values_list("title", "owner")) == [("施划停车位", "物业公司")]
    assert not Publication.objects.filter(matter=matter).exists()
    assert AuditEntry.objects.filter(action="matter.task_done").count() == 1


# ================================================================ opening and casting


def test_a_vote_opens_only_before_its_deadline_and_once(town):
    with clock.frozen(NOW):
        matter = matter_at(town, Process.RESIDENTS_MEETING, upto=("convene",))
        late = votes.create_vote(
            town.clerk,
            matter,
            title="过期",
            rule=VoteRule.RESIDENTS,
            closes_at=clock.now() - dt.timedelta(minutes=1),
            questions=[{"text": "是否同意", "kind": "yes_no"}],
        )
        with pytest.raises(DomainError) as past:
            votes.open_vote(town.clerk, late)
        assert past.value.code == "vote.deadline_past"
        with pytest.raises(DomainError):
            new_vote(town, matter, VoteRule.OWNERS)  # not a rule of a residents' meeting
        vote = new_vote(town, matter, VoteRule.RESIDENTS)
        with pytest.raises(Conflict):
            votes.cast_online(town.users["zhang"], vote, yes_no(vote))  # still a draft
        with pytest.raises(PermissionDenied):
            votes.open_vote(town.outsider_staff, vote)
        votes.open_vote(town.clerk, vote)
        with pytest.raises(Conflict):
            votes.open_vote(town.clerk, vote)
    late.refresh_from_db()
    assert late.status == VoteStatus.DRAFT and not Elector.objects.filter(vote=late).exists()


def test_a_vote_opens_only_when_its_step_is_next(town):
    with clock.frozen(NOW):
        matter = matter_at(town, Process.RESIDENTS_MEETING)
        vote = new_vote(town, matter, VoteRule.RESIDENTS)
        with pytest.raises(Conflict):
            votes.open_vote(town.clerk, vote)
        matters.record_step(town.clerk, matter, code="convene", held_on=TODAY, minutes="通知")
        votes.open_vote(town.clerk, vote)


def test_no_ballot_after_the_deadline_or_after_closing(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, days=2)
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))
        travel.to(vote.closes_at)
        with pytest.raises(Conflict) as deadline:
            votes.cast_online(town.users["wang"], vote, yes_no(vote))
        assert deadline.value.code == "vote.deadline_passed"
        votes.close_vote(town.clerk, vote)
        for name in ("wang", "zhang"):
            with pytest.raises(Conflict) as closed:
                votes.cast_online(town.users[name], vote, yes_no(vote, "no"))
            assert closed.value.code == "vote.closed"
        with pytest.raises(Conflict):
            votes.enter_paper_ballot(town.clerk, vote, elector=elector(vote, "李明"), choices=yes_no(vote))
        with pytest.raises(Conflict):
            votes.close_vote(town.clerk, vote)
    assert Ballot.objects.filter(vote=vote).count() == 1
    assert Participation.objects.filter(vote=vote).count() == 1


def test_nobody_votes_twice(town):
    with clock.frozen(NOW):
        vote = residents_vote(town)
        receipt = votes.cast_online(town.users["zhang"], vote, yes_no(vote))
        with pytest.raises(Conflict) as twice:
            votes.cast_online(town.users["zhang"], vote, yes_no(vote, "no"))
        assert twice.value.code == "vote.already_voted"
        with pytest.raises(Conflict) as paper:
            votes.enter_paper_ballot(
                town.clerk, vote, elector=elector(vote, "张三"), choices=yes_no(vote, "no")
            )
        assert paper.value.code == "vote.already_voted"
        with pytest.raises(PermissionDenied):
            votes.cast_online(town.users["neighbour"], vote, yes_no(vote))
        with pytest.raises(PermissionDenied):
            votes.enter_paper_ballot(town.clerk, vote, elector=elector(vote, "张小宝"), choices=yes_no(vote))
    assert Participation.objects.filter(vote=vote).count() == 1
    assert Participation.objects.get(vote=vote).elector == elector(vote, "张三")
    assert Ballot.objects.filter(vote=vote).count() == 1
    assert not PaperEntry.objects.exists()
    assert [b["choices"] for b in votes.receipt_ballots(vote, receipt)] == [["同意"]]
    assert votes.receipt_ballots(vote, "AAAA-BBBB-CCCC") == []


def test_a_paper_ballot_needs_two_different_staff_who_agree(town):
    with clock.frozen(NOW):
        vote = residents_vote(town)
        zhao = elector(vote, "赵六")
        with pytest.raises(PermissionDenied):
            votes.enter_paper_ballot(town.users["wang"], vote, elector=zhao, choices=yes_no(vote))
        with pytest.raises(PermissionDenied):
            votes.enter_paper_ballot(town.outsider_staff, vote, elector=zhao, choices=yes_no(vote))
        entry = votes.enter_paper_ballot(town.clerk, vote, elector=zhao, choices=yes_no(vote, "no"))
        with pytest.raises(Conflict) as pending:
            votes.enter_paper_ballot(town.checker, vote, elector=zhao, choices=yes_no(vote, "no"))
        assert pending.value.code == "ballot.entry_pending"
        with pytest.raises(PermissionDenied) as same:
            votes.confirm_paper_ballot(town.clerk, entry, choices=yes_no(vote, "no"))
        assert same.value.code == "ballot.same_person"
        with pytest.raises(Conflict) as differ:
            votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote, "yes"))
        assert differ.value.code == "ballot.entries_differ"
        assert PaperEntry.objects.filter(pk=entry.pk).exists()
        assert not Participation.objects.filter(vote=vote).exists() and vote.ballots.count() == 0
        receipt = votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote, "no"))
    participation = Participation.objects.get(vote=vote)
    assert participation.elector == zhao and participation.channel == Channel.PAPER
    assert participation.cast_by == town.clerk and participation.confirmed_by == town.checker
    assert not PaperEntry.objects.exists()
    assert [b["choices"] for b in votes.receipt_ballots(vote, receipt)] == [["不同意"]]


def test_a_proxy_ballot_needs_the_signed_authorisation(town):
    with clock.frozen(NOW):
        vote = residents_vote(town)
        li = elector(vote, "李明")
        with pytest.raises(DomainError) as missing:
            votes.enter_paper_ballot(town.clerk, vote, elector=li, choices=yes_no(vote), proxy_name="李母")
        assert missing.value.code == "ballot.proxy_incomplete"
        with pytest.raises(DomainError):
            votes.enter_paper_ballot(
                town.clerk, vote, elector=li, choices=yes_no(vote), proxy_authorisation=png()
            )
        with pytest.raises(DomainError):  # the authorisation must be a picture of the signed form
            votes.enter_paper_ballot(
                town.clerk,
                vote,
                elector=li,
                choices=yes_no(vote),
                proxy_name="李母",
                proxy_authorisation=SimpleUploadedFile("委托书.png", b"text", content_type="image/png"),
            )
        assert not PaperEntry.objects.exists()
        entry = votes.enter_paper_ballot(
            town.clerk, vote, elector=li, choices=yes_no(vote), proxy_name="李母", proxy_authorisation=png()
        )
        votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote))
    participation = Participation.objects.get(vote=vote)
    assert participation.channel == Channel.PROXY and participation.proxy_name == "李母"
    assert participation.proxy_authorisation.content_type == "image/png"
    assert Ballot.objects.get(vote=vote).channel == Channel.PROXY


def test_closing_waits_for_pending_paper_entries(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town)
        entry = votes.enter_paper_ballot(
            town.clerk, vote, elector=elector(vote, "赵六"), choices=yes_no(vote)
        )
        travel.advance(days=11)
        with pytest.raises(Conflict) as pending:
            votes.close_vote(town.clerk, vote)
        assert pending.value.code == "vote.entries_pending"
        with pytest.raises(DomainError):
            votes.discard_paper_entry(town.checker, entry, reason="")
        votes.discard_paper_entry(town.checker, entry, reason="选票填写不清，作废")
        result = votes.close_vote(town.clerk, vote)
    assert result.participants == 0 and result.electorate == 5
    assert AuditEntry.objects.get(action="vote.paper_discard").after["reason"] == "选票填写不清，作废"


def test_changing_a_ballot_replaces_it_and_the_tally_counts_the_new_one(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, allow_change=True)
        first = votes.cast_online(town.users["wang"], vote, yes_no(vote, "yes"))
        travel.advance(hours=1)
        second = votes.cast_online(town.users["wang"], vote, yes_no(vote, "no"))
        zhao = elector(vote, "赵六")
        entry = votes.enter_paper_ballot(town.clerk, vote, elector=zhao, choices=yes_no(vote, "yes"))
        votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote, "yes"))
        with pytest.raises(Conflict):  # a paper ballot is final even when online ones may change
            votes.cast_online(town.users["zhao"], vote, yes_no(vote, "no"))
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    old, new, paper = Ballot.objects.filter(vote=vote).order_by("seq")
    assert old.replaced is True and new.replaced is False and new.replaces == old
    assert old.elector == new.elector == elector(vote, "王芳")
    assert Participation.objects.filter(vote=vote).count() == 2
    assert Participation.objects.get(vote=vote, elector__name="王芳").at == new.cast_at
    assert option_count(result, "yes") == 1 and option_count(result, "no") == 1
    assert result.questions[0]["ballots"] == 2 and result.participants == 2
    assert votes.verify(vote).ok
    assert votes.receipt_ballots(vote, first)[0]["counted"] is False
    assert votes.receipt_ballots(vote, second)[0]["counted"] is True
    assert AuditEntry.objects.filter(action="vote.change").count() == 1


def test_a_secret_ballot_keeps_who_voted_apart_from_what_was_voted(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, secret=True)
        votes.cast_online(town.users["zhang"], vote, yes_no(vote, "yes"))
        with pytest.raises(Conflict):
            votes.cast_online(town.users["zhang"], vote, yes_no(vote, "no"))
        votes.cast_online(town.users["wang"], vote, yes_no(vote, "no"))
        votes.hand_out_paper_ballot(town.clerk, vote, elector=elector(vote, "赵六"))
        travel.advance(days=11)  # the box is opened after the deadline
        entry = votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote))
        votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote))
        result = votes.close_vote(town.clerk, vote)
    assert Ballot.objects.filter(vote=vote).count() == 3
    assert not Ballot.objects.filter(vote=vote, elector__isnull=False).exists()
    assert sorted(Participation.objects.filter(vote=vote).values_list("elector__name", flat=True)) == [
        "张三",
        "王芳",
        "赵六",
    ]
    assert not PaperEntry.objects.exists()
    assert option_count(result, "yes") == 2 and option_count(result, "no") == 1
    for entry in AuditEntry.objects.filter(
        action__in=["vote.cast", "vote.paper_enter", "vote.paper_confirm"]
    ):
        assert "elector" not in (entry.after or {})
    assert votes.verify(vote).ok


def test_a_secret_ballot_keeps_only_the_time_the_vote_opened(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, secret=True)
        for name in ("zhang", "wang", "li"):
            travel.advance(minutes=7)
            votes.cast_online(town.users[name], vote, yes_no(vote))
    ballots = Ballot.objects.filter(vote=vote)
    voted_times = set(Participation.objects.filter(vote=vote).values_list("at", flat=True))
    assert len(voted_times) == 3
    for ballot in ballots:
        assert ballot.cast_at == vote.opened_at and ballot.channel == ""
    assert votes.verify(vote).ok


def _secret_ballots(vote) -> set[tuple]:
    """Everything a secret vote's ballots record besides the choice and the chain."""
    return set(Ballot.objects.filter(vote=vote).values_list("elector_id", "channel", "cast_at", "area"))


def test_online_and_paper_secret_ballots_look_alike_so_none_points_at_its_voter(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, secret=True)
        travel.advance(hours=1)
        votes.cast_online(town.users["zhang"], vote, yes_no(vote, "yes"))
        travel.advance(hours=2)
        votes.hand_out_paper_ballot(town.clerk, vote, elector=elector(vote, "赵六"))
        travel.advance(days=1)
        votes.hand_out_paper_ballot(
            town.clerk, vote, elector=elector(vote, "李明"), proxy_name="李母", proxy_authorisation=png()
        )
        travel.advance(hours=5)
        votes.cast_online(town.users["wang"], vote, yes_no(vote, "no"))
        travel.advance(days=10)
        for code in ("no", "abstain"):
            travel.advance(minutes=3)
            entry = votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote, code))
            votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote, code))
        channels = set(Participation.objects.filter(vote=vote).values_list("channel", flat=True))
        assert channels == {Channel.ONLINE, Channel.PAPER, Channel.PROXY}  # who voted, and how
        assert _secret_ballots(vote) == {(None, "", vote.opened_at, Decimal(0))}  # not what
        travel.advance(hours=1)
        votes.close_vote(town.clerk, vote)
    assert Ballot.objects.filter(vote=vote).count() == 4
    assert _secret_ballots(vote) == {(None, "", vote.opened_at, Decimal(0))}  # relinking keeps it so
    assert votes.verify(vote).ok


def test_closing_relinks_secret_ballots_so_their_order_is_not_the_voting_order(town, monkeypatch):
    """Ballots are re-linked in a random order at closing; reversing stands in for the shuffle."""
    monkeypatch.setattr(votes, "_shuffle", lambda items: items.reverse())
    choice = {"text": "选择方案", "kind": "single", "options": ["一", "二", "三", "四", "五"]}
    chosen = {"zhang": "一", "wang": "二", "li": "三", "zhao": "四", "sun": "五"}
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, secret=True, questions=[choice])
        receipts = {}
        for name, label in chosen.items():
            travel.advance(minutes=7)
            receipts[name] = votes.cast_online(town.users[name], vote, labels(vote, label))
        cast_ids = set(Ballot.objects.filter(vote=vote).values_list("pk", flat=True))
        travel.advance(days=30)
        votes.close_vote(town.clerk, vote)
    options = {o.pk: o.label for o in vote.questions.get().options.all()}
    relinked = list(Ballot.objects.filter(vote=vote).order_by("pk"))
    assert not cast_ids & {b.pk for b in relinked}  # new rows: row ids no longer follow the voting order
    assert [b.seq for b in relinked] == [1, 2, 3, 4, 5]
    assert [options[b.choices[0]] for b in relinked] == ["五", "四", "三", "二", "一"]
    assert votes.verify(vote).ok
    assert votes.receipt_ballots(vote, receipts["zhang"])[0]["choices"] == ["一"]


def test_closing_refuses_to_relink_a_broken_secret_chain(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, secret=True)
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))
        Ballot.objects.filter(vote=vote).update(area=1)
        travel.advance(days=30)
        with pytest.raises(Conflict) as refused:
            votes.close_vote(town.clerk, vote)
    assert refused.value.code == "vote.chain_broken"
    assert Vote.objects.get(pk=vote.pk).status == VoteStatus.OPEN


def test_a_secret_vote_cannot_allow_changing_ballots(town):
    with clock.frozen(NOW):
        matter = matter_at(town, Process.RESIDENTS_MEETING, upto=("convene",))
        with pytest.raises(DomainError) as refused:
            new_vote(town, matter, VoteRule.RESIDENTS, secret=True, allow_change=True)
        assert refused.value.code == "vote.secret_final"
        assert not Vote.objects.exists()
        vote = new_vote(town, matter, VoteRule.RESIDENTS, secret=True)
        with pytest.raises(IntegrityError), transaction.atomic():
            Vote.objects.filter(pk=vote.pk).update(allow_change=True)


def test_a_paper_only_vote_takes_no_online_ballots(town):
    with clock.frozen(NOW):
        vote = residents_vote(town, online=False)
        with pytest.raises(Conflict) as paper_only:
            votes.cast_online(town.users["zhang"], vote, yes_no(vote))
    assert paper_only.value.code == "vote.paper_only"


# ================================================================ choices and counting


def test_a_multiple_choice_question_takes_at_most_k_options(town):
    questions = [
        {
            "text": "改造哪些设施",
            "kind": "multiple",
            "max_choices": 2,
            "options": ["路灯", "健身器材", "充电桩"],
        },
        {"text": "是否同意", "kind": "yes_no"},
    ]
    with clock.frozen(NOW) as travel:
        with pytest.raises(DomainError):
            residents_vote(
                town, questions=[{"text": "x", "kind": "multiple", "max_choices": 4, "options": ["a", "b"]}]
            )
        vote = residents_vote(town, questions=questions)
        multiple, yes_no = vote.questions.order_by("order")
        ids = {o.label: o.pk for o in multiple.options.all()}
        yes = yes_no.options.get(code="yes").pk
        with pytest.raises(DomainError) as too_many:
            votes.cast_online(town.users["zhang"], vote, {multiple.pk: list(ids.values()), yes_no.pk: [yes]})
        assert too_many.value.code == "ballot.bad_choice" and "最多选2项" in too_many.value.message
        for bad in (
            {multiple.pk: [ids["路灯"], ids["路灯"]], yes_no.pk: [yes]},  # the same option twice
            {multiple.pk: [yes], yes_no.pk: [yes]},  # an option of another question
            {multiple.pk: [ids["路灯"]]},  # a question left out
            {multiple.pk: [ids["路灯"]], yes_no.pk: [yes], 999_999: [1]},  # a question of no vote
            {multiple.pk: ["路灯"], yes_no.pk: [yes]},
        ):
            with pytest.raises(DomainError):
                votes.cast_online(town.users["zhang"], vote, bad)
        assert not Participation.objects.exists() and not Ballot.objects.exists()
        votes.cast_online(
            town.users["zhang"], vote, {multiple.pk: [ids["路灯"], ids["充电桩"]], yes_no.pk: [yes]}
        )
        votes.cast_online(
            town.users["wang"], vote, {str(multiple.pk): [str(ids["充电桩"])], str(yes_no.pk): yes}
        )
        votes.cast_online(
            town.users["li"], vote, {multiple.pk: [ids["充电桩"], ids["健身器材"]], yes_no.pk: [yes]}
        )
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    facilities = result.questions[0]
    assert {o["label"]: o["count"] for o in facilities["options"]} == {"路灯": 1, "健身器材": 1, "充电桩": 3}
    assert facilities["ballots"] == 3
    assert facilities["adopted"] == ["充电桩"]  # 3 of 3 present; valid with 3 of 5 present
    assert Ballot.objects.filter(vote=vote).count() == 6


def test_an_election_elects_candidates_with_a_majority_of_ballots_when_turnout_is_met(town):
    candidates = {
        "text": "选举居民小组长（应选2名）",
        "kind": "election",
        "max_choices": 2,
        "options": ["甲", "乙", "丙", "丁"],
    }
    with clock.frozen(NOW) as travel:
        matter = matter_at(town, Process.RESIDENTS_MEETING, upto=("convene",))
        with pytest.raises(DomainError) as kind:
            new_vote(town, matter, VoteRule.ELECTION, questions=[{"text": "是否同意", "kind": "yes_no"}])
        assert kind.value.code == "vote.election_kind"
        vote = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.ELECTION, questions=[candidates]))
        with pytest.raises(DomainError):
            votes.cast_online(town.users["zhang"], vote, labels(vote, "甲", "乙", "丙"))
        votes.cast_online(town.users["zhang"], vote, labels(vote, "甲", "乙"))
        votes.cast_online(town.users["wang"], vote, labels(vote, "甲", "丙"))
        votes.cast_online(town.users["li"], vote, labels(vote, "甲", "乙"))
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    outcome = result.questions[0]
    assert outcome["valid"] is True and outcome["passed"] is True
    assert outcome["elected"] == ["甲", "乙"]  # 3/3 and 2/3 of ballots; 丙 has 1/3
    turnout = outcome["thresholds"][0]
    assert (turnout["fraction"], turnout["requirement"], turnout["met"]) == ("3/5", "> 1/2", True)


def test_an_election_with_too_few_voters_elects_nobody(town):
    candidates = {"text": "选举", "kind": "election", "max_choices": 1, "options": ["甲", "乙"]}
    with clock.frozen(NOW) as travel:
        matter = matter_at(town, Process.RESIDENTS_MEETING, upto=("convene",))
        vote = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.ELECTION, questions=[candidates]))
        votes.cast_online(town.users["zhang"], vote, labels(vote, "甲"))
        votes.cast_online(town.users["wang"], vote, labels(vote, "甲"))
        travel.advance(days=11)
        outcome = votes.close_vote(town.clerk, vote).questions[0]
    assert outcome["valid"] is False and outcome["passed"] is False and outcome["elected"] == []
    assert outcome["thresholds"][0]["fraction"] == "2/5"


def test_a_residents_meeting_with_exactly_half_present_is_not_valid(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town)
        votes.remove_elector(town.clerk, elector(vote, "孙七"), reason="长期外出务工")
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))
        votes.cast_online(town.users["wang"], vote, yes_no(vote))
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    outcome = result.questions[0]
    assert result.electorate == 4 and result.participants == 2
    assert outcome["valid"] is False and outcome["passed"] is False
    quorum = outcome["thresholds"][0]
    assert (quorum["fraction"], quorum["requirement"], quorum["met"]) == ("1/2", "> 1/2", False)


def test_a_residents_meeting_with_more_than_half_present_decides_by_majority_of_those_present(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town)
        for name, code in (("zhang", "yes"), ("wang", "yes"), ("li", "no"), ("zhao", "abstain")):
            votes.cast_online(town.users[name], vote, yes_no(vote, code))
        travel.advance(days=11)
        outcome = votes.close_vote(town.clerk, vote).questions[0]
    assert outcome["valid"] is True
    assert outcome["passed"] is False  # 2 of 4 present agree: not more than half
    assert [t["fraction"] for t in outcome["thresholds"]] == ["4/5", "1/2"]


def _households(town):
    """Give every adult of community A a household: H101 张三 (and his child), H201 王芳, H202 李明 and
    赵六, H203 孙七; and two more adults in H101."""
    h101 = town.zhang.household
    h201, h202, h203 = (
        people.create_household(SYSTEM, town.tree.grid_a1, number=number)
        for number in ("H201", "H202", "H203")
    )
    Resident.objects.filter(pk=town.wang.pk).update(household=h201)
    Resident.objects.filter(pk__in=[town.li.pk, town.zhao.pk]).update(household=h202)
    Resident.objects.filter(pk=town.sun.pk).update(household=h203)
    person(town.tree.grid_a1, "刘芬", dt.date(1972, 2, 2), household=h101)
    person(town.tree.grid_a1, "张大宝", dt.date(2000, 2, 2), household=h101)


def test_a_villagers_meeting_is_valid_with_two_thirds_of_households_represented(town):
    with clock.frozen(NOW) as travel:
        _households(town)
        matter = matter_at(town, Process.VILLAGERS_MEETING, upto=("convene",))
        vote = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.VILLAGERS))
        for name, code in (("zhang", "yes"), ("wang", "yes"), ("sun", "no")):
            votes.cast_online(town.users[name], vote, yes_no(vote, code))
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    outcome = result.questions[0]
    assert result.electorate == 7
    fractions = {t["code"]: (t["fraction"], t["met"]) for t in outcome["thresholds"]}
    assert fractions == {
        "participation_villagers": ("3/7", False),
        "participation_households": ("3/4", True),
        "yes": ("2/3", True),
    }
    assert outcome["valid"] is True and outcome["passed"] is True


def test_a_villagers_meeting_is_not_valid_below_both_bases(town):
    with clock.frozen(NOW) as travel:
        _households(town)
        matter = matter_at(town, Process.VILLAGERS_MEETING, upto=("convene",))
        vote = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.VILLAGERS))
        votes.cast_online(town.users["li"], vote, yes_no(vote))
        votes.cast_online(town.users["zhao"], vote, yes_no(vote))  # the same household as 李明
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))
        travel.advance(days=11)
        outcome = votes.close_vote(town.clerk, vote).questions[0]
    fractions = {t["code"]: (t["fraction"], t["met"]) for t in outcome["thresholds"]}
    assert fractions["participation_villagers"] == ("3/7", False)
    assert fractions["participation_households"] == ("1/2", False)  # 2 of 4 households
    assert outcome["valid"] is False and outcome["passed"] is False


def test_villagers_without_a_recorded_household_still_count_as_households(town):
    # Only 张三's household is recorded; 王芳, 李明, 赵六 and 孙七 live in households of their own.
    with clock.frozen(NOW) as travel:
        matter = matter_at(town, Process.VILLAGERS_MEETING, upto=("convene",))
        vote = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.VILLAGERS))
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))  # 1 villager of 5
        travel.advance(days=11)
        outcome = votes.close_vote(town.clerk, vote).questions[0]
    assert outcome["valid"] is False


def test_a_party_members_meeting_counts_full_members_only(town):
    with clock.frozen(NOW) as travel:
        person(town.tree.grid_a1, "吴预备", dt.date(1995, 1, 1), political_status="预备党员")
        for name in ("甲党员", "乙党员"):
            person(town.tree.grid_a1, name, dt.date(1960, 1, 1), political_status="中共党员")
        matter = matter_at(town, Process.FOUR_TWO, upto=("propose", "discuss"))
        vote = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.PARTY_MEMBERS, step="review"))
        votes.cast_online(town.users["sun"], vote, yes_no(vote))
        entry = votes.enter_paper_ballot(
            town.clerk, vote, elector=elector(vote, "甲党员"), choices=yes_no(vote)
        )
        votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote))
        with pytest.raises(PermissionDenied):
            votes.enter_paper_ballot(town.clerk, vote, elector=elector(vote, "吴预备"), choices=yes_no(vote))
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    assert result.electorate == 3
    assert [t["fraction"] for t in result.questions[0]["thresholds"]] == ["2/3", "1/1"]
    assert result.questions[0]["passed"] is True


# ================================================================ the hash chain


def _closed_owners_vote(town) -> Vote:
    """An owners' vote with a changed ballot: #1 张三 yes, #2 李明 yes, #3 赵六 no (replaced by #4 yes)."""
    with clock.frozen(NOW) as travel:
        vote = owners_vote(town, rule=VoteRule.OWNERS, days=16, allow_change=True)
        for name, code in (("zhang", "yes"), ("li", "yes"), ("zhao", "no"), ("zhao", "yes")):
            travel.advance(minutes=10)
            votes.cast_online(town.users[name], vote, yes_no(vote, code))
        travel.advance(days=16)
        votes.close_vote(town.clerk, vote)
    return vote


def _swap_seq(vote, a: int, b: int) -> None:
    ballots = Ballot.objects.filter(vote=vote)
    ballots.filter(seq=a).update(seq=10_000)
    ballots.filter(seq=b).update(seq=a)
    ballots.filter(seq=10_000).update(seq=b)


def _edit_questions(vote) -> None:
    result = Result.objects.get(vote=vote)
    result.questions[0]["options"][0]["count"] += 1
    result.save(update_fields=["questions"])


TAMPERING = {
    "choices": lambda vote: Ballot.objects.filter(vote=vote, seq=1).update(
        choices=[vote.questions.get().options.get(code="no").pk]
    ),
    "area": lambda vote: Ballot.objects.filter(vote=vote, seq=2).update(area=Decimal("1000.00")),
    "cast_at": lambda vote: Ballot.objects.filter(vote=vote, seq=2).update(
        cast_at=Ballot.objects.get(vote=vote, seq=2).cast_at - dt.timedelta(seconds=1)
    ),
    "delete a ballot": lambda vote: Ballot.objects.filter(vote=vote, seq=2).delete(),
    "delete the last ballot": lambda vote: Ballot.objects.filter(vote=vote, seq=4).delete(),
    "reorder seq": lambda vote: _swap_seq(vote, 1, 2),
    "flip replaced": lambda vote: Ballot.objects.filter(vote=vote, seq=1).update(replaced=True),
    "result questions": _edit_questions,
    "result participants": lambda vote: Result.objects.filter(vote=vote).update(participants=4),
}


def test_an_untouched_chain_verifies(town):
    vote = _closed_owners_vote(town)
    check = votes.verify(vote)
    assert check.ok and check.ballots == 4
    ballots = list(Ballot.objects.filter(vote=vote).order_by("seq"))
    assert ballots[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(ballots, ballots[1:], strict=False))
    assert [b.replaced for b in ballots] == [False, False, True, False] and ballots[3].replaces == ballots[2]
    result = Result.objects.get(vote=vote)
    assert result.chain_head == ballots[-1].hash and result.hash == chain.result_hash(result)
    assert str(result.participant_area) == "360.00" and result.participants == 3


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=TAMPERING.keys())
def test_any_change_to_ballots_or_result_fails_verification(town, tamper):
    vote = _closed_owners_vote(town)
    tamper(vote)
    assert not votes.verify(vote).ok


def test_verification_names_the_altered_ballot(town):
    vote = _closed_owners_vote(town)
    Ballot.objects.filter(vote=vote, seq=3).update(area=Decimal("61.00"))
    check = votes.verify(vote)
    assert not check.ok and check.seq == 3


def test_a_reopened_tally_fails_verification_even_with_a_recomputed_seal(town):
    vote = _closed_owners_vote(town)
    result = Result.objects.get(vote=vote)
    result.questions[0]["passed"] = not result.questions[0]["passed"]
    result.hash = chain.result_hash(result)
    result.save()
    check = votes.verify(vote)
    assert not check.ok and "重新计票" in check.problem


def test_a_resealed_turnout_fails_verification(town):
    vote = _closed_owners_vote(town)
    result = Result.objects.get(vote=vote)
    result.participants, result.participant_area = 4, Decimal("500.00")
    result.hash = chain.result_hash(result)
    result.save()
    assert not votes.verify(vote).ok


def test_an_open_vote_verifies_and_detects_tampering_too(town):
    with clock.frozen(NOW):
        vote = residents_vote(town)
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))
        votes.cast_online(town.users["wang"], vote, yes_no(vote, "no"))
    assert votes.verify(vote).ok
    Vote.objects.filter(pk=vote.pk).update(ballot_count=1)
    assert not votes.verify(vote).ok


# ================================================================ races the database settles


def test_a_participation_recorded_meanwhile_refuses_the_online_ballot(town):
    with clock.frozen(NOW):
        vote = residents_vote(town)
        zhang = elector(vote, "张三")
        Participation.objects.create(vote=vote, elector=zhang, channel=Channel.ONLINE, at=clock.now())
        with pytest.raises(Conflict) as refused:
            votes.cast_online(town.users["zhang"], vote, yes_no(vote))
    assert refused.value.code == "vote.already_voted"
    vote.refresh_from_db()
    assert vote.ballot_count == 0 and not Ballot.objects.filter(vote=vote).exists()


def test_the_unique_participation_settles_a_paper_ballot_racing_an_online_one(town):
    with clock.frozen(NOW):
        vote = residents_vote(town)
        zhao = elector(vote, "赵六")
        entry = votes.enter_paper_ballot(town.clerk, vote, elector=zhao, choices=yes_no(vote, "no"))
        # 赵六 votes on his phone while the paper ballot waits for its confirmation.
        Participation.objects.create(vote=vote, elector=zhao, channel=Channel.ONLINE, at=clock.now())
        with pytest.raises(Conflict) as refused:
            votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote, "no"))
        assert refused.value.code == "vote.already_voted"
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))  # the transaction is still usable
    assert PaperEntry.objects.filter(pk=entry.pk).exists()
    assert Participation.objects.get(vote=vote, elector=zhao).channel == Channel.ONLINE
    assert list(Ballot.objects.filter(vote=vote).values_list("seq", flat=True)) == [1]
    # The chain is intact; the stand-in for the racing online vote has no ballot, and verify says so.
    check = votes.verify(vote)
    assert check.ballots == 1 and check.seq is None and check.problem == "选票与投票记录不符"


# ================================================================ meetings decide by those present


def test_a_meeting_decides_by_those_present_not_by_the_ballots_cast(town):
    # 5 may vote, 4 signed in, 3 voted: 2 of the 3 ballots agree, but 2 of the 4 present is not "> 1/2".
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town)
        for name in ("张三", "王芳", "李明", "赵六"):
            matters.sign_in(town.clerk, vote, elector(vote, name))
        with pytest.raises(Conflict) as twice:
            matters.sign_in(town.checker, vote, elector(vote, "赵六"))
        assert twice.value.code == "attendance.exists"
        with pytest.raises(DomainError):
            matters.sign_in(town.clerk, vote, elector(vote, "张小宝"))  # not in the electorate
        for name, code in (("zhang", "yes"), ("wang", "yes"), ("li", "no")):
            votes.cast_online(town.users[name], vote, yes_no(vote, code))
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    assert (result.electorate, result.present, result.participants) == (5, 4, 3)
    outcome = result.questions[0]
    assert outcome["ballots"] == 3 and option_count(result, "yes") == 2
    quorum, yes = outcome["thresholds"]
    assert (quorum["part"], quorum["whole"], quorum["met"]) == ("4", "5", True)
    assert (yes["part"], yes["whole"], yes["requirement"], yes["met"]) == ("2", "4", "> 1/2", False)
    assert outcome["valid"] is True and outcome["passed"] is False
    assert votes.verify(vote).ok


def test_present_means_signed_in_or_voted(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town)
        for name in ("张三", "王芳"):
            matters.sign_in(town.clerk, vote, elector(vote, name))
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))  # signed in and voted
        votes.cast_online(town.users["li"], vote, yes_no(vote))  # voted without signing in
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    assert (result.present, result.participants) == (3, 2)  # 张三, 王芳, 李明
    quorum, yes = result.questions[0]["thresholds"]
    assert (quorum["fraction"], quorum["met"]) == ("3/5", True)
    assert (yes["fraction"], yes["met"]) == ("2/3", True)
    assert result.questions[0]["passed"] is True


def test_a_representatives_meeting_counts_those_present_who_did_not_vote(town):
    with clock.frozen(NOW) as travel:
        matter = matter_at(town, Process.REPRESENTATIVES_MEETING, upto=("convene",))
        vote = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.REPRESENTATIVES))
        for resident in (town.wang, town.li, town.zhao):
            votes.add_elector(town.clerk, vote, resident=resident, reason="村民代表")
        matters.sign_in(town.clerk, vote, elector(vote, "李明"))
        votes.cast_online(town.users["wang"], vote, yes_no(vote))
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    assert (result.electorate, result.present, result.participants) == (3, 2, 1)
    quorum, yes = result.questions[0]["thresholds"]
    assert (quorum["fraction"], quorum["requirement"], quorum["met"]) == ("2/3", "≥ 2/3", True)
    assert (yes["fraction"], yes["met"]) == ("1/2", False)  # the one ballot cast agrees, 1 of 2 present
    assert result.questions[0]["passed"] is False


def test_a_villagers_meeting_counts_households_of_those_present(town):
    with clock.frozen(NOW) as travel:
        _households(town)
        matter = matter_at(town, Process.VILLAGERS_MEETING, upto=("convene",))
        vote = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.VILLAGERS))
        matters.sign_in(town.clerk, vote, elector(vote, "孙七"))  # H203, came but did not vote
        for name in ("zhang", "wang"):
            votes.cast_online(town.users[name], vote, yes_no(vote))
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    fractions = {t["code"]: (t["fraction"], t["met"]) for t in result.questions[0]["thresholds"]}
    assert fractions == {
        "participation_villagers": ("3/7", False),
        "participation_households": ("3/4", True),
        "yes": ("2/3", True),
    }
    assert result.present == 3 and result.participants == 2


# ================================================================ secret paper ballots: a ballot box


def test_a_secret_votes_paper_ballots_are_handed_out_by_name_and_entered_without_one(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, secret=True)
        zhao, li = elector(vote, "赵六"), elector(vote, "李明")
        for outsider in (town.users["wang"], town.outsider_staff):
            with pytest.raises(PermissionDenied):
                votes.hand_out_paper_ballot(outsider, vote, elector=zhao)
        with pytest.raises(PermissionDenied):
            votes.hand_out_paper_ballot(town.clerk, vote, elector=elector(vote, "张小宝"))
        travel.advance(minutes=5)
        handed = votes.hand_out_paper_ballot(town.clerk, vote, elector=zhao)
        assert (handed.elector, handed.channel, handed.at) == (zhao, Channel.PAPER, travel.at)
        assert handed.cast_by == town.clerk and handed.confirmed_by is None
        with pytest.raises(Conflict) as twice:
            votes.hand_out_paper_ballot(town.checker, vote, elector=zhao)
        assert twice.value.code == "vote.already_voted"
        with pytest.raises(Conflict):
            votes.cast_online(town.users["zhao"], vote, yes_no(vote))  # he has his paper ballot
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))
        with pytest.raises(Conflict):
            votes.hand_out_paper_ballot(town.clerk, vote, elector=elector(vote, "张三"))  # voted online
        votes.hand_out_paper_ballot(town.clerk, vote, elector=li)
        with pytest.raises(Conflict) as early:  # the box is opened once voting has ended
            votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote))
        assert early.value.code == "ballot.box_not_open"
        travel.advance(days=10)
        with pytest.raises(Conflict) as late:
            votes.hand_out_paper_ballot(town.clerk, vote, elector=elector(vote, "孙七"))
        assert late.value.code == "vote.deadline_passed"

        with pytest.raises(DomainError) as named:
            votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote), elector=zhao)
        assert named.value.code == "ballot.secret_unnamed"
        first = votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote, "no"))
        second = votes.enter_paper_ballot(town.checker, vote, choices=yes_no(vote, "yes"))
        assert first.elector is None and second.elector is None
        with pytest.raises(Conflict) as full:  # two handed out, two in the box (pending ones count)
            votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote))
        assert full.value.code == "ballot.more_than_handed_out"
        with pytest.raises(PermissionDenied) as same:
            votes.confirm_paper_ballot(town.clerk, first, choices=yes_no(vote, "no"))
        assert same.value.code == "ballot.same_person"
        with pytest.raises(Conflict) as differ:
            votes.confirm_paper_ballot(town.checker, first, choices=yes_no(vote, "yes"))
        assert differ.value.code == "ballot.entries_differ"
        votes.confirm_paper_ballot(town.checker, first, choices=yes_no(vote, "no"))
        votes.discard_paper_entry(town.checker, second, reason="录入时看错了选票")
        third = votes.enter_paper_ballot(town.checker, vote, choices=yes_no(vote, "yes"))  # room again
        votes.confirm_paper_ballot(town.clerk, third, choices=yes_no(vote, "yes"))
        with pytest.raises(Conflict):  # confirmed ballots fill the box too
            votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote))
        travel.advance(hours=1)
        result = votes.close_vote(town.clerk, vote)
    assert result.participants == 3
    assert option_count(result, "yes") == 2 and option_count(result, "no") == 1
    assert Ballot.objects.filter(vote=vote).count() == 3
    assert _secret_ballots(vote) == {(None, "", vote.opened_at, Decimal(0))}
    handed_out = Participation.objects.filter(vote=vote, channel=Channel.PAPER)
    assert sorted(handed_out.values_list("elector__name", flat=True)) == ["李明", "赵六"]
    for entry in AuditEntry.objects.filter(action__in=["vote.paper_enter", "vote.paper_confirm"]):
        assert "elector" not in (entry.after or {})
    assert votes.verify(vote).ok


def test_a_named_votes_paper_ballot_is_not_handed_out_but_entered_by_name(town):
    with clock.frozen(NOW):
        vote = residents_vote(town)
        with pytest.raises(DomainError) as named:
            votes.hand_out_paper_ballot(town.clerk, vote, elector=elector(vote, "赵六"))
        assert named.value.code == "ballot.not_secret"
        with pytest.raises(DomainError) as nameless:
            votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote))
        assert nameless.value.code == "ballot.elector_required"
    assert not Participation.objects.exists() and not PaperEntry.objects.exists()


def test_a_secret_paper_ballot_may_be_collected_by_a_proxy_with_the_signed_authorisation(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, secret=True)
        li = elector(vote, "李明")
        with pytest.raises(DomainError) as missing:
            votes.hand_out_paper_ballot(town.clerk, vote, elector=li, proxy_name="李母")
        assert missing.value.code == "ballot.proxy_incomplete"
        with pytest.raises(DomainError):
            votes.hand_out_paper_ballot(town.clerk, vote, elector=li, proxy_authorisation=png())
        assert not Participation.objects.exists()
        handed = votes.hand_out_paper_ballot(
            town.clerk, vote, elector=li, proxy_name="李母", proxy_authorisation=png("委托书.png")
        )
        with pytest.raises(DomainError) as at_the_box:  # the proxy is recorded at hand-out, not on the ballot
            votes.enter_paper_ballot(
                town.clerk, vote, choices=yes_no(vote), proxy_name="李母", proxy_authorisation=png()
            )
        assert at_the_box.value.code == "ballot.secret_unnamed"
        travel.advance(days=11)
        entry = votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote))
        votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote))
        result = votes.close_vote(town.clerk, vote)
    assert handed.channel == Channel.PROXY and handed.proxy_name == "李母"
    assert handed.proxy_authorisation.content_type == "image/png"
    assert AuditEntry.objects.get(action="vote.paper_hand_out").after == {"elector": li.pk, "proxy": True}
    ballot = Ballot.objects.get(vote=vote)
    assert ballot.elector is None and ballot.channel == ""  # the box does not say whose it was
    assert ballot.cast_at == vote.opened_at
    assert result.participants == 1 and option_count(result, "yes") == 1
    assert votes.verify(vote).ok


# ================================================================ owners vote by name; changing ballots


def test_an_owners_vote_is_always_by_name(town):
    with clock.frozen(NOW):
        matter = matter_at(town, Process.OWNERS_ASSEMBLY, upto=("announce",), compound="阳光小区")
        for rule in (VoteRule.OWNERS, VoteRule.OWNERS_SPECIAL):
            with pytest.raises(DomainError) as refused:
                new_vote(town, matter, rule, secret=True)
            assert refused.value.code == "vote.owners_by_name"
        assert not Vote.objects.exists()
        vote = new_vote(town, matter, VoteRule.OWNERS)
        with pytest.raises(IntegrityError), transaction.atomic():
            Vote.objects.filter(pk=vote.pk).update(secret=True)
    assert Vote.objects.get(pk=vote.pk).secret is False


def test_a_co_owner_cannot_change_the_ballot_the_other_co_owner_cast(town):
    with clock.frozen(NOW) as travel:
        vote = owners_vote(town, rule=VoteRule.OWNERS, days=16, allow_change=True)
        votes.cast_online(town.users["wang"], vote, yes_no(vote, "yes"))
        travel.advance(hours=1)
        with pytest.raises(Conflict) as other:
            votes.cast_online(town.users["li"], vote, yes_no(vote, "no"))
        assert other.value.code == "vote.already_voted"
        votes.cast_online(town.users["wang"], vote, yes_no(vote, "abstain"))  # her own she may change
        travel.advance(days=16)
        result = votes.close_vote(town.clerk, vote)
    couple = elector(vote, "王芳、李明")
    assert Participation.objects.get(vote=vote, elector=couple).cast_by == town.users["wang"]
    assert list(Ballot.objects.filter(vote=vote).values_list("replaced", flat=True)) == [True, False]
    assert option_count(result, "abstain") == 1 and option_count(result, "no") == 0
    assert AuditEntry.objects.filter(action="vote.change").count() == 1


def test_no_online_ballot_while_a_paper_ballot_for_the_elector_waits_for_confirmation(town):
    with clock.frozen(NOW):
        vote = residents_vote(town, allow_change=True)
        zhao = elector(vote, "赵六")
        entry = votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote, "no"), elector=zhao)
        with pytest.raises(Conflict) as pending:
            votes.cast_online(town.users["zhao"], vote, yes_no(vote, "yes"))
        assert pending.value.code == "vote.already_voted"
        assert not Participation.objects.filter(vote=vote).exists()
        votes.discard_paper_entry(town.checker, entry, reason="赵六本人已在手机上投票")
        votes.cast_online(town.users["zhao"], vote, yes_no(vote, "yes"))
    assert Participation.objects.get(vote=vote).channel == Channel.ONLINE
    assert votes.verify(vote).ok


# ================================================================ 四议两公开: a failed vote ends the process


def _review(town, matter, code: str) -> Vote:
    """The Party members' review (孙七 is the only full member) voted `code` and recorded."""
    review = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.PARTY_MEMBERS, step="review"))
    votes.cast_online(town.users["sun"], review, yes_no(review, code))
    return review


def test_a_failed_review_lets_the_matter_close_early_saying_so(town):
    with clock.frozen(NOW) as travel:
        matter = matter_at(town, Process.FOUR_TWO, upto=("propose", "discuss"))
        review = _review(town, matter, "no")
        travel.advance(days=11)
        outcome = votes.close_vote(town.clerk, review).questions[0]
        assert (outcome["valid"], outcome["passed"]) == (True, False)
        with pytest.raises(Conflict) as unrecorded:  # the review meeting is still to be recorded
            matters.close_matter(town.clerk, matter)
        assert unrecorded.value.code == "matter.steps_missing"
        matters.record_step(town.clerk, matter, code="review", held_on=clock.today(), minutes="未通过")
        with pytest.raises(Conflict):
            matters.record_step(town.clerk, matter, code="decide", held_on=clock.today(), minutes="x")
        travel.advance(days=1)
        closed = matters.close_matter(town.clerk, matter)
    assert closed.status == MatterStatus.CLOSED and closed.closed_at == travel.at
    assert closed.outcome == "“党员大会审议”表决未获通过，议题终止"
    assert Matter.objects.get(pk=matter.pk).outcome == closed.outcome
    assert AuditEntry.objects.get(action="matter.close").after == {"ended_by_failed_vote": True}


def test_a_failed_review_can_be_voted_again_before_it_is_recorded(town):
    with clock.frozen(NOW) as travel:
        matter = matter_at(town, Process.FOUR_TWO, upto=("propose", "discuss"))
        first = _review(town, matter, "no")
        travel.advance(days=11)
        votes.close_vote(town.clerk, first)
        second = _review(town, matter, "yes")
        travel.advance(days=11)
        votes.close_vote(town.clerk, second)
        matters.record_step(town.clerk, matter, code="review", held_on=clock.today(), minutes="复议通过")
        with pytest.raises(Conflict) as not_failed:
            matters.close_matter(town.clerk, matter)
        assert not_failed.value.code == "matter.steps_missing"  # the latest review carried
        decide = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.REPRESENTATIVES))
    assert decide.status == VoteStatus.OPEN


def test_no_decide_vote_opens_after_the_review_failed(town):
    with clock.frozen(NOW) as travel:
        matter = matter_at(town, Process.FOUR_TWO, upto=("propose", "discuss"))
        review = _review(town, matter, "no")
        travel.advance(days=11)
        votes.close_vote(town.clerk, review)
        matters.record_step(town.clerk, matter, code="review", held_on=clock.today(), minutes="未通过")
        decide = new_vote(town, matter, VoteRule.REPRESENTATIVES)
        with pytest.raises(Conflict) as refused:
            votes.open_vote(town.clerk, decide)
    assert refused.value.code == "matter.vote_failed"


def test_a_failed_decision_blocks_publishing_the_result_and_lets_the_matter_close(town):
    with clock.frozen(NOW) as travel:
        matter = matter_at(town, Process.FOUR_TWO, upto=("propose", "discuss"))
        review = _review(town, matter, "yes")
        travel.advance(days=11)
        votes.close_vote(town.clerk, review)
        matters.record_step(town.clerk, matter, code="review", held_on=clock.today(), minutes="审议通过")
        decide = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.REPRESENTATIVES))
        for resident in (town.wang, town.li, town.zhao):
            votes.add_elector(town.clerk, decide, resident=resident, reason="村民代表")
        for name in ("wang", "li"):
            votes.cast_online(town.users[name], decide, yes_no(decide, "no"))
        travel.advance(days=11)
        outcome = votes.close_vote(town.clerk, decide).questions[0]
        assert (outcome["valid"], outcome["passed"]) == (True, False)
        matters.record_step(town.clerk, matter, code="decide", held_on=clock.today(), minutes="未通过")
        matters.record_step(
            town.clerk, matter, code="publish_decision", held_on=clock.today(), minutes="方案未获通过"
        )
        with pytest.raises(Conflict) as refused:
            matters.record_step(
                town.clerk, matter, code="publish_result", held_on=clock.today(), minutes="已实施"
            )
        assert refused.value.code == "matter.vote_failed"
        closed = matters.close_matter(town.clerk, matter)
    assert closed.status == MatterStatus.CLOSED
    assert closed.outcome == "“村民会议或村民代表会议决议”表决未获通过，议题终止"
    assert not Publication.objects.filter(matter=matter, step_code="publish_result").exists()


# ================================================================ the frozen electorate and who voted


ELECTORATE_TAMPERING = {
    "area": lambda town, vote: Elector.objects.filter(vote=vote, name="赵六").update(area=Decimal("600.00")),
    "eligible": lambda town, vote: Elector.objects.filter(vote=vote, units="1栋底商").update(eligible=False),
    "members": lambda town, vote: Elector.objects.get(vote=vote, units="1栋底商").members.add(town.sun),
}


@pytest.mark.parametrize("tamper", ELECTORATE_TAMPERING.values(), ids=ELECTORATE_TAMPERING.keys())
def test_an_edited_electorate_fails_verification(town, tamper):
    vote = _closed_owners_vote(town)
    assert vote.electorate_hash == chain.electorate_hash(vote)
    tamper(town, vote)
    check = votes.verify(vote)
    assert not check.ok and check.problem == "表决名单与开始投票时封存的不一致"


def test_electorate_changes_through_the_services_are_resealed(town):
    with clock.frozen(NOW):
        vote = residents_vote(town)
        sealed = Vote.objects.get(pk=vote.pk).electorate_hash
        votes.remove_elector(town.clerk, elector(vote, "赵六"), reason="已迁出")
        votes.add_elector(town.clerk, vote, resident=town.child, reason="出生日期登记有误")
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))
    resealed = Vote.objects.get(pk=vote.pk).electorate_hash
    assert resealed not in ("", sealed) and resealed == chain.electorate_hash(vote)
    assert votes.verify(vote).ok
    Elector.objects.filter(vote=vote, name="张小宝").update(eligible=False)
    assert not votes.verify(vote).ok


def test_clearing_the_electorate_seal_fails_verification(town):
    vote = _closed_owners_vote(town)
    Vote.objects.filter(pk=vote.pk).update(electorate_hash="")
    Elector.objects.get(vote=vote, units="1栋底商").members.add(town.sun)
    assert not votes.verify(vote).ok


def test_a_ballot_whose_participation_is_deleted_fails_verification(town):
    vote = _closed_owners_vote(town)
    Participation.objects.filter(vote=vote, elector__name="赵六").delete()
    check = votes.verify(vote)
    assert not check.ok and check.seq is None and check.problem == "选票与投票记录不符"


def test_a_secret_ballot_whose_participation_is_deleted_fails_verification(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, secret=True)
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))
        votes.hand_out_paper_ballot(town.clerk, vote, elector=elector(vote, "赵六"))
        travel.advance(days=11)
        entry = votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote, "no"))
        votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote, "no"))
    assert votes.verify(vote).ok
    for channel in (Channel.PAPER, Channel.ONLINE):
        with transaction.atomic():
            Participation.objects.filter(vote=vote, channel=channel).delete()
            check = votes.verify(vote)
            assert not check.ok and check.problem == "选票张数与投票记录不符", channel
            transaction.set_rollback(True)


# ================================================================ micro-wishes stay in their community


def test_a_resident_of_another_community_cannot_claim_a_wish(town):
    with clock.frozen(NOW):
        wish = proposals.raise_proposal(
            town.users["zhao"], kind=ProposalKind.WISH, title="一台收音机", body="想听川剧"
        )
        with pytest.raises(PermissionDenied) as refused:
            proposals.claim_wish(town.users["neighbour"], wish, claimant="周八")
        assert refused.value.code == "proposal.not_verified"
        proposals.claim_wish(town.clerk, wish, claimant="马宗岭社区志愿者协会")  # staff of the community may
    wish.refresh_from_db()
    assert wish.status == ProposalStatus.CLAIMED and wish.claimed_by == town.clerk


# ================================================================ the box, stale pages, stored language


def test_the_box_is_opened_only_once_voting_has_ended(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, secret=True)
        votes.hand_out_paper_ballot(town.clerk, vote, elector=elector(vote, "赵六"))
        travel.to(vote.closes_at - dt.timedelta(minutes=1))
        with pytest.raises(Conflict) as early:
            votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote))
        assert early.value.code == "ballot.box_not_open"
        assert not PaperEntry.objects.exists()
        votes.hand_out_paper_ballot(town.clerk, vote, elector=elector(vote, "李明"))  # still in time
        travel.to(vote.closes_at)
        with pytest.raises(Conflict) as late:
            votes.hand_out_paper_ballot(town.clerk, vote, elector=elector(vote, "孙七"))
        assert late.value.code == "vote.deadline_passed"
        entry = votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote))
        votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote))
    assert sorted(Participation.objects.filter(vote=vote).values_list("elector__name", flat=True)) == [
        "李明",
        "赵六",
    ]
    assert AuditEntry.objects.filter(action="vote.paper_hand_out").count() == 2


def test_online_ballots_take_no_room_in_the_box(town):
    with clock.frozen(NOW) as travel:
        nobody_handed_out = residents_vote(town, secret=True)
        votes.cast_online(town.users["zhang"], nobody_handed_out, yes_no(nobody_handed_out))
        vote = residents_vote(town, secret=True)
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))
        votes.cast_online(town.users["wang"], vote, yes_no(vote, "no"))
        votes.hand_out_paper_ballot(town.clerk, vote, elector=elector(vote, "赵六"))
        travel.advance(days=11)
        with pytest.raises(Conflict) as empty:
            votes.enter_paper_ballot(town.clerk, nobody_handed_out, choices=yes_no(nobody_handed_out))
        assert empty.value.code == "ballot.more_than_handed_out"
        entry = votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote, "abstain"))
        with pytest.raises(Conflict) as pending:  # the entry waiting for confirmation fills the box
            votes.enter_paper_ballot(town.checker, vote, choices=yes_no(vote))
        assert pending.value.code == "ballot.more_than_handed_out"
        votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote, "abstain"))
        with pytest.raises(Conflict) as full:
            votes.enter_paper_ballot(town.checker, vote, choices=yes_no(vote))
        assert full.value.code == "ballot.more_than_handed_out"
        result = votes.close_vote(town.clerk, vote)
    assert result.participants == 3 and Ballot.objects.filter(vote=vote).count() == 3
    assert [option_count(result, code) for code in ("yes", "no", "abstain")] == [1, 1, 1]


HEX64 = re.compile(r"[0-9a-f]{64}")


def test_closing_a_secret_vote_keeps_no_chain_head_that_gives_the_voting_order_back(town, monkeypatch):
    monkeypatch.setattr(votes, "_shuffle", lambda items: items.reverse())
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, secret=True)
        for name, code in (("zhang", "yes"), ("wang", "no"), ("li", "abstain")):
            travel.advance(minutes=7)
            votes.cast_online(town.users[name], vote, yes_no(vote, code))
        cast_head = Vote.objects.get(pk=vote.pk).chain_head
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    assert result.chain_head != cast_head
    closing = AuditEntry.objects.get(action="vote.close")
    assert closing.after["chain_checked"] is True
    assert set(HEX64.findall(json.dumps(closing.after))) == {result.hash}
    for entry in AuditEntry.objects.all():
        assert cast_head not in json.dumps([entry.before, entry.after])
    assert votes.verify(vote).ok


def test_closing_a_named_vote_records_no_relinking_check(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town)
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))
        travel.advance(days=11)
        result = votes.close_vote(town.clerk, vote)
    closing = AuditEntry.objects.get(action="vote.close")
    assert closing.after == {"participants": 1, "hash": result.hash, "chain_checked": False}


def test_an_elector_removed_meanwhile_cannot_vote_through_a_stale_copy(town):
    with clock.frozen(NOW):
        named = residents_vote(town)
        secret = residents_vote(town, secret=True)
        stale = {vote: elector(vote, "赵六") for vote in (named, secret)}
        for vote in (named, secret):
            votes.remove_elector(town.clerk, elector(vote, "赵六"), reason="已迁出本社区")
        assert all(e.eligible for e in stale.values())  # the copies still say so
        with pytest.raises(PermissionDenied) as online:
            votes.cast_online(town.users["zhao"], named, yes_no(named), elector=stale[named])
        with pytest.raises(PermissionDenied) as paper:
            votes.enter_paper_ballot(town.clerk, named, choices=yes_no(named), elector=stale[named])
        with pytest.raises(PermissionDenied) as handed:
            votes.hand_out_paper_ballot(town.clerk, secret, elector=stale[secret])
        with pytest.raises(PermissionDenied) as secret_online:
            votes.cast_online(town.users["zhao"], secret, yes_no(secret), elector=stale[secret])
    codes = {e.value.code for e in (online, paper, handed, secret_online)}
    assert codes == {"vote.not_in_electorate"}
    assert not Participation.objects.exists() and not PaperEntry.objects.exists()
    assert not Ballot.objects.exists()


def test_an_entry_another_clerk_confirmed_or_discarded_is_gone(town):
    third = user_with(Role.COMMUNITY_STAFF, town.tree.community_a, username="third")
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town)
        zhao, li = elector(vote, "赵六"), elector(vote, "李明")
        entry = votes.enter_paper_ballot(town.clerk, vote, elector=zhao, choices=yes_no(vote))
        votes.discard_paper_entry(town.clerk, PaperEntry.objects.get(pk=entry.pk), reason="填错了人")
        with pytest.raises(Conflict) as confirm_discarded:  # the checker's page still shows it
            votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote))
        with pytest.raises(Conflict) as discard_again:
            votes.discard_paper_entry(town.checker, entry, reason="作废")
        assert confirm_discarded.value.code == discard_again.value.code == "ballot.entry_gone"
        assert AuditEntry.objects.filter(action="vote.paper_discard").count() == 1
        assert not Participation.objects.exists() and not Ballot.objects.exists()

        entry = votes.enter_paper_ballot(town.clerk, vote, elector=li, choices=yes_no(vote, "no"))
        votes.confirm_paper_ballot(
            town.checker, PaperEntry.objects.get(pk=entry.pk), choices=yes_no(vote, "no")
        )
        with pytest.raises(Conflict) as confirm_again:
            votes.confirm_paper_ballot(third, entry, choices=yes_no(vote, "no"))
        with pytest.raises(Conflict) as discard_confirmed:
            votes.discard_paper_entry(town.checker, entry, reason="作废")
        assert confirm_again.value.code == discard_confirmed.value.code == "ballot.entry_gone"
        assert Participation.objects.get().elector == li and Ballot.objects.count() == 1

        travel.advance(days=11)
        votes.close_vote(town.clerk, vote)
        with pytest.raises(Conflict) as after_close:
            votes.discard_paper_entry(town.checker, entry, reason="作废")
    assert after_close.value.code == "vote.closed"
    assert AuditEntry.objects.filter(action="vote.paper_discard").count() == 1


def test_what_residents_read_is_stored_in_chinese_whatever_language_staff_use(town):
    with clock.frozen(NOW) as travel, translation.override("en"):
        proposals.set_agenda_threshold(town.clerk, town.tree.community_a, 1)
        proposal = proposals.raise_proposal(
            town.users["zhang"], kind=ProposalKind.PROPOSAL, title="装路灯", body="楼下太黑"
        )
        proposals.support(town.users["wang"], proposal)
        proposals.answer(town.clerk, proposal, decision=ProposalStatus.DECLINED, text="已有规划")
        wish = proposals.raise_proposal(
            town.users["zhao"], kind=ProposalKind.WISH, title="一台收音机", body="想听川剧"
        )
        proposals.claim_wish(town.users["wang"], wish, claimant="王芳")
        proposals.fulfil_wish(town.users["wang"], wish, photo=png())

        matter = matter_at(town, Process.FOUR_TWO, upto=("propose", "discuss"))
        review = votes.open_vote(town.clerk, new_vote(town, matter, VoteRule.PARTY_MEMBERS, step="review"))
        added = votes.add_elector(town.clerk, review, resident=town.zhang, reason="组织关系刚转入")
        removed = votes.remove_elector(town.clerk, added, reason="组织关系尚未转入")
        votes.cast_online(town.users["sun"], review, yes_no(review, "no"))
        travel.advance(days=11)
        votes.close_vote(town.clerk, review)
        matters.record_step(town.clerk, matter, code="review", held_on=clock.today(), minutes="未通过")
        closed = matters.close_matter(town.clerk, matter)
    assert (added.reason, removed.reason) == ("工作人员加入", "工作人员移出")
    assert Elector.objects.get(pk=added.pk).reason == "工作人员移出"
    assert Matter.objects.get(pk=closed.pk).outcome == "“党员大会审议”表决未获通过，议题终止"
    titles: dict[str, set[str]] = {}
    for kind, title in Notification.objects.values_list("kind", "title"):
        titles.setdefault(kind, set()).add(title)
    assert titles.pop("vote_opened") == {
        f"请投票：表决事项（3月11日{timezone.localtime(review.closes_at):%H:%M}截止）"
    }
    assert titles == {
        "proposal_agenda": {"您的提议已获足够附议，列入议程", "提议列入议程，请答复：装路灯"},
        "proposal_answered": {"您的提议已答复：不予采纳"},
        "wish_claimed": {"您的微心愿已由王芳认领"},
        "wish_fulfilled": {"您的微心愿已实现"},
        "vote_closed": {"表决结果已公布：表决事项"},
    }
    for title in Notification.objects.values_list("title", flat=True):
        assert not re.search("[A-Za-z]", title), title


def test_a_household_on_an_electorate_cannot_be_deleted(town):
    with clock.frozen(NOW):
        vote = residents_vote(town)
        unused = people.create_household(SYSTEM, town.tree.grid_a1, number="H102")
    household = Household.objects.get(pk=elector(vote, "张三").household_id)
    with pytest.raises(ProtectedError) as protected:
        household.delete()
    assert {e.pk for e in protected.value.protected_objects} == set(
        Elector.objects.filter(vote=vote, household=household).values_list("pk", flat=True)
    )
    assert Household.objects.filter(pk=household.pk).exists()
    unused.delete()  # one no electorate names goes as before
    assert not Household.objects.filter(pk=unused.pk).exists()


def test_the_box_count_shown_to_staff_leaves_online_ballots_out(town):
    with clock.frozen(NOW) as travel:
        vote = residents_vote(town, secret=True)
        votes.cast_online(town.users["zhang"], vote, yes_no(vote))
        votes.hand_out_paper_ballot(town.clerk, vote, elector=elector(vote, "赵六"))
        travel.advance(days=11)
        assert queries.paper_box(vote) == {"handed_out": 1, "entered": 0}
        entry = votes.enter_paper_ballot(town.clerk, vote, choices=yes_no(vote))
        votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote))
    assert queries.paper_box(vote) == {"handed_out": 1, "entered": 1}
