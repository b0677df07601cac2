"""Free-text addresses to regions: names from the tree, their variants, typos, buildings, ambiguity."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import timezone

from gongzhi.cases import addressing
from gongzhi.cases.addressing import normalise, resolve
from gongzhi.core import clock
from gongzhi.core.models import Level, Region
from gongzhi.core.principals import SYSTEM
from gongzhi.people import services as people
from gongzhi.people.models import Building
from tests.factories import Tree, region


@dataclass
class Places:
    tree: Tree
    sunshine3: Building  # 阳光花园3栋, grid A1
    sunshine8: Building  # 阳光花园8栋, grid A2 (the same compound spans two grids)
    golden7: Building  # 金色家园7号楼, grid A2, its address written with the county in front
    lane12: Building  # 金鱼巷12号, a self-built house in grid B1
    yard2: Building  # 2号大院 in grid B1: its address starts with a number


@pytest.fixture
def places(tree) -> Places:
    return Places(
        tree,
        people.create_building(
            SYSTEM, tree.grid_a1, name="3栋", compound="阳光花园", address="南强街道马宗岭社区阳光花园3栋"
        ),
        people.create_building(
            SYSTEM, tree.grid_a2, name="8栋", compound="阳光花园", address="南强街道马宗岭社区阳光花园8栋"
        ),
        people.create_building(
            SYSTEM,
            tree.grid_a2,
            name="7号楼",
            compound="金色家园",
            address="四川省遂宁市船山区南强街道马宗岭社区金色家园7号楼",
        ),
        people.create_building(
            SYSTEM, tree.grid_b1, name="金鱼巷12号", address="南强街道金鱼社区金鱼巷12号", kind="self_built"
        ),
        people.create_building(SYSTEM, tree.grid_b1, name="2号大院", address="南强街道金鱼社区2号大院"),
    )


@dataclass
class Neighbour:
    street: Region
    namesake: Region  # another 马宗岭社区, in the neighbouring township
    village: Region


def neighbour(tree: Tree) -> Neighbour:
    street = region("510903015", "北固乡", Level.STREET, tree.county)
    namesake = region("510903015002", "马宗岭社区", Level.COMMUNITY, street)
    village = region("510903015001", "北固村", Level.COMMUNITY, street)
    return Neighbour(street, namesake, village)


def test_normalise_folds_widths_numbers_and_building_words():
    assert normalise("阳光花园３号楼２单元３０１室") == "阳光花园3栋2单元301"
    assert normalise("阳光花园 三幢 二单元") == "阳光花园3栋2单元"
    assert normalise("阳光花园（二期）12#楼") == "阳光花园2期12栋"
    assert normalise("十二号楼二十一层") == "12栋21层"
    assert normalise("马宗岭社区居民委员会，南强街道办事处") == "马宗岭社区|南强街道"
    assert normalise("北固村村民委员会") == normalise("北固村委会") == "北固村"


@pytest.mark.parametrize(
    "text",
    [
        "四川省遂宁市船山区南强街道马宗岭社区",
        "遂宁船山区南强街道马宗岭社区门口",
        "南强街道马宗岭社区",
        "马宗岭社区",
        # A prefix outside the tree is no obstacle: the names that are in it still count.
        "贵州省贵阳市南明区南强街道马宗岭社区",
    ],
)
def test_community_with_or_without_prefixes(tree, text):
    found = resolve(text)
    assert found.region == tree.community_a
    assert (found.kind, found.matched, found.score, found.needs_review) == (
        "community",
        "马宗岭社区",
        100,
        False,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("南强街道办事处马宗岭社区居委会旁边", "community_a"),
        ("南强街道办金鱼社区居民委员会", "community_b"),
        ("金鱼居委会门口", "community_b"),
        ("马宗岭村委会", "community_a"),  # the short name with a village suffix: still the community
    ],
)
def test_committee_and_office_variants(tree, text, expected):
    found = resolve(text)
    assert found.region == getattr(tree, expected)
    assert found.kind == "community"
    assert not found.needs_review


def test_village_and_township_variants(tree):
    n = neighbour(tree)
    assert resolve("北固乡人民政府北固村村民委员会").region == n.village
    assert resolve("北固村委会").region == n.village
    only_township = resolve("北固乡人民政府对面")
    assert (only_township.region, only_township.kind, only_township.needs_review) == (
        n.street,
        "street",
        True,
    )


def test_a_short_name_counts_less_and_not_inside_a_road_name(tree):
    short = resolve("南强马宗岭")
    assert (short.region, short.score, short.needs_review) == (tree.community_a, 90, False)
    # 马宗岭路 is a road, not the community; only the street remains.
    road = resolve("南强街道马宗岭路口")
    assert (road.region, road.kind, road.needs_review) == (tree.street, "street", True)


def test_small_typo_in_a_name(tree):
    found = resolve("南强街道马棕岭社区")
    assert (found.region, found.kind, found.score, found.needs_review) == (
        tree.community_a,
        "community",
        80,
        False,
    )
    assert resolve("马宗岭社").region == tree.community_a
    # 金鱼 has two distinctive characters: a typo there is not guessed.
    assert resolve("金渔社区") is None


def test_street_typo_is_a_street_for_review(tree):
    town = region("510903016", "唐家河镇", Level.STREET, tree.county)
    found = resolve("唐家和镇某某路")
    assert (found.region, found.kind, found.needs_review) == (town, "street", True)
    assert found.score == 75
    # 南强 has two distinctive characters: not guessed.
    assert resolve("南墙街道某某路") is None


@pytest.mark.parametrize(
    "text",
    [
        "四川省遂宁市船山区南强街道马宗岭社区阳光花园3栋2单元301",
        "阳光花园３号楼",
        "阳光花园3幢二单元",
        "阳光花园 3 # 楼",
        "阳光花园三栋",
    ],
)
def test_building_address_variants_give_the_grid(places, text):
    found = resolve(text)
    assert found.region == places.tree.grid_a1
    assert (found.kind, found.matched, found.score, found.needs_review) == (
        "building",
        places.sunshine3.address,
        100,
        False,
    )


def test_building_numbers_must_match_exactly(places):
    assert resolve("阳光花园8号楼").region == places.tree.grid_a2
    # An unknown building of a known compound: the community the compound is in, not a neighbour.
    for text in ("阳光花园１３栋", "马宗岭社区阳光花园5栋", "阳光花园"):
        found = resolve(text)
        assert (found.region, found.kind, found.needs_review) == (places.tree.community_a, "community", False)
    assert resolve("金鱼巷12号").region == places.tree.grid_b1
    assert resolve("金鱼巷112号") is None
    assert resolve("金鱼巷13号") is None  # one character from 金鱼巷12号, but not that house
    assert resolve("金鱼社区2号大院").region == places.tree.grid_b1
    found = resolve("金鱼社区12号大院")
    assert (found.region, found.kind) == (places.tree.community_b, "community")
    # A compound in one grid gives the grid even when the building is not known.
    found = resolve("金色家园9栋")
    assert (found.region, found.kind, found.matched) == (places.tree.grid_a2, "building", "金色家园")


def test_building_address_with_its_region_names_set_aside(places):
    # The address is stored with province…community in front; the text has only the compound.
    found = resolve("金色家园七栋")
    assert (found.region, found.matched) == (places.tree.grid_a2, places.golden7.address)
    # A short region name inside a building's address belongs to the address.
    assert resolve("金鱼巷12号门口").kind == "building"


def test_building_typo(places):
    found = resolve("阳光花圆3号楼")
    assert (found.region, found.kind) == (places.tree.grid_a1, "building")
    assert addressing.FUZZY_BUILDING_MIN <= found.score < 100
    assert resolve("阳光花圆8栋").region == places.tree.grid_a2


def test_building_typo_as_near_to_two_buildings_is_not_guessed(places):
    people.create_building(
        SYSTEM, places.tree.grid_b1, name="7栋", compound="金沙家园", address="金沙家园7栋"
    )
    assert resolve("金沙家园7栋").region == places.tree.grid_b1
    # One character from 金色家园7栋 (grid A2) and from 金沙家园7栋 (grid B1).
    assert resolve("金马家园7栋") is None


def test_a_number_at_the_end_of_an_address_is_whole(places):
    people.create_building(SYSTEM, places.tree.grid_a1, name="A1", compound="滨江苑", address="滨江苑A1")
    assert resolve("滨江苑A1").matched == "滨江苑A1"
    # Not building A1: the compound (one grid) is all that is known.
    found = resolve("滨江苑A12")
    assert (found.region, found.matched) == (places.tree.grid_a1, "滨江苑")


def test_a_building_must_lie_in_the_named_community(places):
    # 阳光花园3栋 is in 马宗岭社区; the text names 金鱼社区, so the community named wins.
    found = resolve("金鱼社区阳光花园3栋")
    assert (found.region, found.kind) == (places.tree.community_b, "community")


def test_ambiguous_community_names(places):
    tree = places.tree
    # Two different communities of one street: the street they share, for review.
    both = resolve("马宗岭社区和金鱼社区交界处")
    assert (both.region, both.kind, both.needs_review) == (tree.street, "street", True)
    n = neighbour(tree)
    # Two 马宗岭社区 in different streets and nothing to tell them apart.
    assert resolve("马宗岭社区") is None
    assert resolve("南强街道马宗岭社区").region == tree.community_a
    assert resolve("北固乡马宗岭社区").region == n.namesake
    # A building tells them apart.
    assert resolve("马宗岭社区阳光花园3栋").region == tree.grid_a1


def test_community_must_lie_under_the_named_street(tree):
    n = neighbour(tree)
    found = resolve("南强街道北固村")
    assert (found.region, found.kind, found.needs_review) == (tree.street, "street", True)
    assert resolve("北固乡北固村").region == n.village


def test_street_only_needs_review(tree):
    found = resolve("南强街道滨河路与嘉禾路交叉口")
    assert (found.region, found.kind, found.matched, found.needs_review) == (
        tree.street,
        "street",
        "南强街道",
        True,
    )


@pytest.mark.parametrize(
    "text", ["", "   ", "贵州省贵阳市南明区花果园", "四川省遂宁市船山区", "不知道在哪里"]
)
def test_nothing_matched(tree, text):
    assert resolve(text) is None


def test_within_limits_candidates(places):
    tree = places.tree
    n = neighbour(tree)
    assert resolve("马宗岭社区", within=tree.street).region == tree.community_a
    assert resolve("马宗岭社区", within=n.street).region == n.namesake
    # A typo as near to both namesakes: ambiguous in the district, not in one street.
    assert resolve("马棕岭社区") is None
    assert resolve("马棕岭社区", within=n.street).region == n.namesake
    assert resolve("阳光花园3栋", within=n.street) is None
    assert resolve("阳光花园3栋", within=tree.community_a).region == tree.grid_a1
    assert resolve("南强街道金鱼社区", within=tree.community_a) is None
    # The area's own ancestors may be written in front.
    assert resolve("南强街道马宗岭社区阳光花园8栋", within=tree.community_a).region == tree.grid_a2


def test_returned_region_is_a_copy(tree):
    found = resolve("马宗岭社区")
    found.region.name = "改过的名字"
    assert resolve("马宗岭社区").region.name == "马宗岭社区"


def test_index_follows_a_rename_in_this_process(tree):
    assert resolve("红旗社区") is None
    tree.community_b.name = "红旗社区"
    tree.community_b.save()
    assert resolve("红旗社区").region == tree.community_b
    assert resolve("金鱼社区") is None


def test_index_follows_changes_made_elsewhere_within_a_second(places):
    tree = places.tree
    # Frozen at the real time: the rename must be the latest change, as it would be.
    with clock.frozen(timezone.now()) as travel:
        assert resolve("红旗社区") is None
        # Another process renames a region and imports a building: no signal reaches this one.
        Region.objects.filter(pk=tree.community_b.pk).update(name="红旗社区", updated_at=clock.now())
        Building.objects.bulk_create(
            [
                Building(
                    region=tree.grid_b1,
                    name="9栋",
                    compound="翠柳苑",
                    address="翠柳苑9栋",
                    created_at=clock.now(),
                )
            ]
        )
        travel.advance(seconds=0.5)
        assert resolve("红旗社区") is None  # not asked again yet
        travel.advance(seconds=1)
        assert resolve("红旗社区").region == tree.community_b
        assert resolve("翠柳苑9号楼").region == tree.grid_b1


def test_new_buildings_extend_the_index_and_removals_rebuild_it(places):
    tree = places.tree
    with clock.frozen(timezone.now()) as travel:
        index = addressing.address_index()
        # Created in this process: seen at once, by extending the index rather than rebuilding it.
        people.create_building(SYSTEM, tree.grid_b1, name="2栋", compound="翠柳苑", address="翠柳苑2栋")
        assert resolve("翠柳苑2号楼").region == tree.grid_b1
        assert addressing.address_index() is index
        # Removed (by any process): the counts no longer add up, so the index is rebuilt without it.
        Building.objects.filter(compound="翠柳苑").delete()
        travel.advance(seconds=2)
        assert resolve("翠柳苑2号楼") is None
        assert addressing.address_index() is not index
        assert resolve("阳光花园3栋").region == tree.grid_a1


# ---------------------------------------------------------------- at intake


@pytest.fixture
def sunshine(world):
    return people.create_building(
        SYSTEM, world.tree.grid_a1, name="3栋", compound="阳光花园", address="南强街道马宗岭社区阳光花园3栋"
    )


def hotline(world, address, **extra):
    from gongzhi.cases import services
    from gongzhi.cases.models import Source

    return services.submit_case(
        world.dispatcher,
        source=Source.HOTLINE,
        title="楼道堆放杂物",
        description="楼道里堆满了纸箱，堵住了通道",
        address=address,
        reporter_phone="13800000009",
        **extra,
    )


def test_a_hotline_address_places_the_case_without_a_point(world, sunshine):
    case = hotline(world, "遂宁市南强街道马宗岭社区阳光花园3栋2单元")
    assert (case.region, case.located_by) == (world.tree.grid_a1, "text")
    case = hotline(world, "马宗岭社区居委会旁边")
    assert (case.region, case.located_by) == (world.tree.community_a, "text")


def test_an_address_that_only_names_the_street_is_flagged(world, sunshine):
    case = hotline(world, "南强街道某个小区门口")
    assert (case.region, case.located_by) == (world.tree.street, "street")
    case = hotline(world, "不知道在哪里")
    assert (case.region, case.located_by) == (world.tree.street, "street")  # the dispatcher's own street


def test_a_point_or_a_named_grid_wins_over_the_address(world, sunshine):
    case = hotline(world, "马宗岭社区阳光花园3栋", grid=world.tree.grid_b1)
    assert (case.region, case.located_by) == (world.tree.grid_b1, "grid")
