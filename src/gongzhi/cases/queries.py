"""Scoped reads of cases: queues, the map, "my requests" and the KPIs. Every page and handler starts here.

A user sees the cases in the regions where they hold `cases.view`, plus every case ever dispatched to
a unit they belong to (a district department sees its own work, not the whole district).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

from django import forms
from django.conf import settings
from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Substr

from gongzhi.cases import rules
from gongzhi.cases.models import (
    OPEN_STATUSES,
    Case,
    CaseAssignment,
    CaseEvent,
    Category,
    CategorySuggestion,
    EventKind,
    Rating,
    Sla,
    Status,
    Unit,
    UnitMember,
)
from gongzhi.core import clock, scopes
from gongzhi.core.errors import DomainError
from gongzhi.core.models import Level, Region, User
from gongzhi.core.rules import MAX_ID, ancestor_paths, parse_id  # noqa: F401  (MAX_ID: re-exported)

VIEW = "cases.view"


def unit_ids_of(user) -> list[int]:
    """The units a user works for, read once per request object."""
    if not isinstance(user, User) or not user.is_authenticated:
        return []
    cache = user.__dict__.get("_case_units")
    if cache is None:
        cache = list(UnitMember.objects.filter(user=user).values_list("unit_id", flat=True))
        user.__dict__["_case_units"] = cache
    return cache


def cases_visible_to(user, *, action: str = VIEW) -> QuerySet[Case]:
    base = Case.objects.select_related("category", "region", "unit")
    scoped = scopes.visible(base, user, action)
    units = unit_ids_of(user) if action == VIEW else []
    if not units:
        return scoped
    via_units = CaseAssignment.objects.filter(unit_id__in=units).values("case_id")
    paths = scopes.paths_for(user, action)
    if paths is None:
        return base
    condition = Q(pk__in=via_units)
    for path in paths:
        condition |= Q(region_path__startswith=path)
    return base.filter(condition)


def may_view(user, case: Case) -> bool:
    return cases_visible_to(user).filter(pk=case.pk).exists()


def my_cases(user) -> QuerySet[Case]:
    """A resident's own requests ("我的诉求")."""
    if not isinstance(user, User) or not user.is_authenticated:
        return Case.objects.none()
    return Case.objects.filter(reporter=user).select_related("category", "region", "unit")


def followed_cases(user) -> QuerySet[Case]:
    """Cases a resident follows (关注) instead of filing the same problem again."""
    if not isinstance(user, User) or not user.is_authenticated:
        return Case.objects.none()
    return Case.objects.filter(followers__user=user).select_related("category", "region", "unit")


def resident_cases(user) -> QuerySet[Case]:
    """What a resident may open: their own requests and the ones they follow."""
    if not isinstance(user, User) or not user.is_authenticated:
        return Case.objects.none()
    followed = Case.objects.filter(followers__user=user).values("pk")
    return Case.objects.filter(Q(reporter=user) | Q(pk__in=followed)).select_related(
        "category", "region", "unit"
    )


def open_cases(qs: QuerySet[Case]) -> QuerySet[Case]:
    return qs.filter(status__in=[*OPEN_STATUSES, Status.SUSPENDED])


def dispatcher_queue(user, *, tab: str = "all") -> QuerySet[Case]:
    """What a dispatch centre acts on: acceptance, unrouted, returned, escalated, to close, callbacks.

    Overdue first, then the nearest deadline.
    """
    qs = cases_visible_to(user, action="cases.dispatch")
    paths = scopes.paths_for(user, "cases.dispatch")
    if paths is not None:
        # A pending escalation is the street's work (services.may_dispatch), not the raising community's.
        pending = Q(escalated_to__isnull=False, status__in=[Status.ESCALATED, Status.RETURNED])
        mine = Q(pk__in=[])
        for path in paths:
            mine |= Q(escalated_to__path__startswith=path)
        qs = qs.filter(~pending | mine)
    waiting = Q(status__in=[Status.SUBMITTED, Status.ACCEPTED, Status.RETURNED, Status.ESCALATED])
    to_close = Q(status=Status.REPLIED, category__requires_verification=False)
    tabs = {
        "all": waiting | to_close | Q(callback_pending=True),
        "submitted": Q(status=Status.SUBMITTED),
        "unrouted": Q(status__in=[Status.SUBMITTED, Status.ACCEPTED], no_rule=True),
        "accepted": Q(status=Status.ACCEPTED),
        "returned": Q(status=Status.RETURNED),
        "escalated": Q(status=Status.ESCALATED),
        "close": to_close,
        "callback": Q(callback_pending=True, status=Status.CLOSED),
        "suspended": Q(status=Status.SUSPENDED),
    }
    return qs.filter(tabs.get(tab, tabs["all"])).order_by(_sla_order(), "due_at", "created_at")


