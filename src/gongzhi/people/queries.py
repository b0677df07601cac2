"""Scoped reads of the people ledger. Pages, API, exports and search all start here."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from gongzhi.core import crypto, scopes
from gongzhi.core.models import Level, Region
from gongzhi.people import rules
from gongzhi.people.models import (
    Building,
    Household,
    ImportJob,
    Organisation,
    Ownership,
    Resident,
    ResidentStatus,
    Tag,
    Unit,
)

VIEW = "people.view"


def residents_visible_to(
    principal, *, action: str = VIEW, include_inactive: bool = False
) -> QuerySet[Resident]:
    qs = scopes.visible(Resident.objects.select_related("region"), principal, action)
    if not include_inactive:
        qs = qs.filter(status=ResidentStatus.LIVING_HERE)
    return qs


def buildings_visible_to(principal, *, action: str = VIEW) -> QuerySet[Building]:
    return scopes.visible(Building.objects.select_related("region"), principal, action)


def units_visible_to(principal, *, action: str = VIEW) -> QuerySet[Unit]:
    return scopes.visible(Unit.objects.select_related("building", "building__region"), principal, action)


def households_visible_to(principal, *, action: str = VIEW) -> QuerySet[Household]:
    return scopes.visible(
        Household.objects.select_related("region", "householder", "unit"), principal, action
    )


def organisations_visible_to(principal, *, action: str = VIEW) -> QuerySet[Organisation]:
    return scopes.visible(Organisation.objects.select_related("region"), principal, action)


def import_jobs_visible_to(principal) -> QuerySet[ImportJob]:
    return scopes.visible(
        ImportJob.objects.select_related("region", "created_by"), principal, "people.import"
    )


def search_residents(principal, text: str, *, include_inactive: bool = False) -> QuerySet[Resident]:
    """Search as staff type: a name (汉字, full pinyin or initials), the last 4–6 characters of an ID
    number, a full ID number, a mobile number, or part of an address. Always scoped."""
    qs = residents_visible_to(principal, include_inactive=include_inactive)
    text = text.strip()
    if not text:
        return qs.none()
    kind = rules.classify_query(text)
    q = text.upper()
    if kind == "id":
        return qs.filter(id_index=crypto.blind_index(q, purpose="citizen_id"))
    if kind == "phone":
        return qs.filter(phone_index=crypto.blind_index(q, purpose="phone"))
    if kind == "id_tail":
        field = {4: "id_tail4", 5: "id_tail5", 6: "id_tail6"}[len(q)]
        return qs.filter(**{field: crypto.blind_index(q, purpose="citizen_id_tail")})
    if kind == "pinyin":
        low = text.lower()
        return qs.filter(Q(name_pinyin__contains=low) | Q(name_initials__contains=low)).order_by("name")
    return qs.filter(Q(name__contains=text) | Q(address__contains=text)).order_by("name")


def likely_duplicates(principal, *, limit: int = 200) -> list[tuple[Resident, Resident, float]]:
    """Pairs that are probably one person entered twice: same name and birth date, alike addresses.

    Grouping by (name, birth date) in the database keeps this cheap; only small groups are compared.
    """
    qs = residents_visible_to(principal, action="people.merge").filter(birth_date__isnull=False)
    groups = qs.values("name", "birth_date").annotate(n=Count("id")).filter(n__gt=1).order_by("name")[:limit]
    pairs = []
    for group in groups:
        people = list(qs.filter(name=group["name"], birth_date=group["birth_date"]).order_by("created_at"))
        for i, a in enumerate(people):
            for b in people[i + 1 :]:
                if a.id_number and b.id_number:
                    continue  # two different ID numbers are two people
                score = rules.address_similarity(a.address, b.address)
                if rules.likely_duplicate(
                    {"name": a.name, "birth_date": a.birth_date, "address": a.address},
                    {"name": b.name, "birth_date": b.birth_date, "address": b.address},
                ):
                    pairs.append((a, b, score))
    return pairs[:limit]


def household_members(household: Household) -> QuerySet[Resident]:
    return household.members.filter(status=ResidentStatus.LIVING_HERE).order_by("relation", "birth_date")


def building_sheet(building: Building) -> list[dict]:
    """一楼一档: each unit with its owners and the people living there."""
    units = building.units.prefetch_related("ownerships__resident", "occupants").order_by("label")
    return [
        {
            "unit": u,
            "owners": [o.resident for o in u.ownerships.all()],
            "occupants": [r for r in u.occupants.all() if r.status == ResidentStatus.LIVING_HERE],
        }
        for u in units
    ]


def grids_visible_to(principal, *, action: str = VIEW) -> QuerySet[Region]:
    """Grids where the principal may do `action` (e.g. where a person may be registered or moved to)."""
    return scopes.visible(Region.objects.filter(level=Level.GRID), principal, action).order_by("path")


def assignable_tags(principal, resident: Resident) -> QuerySet[Tag]:
    """Tags the principal may see on (and so set for) this resident; sensitive ones only for their roles."""
    from gongzhi.people.services import can_see_tag

    ids = [tag.pk for tag in Tag.objects.all() if can_see_tag(principal, tag, resident)]
    return Tag.objects.filter(pk__in=ids)


def ownerships_of(resident: Resident) -> QuerySet[Ownership]:
    return resident.ownerships.select_related("unit", "unit__building", "unit__building__region").order_by(
        "unit__building__name", "unit__label"
    )


def visible_resident_ids(principal, ids) -> set[int]:
    """Which of these residents the principal may open (others are shown masked, without a link)."""
    qs = residents_visible_to(principal, include_inactive=True).filter(pk__in=set(ids))
    return set(qs.values_list("pk", flat=True))


def building_list(principal, *, grid: str | None = None, q: str | None = None) -> QuerySet[Building]:
    """Buildings in scope, grid by grid, with how many units and residents each holds."""
    qs = buildings_visible_to(principal).annotate(
        unit_count=Count("units", distinct=True),
        occupant_count=Count(
            "units__occupants", filter=Q(units__occupants__status=ResidentStatus.LIVING_HERE), distinct=True
        ),
    )
    if grid:
        qs = qs.filter(region__code=grid)
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(compound__contains=q) | Q(address__contains=q))
    return qs.order_by("region__path", "compound", "name")


def organisation_list(principal, *, kind: str | None = None, q: str | None = None) -> QuerySet[Organisation]:
    qs = organisations_visible_to(principal)
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(credit_code__startswith=q.upper()) | Q(address__contains=q))
    return qs.order_by("region__path", "name")
