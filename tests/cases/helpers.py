"""Small builders for case tests: a category, a unit with a member, a routing rule, a submitted case, and a
neighbouring street to prove scoping. Everything goes through the services, as the pages do."""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from gongzhi.cases import services
from gongzhi.cases.models import Case, Category, CategoryKind, RoutingRule, Source, Unit, UnitKind
from gongzhi.core.models import Level, Region, User
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from tests.factories import Tree, region, square, user_with

# A point inside grid A1 of the factory tree, and one inside the neighbour street's grid (WGS-84).
A1_POINT = (105.585, 30.455)
NEIGHBOUR_POINT = (105.625, 30.505)


def make_category(
    code: str = "ZZ0101",
    name: str = "测试小类",
    *,
    parent: Category | None = None,
    accept_hours: str = "2",
    handle_limit: int = 3,
    handle_unit: str = "days",
    warn_percent: int = 80,
    requires_verification: bool = True,
    auto_escalate: bool = False,
) -> Category:
    """A category (with its own major class when no parent is given)."""
    if parent is None:
        parent, _created = Category.objects.get_or_create(
            code=code[:4], defaults={"name": "测试大类", "kind": CategoryKind.EVENT}
        )
    return Category.objects.create(
        code=code,
        name=name,
        parent=parent,
        kind=parent.kind,
        accept_hours=Decimal(accept_hours),
        handle_limit=handle_limit,
        handle_unit=handle_unit,
        warn_percent=warn_percent,
        requires_verification=requires_verification,
        auto_escalate=auto_escalate,
    )


def make_unit(
    name: str,
    region_: Region,
    *,
    kind: str = UnitKind.DEPARTMENT,
    member: User | None = None,
    role: str = Role.DEPARTMENT_STAFF,
    head: bool = False,
) -> tuple[Unit, User]:
    """A unit and one member: `member` if given, else a new user holding `role` at the unit's region."""
    unit = services.save_unit(SYSTEM, name=name, kind=kind, region=region_)
    member = member or user_with(role, region_)
    services.set_unit_member(SYSTEM, unit, member, member=True, is_head=head)
    return unit, member


def make_rule(category: Category, region_: Region, unit: Unit) -> RoutingRule:
    return services.save_routing_rule(SYSTEM, category=category, region=region_, unit=unit)


def submit(
    actor,
    grid: Region,
    *,
    category: Category | str | None = None,
    title: str = "路边垃圾堆积",
    description: str = "小区门口垃圾三天没人清运",
    source: str = Source.PATROL,
    point: tuple[float, float] | None = None,
    reporter_name: str = "",
    reporter_phone: str = "",
    anonymous: bool = False,
    photos=(),
) -> Case:
    """A submitted case in `grid` entered by staff (patrol by default)."""
    lon, lat = point if point else (None, None)
    return services.submit_case(
        actor,
        source=source,
        title=title,
        description=description,
        category=category,
        grid=grid,
        lon=lon,
        lat=lat,
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        anonymous=anonymous,
        photos=photos,
    )


@dataclass
class Neighbour:
    """A second street beside the factory tree's, with its own grid, dispatcher and grid worker."""

    street: Region
    community: Region
    grid: Region
    dispatcher: User
    grid_worker: User


def neighbour_street(tree: Tree) -> Neighbour:
    street = region("510903015", "北固乡", Level.STREET, tree.county, square(105.62, 30.50, 0.04))
    community = region("510903015001", "北固村", Level.COMMUNITY, street, square(105.62, 30.50, 0.02))
    grid = region("510903015001001", "北固村第1网格", Level.GRID, community, square(105.62, 30.50, 0.01))
    return Neighbour(
        street,
        community,
        grid,
        user_with(Role.STREET_STAFF, street),
        user_with(Role.GRID_WORKER, grid),
    )


def png(name: str = "photo.png", colour=(200, 30, 30)) -> SimpleUploadedFile:
    """A small real PNG as a browser would upload it."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")