def unit_queue(user, *, tab: str = "all") -> QuerySet[Case]:
    """A unit's work: to sign, in progress, near the deadline — for the units the user belongs to."""
    units = unit_ids_of(user)
    active = CaseAssignment.objects.filter(unit_id__in=units, ended_at__isnull=True)
    qs = Case.objects.select_related("category", "region", "unit").filter(pk__in=active.values("case_id"))
    tabs = {
        "all": Q(status__in=[Status.DISPATCHED, Status.IN_PROGRESS, Status.SUSPENDED]),
        "sign": Q(pk__in=active.filter(signed_at__isnull=True).values("case_id")),
        "in_progress": Q(status=Status.IN_PROGRESS),
        "near": Q(status__in=[Status.DISPATCHED, Status.IN_PROGRESS]) & ~light_q(Sla.GREEN),
        "suspended": Q(status=Status.SUSPENDED),
    }
    return qs.filter(tabs.get(tab, tabs["all"])).order_by(_sla_order(), "due_at")


def verify_queue(user) -> QuerySet[Case]:
    """Replies waiting for a field check in the grids where the user may verify."""
    qs = cases_visible_to(user, action="cases.verify")
    return qs.filter(status=Status.REPLIED).exclude(category__requires_verification=False).order_by("due_at")


def light_q(light: str, now: dt.datetime | None = None) -> Q:
    """Cases whose current step shows this light now (the light is derived, never stored)."""
    now = now or clock.now()
    if light == Sla.RED:
        return Q(due_at__lte=now)
    if light == Sla.YELLOW:
        return Q(warn_at__lte=now, due_at__gt=now)
    return (
        Q(due_at__isnull=True) | Q(due_at__gt=now, warn_at__isnull=True) | Q(due_at__gt=now, warn_at__gt=now)
    )


def _by_light(now: dt.datetime, red, yellow, green):
    """One SQL CASE over the derived light: what to give for red, yellow and the rest."""
    from django.db.models import Case as Switch
    from django.db.models import Value, When

    return Switch(
        When(due_at__lte=now, then=Value(red)),
        When(warn_at__lte=now, then=Value(yellow)),
        default=Value(green),
    )


def _light_expression(now: dt.datetime):
    return _by_light(now, Sla.RED.value, Sla.YELLOW.value, Sla.GREEN.value)


def _sla_order():
    """Red first, then yellow, then the rest."""
    return _by_light(clock.now(), 0, 1, 2).asc()


def filter_cases(qs: QuerySet[Case], params) -> QuerySet[Case]:
    """Filters a dispatch centre needs: text or number, status, category (with its minor classes),
    unit, source, light, region subtree, date range."""
    q = (params.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(number__startswith=q) | Q(title__icontains=q) | Q(address__icontains=q))
    if params.get("status") in Status.values:
        qs = qs.filter(status=params["status"])
    if params.get("sla") in Sla.values:
        qs = qs.filter(light_q(params["sla"]))
    if params.get("source"):
        qs = qs.filter(source=params["source"])
    category = params.get("category")
    if category:
        qs = qs.filter(Q(category__code=category) | Q(category__parent__code=category))
    unit = params.get("unit")
    if unit:
        unit_id = parse_id(unit)
        qs = qs.filter(unit_id=unit_id) if unit_id is not None else qs.none()
    region = params.get("region")
    if region:
        node = Region.objects.filter(code=region).first()
        qs = qs.filter(region_path__startswith=node.path) if node else qs.none()
    for name, lookup in (("from", "created_at__date__gte"), ("to", "created_at__date__lte")):
        value = params.get(name)
        if value:
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                # Ignoring it would show every case as if filtered: say so instead (a 400 on the page).
                raise BadFilter(name, forms.DateField.default_error_messages["invalid"]) from None
            qs = qs.filter(**{lookup: day})
    return qs


class BadFilter(DomainError):
    """A filter value that cannot mean anything (a malformed date); `field` names the parameter."""

    def __init__(self, field: str, message):
        super().__init__("case.bad_filter", message, details=[{"field": field, "message": str(message)}])
        self.field = field


SORTS = {
    "due": ("due_at", "created_at"),
    "-created": ("-created_at",),
    "created": ("created_at",),
    "number": ("number",),
}


