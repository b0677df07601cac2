from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from pydantic import AfterValidator

from gongzhi.core import geo, notify, queries, scopes
from gongzhi.core.errors import DomainError, NotFound

router = Router(tags=["core"])

# Larger offsets overflow PostgreSQL's bigint, and no one pages that far.
MAX_OFFSET = 2**31 - 1
_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def _clean_text(value: str) -> str:
    # PostgreSQL cannot store NUL, and lone surrogates cannot be encoded: refuse them as a schema error.
    if _BAD_CHARACTERS.search(value):
        raise ValueError(_("含有不允许的字符（空字符或无效的 Unicode）"))
    return value


# Free text in an API payload.
Text = Annotated[str, AfterValidator(_clean_text)]


class MeOut(Schema):
    kind: str
    name: str
    roles: list[dict]
    actions: list[str] = []


class RegionOut(Schema):
    code: str
    name: str
    level: str
    parent_code: str | None = Field(None, alias="parent.code")
    division_code: str
    urban_rural_code: str
    path: str
    center_lon: float | None
    center_lat: float | None


class GridWorkerOut(Schema):
    name: str
    phone: str = Field(description="手机号（已脱敏）")


class RegionDetailOut(RegionOut):
    boundary: dict | None
    grid_workers: list[GridWorkerOut]

    @staticmethod
    def resolve_grid_workers(region):
        return [{"name": w.display_name, "phone": w.masked_phone} for w in queries.grid_workers_of(region)]


class RegionFilter(Schema):
    level: str | None = None
    parent: str | None = None
    q: str | None = None


class LocateIn(Schema):
    lon: float = Field(..., ge=-180, le=180)
    lat: float = Field(..., ge=-90, le=90)
    system: str = Field("wgs84", pattern="^(wgs84|gcj02|bd09)$")


@router.get("/me", response=MeOut, summary="当前身份")
def me(request):
    principal = request.principal
    return queries.describe_principal(principal)


@router.get("/regions", response=list[RegionOut], summary="可见的区域与网格")
def list_regions(
    request,
    filters: Query[RegionFilter],
    limit: int = Query(200, ge=1, le=2000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
):
    qs = queries.regions_visible_to(
        request.principal, level=filters.level, parent=filters.parent, q=filters.q
    )
    return qs.select_related("parent")[offset : offset + limit]


@router.get("/regions/{code}", response=RegionDetailOut, summary="区域详情")
def region_detail(request, code: str):
    return get_object_or_404(
        queries.regions_visible_to(request.principal).select_related("parent"), code=code
    )


@router.get("/locate", response=RegionOut, summary="坐标所在的最小区域")
def locate(request, point: Query[LocateIn]):
    scopes.require(request.principal, "region.view")
    try:
        region = geo.locate(point.lon, point.lat, system=point.system)
    except ValueError as exc:
        raise DomainError("geo.bad_point", str(exc)) from exc
    if region is None or not scopes.can(request.principal, "region.view", region):
        raise NotFound("geo.not_located", _("该坐标不在您可见的任何区域内"))
    return region


# ---------------------------------------------------------------- notifications


class NotificationOut(Schema):
    id: int
    kind: str = Field(description="消息类型，如 case.dispatched")
    title: str
    body: str
    url: str = Field(description="站内相对链接")
    object_type: str
    object_id: str
    created_at: dt.datetime
    read_at: dt.datetime | None


class MarkReadIn(Schema):
    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(
        None, max_length=1000, description="要标为已读的消息编号；省略或为 null 时全部标为已读"
    )


class MarkReadOut(Schema):
    marked: int = Field(description="本次标为已读的条数")


@router.get("/notifications", response=list[NotificationOut], summary="我的站内消息")
def list_notifications(
    request,
    unread: bool = False,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
):
    """The signed-in person's own messages, newest first. API keys have none (an empty list)."""
    messages = notify.notifications_of(request.principal)
    if unread:
        messages = messages.filter(read_at__isnull=True)
    return messages[offset : offset + limit]


@router.post("/notifications/read", response=MarkReadOut, summary="标为已读")
def mark_notifications_read(request, payload: MarkReadIn):
    """Mark the person's own messages read: those listed in `ids`, or all of them."""
    return {"marked": notify.mark_read(request.principal, payload.ids)}
