"""The people ledger over the API (/api/v1/people/…). Thin: scoped queries in, services for changes.

ID and phone numbers only ever leave masked; full numbers are revealed on the profile page, audited.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from gongzhi.core import scopes
from gongzhi.core.api import MAX_OFFSET
from gongzhi.core.errors import DomainError
from gongzhi.core.masking import mask_name
from gongzhi.people import queries, services

router = Router(tags=["people"])


# ---------------------------------------------------------------- schemas


class ResidentOut(Schema):
    id: int
    name: str
    sex: str = Field(description="M 男 / F 女 / U 未知")
    birth_date: dt.date | None
    id_type: str
    id_number_masked: str = Field(description="证件号码（已脱敏）")
    phone_masked: str = Field(description="联系电话（已脱敏）")
    ethnicity: str
    political_status: str
    residence_type: str
    status: str = Field(description="here 在住 / moved_out 已迁出 / deceased 已死亡 / merged 已合并")
    grid: str = Field(alias="region.code", description="所在网格代码")
    grid_name: str = Field(alias="region.name")
    address: str
    household_id: int | None
    relation: str
    unit_id: int | None
    moved_in_on: dt.date | None
    moved_out_on: dt.date | None
    died_on: dt.date | None

    @staticmethod
    def resolve_id_number_masked(obj) -> str:
        return obj.masked_id if obj.id_number else ""

    @staticmethod
    def resolve_phone_masked(obj) -> str:
        return obj.masked_phone


class TagOut(Schema):
    code: str
    name: str
    sensitive: bool


class EventOut(Schema):
    kind: str
    on_date: dt.date | None
    at: dt.datetime
    from_grid: str | None = Field(None, alias="from_region.code")
    to_grid: str | None = Field(None, alias="to_region.code")
    from_address: str
    to_address: str
    note: str


class ResidentDetailOut(ResidentOut):
    tags: list[TagOut] = Field(description="可见的标签；敏感标签仅对授权角色返回，读取留痕")
    events: list[EventOut] = Field(description="变动记录")

    @staticmethod
    def resolve_tags(obj) -> list:
        return [rt.tag for rt in getattr(obj, "visible_tags", [])]

    @staticmethod
    def resolve_events(obj) -> list:
        return list(obj.events.select_related("from_region", "to_region").order_by("at", "id"))


class ResidentIn(Schema):
    """One person. Text values as in the 台账: codes or Chinese labels (e.g. id_type "passport" or "护照")."""

    grid: str = Field(description="网格代码")
    name: str = ""
    id_type: str = Field("", description="默认：有号码为居民身份证，否则无证件")
    id_number: str = ""
    sex: str = Field("", description="居民身份证由号码得出")
    birth_date: str = Field("", description="1990-01-01 或 1990年1月1日；居民身份证由号码得出")
    phone: str = ""
    ethnicity: str = ""
    political_status: str = ""
    residence_type: str = ""
    relation: str = ""
    address: str = ""
    moved_in_on: str = ""
    household_id: int | None = None
    unit_id: int | None = None


class PersonRef(Schema):
    id: int | None = Field(description="不在您管辖范围内的人员为空，姓名脱敏")
    name: str


class OwnerRef(PersonRef):
    share: Decimal


class MemberOut(Schema):
    id: int | None
    name: str
    relation: str
    sex: str
    birth_date: dt.date | None
    id_number_masked: str
    phone_masked: str
    is_householder: bool


class HouseholdOut(Schema):
    id: int
    kind: str
    number: str
    address: str
    grid: str = Field(alias="region.code")
    grid_name: str = Field(alias="region.name")
    unit_id: int | None
    householder_id: int | None
    members: list[MemberOut] = Field(alias="members_out", description="在住成员")


class UnitOut(Schema):
    id: int
    label: str
    building_area: Decimal | None = Field(description="建筑面积（㎡）")
    exclusive_area: Decimal | None = Field(description="专有部分面积（㎡）")
    use: str
    status: str
    owners: list[OwnerRef]
    occupants: list[PersonRef]


class BuildingOut(Schema):
    id: int
    grid: str = Field(alias="region.code")
    grid_name: str = Field(alias="region.name")
    compound: str
    name: str
    address: str
    kind: str
    floors: int | None
    lon: float | None
    lat: float | None
    units: list[UnitOut] = Field(alias="units_out", description="各房屋的产权人与居住人员")


class ResidentFilter(Schema):
    q: str = Field("", description="姓名、拼音或首字母、身份证后 4–6 位、完整证件号、手机号或地址")
    all: bool = Field(False, description="含已迁出、死亡、已合并的人员")


# ---------------------------------------------------------------- handlers


def _ref(person, visible: set[int]) -> dict:
    """A person named on someone else's record: full name and id only inside the caller's scope."""
    if person.pk in visible:
        return {"id": person.pk, "name": person.name}
    return {"id": None, "name": mask_name(person.name)}


@router.get("/residents", response=list[ResidentOut], summary="查找实有人口")
def list_residents(
    request,
    filters: Query[ResidentFilter],
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
):
    principal = request.principal
    if filters.q.strip():
        qs = queries.search_residents(principal, filters.q, include_inactive=filters.all)
    else:
        qs = queries.residents_visible_to(principal, include_inactive=filters.all)
    return qs.order_by("id")[offset : offset + limit]  # stable pages on every database


@router.get("/residents/{resident_id}", response=ResidentDetailOut, summary="人员详情")
def resident_detail(request, resident_id: int):
    principal = request.principal
    resident = get_object_or_404(
        queries.residents_visible_to(principal, include_inactive=True), pk=resident_id
    )
    resident.visible_tags = services.read_sensitive_tags(
        principal, resident, ip=request.META.get("REMOTE_ADDR")
    )
    return resident


@router.post("/residents", response={201: ResidentDetailOut}, summary="登记人员")
def register_resident(request, payload: ResidentIn):
    principal = request.principal
    scopes.require(principal, "people.edit")
    grid = queries.grids_visible_to(principal, action="people.edit").filter(code=payload.grid).first()
    if grid is None:
        raise DomainError(
            "people.unknown_grid", _("找不到网格“%(g)s”，或不在您的管辖范围内") % {"g": payload.grid}
        )
    household = unit = None
    if payload.household_id is not None:
        household = (
            queries.households_visible_to(principal, action="people.edit")
            .filter(pk=payload.household_id)
            .first()
        )
        if household is None:
            raise DomainError("people.unknown_household", _("找不到该户，或不在您的管辖范围内"))
    if payload.unit_id is not None:
        unit = queries.units_visible_to(principal, action="people.edit").filter(pk=payload.unit_id).first()
        if unit is None:
            raise DomainError("people.unknown_unit", _("找不到该房屋，或不在您的管辖范围内"))
    data = payload.dict(exclude={"grid", "household_id", "unit_id"})
    resident = services.register_resident(principal, grid, data, household=household, unit=unit)
    resident.visible_tags = []
    return Status(201, resident)


@router.get("/households/{household_id}", response=HouseholdOut, summary="户详情与成员")
def household_detail(request, household_id: int):
    principal = request.principal
    household = get_object_or_404(queries.households_visible_to(principal), pk=household_id)
    members = list(queries.household_members(household))
    visible = queries.visible_resident_ids(principal, [m.pk for m in members])
    household.members_out = [
        {
            **_ref(m, visible),
            "relation": m.relation,
            "sex": m.sex,
            "birth_date": m.birth_date,
            "id_number_masked": m.masked_id if m.id_number else "",
            "phone_masked": m.masked_phone,
            "is_householder": m.pk == household.householder_id,
        }
        for m in members
    ]
    return household


@router.get("/buildings/{building_id}", response=BuildingOut, summary="楼栋与房屋（一楼一档）")
def building_detail(request, building_id: int):
    principal = request.principal
    building = get_object_or_404(queries.buildings_visible_to(principal), pk=building_id)
    sheet = queries.building_sheet(building)
    visible = queries.visible_resident_ids(
        principal, [p.pk for row in sheet for p in (*row["owners"], *row["occupants"])]
    )
    units = []
    for row in sheet:
        unit = row["unit"]
        shares = {o.resident_id: o.share for o in unit.ownerships.all()}
        units.append(
            {
                "id": unit.pk,
                "label": unit.label,
                "building_area": unit.building_area,
                "exclusive_area": unit.exclusive_area,
                "use": unit.use,
                "status": unit.status,
                "owners": [{**_ref(p, visible), "share": shares[p.pk]} for p in row["owners"]],
                "occupants": [_ref(p, visible) for p in row["occupants"]],
            }
        )
    building.units_out = units
    return building