def sort_cases(qs: QuerySet[Case], key: str | None) -> QuerySet[Case]:
    return qs.order_by(*SORTS[key]) if key in SORTS else qs


def timeline(case: Case, *, public_only: bool = False) -> QuerySet[CaseEvent]:
    events = case.events.select_related("unit").prefetch_related("photos__attachment")
    return events.filter(public=True) if public_only else events


def map_points(qs: QuerySet[Case], limit: int = 5000) -> list[dict]:
    """Open cases with a point, for the map: number, title, status, light, lon, lat."""
    rows = (
        open_cases(qs)
        .filter(lon__isnull=False)
        .annotate(light=_light_expression(clock.now()))
        .order_by(_sla_order(), "-created_at")
        .values("number", "title", "status", "light", "lon", "lat")[:limit]
    )
    for row in rows:
        row["sla"] = row.pop("light")
    return [
        dict(row, status_label=Status(row["status"]).label, sla_label=Sla(row["sla"]).label) for row in rows
    ]


def units_for(user) -> QuerySet[Unit]:
    """Units a dispatcher may send work to: active ones in or above the regions they dispatch."""
    paths = scopes.paths_for(user, "cases.dispatch")
    qs = Unit.objects.filter(is_active=True).select_related("region")
    if paths is None:
        return qs

    allowed = Q(pk__in=[])
    for path in paths:
        allowed |= Q(region__path__startswith=path) | Q(region__path__in=ancestor_paths(path))
    return qs.filter(allowed).order_by("kind", "name")


# ---------------------------------------------------------------- likely duplicates (疑似重复)


@dataclass(frozen=True)
class Duplicate:
    case: Case
    similarity: float
    distance_m: float | None  # None when one of the two has no point (matched by region)


