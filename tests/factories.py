"""Builders for a small region tree and users holding roles, in one line each."""

from __future__ import annotations

from dataclasses import dataclass

from gongzhi.core import rules, services
from gongzhi.core.models import Level, Region, User
from gongzhi.core.principals import SYSTEM


def square(lon: float, lat: float, size: float) -> dict:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def region(
    code: str, name: str, level: str, parent: Region | None = None, boundary: dict | None = None
) -> Region:
    path = rules.child_path(parent.path if parent else "", code)
    return Region.objects.create(
        code=code, name=name, level=level, parent=parent, path=path, boundary=boundary
    )


@dataclass
class Tree:
    province: Region
    city: Region
    county: Region
    street: Region
    community_a: Region
    community_b: Region
    grid_a1: Region
    grid_a2: Region
    grid_b1: Region


def build_tree() -> Tree:
    """四川省 › 遂宁市 › 船山区 › 南强街道 › two communities › two and one grids, with boundaries."""
    province = region("51", "四川省", Level.PROVINCE)
    city = region("5109", "遂宁市", Level.CITY, province)
    county = region("510903", "船山区", Level.COUNTY, city)
    street = region("510903014", "南强街道", Level.STREET, county, square(105.58, 30.45, 0.04))
    community_a = region("510903014006", "马宗岭社区", Level.COMMUNITY, street, square(105.58, 30.45, 0.02))
    community_b = region("510903014008", "金鱼社区", Level.COMMUNITY, street, square(105.60, 30.45, 0.02))
    grid_a1 = region("510903014006001", "马宗岭第1网格", Level.GRID, community_a, square(105.58, 30.45, 0.01))
    grid_a2 = region("510903014006002", "马宗岭第2网格", Level.GRID, community_a, square(105.59, 30.45, 0.01))
    grid_b1 = region("510903014008001", "金鱼第1网格", Level.GRID, community_b, square(105.60, 30.45, 0.01))
    return Tree(province, city, county, street, community_a, community_b, grid_a1, grid_a2, grid_b1)


_counter = {"n": 0}


def user_with(
    role: str | None,
    region_: Region | None,
    *,
    username: str | None = None,
    phone: str = "",
    password: str = "correct horse 9",
) -> User:
    _counter["n"] += 1
    user = services.create_user(
        SYSTEM,
        username=username or f"user{_counter['n']}",
        password=password,
        real_name=f"测试{_counter['n']}",
        phone=phone,
        check_password=False,
    )
    if role:
        services.grant_role(SYSTEM, user, role, region_)
    return user
