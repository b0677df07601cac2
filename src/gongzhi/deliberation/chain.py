"""The hash chain of a vote's ballots and the seal of its result, and the check that recomputes both.

Each ballot's hash is SHA-256 over a canonical JSON of its content and the previous ballot's hash;
the result's hash covers the tally and the chain head at closing. Changing, deleting or inserting a
ballot row, or editing the result, breaks the chain or the tally at that point.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC

from django.utils.translation import gettext as _

from gongzhi.deliberation.models import (
    GENESIS,
    Ballot,
    Elector,
    Participation,
    Result,
    Vote,
    VoteStatus,
)

RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed from paper


def _digest(content: dict) -> str:
    raw = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def ballot_hash(ballot: Ballot) -> str:
    return _digest(
        {
            "vote": ballot.vote_id,
            "seq": ballot.seq,
            "question": ballot.question_id,
            "elector": ballot.elector_id,
            "choices": sorted(ballot.choices),
            "area": f"{ballot.area:.2f}",
            "channel": ballot.channel,
            "cast_at": ballot.cast_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "receipt": ballot.receipt_hash,
            "replaces": ballot.replaces_id,
            "prev": ballot.prev_hash,
        }
    )


def result_hash(result: Result) -> str:
    return _digest(
        {
            "vote": result.vote_id,
            "computed_at": result.computed_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "electorate": result.electorate,
            "electorate_area": f"{result.electorate_area:.2f}",
            "participants": result.participants,
            "participant_area": f"{result.participant_area:.2f}",
            "present": result.present,
            "questions": result.questions,
            "chain_head": result.chain_head,
        }
    )


def electorate_hash(vote: Vote) -> str:
    """The frozen electorate: who may vote, with their area and who may cast for them."""
    electors = Elector.objects.filter(vote=vote, eligible=True).prefetch_related("members").order_by("pk")
    return _digest(
        {
            "vote": vote.pk,
            "electors": [
                [e.pk, f"{e.area:.2f}", e.household_id, sorted(m.pk for m in e.members.all())]
                for e in electors
            ],
        }
    )


def new_receipt() -> str:
    """A receipt code the voter keeps (e.g. `K7PX-3M9Q-TB2W`); only its hash is stored."""
    code = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(12))
    return "-".join(code[i : i + 4] for i in range(0, 12, 4))


def receipt_hash(code: str) -> str:
    normalised = "".join(ch for ch in code.upper() if ch in RECEIPT_ALPHABET)
    return hashlib.sha256(normalised.encode()).hexdigest()


def _ballots_against_participations(vote: Vote) -> str:
    """Every current ballot belongs to someone recorded as voting, once per question."""
    voted = dict(Participation.objects.filter(vote=vote).values_list("elector_id", "channel"))
    for question in vote.questions.all():
        current = Ballot.objects.filter(vote=vote, question=question, replaced=False)
        if vote.secret:  # secret ballots name nobody and say nothing of how they were cast
            if current.count() > len(voted):
                return _("选票张数与投票记录不符")
        elif sorted(current.values_list("elector_id", flat=True)) != sorted(voted):
            return _("选票与投票记录不符")
    return ""


@dataclass
class Check:
    ok: bool
    ballots: int
    problem: str = ""
    seq: int | None = None


def verify(vote: Vote, recount) -> Check:
    """Recompute the chain link by link, then the tally with `recount` (the code that closed the vote)."""
    vote = Vote.objects.get(pk=vote.pk)  # the stored head and count, not a caller's stale copy
    prev, count = GENESIS, 0
    replaced_ids = set()
    flagged_ids = set()
    for ballot in Ballot.objects.filter(vote=vote).order_by("seq").iterator(chunk_size=2000):
        count += 1
        if ballot.seq != count:
            return Check(False, count, _("选票序号有缺漏或重复"), ballot.seq)
        if ballot.prev_hash != prev:
            return Check(False, count, _("与前一张选票的哈希不衔接"), ballot.seq)
        if ballot_hash(ballot) != ballot.hash:
            return Check(False, count, _("选票内容与其哈希不符（选票被改动）"), ballot.seq)
        if ballot.replaces_id:
            replaced_ids.add(ballot.replaces_id)
        if ballot.replaced:
            flagged_ids.add(ballot.pk)
        prev = ballot.hash
    if replaced_ids != flagged_ids:
        return Check(False, count, _("改票标记与哈希链中的改票记录不一致"))
    if count != vote.ballot_count or prev != vote.chain_head:
        return Check(False, count, _("最后的选票缺失，或链末端哈希被改动"))
    if vote.status != VoteStatus.DRAFT and electorate_hash(vote) != vote.electorate_hash:
        return Check(False, count, _("表决名单与开始投票时封存的不一致"))
    problem = _ballots_against_participations(vote)
    if problem:
        return Check(False, count, problem)
    if vote.status != VoteStatus.CLOSED:
        return Check(True, count)
    result = Result.objects.filter(vote=vote).first()
    if result is None:
        return Check(False, count, _("表决已结束但没有结果记录"))
    if result.chain_head != prev or result_hash(result) != result.hash:
        return Check(False, count, _("结果记录与其哈希封存不符（结果被改动）"))
    stored = {
        "electorate": result.electorate,
        "electorate_area": result.electorate_area,
        "participants": result.participants,
        "participant_area": result.participant_area,
        "present": result.present,
        "questions": result.questions,
    }
    if recount(vote) != stored:
        return Check(False, count, _("重新计票的结果与公布的结果不同"))
    return Check(True, count)
