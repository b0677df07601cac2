"""Pure rules of votes and meetings: legal thresholds, counting owners, tallies and who is elected.

Exact arithmetic only: integers and `Fraction`; a `Decimal` area is turned into a `Fraction`
before any comparison, and floats are refused. No database here: services pass plain values in,
store `Outcome.as_dict()` with the result and act on the answer.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.utils.translation import gettext_lazy as _

from gongzhi.core.errors import DomainError

Number = int | Fraction | Decimal


class VoteInputError(DomainError, ValueError):
    """Counts that cannot be true (a negative number, more yes votes than voters…).

    A `ValueError` for callers of these pure functions and a `DomainError` for services and the API.
    """

    def __init__(self, message):
        super().__init__("deliberation.invalid_count", message)


def _exact(value: Any) -> int | Fraction:
    # bool is an int subclass and a float is inexact: both are programming errors, not input errors.
    if isinstance(value, bool) or not isinstance(value, int | Fraction | Decimal):
        raise TypeError(f"expected int, Fraction or Decimal, got {type(value).__name__}")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise VoteInputError(_("数值必须是有限数"))
        return Fraction(value)
    return value


def _decimal(value: Any) -> Decimal:
    # Areas stay Decimal (square metres with two places) so sums print as the register does.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"expected Decimal or int area, got {type(value).__name__}")
    if _exact(value) < 0:
        raise VoteInputError(_("专有部分面积不能为负数"))
    return Decimal(value)


def at_least(part: Number, whole: Number, num: int, den: int) -> bool:
    """part/whole ≥ num/den, exactly (part·den ≥ whole·num). Nothing is a share of zero."""
    part, whole = _exact(part), _exact(whole)
    if whole == 0:
        return False
    return part * den >= whole * num


def more_than(part: Number, whole: Number, num: int, den: int) -> bool:
    """part/whole > num/den, exactly (part·den > whole·num). Nothing is a share of zero."""
    part, whole = _exact(part), _exact(whole)
    if whole == 0:
        return False
    return part * den > whole * num


def _fraction_text(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


@dataclass(frozen=True)
class Threshold:
    """One legal condition of a vote: `part` of `whole` must reach `num`/`den` (strictly or not)."""

    code: str
    label: Any
    part: Number
    whole: Number
    num: int
    den: int
    strict: bool = False

    def __post_init__(self):
        for value in (self.part, self.whole):
            _exact(value)
        if self.den <= 0 or not 0 <= self.num <= self.den:
            raise ValueError(f"invalid required share {self.num}/{self.den}")

    @property
    def fraction(self) -> Fraction | None:
        whole = _exact(self.whole)
        return None if whole == 0 else Fraction(_exact(self.part)) / whole

    @property
    def met(self) -> bool:
        compare = more_than if self.strict else at_least
        return compare(self.part, self.whole, self.num, self.den)

    @property
    def requirement(self) -> str:
        return f"{'>' if self.strict else '≥'} {self.num}/{self.den}"

    def as_dict(self) -> dict[str, Any]:
        fraction = self.fraction
        return {
            "code": self.code,
            "label": str(self.label),
            "part": str(self.part),
            "whole": str(self.whole),
            "fraction": None if fraction is None else _fraction_text(fraction),
            "requirement": self.requirement,
            "met": self.met,
        }


@dataclass(frozen=True)
class Outcome:
    """Whether a meeting or vote was valid (enough took part) and whether the motion passed."""

    valid: bool
    passed: bool
    thresholds: list[Threshold] = field(default_factory=list)

    def __post_init__(self):
        if self.passed and not self.valid:
            raise ValueError("an invalid vote cannot pass")

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "passed": self.passed,
            "thresholds": [threshold.as_dict() for threshold in self.thresholds],
        }


def _require_counts(*pairs: tuple[Number, Any, Number, Any]) -> None:
    """Each (part, part name, whole, whole name): both non-negative and part ≤ whole."""
    for part, part_name, whole, whole_name in pairs:
        for value, name in ((whole, whole_name), (part, part_name)):
            if _exact(value) < 0:
                raise VoteInputError(_("%(name)s不能为负数") % {"name": name})
        if _exact(part) > _exact(whole):
            raise VoteInputError(_("%(part)s不能多于%(whole)s") % {"part": part_name, "whole": whole_name})


# --- Owners' assembly (业主大会) ------------------------------------------------------------------


def owners_assembly_check(
    total_area: Number,
    total_owners: int,
    participating_area: Number,
    participating_owners: int,
    yes_area: Number,
    yes_owners: int,
    special: bool,
) -> Outcome:
    """A decision of the owners (民法典第二百七十八条).

    Valid when owners holding ≥ 2/3 of the exclusive-part area and ≥ 2/3 of the owners take part.
    Items (6)–(8) of the article (`special`: raising the maintenance fund, rebuilding, changing
    the use of common parts) need ≥ 3/4 of the participating area and of the participating owners;
    every other item needs more than half of each.
    """
    _require_counts(
        (participating_area, _("参与表决的专有部分面积"), total_area, _("专有部分总面积")),
        (participating_owners, _("参与表决的业主人数"), total_owners, _("业主总人数")),
        (yes_area, _("同意的专有部分面积"), participating_area, _("参与表决的专有部分面积")),
        (yes_owners, _("同意的业主人数"), participating_owners, _("参与表决的业主人数")),
    )
    num, den, strict = (3, 4, False) if special else (1, 2, True)
    participation = [
        Threshold(
            "participation_area", _("参与表决的专有部分面积占总面积"), participating_area, total_area, 2, 3
        ),
        Threshold(
            "participation_owners", _("参与表决的业主人数占总人数"), participating_owners, total_owners, 2, 3
        ),
    ]
    area_label, owners_label = _("同意的专有部分面积占参与表决面积"), _("同意的业主人数占参与表决人数")
    approval = [
        Threshold("yes_area", area_label, yes_area, participating_area, num, den, strict),
        Threshold("yes_owners", owners_label, yes_owners, participating_owners, num, den, strict),
    ]
    valid = all(t.met for t in participation)
    return Outcome(valid, valid and all(t.met for t in approval), participation + approval)


def owners_assembly_outcome(
    total_area: Number,
    total_owners: int,
    participating_area: Number,
    participating_owners: int,
    yes_area: Number,
    yes_owners: int,
    special: bool,
) -> tuple[bool, bool]:
    """(valid, passed) of an owners' decision (民法典第二百七十八条); see `owners_assembly_check`."""
    outcome = owners_assembly_check(
        total_area, total_owners, participating_area, participating_owners, yes_area, yes_owners, special
    )
    return outcome.valid, outcome.passed


