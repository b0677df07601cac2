"""A small community for deliberation tests: a compound whose units differ in area (one owner holds
two units, two people co-own one, one unit is the developer's), adults and a child, party members,
verified residents with logins, and staff of this and the neighbouring community."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from gongzhi.core.models import User
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from gongzhi.core.validators import citizen_id_check_char
from gongzhi.people import services as people
from gongzhi.people.models import Resident, Unit
from tests.factories import Tree, build_tree, user_with

_serial = {"n": 0}


def citizen_id(birth: dt.date, male: bool = True) -> str:
    _serial["n"] += 1
    seq = _serial["n"] * 2 + (1 if male else 0)
    first17 = f"510903{birth:%Y%m%d}{seq % 1000:03d}"
    return first17 + citizen_id_check_char(first17)


def person(
    region, name: str, birth: dt.date, *, household=None, unit=None, account: User | None = None, **extra
):
    data = {"name": name, "id_number": citizen_id(birth), "address": "马宗岭路18号"} | extra
    resident = people.register_resident(SYSTEM, region, data, household=household, unit=unit)
    if account is not None:
        people.link_account(SYSTEM, resident, account)
    return resident


@dataclass
class Community:
    tree: Tree
    clerk: User  # community staff A: enters paper ballots
    checker: User  # community staff A: confirms them
    outsider_staff: User  # community staff of community B
    leader: User
    units: dict[str, Unit]
    zhang: Resident  # owns 101 and 102 (100 + 80 m²)
    wang: Resident  # co-owns 201 with li
    li: Resident
    zhao: Resident  # owns 202 (60 m²)
    sun: Resident  # tenant, adult, owns nothing, party member
    child: Resident  # 10 years old
    neighbour: Resident  # lives in community B
    users: dict[str, User]  # resident logins by short name


def build_community() -> Community:
    tree = build_tree()
    building = people.create_building(
        SYSTEM, tree.grid_a1, name="1栋", address="马宗岭路18号1栋", compound="阳光小区", floors=6
    )
    areas = {"101": "100.00", "102": "80.00", "201": "120.00", "202": "60.00", "底商": "140.00"}
    units = {
        label: people.create_unit(SYSTEM, building, label=label, exclusive_area=Decimal(area))
        for label, area in areas.items()
    }
    household = people.create_household(SYSTEM, tree.grid_a1, number="H101", unit=units["101"])
    users = {
        name: user_with(Role.RESIDENT, tree.community_a, username=name)
        for name in ("zhang", "wang", "li", "zhao", "sun")
    }
    zhang = person(tree.grid_a1, "张三", dt.date(1970, 5, 1), household=household, account=users["zhang"])
    wang = person(tree.grid_a1, "王芳", dt.date(1980, 1, 2), account=users["wang"])
    li = person(tree.grid_a2, "李明", dt.date(1982, 3, 4), account=users["li"])
    zhao = person(tree.grid_a2, "赵六", dt.date(1965, 7, 8), account=users["zhao"])
    sun = person(tree.grid_a2, "孙七", dt.date(1990, 9, 9), account=users["sun"], political_status="中共党员")
    child = person(tree.grid_a1, "张小宝", dt.date(2016, 6, 1), household=household)
    users["neighbour"] = user_with(Role.RESIDENT, tree.community_b, username="neighbour")
    neighbour = person(tree.grid_b1, "周八", dt.date(1975, 2, 2), account=users["neighbour"])
    for owner, label, share in (
        (zhang, "101", 1),
        (zhang, "102", 1),
        (wang, "201", "0.5"),
        (li, "201", "0.5"),
        (zhao, "202", 1),
    ):
        people.add_ownership(SYSTEM, owner, units[label], share=Decimal(share))
    return Community(
        tree=tree,
        clerk=user_with(Role.COMMUNITY_STAFF, tree.community_a, username="clerk"),
        checker=user_with(Role.COMMUNITY_STAFF, tree.community_a, username="checker"),
        outsider_staff=user_with(Role.COMMUNITY_STAFF, tree.community_b, username="outsider"),
        leader=user_with(Role.LEADER, tree.street, username="leader"),
        units=units,
        zhang=zhang,
        wang=wang,
        li=li,
        zhao=zhao,
        sun=sun,
        child=child,
        neighbour=neighbour,
        users=users,
    )


@pytest.fixture
def town(db) -> Community:
    return build_community()
