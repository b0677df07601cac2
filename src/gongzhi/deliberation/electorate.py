"""Who may vote: the electorate of a vote, computed from the people ledger with a reason for everyone.

Read only; `services.votes.open_vote` freezes the result as `Elector` rows when the vote opens.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from gongzhi.deliberation import rules
from gongzhi.deliberation.models import Vote, VoteRule
from gongzhi.deliberation.processes import Process
from gongzhi.people.models import Ownership, PoliticalStatus, ResidenceType, Resident, ResidentStatus, Unit
from gongzhi.people.rules import age_on

VOTING_AGE = 18
VILLAGE_PROCESSES = (Process.FOUR_TWO, Process.VILLAGERS_MEETING, Process.REPRESENTATIVES_MEETING)


@dataclass
class Candidate:
    name: str
    eligible: bool
    reason: str
    resident_id: int | None = None
    household_id: int | None = None
    member_ids: list[int] = field(default_factory=list)
    units: str = ""
    area: Decimal = Decimal(0)


def candidates(vote: Vote, on: dt.date) -> list[Candidate]:
    """Everyone the vote's rule considers, eligible or not, in a stable order."""
    if vote.by_area:
        return owners(vote.matter.region.path, vote.matter.compound)
    if vote.rule == VoteRule.REPRESENTATIVES:
        return []  # the members of the representatives' meeting are entered by staff
    if vote.rule == VoteRule.PARTY_MEMBERS:
        return party_members(vote.matter.region.path, on)
    village = vote.rule == VoteRule.VILLAGERS or vote.matter.process in VILLAGE_PROCESSES
    return adults(vote.matter.region.path, on, villagers=village)


def _living(path: str):
    return (
        Resident.objects.filter(region__path__startswith=path, status=ResidentStatus.LIVING_HERE)
        .only("pk", "name", "birth_date", "household_id", "residence_type", "political_status")
        .order_by("pk")
    )


def adults(path: str, on: dt.date, *, villagers: bool) -> list[Candidate]:
    """Residents (or registered villagers) living here; those aged 18 and over on `on` may vote."""
    result = []
    for person in _living(path):
        age = age_on(person.birth_date, on)
        if villagers and person.residence_type != ResidenceType.REGISTERED:
            eligible, reason = False, _("非本村户籍村民")
        elif age is None:
            eligible, reason = False, _("出生日期不详，核实后可手工加入")
        elif age < VOTING_AGE:
            eligible, reason = False, _("未满十八周岁（%(age)s岁）") % {"age": age}
        else:
            eligible = True
            reason = _("年满十八周岁的本村村民") if villagers else _("年满十八周岁的本社区居民")
        result.append(
            Candidate(
                person.name,
                eligible,
                reason,
                resident_id=person.pk,
                household_id=person.household_id,
                member_ids=[person.pk],
            )
        )
    return result


def party_members(path: str, on: dt.date) -> list[Candidate]:
    """Party members living here; probationary members attend without a vote."""
    statuses = [PoliticalStatus.CPC_MEMBER, PoliticalStatus.CPC_PROBATIONARY]
    result = []
    for person in _living(path).filter(political_status__in=statuses):
        full = person.political_status == PoliticalStatus.CPC_MEMBER
        reason = _("正式党员") if full else _("预备党员没有表决权")
        result.append(
            Candidate(
                person.name,
                full,
                reason,
                resident_id=person.pk,
                household_id=person.household_id,
                member_ids=[person.pk] if full else [],
            )
        )
    return result


def owners(path: str, compound: str) -> list[Candidate]:
    """The owners of a compound's units, grouped as the judicial interpretation counts them."""
    units = list(
        Unit.objects.filter(building__region__path__startswith=path, building__compound=compound)
        .select_related("building")
        .order_by("pk")
    )
    owned: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for ownership in (
        Ownership.objects.filter(unit__in=units).select_related("resident").order_by("resident_id")
    ):
        owned.setdefault(ownership.unit_id, []).append(ownership.resident_id)
        names[ownership.resident_id] = ownership.resident.name
    by_id = {unit.pk: unit for unit in units}
    groups = rules.owner_groups(
        (unit.pk, unit.exclusive_area or Decimal(0), owned.get(unit.pk, ())) for unit in units
    )
    result = []
    for group in groups:
        labels = "、".join(f"{by_id[pk].building.name}{by_id[pk].label}" for pk in group.unit_ids)
        missing_area = [pk for pk in group.unit_ids if by_id[pk].exclusive_area is None]
        if group.owners:
            members = sorted(group.owners)
            name = "、".join(names[pk] for pk in members)
            reason = _("业主，%(n)s套房屋，专有部分面积%(area)s㎡") % {
                "n": len(group.unit_ids),
                "area": group.area,
            }
        else:
            members, name = [], _("建设单位（未售出或未交付的房屋）")
            reason = _("未售出或未交付的%(n)s套房屋按一人计算") % {"n": len(group.unit_ids)}
        if missing_area:
            reason += _("；其中%(n)s套未登记专有部分面积，按0计") % {"n": len(missing_area)}
        result.append(
            Candidate(
                name,
                True,
                reason,
                resident_id=members[0] if members else None,
                member_ids=members,
                units=labels[:500],
                area=group.area,
            )
        )
    return result