# --- Villages and residents' committees ----------------------------------------------------------


def _majority_of_present(present: int, yes: int) -> Threshold:
    return Threshold("yes", _("同意人数占到会人数"), yes, present, 1, 2, strict=True)


def villagers_meeting_check(
    eligible_villagers: int, present_villagers: int, households: int, households_represented: int, yes: int
) -> Outcome:
    """A villagers' meeting (村民委员会组织法第二十二条).

    Valid with more than half of the villagers aged 18 or over present, or with representatives of
    at least 2/3 of the households; a decision needs more than half of those present.
    """
    _require_counts(
        (present_villagers, _("到会村民人数"), eligible_villagers, _("年满十八周岁的村民人数")),
        (households_represented, _("派代表到会的户数"), households, _("全村户数")),
        (yes, _("同意人数"), present_villagers, _("到会村民人数")),
    )
    attendance = [
        Threshold(
            "participation_villagers",
            _("到会村民占年满十八周岁的村民"),
            present_villagers,
            eligible_villagers,
            1,
            2,
            strict=True,
        ),
        Threshold(
            "participation_households",
            _("派代表到会的户数占全村户数"),
            households_represented,
            households,
            2,
            3,
        ),
    ]
    approval = _majority_of_present(present_villagers, yes)
    valid = any(t.met for t in attendance)
    return Outcome(valid, valid and approval.met, [*attendance, approval])


def villagers_meeting_outcome(
    eligible_villagers: int, present_villagers: int, households: int, households_represented: int, yes: int
) -> tuple[bool, bool]:
    """(valid, passed) of a villagers' meeting (村民委员会组织法第二十二条)."""
    outcome = villagers_meeting_check(
        eligible_villagers, present_villagers, households, households_represented, yes
    )
    return outcome.valid, outcome.passed


