"""Cases over the API (/api/v1/cases…). Thin: scoped queries in, services for every change.

- `POST /cases`: integrators with an API key holding `cases.submit` (source "api"), and staff signed in
  (source hotline / patrol / referral). Every problem with a submission comes back at once:
  400 `{"code": "case.invalid", "details": [{"field", "message"}…]}`.
- `GET /cases`, `GET /cases/{number}`: scoped like every page; the reporter's name and phone only
  ever leave masked.
- `POST /cases/{number}/{step}`: the staff steps of the closed loop. A step that cannot follow the
  case's status is 409 `case.cannot_<step>`; not yours 403; not visible 404.
- `GET /cases/kpis`: the KPIs of the KPI page, with their definitions.
- `GET /cases/ping`: a trivial unauthenticated JSON answer, the load-test baseline.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from gongzhi.cases import queries, rules, services
from gongzhi.cases.models import Case, Category, CategorySuggestion, RequestType, Source
from gongzhi.cases.models import Status as CaseStatus
from gongzhi.core import clock, scopes
from gongzhi.core.api import MAX_OFFSET, Text
from gongzhi.core.errors import DomainError, NotFound
from gongzhi.core.models import ApiKey, Region

router = Router(tags=["cases"])

MAX_ID = queries.MAX_ID
FIRST_DAY, LAST_DAY = rules.KPI_FIRST_DAY, rules.KPI_LAST_DAY


# ---------------------------------------------------------------- schemas


class RegionRef(Schema):
    code: str
    name: str


class CaseIn(Schema):
    """A request or event. Category and grid are codes; a point may be WGS-84, GCJ-02 or BD-09."""

    title: Text = Field(..., description="标题，不超过 100 字")
    description: Text = Field(..., description="描述，不超过 2000 字")
    request_type: Text = Field(
        RequestType.COMPLAINT.value, description="诉求类型：" + "、".join(RequestType.values)
    )
    category: Text | None = Field(None, description="事件分类代码（小类或大类），可省略由受理人员确定")
    lon: float | None = Field(None, description="经度")
    lat: float | None = Field(None, description="纬度")
    coord_system: Text = Field("wgs84", description="坐标系：wgs84、gcj02（高德、腾讯）或 bd09（百度）")
    grid: Text | None = Field(None, description="网格代码；有坐标时以坐标所在网格为准")
    address: Text = Field("", description="地址，不超过 200 字")
    reporter_name: Text = Field("", description="反映人姓名")
    reporter_phone: Text = Field("", description="反映人电话（热线来电必填，除非匿名）")
    anonymous: bool = Field(False, description="匿名反映：办理人员看不到反映人")
    attributes: dict[str, str | list[str]] = Field(
        default_factory=dict, description="分类要求的补充信息：字段代码 → 值（多选为列表）"
    )
    source: Text | None = Field(
        None,
        description="来源。接口密钥固定为 api；工作人员登录时为 hotline（默认）、patrol 或 referral",
    )


class CaseCreatedOut(Schema):
    number: str = Field(description="受理编号（查询进度用）")
    status: str
    region: RegionRef = Field(description="定位到的网格、社区或街道")
    located_by: str = Field(
        description="point 坐标 / grid 指定网格 / text 地址文本匹配 / address 反映人住址 / street 仅到街道"
    )
    category: str | None = Field(None, alias="category.code")
    suggested_unit: str | None = Field(None, alias="suggested_unit.name", description="按派遣规则建议的单位")
    no_rule: bool = Field(description="没有匹配的派遣规则，由街道调度人工派遣")
    accept_due: dt.datetime | None = Field(description="受理时限")
    created_at: dt.datetime


class CaseRowOut(Schema):
    number: str
    title: str
    status: str
    source: str
    request_type: str
    category: str | None = Field(None, alias="category.code")
    category_name: str | None = Field(None, alias="category.name")
    region: RegionRef
    unit: str | None = Field(None, alias="unit.name", description="主办单位")
    sla: str = Field(description="green 正常 / yellow 黄灯预警 / red 红灯超期")
    due_at: dt.datetime | None = Field(description="当前环节的时限")
    no_rule: bool
    escalation_level: int = Field(description="0 未上报；1 已上报街道；2 街道已吹哨部门")
    reopen_count: int
    created_at: dt.datetime


class AssignmentOut(Schema):
    unit_id: int
    unit: str = Field(alias="unit.name")
    role: str = Field(description="lead 主办 / assist 协办")
    whistled: bool = Field(description="吹哨报到")
    assigned_at: dt.datetime
    signed_at: dt.datetime | None
    replied_at: dt.datetime | None
    ended_at: dt.datetime | None


class EventOut(Schema):
    kind: str
    kind_label: str
    at: dt.datetime
    actor: str = Field(description="操作人；反映人本人的操作显示为“反映人”")
    unit: str | None
    note: str
    public: bool = Field(description="对反映人公开")
    on_time: bool | None
    rating: str


class SuggestionOut(Schema):
    code: str
    probability: float


class DuplicateOut(Schema):
    number: str = Field(alias="case.number")
    title: str = Field(alias="case.title")
    status: str = Field(alias="case.status")
    similarity: float = Field(description="文字相似度 0–1")
    distance_m: float | None = Field(description="相距米数；一方无坐标时为空")


class CaseDetailOut(CaseRowOut):
    description: str
    address: str
    attributes: dict = Field(description="分类要求的补充信息")
    merged_into: str | None = Field(None, alias="merged_into.number", description="已并入的主案编号")
    merged: list[str] = Field(alias="merged_numbers", description="并入本案的事件编号")
    suggestions: list[SuggestionOut] = Field(alias="suggestions_out", description="智能分拨建议，按置信度")
    auto_routed: bool = Field(description="是否由智能分拨自动派遣")
    lon: float | None
    lat: float | None
    located_by: str
    reporter_name_masked: str = Field(description="反映人（已脱敏；匿名时为“匿名”）")
    reporter_phone_masked: str = Field(description="联系电话（已脱敏；匿名时为空）")
    anonymous: bool
    verified_reporter: bool
    suggested_unit: str | None = Field(None, alias="suggested_unit.name")
    escalated_to: RegionRef | None = None
    accepted_at: dt.datetime | None
    dispatched_at: dt.datetime | None
    replied_at: dt.datetime | None
    closed_at: dt.datetime | None
    accept_due: dt.datetime | None
    handle_due: dt.datetime | None
    rating: str
    callback_pending: bool
    next_steps: list[str] = Field(description="当前状态下可以进行的环节（是否有权另行判断）")
    assignments: list[AssignmentOut] = Field(alias="assignments_out", description="主办与协办单位")
    timeline: list[EventOut] = Field(alias="timeline_out", description="办理过程")


class MergeIn(Schema):
    numbers: list[Text] = Field(min_length=1, max_length=50, description="要并入本案的事件编号")
    note: Text = ""


class CaseFilter(Schema):
    q: str = Field("", description="编号开头、标题或地址中的文字")
    status: Literal[tuple(CaseStatus.values)] | None = None  # type: ignore[valid-type]
    sla: Literal["green", "yellow", "red"] | None = None
    source: Literal[tuple(Source.values)] | None = None  # type: ignore[valid-type]
    category: str = Field("", description="分类代码；大类含其小类")
    unit: int | None = Field(None, ge=1, le=MAX_ID, description="主办单位编号")
    region: str = Field("", description="区域或网格代码（含下级）")
    date_from: dt.date | None = Field(None, description="提交日期起（含）")
    date_to: dt.date | None = Field(None, description="提交日期止（含）")
    sort: Literal[tuple(queries.SORTS)] | None = Field(  # type: ignore[valid-type]
        None, description="排序：due 时限、-created 最新、created 最早、number 编号；默认最新在前"
    )


class AcceptIn(Schema):
    category: Text | None = Field(None, description="事件分类代码；省略则用提交时的分类")
    note: Text = ""


class ReasonIn(Schema):
    reason: Text = Field(..., description="理由（必填）")


class NoteIn(Schema):
    note: Text = ""


class ReplyIn(Schema):
    note: Text = Field(..., description="处置结果（必填）")


class DispatchIn(Schema):
    unit: int = Field(..., ge=1, le=MAX_ID, description="主办单位编号")
    assist: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        [], max_length=20, description="协办单位编号"
    )
    note: Text = ""


class VerifyIn(Schema):
    passed: bool = Field(..., description="核查通过则结案；不通过须说明原因，退回原单位返工")
    note: Text = ""


class CallbackIn(Schema):
    note: Text = Field(..., description="回访情况（必填）")
    reopen: bool = Field(False, description="回访后确需重办：返工给原承办单位")


class KpiQuery(Schema):
    start: dt.date | None = Field(None, ge=FIRST_DAY, le=LAST_DAY, description="起始日期（含），默认 30 天前")
    end: dt.date | None = Field(None, ge=FIRST_DAY, le=LAST_DAY, description="截止日期（含），默认今天")
    group_by: Literal["region", "unit", "category"] = Field(
        "region", description="按下级区域、单位或大类分组"
    )
    region: str | None = Field(None, description="区域代码，默认为您的全部管辖范围")


class KpiOut(Schema):
    key: str
    label: str
    accepted: int
    accepted_on_time: int
    closed: int
    closed_on_time: int
    overdue: int
    reopened: int
    dispatched: int
    returned: int
    evaluated: int
    satisfied: int
    accept_rate: Decimal | None = Field(description="受理及时率（%），无立案时为 null")
    on_time_close_rate: Decimal | None = Field(description="按期办结率（%）")
    rework_rate: Decimal | None = Field(description="返工率（%）")
    return_rate: Decimal | None = Field(description="退单率（%）")
    satisfaction_rate: Decimal | None = Field(description="满意率（%）")
    avg_hours: Decimal | None = Field(description="平均办理时长（工作小时）")


class KpiDefinitionOut(Schema):
    key: str
    label: str
    definition: str


class IntakeOut(Schema):
    suggested: int = Field(description="给出分类建议的事件数")
    decided: int = Field(description="其中由调度员立案确定分类的件数（不含自动分拨）")
    top1: int
    top3: int
    top1_rate: Decimal | None = Field(description="首选建议采纳率（%）")
    top3_rate: Decimal | None = Field(description="前三建议命中率（%）")
    auto_routed: int = Field(description="自动分拨件数")
    auto_returned: int = Field(description="自动分拨后被退单的件数")
    auto_return_rate: Decimal | None
    merged: int = Field(description="并案件数（被并入其他事件的件数）")


class KpisOut(Schema):
    start: dt.date
    end: dt.date = Field(description="含当天")
    group_by: str
    region: RegionRef | None
    total: KpiOut
    rows: list[KpiOut]
    intake: IntakeOut = Field(description="智能分拨与并案")
    definitions: list[KpiDefinitionOut]


class PingOut(Schema):
    ok: bool


# ---------------------------------------------------------------- helpers


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _visible_case(request, number: str) -> Case:
    return services.get_case(number, queries.cases_visible_to(request.principal))


def _detail(principal, case: Case) -> Case:
    """Attach what the detail shape needs: masked reporter, assignments, the timeline."""
    case.reporter_name_masked = case.reporter_display
    case.reporter_phone_masked = case.masked_phone
    case.next_steps = rules.steps_from(case.status)
    case.assignments_out = list(case.assignments.select_related("unit"))
    case.merged_numbers = list(case.merged.order_by("created_at").values_list("number", flat=True))
    suggestion = CategorySuggestion.objects.filter(case=case).first()
    case.suggestions_out = [{"code": c, "probability": p} for c, p in suggestion.top] if suggestion else []
    case.auto_routed = bool(suggestion and suggestion.auto_routed)
    events = queries.timeline(case, public_only=isinstance(principal, ApiKey))
    reporter = case.reporter_id
    case.timeline_out = [
        {
            "kind": e.kind,
            "kind_label": e.get_kind_display(),
            "at": e.at,
            "actor": _("反映人") if reporter and e.actor_id == reporter else e.actor_label,
            "unit": e.unit.name if e.unit else None,
            "note": e.note,
            "public": e.public,
            "on_time": e.on_time,
            "rating": e.rating,
        }
        for e in events
    ]
    return case


def _category(code: str | None) -> Category | None:
    code = (code or "").strip()
    if not code:
        return None
    category = Category.objects.filter(code=code).first()
    if category is None:
        raise services.InvalidCase([("category", _("分类代码“%(code)s”不存在") % {"code": code})])
    return category


# ---------------------------------------------------------------- intake


@router.get("/ping", response=PingOut, auth=None, summary="连通性检查（压测基线）")
def ping(request):
    return {"ok": True}


@router.post("", response={201: CaseCreatedOut}, summary="提交诉求事件")
def create_case(request, payload: CaseIn):
    """An integrator's key needs `cases.submit` in the case's region; staff need `cases.report`."""
    principal = request.principal
    if isinstance(principal, ApiKey):
        scopes.require(principal, "cases.submit")
        allowed, source = {Source.API}, payload.source or Source.API
    else:
        scopes.require(principal, "cases.report")
        allowed, source = services.STAFF_SOURCES, payload.source or Source.HOTLINE
    if source not in allowed:
        raise services.InvalidCase(
            [("source", _("来源只能是 %(s)s") % {"s": "、".join(sorted(str(s) for s in allowed))})]
        )
    case = services.submit_case(principal, source=source, **payload.dict(exclude={"source"}), ip=_ip(request))
    return Status(201, case)


# ---------------------------------------------------------------- reading


@router.get("", response=list[CaseRowOut], summary="可见的诉求事件")
def list_cases(
    request,
    filters: Query[CaseFilter],
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
):
    params = {
        "q": filters.q,
        "status": filters.status or "",
        "sla": filters.sla or "",
        "source": filters.source or "",
        "category": filters.category.strip(),
        "unit": filters.unit,
        "region": filters.region.strip(),
        "from": filters.date_from.isoformat() if filters.date_from else "",
        "to": filters.date_to.isoformat() if filters.date_to else "",
    }
    qs = queries.filter_cases(queries.cases_visible_to(request.principal), params)
    order = queries.SORTS[filters.sort or "-created"]
    tiebreak = "-pk" if order[0].startswith("-") else "pk"  # stable pages on every database
    return qs.order_by(*order, tiebreak)[offset : offset + limit]


@router.get("/kpis", response=KpisOut, summary="办理考核指标")
def case_kpis(request, params: Query[KpiQuery]):
    principal = request.principal
    scopes.require(principal, "cases.kpi")
    end = params.end or clock.today()
    start = params.start or end - dt.timedelta(days=29)
    group_by, region = params.group_by, (params.region or "").strip()
    if start > end:
        raise DomainError("case.bad_period", _("起始日期不能晚于截止日期"))
    node = None
    if region:
        node = scopes.visible(Region.objects.filter(code=region), principal, "cases.kpi").first()
        if node is None:
            raise NotFound(
                "case.unknown_region", _("找不到区域“%(r)s”，或不在您的管辖范围内") % {"r": region}
            )
    zone = timezone.get_current_timezone()
    window_start = dt.datetime.combine(start, dt.time(), tzinfo=zone)
    window_end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    total, rows = queries.kpis(principal, start=window_start, end=window_end, group_by=group_by, region=node)
    return {
        "start": start,
        "end": end,
        "group_by": group_by,
        "region": node,
        "total": _kpi(total),
        "rows": [_kpi(row) for row in rows],
        "intake": queries.intake_stats(principal, start=window_start, end=window_end, region=node),
        "definitions": [
            {"key": key, "label": label, "definition": text} for key, label, text in queries.KPI_DEFINITIONS
        ],
    }


def _kpi(row: queries.KpiRow) -> dict:
    counts = {name: getattr(row, name) for name in KpiOut.model_fields if hasattr(row, name)}
    return {**counts, **row.rates, "avg_hours": row.avg_hours}


@router.get("/{number}", response=CaseDetailOut, summary="诉求事件详情与办理过程")
def case_detail(request, number: str):
    return _detail(request.principal, _visible_case(request, number))


# ---------------------------------------------------------------- the staff steps


def _done(request, case: Case) -> Case:
    return _detail(request.principal, case)


@router.post("/{number}/accept", response=CaseDetailOut, summary="立案")
def accept(request, number: str, payload: AcceptIn):
    case = _visible_case(request, number)
    category = _category(payload.category)
    return _done(request, services.accept_case(request.principal, case, category=category, note=payload.note))


@router.post("/{number}/reject", response=CaseDetailOut, summary="不予受理")
def reject(request, number: str, payload: ReasonIn):
    case = _visible_case(request, number)
    return _done(request, services.reject_case(request.principal, case, reason=payload.reason))


@router.post("/{number}/dispatch", response=CaseDetailOut, summary="派遣（对上报事件派遣部门即吹哨）")
def dispatch(request, number: str, payload: DispatchIn):
    principal = request.principal
    case = _visible_case(request, number)
    wanted = [payload.unit, *payload.assist]
    units = queries.units_for(principal).in_bulk(wanted)
    errors = []
    if payload.unit not in units:
        errors.append(("unit", _("没有编号为 %(id)s 的可派遣单位") % {"id": payload.unit}))
    missing = [str(pk) for pk in payload.assist if pk not in units]
    if missing:
        errors.append(("assist", _("没有编号为 %(id)s 的可派遣单位") % {"id": "、".join(missing)}))
    if errors:
        raise services.InvalidCase(errors)
    case = services.dispatch_case(
        principal,
        case,
        unit=units[payload.unit],
        assist_units=[units[pk] for pk in payload.assist],
        note=payload.note,
    )
    return _done(request, case)


@router.post("/{number}/sign", response=CaseDetailOut, summary="签收")
def sign(request, number: str):
    case = _visible_case(request, number)
    return _done(request, services.sign_case(request.principal, case))


@router.post("/{number}/reply", response=CaseDetailOut, summary="处置反馈（主办单位）")
def reply(request, number: str, payload: ReplyIn):
    case = _visible_case(request, number)
    return _done(request, services.reply_case(request.principal, case, note=payload.note))


@router.post("/{number}/assist_reply", response=CaseDetailOut, summary="协办意见（协办单位）")
def assist_reply(request, number: str, payload: ReplyIn):
    case = _visible_case(request, number)
    return _done(request, services.assist_reply_case(request.principal, case, note=payload.note))


@router.post("/{number}/return", response=CaseDetailOut, summary="退单")
def return_(request, number: str, payload: ReasonIn):
    case = _visible_case(request, number)
    return _done(request, services.return_case(request.principal, case, reason=payload.reason))


@router.post("/{number}/escalate", response=CaseDetailOut, summary="上报街道")
def escalate(request, number: str, payload: ReasonIn):
    case = _visible_case(request, number)
    return _done(request, services.escalate_case(request.principal, case, reason=payload.reason))


@router.post("/{number}/suspend", response=CaseDetailOut, summary="待补充材料（暂停计时）")
def suspend(request, number: str, payload: ReasonIn):
    case = _visible_case(request, number)
    return _done(request, services.suspend_case(request.principal, case, reason=payload.reason))


@router.post("/{number}/resume", response=CaseDetailOut, summary="恢复办理")
def resume(request, number: str, payload: NoteIn):
    case = _visible_case(request, number)
    return _done(request, services.resume_case(request.principal, case, note=payload.note))


@router.post("/{number}/verify", response=CaseDetailOut, summary="现场核查")
def verify(request, number: str, payload: VerifyIn):
    case = _visible_case(request, number)
    return _done(
        request, services.verify_case(request.principal, case, passed=payload.passed, note=payload.note)
    )


@router.post("/{number}/close", response=CaseDetailOut, summary="结案（无需核查的分类）")
def close(request, number: str, payload: NoteIn):
    case = _visible_case(request, number)
    return _done(request, services.close_case(request.principal, case, note=payload.note))


@router.get("/{number}/duplicates", response=list[DuplicateOut], summary="疑似重复的在办事件")
def duplicates(request, number: str):
    return queries.duplicates_of(request.principal, _visible_case(request, number))


@router.post("/{number}/merge", response=CaseDetailOut, summary="并案：把所列事件并入本案")
def merge(request, number: str, payload: MergeIn):
    case = _visible_case(request, number)
    found = {
        c.number: c for c in queries.cases_visible_to(request.principal).filter(number__in=payload.numbers)
    }
    missing = [n for n in payload.numbers if n not in found]
    if missing:
        raise services.InvalidCase([("numbers", _("没有可见的事件 %(n)s") % {"n": "、".join(missing)})])
    return _done(
        request, services.merge_cases(request.principal, case, list(found.values()), note=payload.note)
    )


@router.post("/{number}/unmerge", response=CaseDetailOut, summary="取消并案")
def unmerge(request, number: str, payload: ReasonIn):
    case = _visible_case(request, number)
    return _done(request, services.unmerge_case(request.principal, case, reason=payload.reason))


@router.post("/{number}/callback", response=CaseDetailOut, summary="回访（不满意评价后）")
def callback(request, number: str, payload: CallbackIn):
    case = _visible_case(request, number)
    return _done(
        request, services.callback_case(request.principal, case, note=payload.note, reopen=payload.reopen)
    )
