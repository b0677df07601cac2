"""`gongzhi demo`: a registry of demo loaders, and core's own (a real street, grids, accounts).

Each module registers a loader with `@demo.loader(order)`; loaders must be idempotent because the
demo may be loaded again over existing data. The street is 遂宁市船山区南强街道 with its real
communities (统计用区划代码 2020). Boundaries are schematic rectangles, marked as such: no public
community boundaries exist to use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gongzhi.core.roles import Role

LOADERS: list[tuple[int, str, Callable[[], list[str]]]] = []


def loader(order: int):
    """Register `fn() -> list of lines to print`; lower order runs first."""

    def wrap(fn):
        LOADERS.append((order, f"{fn.__module__}.{fn.__name__}", fn))
        LOADERS.sort(key=lambda item: item[0])
        return fn

    return wrap


def run_all(*, up_to: int | None = None) -> list[str]:
    """Run the loaders in order; `up_to` stops after that order (tests that need only some modules)."""
    lines: list[str] = []
    for order, _, fn in LOADERS:
        if up_to is not None and order > up_to:
            break
        lines.extend(fn())
    return lines


FIXTURE = Path(__file__).parent / "fixtures" / "demo_street.csv"
STREET_CODE = "510903014"
DEMO_PASSWORD = "gongzhi-demo"
# Schematic layout: communities in a 4×3 block south of Suining's centre, each cut into 2×2 grids.
ORIGIN_LON, ORIGIN_LAT = 105.585, 30.455
COMMUNITY_W, COMMUNITY_H = 0.012, 0.009
GRID_COLS, GRID_ROWS = 2, 2


@dataclass(frozen=True)
class DemoAccount:
    username: str
    real_name: str
    role: str
    region_code: str
    phone: str
    title: str


def _first_community() -> str:
    return "510903014006"


ACCOUNTS = [
    DemoAccount("admin", "系统管理员", Role.ADMIN, "510903", "13900001001", "区信息中心"),
    DemoAccount("leader", "李明华", Role.LEADER, STREET_CODE, "13900001002", "街道党工委书记"),
    DemoAccount("street", "张建国", Role.STREET_STAFF, STREET_CODE, "13900001003", "街道综治中心"),
    DemoAccount("dept", "赵丽", Role.DEPARTMENT_STAFF, "510903", "13900001004", "区综合执法局"),
    DemoAccount("community", "王芳", Role.COMMUNITY_STAFF, _first_community(), "13900001005", "社区党委书记"),
    # A second person in the community: paper ballots are entered by one and confirmed by another.
    DemoAccount(
        "community2", "杨春燕", Role.COMMUNITY_STAFF, _first_community(), "13900001009", "社区居委会委员"
    ),
    DemoAccount("grid1", "刘洋", Role.GRID_WORKER, _first_community() + "001", "13900001006", "专职网格员"),
    DemoAccount("grid2", "陈静", Role.GRID_WORKER, _first_community() + "002", "13900001007", "专职网格员"),
    DemoAccount("resident", "周小梅", Role.RESIDENT, _first_community(), "13900001008", ""),
]


def _rect(lon: float, lat: float, w: float, h: float) -> dict:
    ring = [[lon, lat], [lon + w, lat], [lon + w, lat + h], [lon, lat + h], [lon, lat]]
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}


@loader(order=10)
def load_regions_and_accounts() -> list[str]:
    from gongzhi.core import rules, services
    from gongzhi.core.models import Level, Region, User
    from gongzhi.core.principals import SYSTEM

    services.import_regions(SYSTEM, FIXTURE)
    street = Region.objects.get(code=STREET_CODE)
    communities = list(street.children.filter(level=Level.COMMUNITY).order_by("code"))
    cols = 4
    for i, community in enumerate(communities):
        lon = ORIGIN_LON + (i % cols) * COMMUNITY_W
        lat = ORIGIN_LAT + (len(communities) // cols - 1 - i // cols) * COMMUNITY_H
        if community.boundary is None:
            services.set_boundary(
                SYSTEM, community, _rect(lon, lat, COMMUNITY_W, COMMUNITY_H), generated=True
            )
        gw, gh = COMMUNITY_W / GRID_COLS, COMMUNITY_H / GRID_ROWS
        seq = 0
        for row in range(GRID_ROWS):  # numbered west→east, north→south
            for col in range(GRID_COLS):
                seq += 1
                if not Region.objects.filter(code=rules.grid_code(community.code, seq)).exists():
                    services.create_grid(
                        SYSTEM,
                        community,
                        name=f"第{seq}网格",
                        sequence=seq,
                        generated=True,
                        boundary=_rect(lon + col * gw, lat + (GRID_ROWS - 1 - row) * gh, gw, gh),
                    )
    if street.boundary is None:
        rows = -(-len(communities) // cols)
        services.set_boundary(
            SYSTEM,
            street,
            _rect(ORIGIN_LON, ORIGIN_LAT, cols * COMMUNITY_W, rows * COMMUNITY_H),
            generated=True,
        )

    lines = ["", f"演示账号（密码均为 {DEMO_PASSWORD}）："]
    for account in ACCOUNTS:
        user = User.objects.filter(username=account.username).first()
        if user is None:
            user = services.create_user(
                SYSTEM,
                username=account.username,
                password=DEMO_PASSWORD,
                real_name=account.real_name,
                phone=account.phone,
                title=account.title,
                check_password=False,
            )
        region = Region.objects.get(code=account.region_code)
        grant = services.grant_role(SYSTEM, user, account.role, region)
        lines.append(f"  {account.username:<10} {grant.get_role_display():<8} {region.name}")
    return lines
