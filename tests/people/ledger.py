"""A small people ledger on the test region tree: one building, household and family in grid A1, a
neighbour in grid B1, and the staff who look after them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gongzhi.core.models import User
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from gongzhi.people import services
from gongzhi.people.models import Building, Household, Organisation, Resident, Unit
from tests.factories import Tree, user_with

ID_A = "110101199003077838"  # 男, 1990-03-07
ID_A_MASKED = "110101********7838"
PHONE_A = "13900001234"
ID_SPOUSE = "11010519491231002X"
ID_B = "510903198805120013"
PHONE_B = "13800005678"


@dataclass
class Ledger:
    worker_a: User  # grid worker of grid A1
    worker_b: User  # grid worker of grid B1
    staff: User  # community staff of community A
    leader: User  # street leader: views everything, reveals nothing
    building: Building
    unit: Unit
    household: Household
    resident: Resident  # 张三 in grid A1, householder
    spouse: Resident
    neighbour: Resident  # 李四 in grid B1
    building_b: Building
    household_b: Household
    org_a: Organisation
    org_b: Organisation


def build_ledger(tree: Tree) -> Ledger:
    building = services.create_building(
        SYSTEM, tree.grid_a1, name="3栋", address="马宗岭路18号3栋", compound="阳光小区", floors=6
    )
    unit = services.create_unit(
        SYSTEM, building, label="2单元301", building_area=Decimal("98.50"), exclusive_area=Decimal("80.20")
    )
    services.create_unit(SYSTEM, building, label="2单元302", building_area=Decimal("60"), use="shop")
    household = services.create_household(SYSTEM, tree.grid_a1, number="H001", unit=unit)
    resident = services.register_resident(
        SYSTEM,
        tree.grid_a1,
        {
            "name": "张三",
            "id_number": ID_A,
            "phone": PHONE_A,
            "address": "马宗岭路18号3栋2单元301",
            "relation": "户主",
        },
        household=household,
        unit=unit,
    )
    spouse = services.register_resident(
        SYSTEM,
        tree.grid_a1,
        {"name": "王芳", "id_number": ID_SPOUSE, "relation": "配偶", "address": "马宗岭路18号3栋2单元301"},
        household=household,
        unit=unit,
    )
    services.set_householder(SYSTEM, household, resident)
    services.add_ownership(SYSTEM, resident, unit, share=Decimal("0.5"))
    services.add_ownership(SYSTEM, spouse, unit, share=Decimal("0.5"))

    building_b = services.create_building(SYSTEM, tree.grid_b1, name="金鱼1栋", address="金鱼街1号")
    household_b = services.create_household(SYSTEM, tree.grid_b1, number="B001", address="金鱼街1号")
    neighbour = services.register_resident(
        SYSTEM,
        tree.grid_b1,
        {"name": "李四", "id_number": ID_B, "phone": PHONE_B, "address": "金鱼街1号"},
        household=household_b,
    )
    org_a = services.create_organisation(
        SYSTEM, tree.grid_a1, kind="social", name="阳光志愿服务队", contact_phone="13700001111"
    )
    org_b = services.create_organisation(SYSTEM, tree.grid_b1, kind="enterprise", name="金鱼超市")
    return Ledger(
        worker_a=user_with(Role.GRID_WORKER, tree.grid_a1),
        worker_b=user_with(Role.GRID_WORKER, tree.grid_b1),
        staff=user_with(Role.COMMUNITY_STAFF, tree.community_a),
        leader=user_with(Role.LEADER, tree.street),
        building=building,
        unit=unit,
        household=household,
        resident=resident,
        spouse=spouse,
        neighbour=neighbour,
        building_b=building_b,
        household_b=household_b,
        org_a=org_a,
        org_b=org_b,
    )
