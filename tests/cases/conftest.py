"""A small world for case tests: the factory tree, units, routing rules and one user per role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gongzhi.cases import services
from gongzhi.cases.models import Category, Unit, UnitKind
from gongzhi.core.models import User
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from tests.factories import Tree, build_tree, user_with


@dataclass
class World:
    tree: Tree
    street_unit: Unit
    community_unit: Unit
    other_community_unit: Unit
    department: Unit
    dispatcher: User  # street staff: the street's dispatch centre
    community: User  # community staff of community A, member of its unit
    grid_worker: User  # grid A1
    officer: User  # department staff, member of the department
    resident: User
    leader: User

    def category(self, code: str) -> Category:
        return Category.objects.get(code=code)


def build_world(tree: Tree | None = None) -> World:
    tree = tree or build_tree()
    street_unit = services.save_unit(
        SYSTEM, name="南强街道综治中心", kind=UnitKind.STREET, region=tree.street
    )
    community_unit = services.save_unit(
        SYSTEM, name="马宗岭社区居委会", kind=UnitKind.COMMUNITY, region=tree.community_a
    )
    other = services.save_unit(
        SYSTEM, name="金鱼社区居委会", kind=UnitKind.COMMUNITY, region=tree.community_b
    )
    department = services.save_unit(
        SYSTEM, name="区综合行政执法局", kind=UnitKind.DEPARTMENT, region=tree.county
    )
    dispatcher = user_with(Role.STREET_STAFF, tree.street, username="dispatcher")
    community = user_with(Role.COMMUNITY_STAFF, tree.community_a, username="community")
    grid_worker = user_with(Role.GRID_WORKER, tree.grid_a1, username="gridworker")
    officer = user_with(Role.DEPARTMENT_STAFF, tree.county, username="officer")
    resident = user_with(Role.RESIDENT, tree.community_a, username="resident", phone="13800138000")
    leader = user_with(Role.LEADER, tree.street, username="leader")
    services.set_unit_member(SYSTEM, street_unit, dispatcher, member=True, is_head=True)
    services.set_unit_member(SYSTEM, community_unit, community, member=True, is_head=True)
    services.set_unit_member(SYSTEM, department, officer, member=True)
    # 市容环境 goes to the department across the street; disputes to the community itself.
    services.save_routing_rule(
        SYSTEM, category=Category.objects.get(code="SJ01"), region=tree.street, unit=department
    )
    services.save_routing_rule(
        SYSTEM, category=Category.objects.get(code="SJ08"), region=tree.community_a, unit=community_unit
    )
    return World(
        tree,
        street_unit,
        community_unit,
        other,
        department,
        dispatcher,
        community,
        grid_worker,
        officer,
        resident,
        leader,
    )


@pytest.fixture
def world(db) -> World:
    return build_world()


# A point inside grid A1 of the factory tree (WGS-84).
A1_POINT = (105.585, 30.455)