def likely_duplicates(
    candidates: QuerySet[Case],
    *,
    title: str,
    description: str,
    lon: float | None,
    lat: float | None,
    region: Region | None,
    category: Category | None,
    at: dt.datetime,
    exclude: Case | None = None,
    limit: int = 5,
) -> list[Duplicate]:
    """Open cases among `candidates` that read like the same problem at the same place and time.

    Near: within GONGZHI_DUPLICATE_RADIUS_M of the point, or in the same grid/community when there is
    no point. Recent: created within GONGZHI_DUPLICATE_DAYS either side of `at`. Related category: the
    same major class, or unknown. Alike: character n-gram similarity at or above the rule's line.
    """
    radius, days = settings.GONGZHI_DUPLICATE_RADIUS_M, settings.GONGZHI_DUPLICATE_DAYS
    window = dt.timedelta(days=days)
    qs = candidates.filter(
        status__in=[*OPEN_STATUSES, Status.SUSPENDED],
        merged_into__isnull=True,
        created_at__gte=at - window,
        created_at__lte=at + window,
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    if lon is not None and lat is not None:
        dlat = radius / 111_000
        dlon = radius / (111_000 * max(math.cos(math.radians(lat)), 0.01))
        near = Q(lat__range=(lat - dlat, lat + dlat), lon__range=(lon - dlon, lon + dlon))
        if region is not None and region.level in (Level.GRID, Level.COMMUNITY):
            near |= Q(lat__isnull=True, region=region)
        qs = qs.filter(near)
    elif region is not None and region.level in (Level.GRID, Level.COMMUNITY):
        qs = qs.filter(region=region)
    else:
        return []  # only the street is known: "near" means nothing yet
    mine = (category.pk, category.parent_id) if category else None
    text = f"{title} {description}"
    found = []
    for case in qs.select_related("category").order_by("-created_at")[:500]:
        theirs = (case.category_id, case.category.parent_id) if case.category_id else None
        if not rules.categories_related(mine, theirs):
            continue
        distance = None
        if lon is not None and lat is not None and case.lon is not None:
            distance = rules.distance_m(lon, lat, case.lon, case.lat)
            if distance > radius:
                continue
        similarity = rules.text_similarity(text, f"{case.title} {case.description}")
        if similarity >= rules.DUPLICATE_SIMILARITY:
            found.append(Duplicate(case, round(similarity, 3), None if distance is None else round(distance)))
    found.sort(key=lambda d: (-d.similarity, d.distance_m or 0))
    return found[:limit]


def duplicates_of_case(candidates: QuerySet[Case], case: Case, *, limit: int = 5) -> list[Duplicate]:
    """Likely duplicates of a case that exists, among `candidates`."""
    return likely_duplicates(
        candidates,
        title=case.title,
        description=case.description,
        lon=case.lon,
        lat=case.lat,
        region=case.region,
        category=case.category,
        at=case.created_at,
        exclude=case,
        limit=limit,
    )


def duplicates_of(user, case: Case) -> list[Duplicate]:
    """What the dispatcher is shown beside a case: its likely duplicates among the cases they may see."""
    return duplicates_of_case(cases_visible_to(user), case)


# ---------------------------------------------------------------- KPIs


KPI_DEFINITIONS = [
    ("accept_rate", "受理及时率", "按时立案的件数 ÷ 立案件数（受理时限内立案为按时）"),
    ("on_time_close_rate", "按期办结率", "按期办结的件数 ÷ 结案件数（承办单位在办理时限内反馈为按期）"),
    ("overdue", "超期件数", "期间内亮红灯（超过当前环节时限）的事件数"),
    ("rework_rate", "返工率", "返工次数（核查不通过或回访后重办）÷ 结案件数"),
    ("return_rate", "退单率", "退单次数 ÷ 派遣次数（含吹哨派遣）"),
    ("satisfaction_rate", "满意率", "（满意 + 基本满意）÷ 评价件数"),
    ("avg_hours", "平均办理时长", "立案到结案的工作小时数的平均值，不含待补充材料的时间"),
]


@dataclass
class KpiRow:
    key: str
    label: str
    accepted: int = 0
    accepted_on_time: int = 0
    closed: int = 0
    closed_on_time: int = 0
    overdue: int = 0
    reopened: int = 0
    dispatched: int = 0
    returned: int = 0
    evaluated: int = 0
    satisfied: int = 0
    avg_seconds: float | None = None
    rates: dict = field(default_factory=dict)

    def compute(self) -> KpiRow:
        self.rates = {
            "accept_rate": rules.percent(rules.ratio(self.accepted_on_time, self.accepted)),
            "on_time_close_rate": rules.percent(rules.ratio(self.closed_on_time, self.closed)),
            "rework_rate": rules.percent(rules.ratio(self.reopened, self.closed)),
            "return_rate": rules.percent(rules.ratio(self.returned, self.dispatched)),
            "satisfaction_rate": rules.percent(rules.ratio(self.satisfied, self.evaluated)),
        }
        return self

    @property
    def avg_hours(self) -> Decimal | None:
        if self.avg_seconds is None:
            return None
        return (Decimal(str(self.avg_seconds)) / 3600).quantize(Decimal("0.1"))


_COUNTS = {
    "accepted": Count("pk", filter=Q(kind=EventKind.ACCEPT)),
    "accepted_on_time": Count("pk", filter=Q(kind=EventKind.ACCEPT, on_time=True)),
    "closed": Count("pk", filter=Q(kind=EventKind.CLOSE)),
    "closed_on_time": Count("pk", filter=Q(kind=EventKind.CLOSE, on_time=True)),
    "overdue": Count("case_id", filter=Q(kind=EventKind.OVERDUE), distinct=True),
    "reopened": Count("pk", filter=Q(kind=EventKind.REOPEN)),
    "dispatched": Count("pk", filter=Q(kind__in=[EventKind.DISPATCH, EventKind.WHISTLE])),
    "returned": Count("pk", filter=Q(kind=EventKind.RETURN)),
    "evaluated": Count("pk", filter=Q(kind=EventKind.EVALUATE)),
    "satisfied": Count("pk", filter=Q(kind=EventKind.EVALUATE, rating__in=[Rating.SATISFIED, Rating.BASIC])),
    "avg_seconds": Avg("working_seconds", filter=Q(kind=EventKind.CLOSE)),
}


def kpis(
    user,
    *,
    start: dt.datetime,
    end: dt.datetime,
    group_by: str = "region",
    region: Region | None = None,
) -> tuple[KpiRow, list[KpiRow]]:
    """KPIs over events in [start, end), for the whole scope and per group. Exact counts, no sampling.

    `region` narrows to a subtree the user may see; rows group by the next level down (region), by
    the unit concerned (unit) or by major category (category).
    """
    events = scopes.visible(CaseEvent.objects.all(), user, "cases.kpi").filter(at__gte=start, at__lt=end)
    if region is not None:
        events = events.filter(region_path__startswith=region.path)
    total = KpiRow("all", "合计", **events.aggregate(**_COUNTS)).compute()
    if group_by == "unit":
        named = Unit.objects.filter(pk__in=events.values("unit_id")).values_list("pk", "name")
        rows = _group(events, "unit_id", dict(named), "未派遣（调度环节）")
    elif group_by == "category":
        major = {c.pk: (c.parent_id or c.pk) for c in Category.objects.only("pk", "parent_id")}
        rows = _group_categories(events, major)
    else:
        rows = _group_regions(events, user, region)
    return total, rows


@dataclass
class IntakeStats:
    """智能分拨与并案 over a period: how often the suggestions were right, how much was merged."""

    suggested: int  # cases that got suggestions
    decided: int  # of those, categories chosen by a dispatcher (auto-routed ones excluded)
    top1: int
    top3: int
    auto_routed: int
    auto_returned: int  # auto-routed cases a unit sent back (退单): the cost of a wrong auto-route
    merged: int  # cases merged into another (并案), counted once in every other KPI

    @property
    def top1_rate(self) -> Decimal | None:
        return rules.percent(rules.ratio(self.top1, self.decided))

    @property
    def top3_rate(self) -> Decimal | None:
        return rules.percent(rules.ratio(self.top3, self.decided))

    @property
    def auto_return_rate(self) -> Decimal | None:
        return rules.percent(rules.ratio(self.auto_returned, self.auto_routed))


def intake_stats(user, *, start: dt.datetime, end: dt.datetime, region: Region | None = None) -> IntakeStats:
    suggestions = scopes.visible(CategorySuggestion.objects.all(), user, "cases.kpi").filter(
        created_at__gte=start, created_at__lt=end
    )
    merges = scopes.visible(CaseEvent.objects.all(), user, "cases.kpi").filter(
        at__gte=start, at__lt=end, kind=EventKind.MERGE, public=True
    )
    if region is not None:
        suggestions = suggestions.filter(case__region_path__startswith=region.path)
        merges = merges.filter(region_path__startswith=region.path)
    returned = CaseEvent.objects.filter(case_id=OuterRef("case_id"), kind=EventKind.RETURN)
    decided = Q(decided_at__isnull=False, auto_routed=False)
    auto = Q(auto_routed=True)
    counts = suggestions.aggregate(
        n_suggested=Count("pk"),
        n_decided=Count("pk", filter=decided),
        n_top1=Count("pk", filter=decided & Q(rank=1)),
        n_top3=Count("pk", filter=decided & Q(rank__gte=1)),
        n_auto_routed=Count("pk", filter=auto),
        n_auto_returned=Count("pk", filter=auto & Q(Exists(returned))),
    )
    return IntakeStats(**{k.removeprefix("n_"): v for k, v in counts.items()}, merged=merges.count())


def _group(events, key: str, labels: dict, none_label: str) -> list[KpiRow]:
    rows = []
    for values in events.values(key).annotate(**_COUNTS).order_by(key):
        k = values.pop(key)
        rows.append(KpiRow(str(k or ""), labels.get(k, none_label), **values).compute())
    return rows


def _group_categories(events, major: dict[int, int]) -> list[KpiRow]:
    names = {c.pk: c.name for c in Category.objects.filter(parent__isnull=True)}
    merged: dict[int | None, KpiRow] = {}
    for values in events.values("category_id").annotate(**_COUNTS).order_by("category_id"):
        cid = values.pop("category_id")
        key = major.get(cid) if cid else None
        row = merged.setdefault(key, KpiRow(str(key or ""), names.get(key, "未分类")))
        _add(row, values)
    return [row.compute() for row in merged.values()]


def _group_regions(events, user, region: Region | None) -> list[KpiRow]:
    parent = region
    if parent is None:
        from gongzhi.core.queries import top_regions_for

        tops = list(top_regions_for(user))
        parent = tops[0] if len(tops) == 1 else None
    children = list(parent.children.order_by("code")) if parent else []
    if not children:
        return []
    length = len(children[0].path)
    names = {c.path: c.name for c in children}
    rows = []
    grouped = events.annotate(prefix=Substr("region_path", 1, length)).values("prefix")
    for values in grouped.annotate(**_COUNTS).order_by("prefix"):
        prefix = values.pop("prefix")
        rows.append(KpiRow(prefix, names.get(prefix, prefix), **values).compute())
    return rows


def _add(row: KpiRow, values: dict) -> None:
    """Fold one group's counts into a merged row; the average is weighted by the number of closings."""
    closed_before = row.closed
    for name, value in values.items():
        if name == "avg_seconds":
            continue
        setattr(row, name, getattr(row, name) + value)
    if values["avg_seconds"] is not None and values["closed"]:
        total = (row.avg_seconds or 0) * closed_before + values["avg_seconds"] * values["closed"]
        row.avg_seconds = total / row.closed
