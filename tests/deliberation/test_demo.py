"""The deliberation demo: 金桂苑's owners' vote, a 四议两公开 matter mid-way, proposals and wishes,
and an open residents' vote for the demo resident — all through the services, loaded once."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import transaction
from django.test.utils import override_settings

from gongzhi.core import demo
from gongzhi.core.models import Attachment, AuditEntry, User
from gongzhi.core.roles import Role
from gongzhi.deliberation import demo as deliberation_demo
from gongzhi.deliberation import processes
from gongzhi.deliberation.models import (
    Ballot,
    Channel,
    Elector,
    Matter,
    MatterStatus,
    Participation,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Publication,
    Support,
    Vote,
    VoteRule,
    VoteStatus,
)
from gongzhi.deliberation.services import votes
from gongzhi.people.models import Building, Ownership, Resident, Unit


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker, tmp_path_factory):
    """Core and people demos, then this one, once for the module, rolled back afterwards."""
    media = tmp_path_factory.mktemp("media")
    storages = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": media}},
    }
    with django_db_blocker.unblock(), override_settings(STORAGES=storages), transaction.atomic():
        demo.run_all(up_to=20)  # the cases demo (40, 45) is not needed and takes long
        yield deliberation_demo.load_deliberation()
        transaction.set_rollback(True)


@pytest.fixture
def owners_vote(loaded, db):
    return Vote.objects.get(title=deliberation_demo.OWNERS_VOTE)


def test_the_loader_is_registered_after_the_cases_demo():
    orders = {name: order for order, name, _fn in demo.LOADERS}
    assert orders["gongzhi.deliberation.demo.load_deliberation"] == 50
    # After the people ledger (20) and the cases demo (40, 45), whose resident logins it reuses.
    assert (
        max(
            order for order, name, _fn in demo.LOADERS if name.startswith(("gongzhi.people", "gongzhi.cases"))
        )
        < 50
    )


def test_the_compound_has_units_of_different_areas_and_owners_of_several(owners_vote):
    units = Unit.objects.filter(building__compound=deliberation_demo.COMPOUND)
    assert Building.objects.filter(compound=deliberation_demo.COMPOUND).count() == 2
    assert len({u.exclusive_area for u in units}) >= 5
    held = Counter(Ownership.objects.filter(unit__in=units).values_list("resident_id", flat=True))
    assert sorted(n for n in held.values() if n > 1) == [2, 3]
    electors = list(Elector.objects.filter(vote=owners_vote).order_by("pk"))
    assert len(electors) == 12 and all(e.eligible for e in electors)
    assert sum((e.area for e in electors), Decimal(0)) == Decimal("1747.00")
    shops = next(e for e in electors if "底商1" in e.units)
    assert shops.area == Decimal("468.00") and shops.units.count("、") == 2
    assert sorted(e.members.count() for e in electors) == [0] + [1] * 10 + [2]  # developer, couple


def test_the_owners_vote_fails_on_area_but_passes_by_headcount(owners_vote):
    assert owners_vote.status == VoteStatus.CLOSED and owners_vote.rule == VoteRule.OWNERS_SPECIAL
    result = owners_vote.result
    assert (result.electorate, result.participants) == (12, 10)
    assert (result.electorate_area, result.participant_area) == (Decimal("1747.00"), Decimal("1531.60"))
    outcome = result.questions[0]
    assert outcome["valid"] is True and outcome["passed"] is False
    thresholds = {t["code"]: t for t in outcome["thresholds"]}
    assert {code: t["met"] for code, t in thresholds.items()} == deliberation_demo.OWNERS_THRESHOLDS
    assert thresholds["yes_owners"]["fraction"] == "4/5"  # 8 of 10 owners
    assert (thresholds["yes_area"]["part"], thresholds["yes_area"]["whole"]) == ("976.20", "1531.60")
    assert owners_vote.matter.status == MatterStatus.CLOSED
    assert Publication.objects.filter(matter=owners_vote.matter, step_code="publish_decision").exists()


def test_owners_with_a_login_voted_online_and_paper_ballots_had_two_staff(owners_vote):
    participations = list(Participation.objects.filter(vote=owners_vote).select_related("cast_by"))
    channels = Counter(p.channel for p in participations)
    assert channels == {Channel.ONLINE: 3, Channel.PAPER: 6, Channel.PROXY: 1}
    resident = User.objects.get(username="resident")
    assert any(p.channel == Channel.ONLINE and p.cast_by == resident for p in participations)
    for p in participations:
        if p.channel == Channel.ONLINE:
            assert p.cast_by.resident_record in p.elector.members.all() and p.confirmed_by is None
        else:
            assert {p.cast_by.username, p.confirmed_by.username} == {"community", "community2"}
    proxy = next(p for p in participations if p.channel == Channel.PROXY)
    assert proxy.proxy_name and proxy.proxy_authorisation.content_type == "image/png"


def test_the_second_staff_account_can_log_in_and_count(loaded, db):
    staff = User.objects.get(username="community2")
    assert staff.check_password(demo.DEMO_PASSWORD)
    assert staff.grants.filter(role=Role.COMMUNITY_STAFF, region__code=deliberation_demo.COMMUNITY).exists()


def test_every_demo_vote_verifies(loaded, db):
    demo_votes = list(Vote.objects.all())
    assert len(demo_votes) == 4
    assert Counter(v.status for v in demo_votes) == {VoteStatus.CLOSED: 2, VoteStatus.OPEN: 2}
    for vote in demo_votes:
        check = votes.verify(vote)
        assert check.ok, (vote.title, check.problem)
        assert check.ballots == Ballot.objects.filter(vote=vote).count()


def test_the_village_matter_waits_for_the_representatives(loaded, db):
    matter = Matter.objects.get(title=deliberation_demo.VILLAGE_MATTER)
    done = set(matter.steps.values_list("code", flat=True))
    assert done == {"propose", "discuss", "review"}
    assert processes.next_step(matter.process, done).code == "decide"
    review = matter.votes.get(step_code="review")
    assert review.status == VoteStatus.CLOSED and review.secret
    assert review.result.questions[0]["valid"] and review.result.questions[0]["passed"]
    assert not Ballot.objects.filter(vote=review, elector__isnull=False).exists()  # secret: no voter
    assert review.attendance.count() == review.result.participants == review.result.present
    # Paper ballots handed out by name, one per member present, and as many entered from the box.
    handed_out = Participation.objects.filter(vote=review)
    assert {p.channel for p in handed_out} == {Channel.PAPER}
    assert {p.cast_by.username for p in handed_out} == {"community"}
    ballots = Ballot.objects.filter(vote=review)
    assert ballots.count() == handed_out.count()
    # Secret ballots say neither how nor when each was cast.
    assert {(b.channel, b.cast_at) for b in ballots} == {("", review.opened_at)}
    # Handed out before the deadline; the box was entered after it.
    assert max(p.at for p in handed_out) < review.closes_at
    entered = AuditEntry.objects.filter(action="vote.paper_confirm", object_id=str(review.pk))
    assert entered.count() == handed_out.count()
    assert review.closes_at <= min(e.at for e in entered) <= max(e.at for e in entered) < review.closed_at
    assert not review.paper_entries.exists()
    decide = matter.votes.get(step_code="decide")
    assert decide.status == VoteStatus.OPEN and decide.rule == VoteRule.REPRESENTATIVES
    representatives = Elector.objects.filter(vote=decide, eligible=True)
    assert representatives.count() == deliberation_demo.REPRESENTATIVES
    assert set(representatives.values_list("change_reason", flat=True)) == {"当选村民代表"}
    assert {e.changed_by.username for e in representatives} == {"community"}


def test_proposals_and_wishes_in_several_states(loaded, db):
    found = Counter(Proposal.objects.values_list("kind", "status"))
    assert found[(ProposalKind.PROPOSAL, ProposalStatus.OPEN)] == 2
    for status in (ProposalStatus.AGENDA, ProposalStatus.ACCEPTED, ProposalStatus.DECLINED):
        assert found[(ProposalKind.PROPOSAL, status)] == 1, status
    for status in (ProposalStatus.OPEN, ProposalStatus.CLAIMED, ProposalStatus.FULFILLED):
        assert found[(ProposalKind.WISH, status)] == 1, status
    near = Proposal.objects.get(title=deliberation_demo.NEAR[0])
    assert near.supports_needed == deliberation_demo.AGENDA_SUPPORTS and near.supports_missing == 1
    assert near.support_count == Support.objects.filter(proposal=near).count()
    declined = Proposal.objects.get(status=ProposalStatus.DECLINED)
    assert (
        declined.answer == deliberation_demo.DECLINE_ANSWER and declined.answered_by.username == "community"
    )
    accepted = Proposal.objects.get(status=ProposalStatus.ACCEPTED)
    assert accepted.matter.title == deliberation_demo.SQUARE_MATTER
    fulfilled = Proposal.objects.get(status=ProposalStatus.FULFILLED)
    assert fulfilled.fulfilment_photo.content_type == "image/png" and fulfilled.fulfilment_note


def test_the_demo_resident_can_vote_on_the_open_residents_vote(loaded, db):
    resident = User.objects.get(username="resident")
    vote = Vote.objects.get(title=deliberation_demo.SQUARE_VOTE)
    assert vote.status == VoteStatus.OPEN and vote.online
    (elector,) = votes.electors_of(resident, vote)
    assert not Participation.objects.filter(vote=vote, elector=elector).exists()
    assert Participation.objects.filter(vote=vote).count() == deliberation_demo.RESIDENT_ACCOUNTS
    approve, pick = vote.questions.order_by("order")
    choices = {approve.pk: [approve.options.get(code="yes").pk], pick.pk: [pick.options.first().pk]}
    receipt = votes.cast_online(resident, vote, choices)
    assert [b["counted"] for b in votes.receipt_ballots(vote, receipt)] == [True, True]
    # She can also push the proposal one support short onto the agenda.
    near = Proposal.objects.get(title=deliberation_demo.NEAR[0])
    assert not Support.objects.filter(proposal=near, resident=resident.resident_record).exists()


def _rows() -> dict[str, int]:
    models = [Matter, Vote, Elector, Participation, Ballot, Proposal, Support, Publication]
    counts = {m.__name__: m.objects.count() for m in models}
    counts |= {
        m.__name__: m.objects.count() for m in (User, Resident, Unit, Ownership, Attachment, AuditEntry)
    }
    return counts


def test_a_second_load_adds_nothing(loaded, db):
    before = _rows()
    lines = deliberation_demo.load_deliberation()
    assert _rows() == before
    assert any("已存在，未重复加载" in line for line in lines)