def _quorum_and_majority(
    members: int, present: int, yes: int, *, label, whole_name, num: int, den: int, strict: bool
) -> Outcome:
    _require_counts(
        (present, _("到会人数"), members, whole_name),
        (yes, _("同意人数"), present, _("到会人数")),
    )
    quorum = Threshold("participation", label, present, members, num, den, strict)
    approval = _majority_of_present(present, yes)
    return Outcome(quorum.met, quorum.met and approval.met, [quorum, approval])


def representatives_meeting_check(members: int, present: int, yes: int) -> Outcome:
    """A villagers' representatives meeting (村民委员会组织法第二十六条).

    Valid with at least 2/3 of its members present; a decision needs more than half of those present.
    """
    return _quorum_and_majority(
        members,
        present,
        yes,
        label=_("到会人员占村民代表会议组成人员"),
        whole_name=_("村民代表会议组成人员数"),
        num=2,
        den=3,
        strict=False,
    )


def representatives_meeting_outcome(members: int, present: int, yes: int) -> tuple[bool, bool]:
    """(valid, passed) of a villagers' representatives meeting (村民委员会组织法第二十六条)."""
    outcome = representatives_meeting_check(members, present, yes)
    return outcome.valid, outcome.passed


def residents_meeting_check(eligible: int, present: int, yes: int) -> Outcome:
    """A residents' meeting (城市居民委员会组织法第十条).

    `eligible` counts whichever basis the meeting uses: residents aged 18 or over, one
    representative per household, or two or three representatives per residents' group. Valid with
    more than half of them present; a decision needs more than half of those present.
    """
    return _quorum_and_majority(
        eligible,
        present,
        yes,
        label=_("到会人员占应到人数"),
        whole_name=_("应到人数"),
        num=1,
        den=2,
        strict=True,
    )


def residents_meeting_outcome(eligible: int, present: int, yes: int) -> tuple[bool, bool]:
    """(valid, passed) of a residents' meeting (城市居民委员会组织法第十条)."""
    outcome = residents_meeting_check(eligible, present, yes)
    return outcome.valid, outcome.passed


def party_members_meeting_check(members: int, present: int, yes: int) -> Outcome:
    """The Party members' meeting that reviews a village matter (四议两公开, step 3, a practice rule).

    Valid with at least 2/3 of the members present; agreed by more than half of those present.
    """
    return _quorum_and_majority(
        members,
        present,
        yes,
        label=_("到会党员占全体党员"),
        whole_name=_("党员人数"),
        num=2,
        den=3,
        strict=False,
    )


def party_members_meeting_outcome(members: int, present: int, yes: int) -> tuple[bool, bool]:
    """(valid, passed) of the Party members' meeting of 四议两公开 (step 3)."""
    outcome = party_members_meeting_check(members, present, yes)
    return outcome.valid, outcome.passed


# --- Elections -----------------------------------------------------------------------------------


def election_turnout(electorate: int, voters: int) -> Threshold:
    """The turnout condition of a village committee election (村民委员会组织法第十五条), for the record."""
    _require_counts((voters, _("参加投票的村民人数"), electorate, _("登记参加选举的村民人数")))
    return Threshold(
        "turnout", _("参加投票的村民占登记参加选举的村民"), voters, electorate, 1, 2, strict=True
    )


def election_check(electorate: int, voters: int) -> bool:
    """An election is valid when more than half of the registered voters vote (村民委员会组织法第十五条)."""
    return election_turnout(electorate, voters).met


def elected(votes_by_candidate: Mapping[Hashable, int], ballots_cast: int, seats: int) -> list:
    """Who is elected (村民委员会组织法第十五条): more than half of the ballots cast, most votes first.

    At most `seats` are elected. When candidates tied for the last seat would exceed the seats,
    none of the tied is elected: those seats go to another round. Equal votes are ordered by key.
    """
    if isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
        raise VoteInputError(_("应选人数至少为一"))
    for candidate, votes in votes_by_candidate.items():
        _require_counts(
            (votes, _("候选人“%(name)s”的得票") % {"name": candidate}, ballots_cast, _("投票人数"))
        )
    majority = sorted(
        (
            (candidate, votes)
            for candidate, votes in votes_by_candidate.items()
            if more_than(votes, ballots_cast, 1, 2)
        ),
        key=lambda item: (-item[1], item[0]),
    )
    if len(majority) > seats and majority[seats][1] == majority[seats - 1][1]:
        tied = majority[seats - 1][1]
        majority = [item for item in majority if item[1] > tied]
    return [candidate for candidate, _votes in majority[:seats]]


