"""Scoped reads of deliberation: staff see their subtree; a resident sees the proposals, matters and
votes of the community or village they live in, and never anyone else's ballot."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, QuerySet, Sum

from gongzhi.core import scopes
from gongzhi.core.models import Attachment, User
from gongzhi.core.rules import ancestor_paths
from gongzhi.deliberation import processes, rules
from gongzhi.deliberation.models import (
    AgendaThreshold,
    Attendance,
    Ballot,
    Channel,
    Elector,
    FollowUpTask,
    Matter,
    MatterStep,
    PaperEntry,
    Participation,
    Proposal,
    Publication,
    Result,
    Support,
    Vote,
    VoteRule,
    VoteStatus,
)
from gongzhi.people.models import Resident, ResidentStatus

VIEW = "deliberation.view"
MANAGE = "deliberation.manage"
COUNT = "deliberation.count"
CENT = Decimal("0.01")


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
    # SQLite sums decimals without their places; areas read as the register writes them
    electorate_area = (eligible.aggregate(area=Sum("area"))["area"] or Decimal(0)).quantize(CENT)
    voted_area = (voted.aggregate(area=Sum("elector__area"))["area"] or Decimal(0)).quantize(CENT)
    electorate, signed_in = eligible.count(), Attendance.objects.filter(vote=vote).count()
    # Present as the count does it: signed in or voted, each person once.
    electors = list(eligible)
    present_now = present(vote, electors, list(voted))
    return Turnout(
        electorate=electorate,
        electorate_area=electorate_area,
        voted=voted.count(),
        voted_area=voted_area,
        signed_in=signed_in,
        pending_paper=PaperEntry.objects.filter(vote=vote).count(),
        quorum=_quorum(vote, electors, present_now),
    )


def turnout_summary(vote: Vote) -> dict:
    """The live figures as pages and the API show them (the quorum as its threshold's dict)."""
    figures = turnout(vote)
    return {
        "electorate": figures.electorate,
        "electorate_area": figures.electorate_area,
        "voted": figures.voted,
        "voted_area": figures.voted_area,
        "signed_in": figures.signed_in,
        "pending_paper": figures.pending_paper,
        "quorum": figures.quorum.as_dict() if figures.quorum is not None else None,
    }


def present(vote: Vote, electors: list[Elector], participations: list[Participation]) -> list[Elector]:
    """Who was at the meeting: everyone signed in or voting (a meeting decides by those present)."""
    by_pk = {e.pk: e for e in electors}
    ids = {p.elector_id for p in participations} | set(
        Attendance.objects.filter(vote=vote).values_list("elector_id", flat=True)
    )
    return [by_pk[pk] for pk in sorted(ids) if pk in by_pk]


def decision(vote, electors, present, cast, cast_area, yes) -> rules.Outcome:
    """The rule's check of one option: owners decide by those taking part (their ballots), meetings by
    those present. `yes` is (count, area) of the option."""
    yes_count, yes_area = yes
    if vote.rule in (VoteRule.OWNERS, VoteRule.OWNERS_SPECIAL):
        return rules.owners_assembly_check(
            sum((e.area for e in electors), Decimal(0)),
            len(electors),
            cast_area,
            cast,
            yes_area,
            yes_count,
            vote.rule == VoteRule.OWNERS_SPECIAL,
        )
    if vote.rule == VoteRule.VILLAGERS:
        households = {household_key(e) for e in electors}
        represented = {household_key(e) for e in present}
        return rules.villagers_meeting_check(
            len(electors), len(present), len(households), len(represented), yes_count
        )
    if vote.rule == VoteRule.REPRESENTATIVES:
        return rules.representatives_meeting_check(len(electors), len(present), yes_count)
    if vote.rule == VoteRule.PARTY_MEMBERS:
        return rules.party_members_meeting_check(len(electors), len(present), yes_count)
    return rules.residents_meeting_check(len(electors), len(present), yes_count)


def household_key(elector: Elector):
    """A villager with no household on record counts as a household of their own."""
    return ("household", elector.household_id) if elector.household_id else ("elector", elector.pk)


def _quorum(vote: Vote, electors: list[Elector], present_now: list[Elector]) -> rules.Threshold | None:
    """The meeting's quorum so far, as the count will judge it (owners' votes are judged on the result)."""
    if vote.by_area or not electors:
        return None
    if vote.rule == VoteRule.ELECTION:
        return rules.election_turnout(len(electors), len(present_now))
    attendance = decision(vote, electors, present_now, 0, Decimal(0), (0, Decimal(0))).thresholds[:-1]
    return next((t for t in attendance if t.met), attendance[0])  # villagers: by headcount or households


def my_participation(user, vote: Vote) -> Participation | None:
    """Whether (and how) this resident has voted — never what."""
    resident = resident_of(user)
    if resident is None:
        return None
    return Participation.objects.filter(vote=vote, elector__members=resident).first()


# ---------------------------------------------------------------- staff reads of a vote


def electors_table(vote: Vote, *, eligible_only: bool = False, offset: int = 0, limit: int | None = None):
    """The electorate, each entry marked with whether and how they voted (never what) and when they
    signed in: `voted`, `channel`, `signed_in`, `signed_in_at`."""
    qs = Elector.objects.filter(vote=vote).select_related("changed_by").prefetch_related("members")
    qs = qs.filter(eligible=True).order_by("pk") if eligible_only else qs.order_by("-eligible", "pk")
    rows = list(qs[offset : offset + limit] if limit is not None else qs[offset:])
    ids = [row.pk for row in rows]
    channels = dict(
        Participation.objects.filter(vote=vote, elector__in=ids).values_list("elector_id", "channel")
    )
    signed = dict(
        Attendance.objects.filter(vote=vote, elector__in=ids).values_list("elector_id", "signed_in_at")
    )
    for row in rows:
        row.channel = channels.get(row.pk)
        row.voted = row.channel is not None
        row.signed_in_at = signed.get(row.pk)
        row.signed_in = row.signed_in_at is not None
    return rows


def elector_of(vote: Vote, pk: int) -> Elector | None:
    return Elector.objects.filter(vote=vote, pk=pk).first()


def electors_in_votes(votes: QuerySet[Vote]) -> QuerySet[Elector]:
    return Elector.objects.filter(vote__in=votes).select_related("vote__matter__region")


def addable_residents(user, vote: Vote) -> QuerySet[Resident]:
    """Residents living in the vote's community whom the user may put on its electorate."""
    return scopes.visible(
        Resident.objects.filter(
            region__path__startswith=vote.matter.region.path, status=ResidentStatus.LIVING_HERE
        ).order_by("name", "pk"),
        user,
        MANAGE,
    )


def participations(vote: Vote) -> QuerySet[Participation]:
    """Who voted, how and when (never what), in the order they did."""
    return (
        Participation.objects.filter(vote=vote)
        .select_related("elector", "cast_by", "confirmed_by")
        .order_by("at", "pk")
    )


def waiting_electors(vote: Vote) -> QuerySet[Elector]:
    """Eligible entries that have not voted, nor been handed a secret ballot, nor have a ballot waiting
    for its second entry: whom a paper ballot can still be entered for or handed to."""
    return (
        Elector.objects.filter(vote=vote, eligible=True)
        .exclude(Exists(Participation.objects.filter(elector=OuterRef("pk"))))
        .exclude(Exists(PaperEntry.objects.filter(elector=OuterRef("pk"))))
        .order_by("pk")
    )


def pending_entries(vote: Vote) -> list[PaperEntry]:
    """Paper ballots waiting for their second entry, numbered in the order they were entered (an
    unnamed ballot of a secret vote is known only by that number)."""
    entries = list(
        PaperEntry.objects.filter(vote=vote)
        .select_related("elector", "entered_by")
        .order_by("entered_at", "pk")
    )
    for number, entry in enumerate(entries, start=1):
        entry.number = number
    return entries


def pending_entry(vote: Vote, pk: int) -> PaperEntry | None:
    return next((e for e in pending_entries(vote) if e.pk == pk), None)


def pending_entries_in(votes: QuerySet[Vote]) -> QuerySet[PaperEntry]:
    return PaperEntry.objects.filter(vote__in=votes).select_related("vote", "elector")


def paper_box(vote: Vote) -> dict:
    """A secret vote's ballot box: how many paper ballots were handed out and how many entered so far
    (confirmed or waiting for the second entry)."""
    voted = Participation.objects.filter(vote=vote)
    handed_out = voted.exclude(channel=Channel.ONLINE).count()
    first = vote.questions.order_by("order", "pk").first()
    # Secret ballots do not say how they were cast: the box holds all but the online ones.
    cast = Ballot.objects.filter(vote=vote, question=first).count() if first is not None else 0
    confirmed = cast - voted.filter(channel=Channel.ONLINE).count()
    return {"handed_out": handed_out, "entered": confirmed + PaperEntry.objects.filter(vote=vote).count()}


def result_of(vote: Vote) -> Result | None:
    return Result.objects.filter(vote=vote).first()


def results_of(votes) -> dict[int, Result]:
    return {r.vote_id: r for r in Result.objects.filter(vote__in=votes)}


def public_vote(number: int) -> Vote | None:
    """A vote that has opened, by its number; only ever used together with a receipt code."""
    return Vote.objects.exclude(status=VoteStatus.DRAFT).select_related("matter").filter(pk=number).first()


# ---------------------------------------------------------------- matters and proposals


def failed_vote_step(matter: Matter):
    """The step whose vote did not carry when the matter cannot go on without it (it may then be
    closed early), else None."""
    from gongzhi.deliberation.services.matters import adopted  # the one definition of "carried"

    done = set(matter.steps.values_list("code", flat=True))
    following = processes.next_step(matter.process, done)
    if following is None or not following.needs_adopted:
        return None
    vote = (
        Vote.objects.filter(matter=matter, step_code=following.needs_adopted)
        .select_related("result")
        .order_by("-pk")
        .first()
    )
    if vote is None or vote.status != VoteStatus.CLOSED or adopted(vote):
        return None
    return processes.step_of(matter.process, following.needs_adopted)


def configured_thresholds(regions) -> set[int]:
    """Which of these communities set their own agenda threshold."""
    return set(AgendaThreshold.objects.filter(region__in=regions).values_list("region_id", flat=True))


def tasks_visible_to(user) -> QuerySet[FollowUpTask]:
    return FollowUpTask.objects.filter(matter__in=matters_visible_to(user).values("pk"))


def attachment_visible_to(user, pk: int) -> Attachment | None:
    """A step photo or a fulfilment photo for whoever sees what it belongs to; a proxy's signed
    authorisation only for those who count the ballots of that vote."""
    seen_matters = matters_visible_to(user).values("pk")
    counted = scopes.visible(Vote.objects.all(), user, action=COUNT).values("pk")
    linked = (
        MatterStep.objects.filter(matter__in=seen_matters, attachments=pk).exists()
        or proposals_visible_to(user).filter(fulfilment_photo_id=pk).exists()
        or Participation.objects.filter(vote__in=counted, proxy_authorisation_id=pk).exists()
        or PaperEntry.objects.filter(vote__in=counted, proxy_authorisation_id=pk).exists()
    )
    return Attachment.objects.filter(pk=pk).first() if linked else None


# ---------------------------------------------------------------- residents


def proposals_with_support(user) -> QuerySet[Proposal]:
    """The resident's community's proposals, each marked `supported` when they supported it."""
    return proposals_for_resident(user).annotate(
        supported=Exists(Support.objects.filter(proposal=OuterRef("pk"), resident=resident_of(user)))
    )


def supported_ids(user, proposal_ids) -> set[int]:
    resident = resident_of(user)
    if resident is None:
        return set()
    return set(
        Support.objects.filter(resident=resident, proposal__in=proposal_ids).values_list(
            "proposal_id", flat=True
        )
    )


def has_supported(user, proposal: Proposal) -> bool:
    return proposal.pk in supported_ids(user, [proposal.pk])


def votes_with_standing(user) -> QuerySet[Vote]:
    """The resident's community's votes, each marked `can_vote` and `voted` (whether, never what)."""
    resident = resident_of(user)
    return votes_for_resident(user).annotate(
        can_vote=Exists(Elector.objects.filter(vote=OuterRef("pk"), eligible=True, members=resident)),
        voted=Exists(Participation.objects.filter(vote=OuterRef("pk"), elector__members=resident)),
    )


def participations_of(vote: Vote, electors) -> dict[int, Participation]:
    """Whether each of these entries voted (by elector id)."""
    return {
        p.elector_id: p for p in Participation.objects.filter(vote=vote, elector__in=[e.pk for e in electors])
    }


def ineligible_entry(vote: Vote, resident) -> Elector | None:
    """The resident's entry in the electorate that was considered and found not eligible, if any."""
    return (
        Elector.objects.filter(Q(resident=resident) | Q(members=resident), vote=vote, eligible=False)
        .order_by("pk")
        .first()
    )
