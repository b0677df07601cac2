"""Scoped reads of deliberation: staff see their subtree; a resident sees the proposals, matters and
votes of the community or village they live in, and never anyone else's ballot."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet, Sum

from gongzhi.core import scopes
from gongzhi.core.models import User
from gongzhi.core.rules import ancestor_paths
from gongzhi.deliberation import processes, rules
from gongzhi.deliberation.models import (
    Attendance,
    Elector,
    Matter,
    PaperEntry,
    Participation,
    Proposal,
    Publication,
    Vote,
    VoteRule,
    VoteStatus,
)

VIEW = "deliberation.view"


def resident_of(user):
    return getattr(user, "resident_record", None) if isinstance(user, User) else None


def proposals_visible_to(user) -> QuerySet[Proposal]:
    return scopes.visible(Proposal.objects.select_related("region"), user, action=VIEW)


def matters_visible_to(user) -> QuerySet[Matter]:
    return scopes.visible(Matter.objects.select_related("region"), user, action=VIEW)


def votes_visible_to(user) -> QuerySet[Vote]:
    return scopes.visible(Vote.objects.select_related("matter__region"), user, action=VIEW)


def _home_paths(user) -> list[str]:
    resident = resident_of(user)
    return ancestor_paths(resident.region.path) if resident is not None else []


def proposals_for_resident(user) -> QuerySet[Proposal]:
    return Proposal.objects.filter(region__path__in=_home_paths(user)).select_related("region")


def matters_for_resident(user) -> QuerySet[Matter]:
    return Matter.objects.filter(region__path__in=_home_paths(user)).select_related("region")


def votes_for_resident(user) -> QuerySet[Vote]:
    """Votes of the resident's community once they have opened (a draft is not public)."""
    return (
        Vote.objects.filter(matter__region__path__in=_home_paths(user))
        .exclude(status=VoteStatus.DRAFT)
        .select_related("matter__region")
    )


def publications_for_resident(user) -> QuerySet[Publication]:
    return Publication.objects.filter(region__path__in=_home_paths(user)).select_related("matter")


def steps_of(matter: Matter) -> list[dict]:
    """Every step of the matter's process with its record (or None) and whether it is the next one."""
    records = {record.code: record for record in matter.steps.prefetch_related("attachments")}
    following = processes.next_step(matter.process, set(records))
    return [
        {
            "step": step,
            "record": records.get(step.code),
            "is_next": following is not None and following.code == step.code,
            "rules": processes.rules_for(matter.process, step.code),
        }
        for step in processes.steps_of(matter.process)
    ]


@dataclass
class Turnout:
    electorate: int
    electorate_area: Decimal
    voted: int
    voted_area: Decimal
    signed_in: int
    pending_paper: int
    quorum: rules.Threshold | None


def turnout(vote: Vote) -> Turnout:
    """Live figures while a vote runs: who may vote, who has, who signed in, what waits for confirmation."""
    eligible = Elector.objects.filter(vote=vote, eligible=True)
    voted = Participation.objects.filter(vote=vote)
    cent = Decimal("0.01")  # SQLite sums decimals without their places
    electorate_area = (eligible.aggregate(area=Sum("area"))["area"] or Decimal(0)).quantize(cent)
    voted_area = (voted.aggregate(area=Sum("elector__area"))["area"] or Decimal(0)).quantize(cent)
    electorate, signed_in = eligible.count(), Attendance.objects.filter(vote=vote).count()
    present = max(signed_in, voted.count())
    return Turnout(
        electorate=electorate,
        electorate_area=electorate_area,
        voted=voted.count(),
        voted_area=voted_area,
        signed_in=signed_in,
        pending_paper=PaperEntry.objects.filter(vote=vote).count(),
        quorum=_quorum(vote, electorate, present),
    )


def _quorum(vote: Vote, electorate: int, present: int) -> rules.Threshold | None:
    """Whether the meeting has its quorum so far (owners' votes count area too; shown on the result)."""
    if vote.by_area or electorate == 0:
        return None
    if vote.rule == VoteRule.ELECTION:
        return rules.election_turnout(electorate, min(present, electorate))
    check = {
        VoteRule.VILLAGERS: lambda: rules.residents_meeting_check(electorate, min(present, electorate), 0),
        VoteRule.RESIDENTS: lambda: rules.residents_meeting_check(electorate, min(present, electorate), 0),
        VoteRule.REPRESENTATIVES: lambda: rules.representatives_meeting_check(
            electorate, min(present, electorate), 0
        ),
        VoteRule.PARTY_MEMBERS: lambda: rules.party_members_meeting_check(
            electorate, min(present, electorate), 0
        ),
    }[vote.rule]()
    return check.thresholds[0]


def my_participation(user, vote: Vote) -> Participation | None:
    """Whether (and how) this resident has voted — never what."""
    resident = resident_of(user)
    if resident is None:
        return None
    return Participation.objects.filter(vote=vote, elector__members=resident).first()