# --- Counting owners (法释〔2009〕7号) -------------------------------------------------------------


@dataclass(frozen=True)
class OwnerGroup:
    """Owners who count as one in an owners' vote, with the units and exclusive area they hold.

    `owners` is empty for the developer's units that are unsold or sold but not yet delivered.
    """

    owners: frozenset[int]
    unit_ids: tuple
    area: Decimal

    @property
    def is_developer(self) -> bool:
        return not self.owners


def owner_groups(units: Iterable[tuple[Any, Decimal, Iterable[int]]]) -> list[OwnerGroup]:
    """Group units into the owners counted by number in an owners' vote.

    Per the Supreme People's Court interpretation on building division ownership (法释〔2009〕7号，
    2020年修正) 第八条: area is the exclusive-part area (register, else survey, else contract);
    第九条: one owner per unit, but one buyer of several units counts once, and the developer's
    unsold or undelivered units count together as one. The co-owners of a unit are one buyer: the
    same set of owner ids. Groups come in the order of their smallest unit id.
    """
    by_owners: dict[frozenset[int], list[tuple[Any, Decimal]]] = {}
    seen: set = set()
    for unit_id, area, owner_ids in units:
        if unit_id in seen:
            raise VoteInputError(_("房屋“%(unit)s”重复出现") % {"unit": unit_id})
        seen.add(unit_id)
        by_owners.setdefault(frozenset(owner_ids), []).append((unit_id, _decimal(area)))
    groups = []
    for owners, held in by_owners.items():
        unit_ids = tuple(sorted(unit_id for unit_id, _area in held))
        groups.append(OwnerGroup(owners, unit_ids, sum((area for _unit, area in held), Decimal(0))))
    return sorted(groups, key=lambda group: group.unit_ids[0])


def totals(groups: Iterable[OwnerGroup]) -> tuple[Decimal, int]:
    """(total exclusive-part area, total number of owners) of an owners' vote."""
    groups = list(groups)
    return sum((group.area for group in groups), Decimal(0)), len(groups)


# --- Ballots -------------------------------------------------------------------------------------

CHOICE_KINDS = ("yes_no", "single", "multiple", "election")


def check_choice(kind: str, chosen: Sequence, option_keys: Iterable, max_choices: int | None) -> None:
    """Refuse a ballot that does not fit its question: count of choices, duplicates, unknown options.

    `yes_no` and `single` take exactly one option; `multiple` and `election` take from one up to
    `max_choices` (all the options when None).
    """
    if kind not in CHOICE_KINDS:
        raise ValueError(f"unknown choice kind {kind!r}")
    option_keys = list(option_keys)
    chosen = list(chosen)
    if kind in ("yes_no", "single"):
        if len(chosen) != 1:
            raise VoteInputError(_("此项只能选择一个选项"))
    else:
        limit = len(option_keys) if max_choices is None else max_choices
        if not chosen:
            raise VoteInputError(_("请至少选择一个选项"))
        if len(chosen) > limit:
            raise VoteInputError(_("最多只能选择%(limit)d项") % {"limit": limit})
    if len(set(chosen)) != len(chosen):
        raise VoteInputError(_("同一选项不能重复选择"))
    unknown = [key for key in chosen if key not in option_keys]
    if unknown:
        raise VoteInputError(_("没有这个选项：%(key)s") % {"key": unknown[0]})


def tally(ballots: Iterable[tuple[Sequence, Decimal]], options: Iterable) -> dict[Any, tuple[int, Decimal]]:
    """Count ballots per option: {option: (number of ballots, exclusive area of those ballots)}.

    Every option appears, with zeros when nobody chose it. A ballot naming an unknown option or the
    same option twice is refused rather than miscounted.
    """
    counts: dict[Any, list] = {key: [0, Decimal(0)] for key in options}
    for chosen, area in ballots:
        chosen = list(chosen)
        if len(set(chosen)) != len(chosen):
            raise VoteInputError(_("同一选项不能重复选择"))
        area = _decimal(area)
        for key in chosen:
            if key not in counts:
                raise VoteInputError(_("没有这个选项：%(key)s") % {"key": key})
            counts[key][0] += 1
            counts[key][1] += area
    return {key: (count, area) for key, (count, area) in counts.items()}
