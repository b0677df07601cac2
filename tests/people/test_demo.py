"""The demo population of 南强街道: realistic, valid, reproducible and loaded once."""

from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Count, Sum

from gongzhi.core import demo
from gongzhi.core.models import AuditEntry, Region
from gongzhi.core.roles import Role
from gongzhi.core.validators import validate_citizen_id, validate_credit_code, validate_phone
from gongzhi.people import demo as people_demo
from gongzhi.people import queries, rules
from gongzhi.people.models import (
    Building,
    BuildingType,
    Household,
    IdType,
    Organisation,
    OrganisationKind,
    Ownership,
    Relation,
    ResidenceType,
    Resident,
    ResidentEvent,
    ResidentStatus,
    ResidentTag,
    Unit,
    UnitStatus,
    UnitUse,
)
from tests.factories import user_with

STREET = "510903014"
PEOPLE = 20  # the people loader's order: the cases demo is not needed here


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    """Load the demo once for this module, inside a transaction rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        lines = demo.run_all(up_to=PEOPLE)
        yield lines
        transaction.set_rollback(True)


@pytest.fixture
def street(loaded, db):
    return Region.objects.get(code=STREET)


def in_street(street):
    return Resident.objects.filter(region__path__startswith=street.path)


def test_the_loader_reports_what_it_made(loaded, street):
    line = next(line for line in loaded if line.startswith("人房台账："))
    residents = in_street(street).count()
    assert f"实有人口 {residents} 人" in line
    assert f"单位组织 {Organisation.objects.count()} 个" in line
    assert AuditEntry.objects.filter(action="people.demo_load").count() == 1


def test_about_five_thousand_residents_in_every_grid(street):
    assert 4500 <= in_street(street).count() <= 5500
    grids = Region.objects.filter(path__startswith=street.path, level="grid")
    assert grids.count() == 48
    for grid in grids:
        assert grid.residents.count() >= 40, grid.code
        assert grid.buildings.count() >= 1, grid.code
    kinds = Counter(Building.objects.values_list("kind", flat=True))
    assert kinds[BuildingType.RESIDENTIAL] > kinds[BuildingType.SELF_BUILT] > 0
    floors = Building.objects.filter(kind=BuildingType.RESIDENTIAL).values_list("floors", flat=True)
    assert min(floors) >= 6 and max(floors) <= 18


def test_citizen_ids_are_valid_distinct_and_agree_with_sex_and_birth(street):
    people = list(in_street(street).filter(id_type=IdType.CITIZEN_ID))
    numbers = [r.id_number for r in people]
    assert len(set(numbers)) == len(numbers)
    for r in people:
        parsed = validate_citizen_id(r.id_number)
        assert (parsed.sex, parsed.birth_date) == (r.sex, r.birth_date), r.id_number
        assert r.name_pinyin and r.name_initials and r.id_tail4  # search keys derived
    codes = Counter(n[:6] for n in numbers)
    assert codes.most_common(1)[0][0] == "510903"
    floating = in_street(street).filter(residence_type=ResidenceType.FLOATING)
    assert 0.05 < floating.count() / len(people) < 0.25
    assert all(r.id_number[:6] not in ("510903", "510902") for r in floating if r.id_number)


def test_search_finds_a_demo_resident_by_id_tail_and_pinyin(street):
    staff = user_with(Role.STREET_STAFF, street)
    someone = in_street(street).filter(id_type=IdType.CITIZEN_ID).order_by("id")[100]
    assert someone in queries.search_residents(staff, someone.id_number)
    assert someone in queries.search_residents(staff, someone.id_number[-6:])
    assert someone in queries.search_residents(staff, someone.name_initials.split()[0])


def test_names_phones_and_political_status_look_real(street):
    people = list(in_street(street))
    assert all(2 <= len(r.name) <= 4 for r in people)
    surnames = Counter(r.name[0] for r in people)
    assert {s for s, _ in surnames.most_common(5)} <= set("王李张刘陈杨")
    phones = [r.phone for r in people if r.phone]
    assert len(set(phones)) == len(phones)
    assert all(validate_phone(p) == p for p in phones)
    today = people_demo.DEMO_DATE
    adults = [r for r in people if rules.age_on(r.birth_date, today) >= 18]
    assert sum(bool(r.phone) for r in adults) / len(adults) > 0.8
    assert not any(r.phone for r in people if rules.age_on(r.birth_date, today) < 14)
    members = sum(r.political_status == "01" for r in adults) / len(adults)
    assert 0.07 <= members <= 0.11
    league = [r for r in people if r.political_status == "03"]
    assert league and all(14 <= rules.age_on(r.birth_date, today) <= 28 for r in league)
    assert Counter(r.ethnicity for r in people).most_common(1)[0][0] == "汉族"


def test_ages_look_like_an_ageing_community(street):
    today = people_demo.DEMO_DATE
    ages = [rules.age_on(b, today) for b in in_street(street).values_list("birth_date", flat=True)]
    share = lambda low, high: sum(low <= a <= high for a in ages) / len(ages)  # noqa: E731
    assert 0.05 < share(0, 13) < 0.2  # some children, not many
    assert share(60, 200) > 0.15
    assert share(50, 69) > share(20, 39)


def test_every_household_has_a_householder_among_its_members(street):
    households = Household.objects.filter(region__path__startswith=street.path).annotate(n=Count("members"))
    assert households.count() > 1500
    for household in households.select_related("householder"):
        assert household.n >= 1
        assert household.householder is not None
        assert household.householder.household_id == household.pk
        assert household.householder.relation == Relation.SELF
    selves = Counter(
        Resident.objects.filter(household__isnull=False, relation=Relation.SELF).values_list(
            "household", flat=True
        )
    )
    assert max(selves.values()) == 1
    sizes = Counter(households.values_list("n", flat=True))
    assert sizes[1] and sizes[2] and sizes[3] and sizes[4] and sizes[5]  # alone … three generations


def test_members_live_at_their_households_unit(street):
    for r in in_street(street).filter(household__isnull=False).select_related("household")[:500]:
        assert r.unit_id == r.household.unit_id
        assert r.address == r.household.address and r.address.startswith("南强街道")


def test_units_have_plausible_areas_and_statuses(street):
    units = list(Unit.objects.filter(building__region__path__startswith=street.path))
    for u in units:
        assert Decimal("55") <= u.building_area <= Decimal("140")
        assert u.exclusive_area < u.building_area
        assert Decimal("0.74") <= u.exclusive_area / u.building_area <= Decimal("0.86")
    uses = Counter(u.use for u in units)
    assert uses[UnitUse.HOME] > 10 * uses[UnitUse.SHOP] > 0
    statuses = Counter(u.status for u in units if u.use == UnitUse.HOME)
    assert (
        statuses[UnitStatus.OWNER_OCCUPIED] > statuses[UnitStatus.RENTED] > statuses[UnitStatus.VACANT] * 0.5
    )
    # Nobody lives in a vacant unit or a shop.
    assert not Resident.objects.filter(unit__status=UnitStatus.VACANT).exclude(household=None).exists()
    assert not Resident.objects.filter(unit__use=UnitUse.SHOP).exists()


def test_buildings_stand_inside_their_grid(street):
    from shapely.geometry import Point, shape

    boundaries = {g.pk: shape(g.boundary) for g in Region.objects.filter(level="grid")}
    for b in Building.objects.filter(region__path__startswith=street.path):
        assert boundaries[b.region_id].contains(Point(b.lon, b.lat)), b


def test_ownership_shares_and_landlords(street):
    per_unit = Ownership.objects.values("unit").annotate(total=Sum("share"))
    assert all(0 < row["total"] <= 1 for row in per_unit)
    shared = Ownership.objects.filter(share=Decimal("0.5")).values("unit").annotate(n=Count("id"))
    assert shared and all(row["n"] == 2 for row in shared)
    # Owner-occupied homes belong to the people living there; rented ones to someone who lives elsewhere.
    for o in Ownership.objects.filter(unit__status=UnitStatus.OWNER_OCCUPIED, unit__use=UnitUse.HOME)[:300]:
        assert o.resident.unit_id == o.unit_id
    for o in Ownership.objects.filter(unit__status=UnitStatus.RENTED, unit__use=UnitUse.HOME)[:300]:
        assert o.resident.unit_id != o.unit_id
    units_per_owner = Counter(Ownership.objects.values_list("resident", flat=True))
    assert sum(n >= 3 for n in units_per_owner.values()) >= 5
    grids = defaultdict(set)
    for resident_grid, unit_grid in Ownership.objects.values_list(
        "resident__region", "unit__building__region"
    ):
        grids[resident_grid].add(unit_grid)
    assert any(len(g) > 1 for g in grids.values())  # someone owns a unit in another grid


def test_organisations_have_valid_distinct_credit_codes(street):
    orgs = list(Organisation.objects.filter(region__path__startswith=street.path))
    assert 25 <= len(orgs) <= 40
    assert {o.kind for o in orgs} == set(OrganisationKind.values)
    codes = [o.credit_code for o in orgs if o.credit_code]
    assert len(set(codes)) == len(codes) >= 20
    for code in codes:
        assert validate_credit_code(code) == code and code[2:8] == "510903"
    without = {o.kind for o in orgs if not o.credit_code}
    assert without <= {OrganisationKind.SOLE_TRADER, OrganisationKind.PARTY, OrganisationKind.SOCIAL}


def test_tags_cover_elderly_care_and_a_few_sensitive_groups(street):
    today = people_demo.DEMO_DATE
    old = [
        r.pk
        for r in in_street(street).filter(status=ResidentStatus.LIVING_HERE)
        if rules.age_on(r.birth_date, today) >= 60
    ]
    elderly_tagged = ResidentTag.objects.filter(tag__code__in=["elderly_alone", "empty_nest"])
    assert set(elderly_tagged.values_list("resident", flat=True)) <= set(old)
    assert 0.12 <= elderly_tagged.count() / len(old) <= 0.18
    counts = Counter(ResidentTag.objects.values_list("tag__code", flat=True))
    for code in ("subsistence", "disabled", "veteran"):
        assert counts[code] >= 20
    for code in ("community_correction", "released_prisoner", "severe_mental_disorder"):
        assert 1 <= counts[code] <= 15
    assert not ResidentTag.objects.exclude(resident__status=ResidentStatus.LIVING_HERE).exists()


def test_some_moved_out_or_died_with_events(street):
    gone = in_street(street).exclude(status=ResidentStatus.LIVING_HERE)
    assert gone.filter(status=ResidentStatus.MOVED_OUT).count() >= 5
    assert gone.filter(status=ResidentStatus.DECEASED).count() >= 5
    for r in gone:
        kinds = list(r.events.values_list("kind", flat=True))
        assert kinds[0] == "register" and kinds[1] in ("move_out", "death")
    assert ResidentEvent.objects.filter(kind="register").count() == in_street(street).count()


def test_demo_accounts_grids_have_people_and_zhou_xiaomei(street):
    for code in ("510903014006001", "510903014006002"):
        assert Resident.objects.filter(region__code=code, status=ResidentStatus.LIVING_HERE).count() > 40
    account = next(a for a in demo.ACCOUNTS if a.username == "resident")
    zhou = Resident.objects.get(name=account.real_name, region__code="510903014006001")
    assert zhou.phone == account.phone and zhou.household is not None


def test_likely_duplicates_lists_the_planted_pairs(street):
    staff = user_with(Role.STREET_STAFF, street)
    planted = set(in_street(street).filter(id_type=IdType.NONE).values_list("pk", flat=True))
    assert len(planted) >= 3
    pairs = queries.likely_duplicates(staff)
    found = {b.pk for a, b, _ in pairs} | {a.pk for a, b, _ in pairs}
    assert planted <= found
    for a, b, score in pairs:
        assert a.name == b.name and a.birth_date == b.birth_date and score >= 85
    # 马宗岭社区's staff see the two planted in its grids 1 and 2, and nothing from other communities.
    community = Region.objects.get(code="510903014006")
    mine = queries.likely_duplicates(user_with(Role.COMMUNITY_STAFF, community))
    assert len(mine) >= 2
    assert all(a.region.path.startswith(community.path) for pair in mine for a in pair[:2])


def test_the_same_seed_gives_the_same_people(street):
    generator = people_demo._Generator(street)
    generator.populate()
    planned = {m.id_number for plan in generator.plans for m in plan.members}
    stored = set(in_street(street).filter(id_number__isnull=False).values_list("id_index", flat=True))
    assert len(planned) == len(stored)
    assert {Resident(id_number=n).id_index for n in planned} == stored


def test_loading_again_adds_nothing(street):
    tables = (Building, Unit, Household, Resident, ResidentEvent, Ownership, ResidentTag, Organisation)
    before = [m.objects.count() for m in tables]
    lines = demo.run_all(up_to=PEOPLE)
    assert [m.objects.count() for m in tables] == before
    assert any("已存在" in line for line in lines)
    assert AuditEntry.objects.filter(action="people.demo_load").count() == 1
