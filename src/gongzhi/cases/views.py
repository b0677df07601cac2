"""Staff pages of the closed loop: the landing page, the queues, the list and map, the case page with the
actions the user may take now, and staff intake (hotline, patrol, referral).

Thin like the API: every case is read through `queries.*` (anything outside the user's scope is a 404),
every change is one service call, and a DomainError comes back on the page in Chinese with its status.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from gongzhi.cases import forms, queries, rules, services
from gongzhi.cases.models import (
    AssignmentRole,
    CaseAssignment,
    CasePhoto,
    Category,
    CategoryAttribute,
    CategorySuggestion,
    EventKind,
    Sla,
    Source,
    Status,
    Unit,
    UnitKind,
)
from gongzhi.core import clock, scopes, uploads
from gongzhi.core.errors import Conflict, DomainError, PermissionDenied
from gongzhi.core.forms import client_ip
from gongzhi.core.models import Level, Region
from gongzhi.core.queries import primary_role
from gongzhi.core.roles import Role

PAGE_SIZE = 30
MAP_REGION_LIMIT = 3000

DISPATCH_TABS = [
    ("all", gettext_lazy("全部待办")),
    ("submitted", gettext_lazy("待受理")),
    ("accepted", gettext_lazy("待派遣")),
    ("unrouted", gettext_lazy("无匹配规则")),
    ("returned", gettext_lazy("退单")),
    ("escalated", gettext_lazy("上报待处理")),
    ("close", gettext_lazy("待结案")),
    ("callback", gettext_lazy("待回访")),
    ("suspended", gettext_lazy("待补充材料")),
]
UNIT_TABS = [
    ("all", gettext_lazy("全部在办")),
    ("sign", gettext_lazy("待签收")),
    ("in_progress", gettext_lazy("处置中")),
    ("near", gettext_lazy("临期与超期")),
    ("suspended", gettext_lazy("待补充材料")),
]

# The steps staff take on the case page, in the order the page offers them.
STAFF_STEPS = (
    "accept",
    "reject",
    "dispatch",
    "sign",
    "reply",
    "assist_reply",
    "return",
    "escalate",
    "suspend",
    "resume",
    "verify",
    "close",
    "callback",
)
DISPATCHER_STEPS = {"accept", "reject", "dispatch", "close", "callback"}
STEP_TITLES = {
    "accept": gettext_lazy("立案"),
    "reject": gettext_lazy("不予受理"),
    "dispatch": gettext_lazy("派遣"),
    "sign": gettext_lazy("签收"),
    "reply": gettext_lazy("处置反馈"),
    "assist_reply": gettext_lazy("协办意见"),
    "return": gettext_lazy("退单"),
    "escalate": gettext_lazy("上报"),
    "suspend": gettext_lazy("待补充材料"),
    "resume": gettext_lazy("恢复办理"),
    "verify": gettext_lazy("现场核查"),
    "close": gettext_lazy("结案"),
    "callback": gettext_lazy("回访"),
}
STEP_BUTTONS = {
    "accept": gettext_lazy("立案"),
    "reject": gettext_lazy("不予受理"),
    "dispatch": gettext_lazy("派遣"),
    "sign": gettext_lazy("签收"),
    "reply": gettext_lazy("提交处置反馈"),
    "assist_reply": gettext_lazy("提交协办意见"),
    "return": gettext_lazy("退单"),
    "escalate": gettext_lazy("上报街道"),
    "suspend": gettext_lazy("转为待补充材料"),
    "resume": gettext_lazy("恢复办理"),
    "verify": gettext_lazy("提交核查结果"),
    "close": gettext_lazy("结案"),
    "callback": gettext_lazy("提交回访"),
}
DANGER_STEPS = {"reject", "return"}
REASON_LABELS = {
    "reject": gettext_lazy("不予受理理由"),
    "return": gettext_lazy("退单理由"),
    "escalate": gettext_lazy("上报原因"),
    "suspend": gettext_lazy("需要补充的材料"),
}


def _deny(request):
    return render(request, "403.html", status=403)


def _can_browse(user) -> bool:
    """Whether the user works cases at all: by area (cases.view) or as a member of a unit."""
    return scopes.can(user, "cases.view") or bool(queries.unit_ids_of(user)) or user.is_superuser


def _filtered(request, qs):
    """queries.filter_cases with the request's filters: (queryset, error). A malformed filter (a date that
    is no date) lists nothing and says why, rather than listing everything as if it had been applied."""
    try:
        return queries.filter_cases(qs, request.GET), ""
    except queries.BadFilter as exc:
        return qs.none(), exc.message


def _page(request, qs):
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _with_time_left(list(page.object_list))
    return page


# ---------------------------------------------------------------- time left


def _hours(delta) -> str:
    return f"{abs(delta.total_seconds()) / 3600:.1f}"


def time_left_label(case, now) -> tuple[str, bool]:
    """("剩余 3.5 工作小时", False) or ("超期 2.0 工作小时", True) for the step the case is in."""
    if case.status == Status.SUSPENDED:
        if case.suspended_remaining is None:
            return _("暂停计时"), False
        return _("暂停计时（剩余 %(h)s 工作小时）") % {"h": _hours(case.suspended_remaining)}, False
    if not case.is_open or case.due_at is None:
        return "", False
    return deadline_label(now, case.due_at)


def deadline_label(now, due) -> tuple[str, bool]:
    left = rules.time_left(now, due)
    if left is None:
        return "", False
    if left.total_seconds() < 0:
        return _("超期 %(h)s 工作小时") % {"h": _hours(left)}, True
    return _("剩余 %(h)s 工作小时") % {"h": _hours(left)}, False


def _with_time_left(cases):
    now = clock.now()
    for case in cases:
        case.left_label, case.left_overdue = time_left_label(case, now)
    return cases


# ---------------------------------------------------------------- landing page and queues


@login_required
def home(request):
    """Sends each role to what matters: their queues with counts, the list, the map, KPIs, intake."""
    user = request.user
    can_dispatch = scopes.can(user, "cases.dispatch")
    in_unit = bool(queries.unit_ids_of(user))
    can_verify = scopes.can(user, "cases.verify")
    can_browse = _can_browse(user)
    can_report = scopes.can(user, "cases.report")
    can_kpi = scopes.can(user, "cases.kpi")
    if not (can_dispatch or in_unit or can_verify or can_browse or can_report or can_kpi):
        if Role.RESIDENT in scopes.roles_of(user):
            return redirect("cases:mine")
        return _deny(request)
    context = {"can_report": can_report, "can_browse": can_browse}
    if can_dispatch:
        queue = queries.dispatcher_queue(user)
        context["dispatch"] = {"total": queue.count(), "red": queue.filter(queries.light_q(Sla.RED)).count()}
    if in_unit:
        queue = queries.unit_queue(user)
        context["unit"] = {
            "total": queue.count(),
            "sign": queries.unit_queue(user, tab="sign").count(),
            "red": queue.filter(queries.light_q(Sla.RED)).count(),
        }
    if can_verify:
        context["verify"] = {"total": queries.verify_queue(user).count()}
    if can_browse:
        open_cases = queries.open_cases(queries.cases_visible_to(user))
        context["open"] = {
            "total": open_cases.count(),
            "red": open_cases.filter(queries.light_q(Sla.RED)).count(),
        }
    if can_kpi:
        context["kpi_url"] = reverse("cases:kpi")
    return render(request, "cases/home.html", context)


def _tabs(tabs, current, counts):
    return [
        {"key": key, "label": label, "active": key == current, "count": counts.get(key)}
        for key, label in tabs
    ]


@login_required
def dispatch_queue(request):
    """调度台: to accept, to dispatch, unrouted, returned, escalated, to close, callbacks; overdue first."""
    user = request.user
    if not scopes.can(user, "cases.dispatch"):
        return _deny(request)
    keys = [key for key, _label in DISPATCH_TABS]
    tab = request.GET.get("tab") if request.GET.get("tab") in keys else "all"
    counts = {key: queries.dispatcher_queue(user, tab=key).count() for key in keys}
    qs, error = _filtered(request, queries.dispatcher_queue(user, tab=tab))
    return render(
        request,
        "cases/queue.html",
        {
            "title": _("调度台"),
            "queue_url": reverse("cases:dispatch_queue"),
            "tabs": _tabs(DISPATCH_TABS, tab, counts),
            "tab": tab,
            "page": _page(request, qs),
            "show_unit": True,
            "error": error,
        },
        status=400 if error else 200,
    )


@login_required
def unit_queue(request):
    """本单位待办: to sign, in progress, near the deadline — for the units the user belongs to."""
    user = request.user
    units = queries.unit_ids_of(user)
    if not units:
        return _deny(request)
    keys = [key for key, _label in UNIT_TABS]
    tab = request.GET.get("tab") if request.GET.get("tab") in keys else "all"
    counts = {key: queries.unit_queue(user, tab=key).count() for key in keys}
    qs, error = _filtered(request, queries.unit_queue(user, tab=tab).prefetch_related(_my_assignments(units)))
    page = _page(request, qs)
    return render(
        request,
        "cases/queue.html",
        {
            "title": _("本单位待办"),
            "queue_url": reverse("cases:unit_queue"),
            "tabs": _tabs(UNIT_TABS, tab, counts),
            "tab": tab,
            "page": page,
            "show_unit": True,
            "show_role": True,
            "error": error,
        },
        status=400 if error else 200,
    )


def _my_assignments(units):
    return Prefetch(
        "assignments",
        queryset=CaseAssignment.objects.filter(unit_id__in=units, ended_at__isnull=True).select_related(
            "unit"
        ),
        to_attr="my_assignments",
    )


@login_required
def verify_queue(request):
    """待核查: replies waiting for the grid worker's field check."""
    user = request.user
    if not scopes.can(user, "cases.verify"):
        return _deny(request)
    qs, error = _filtered(request, queries.verify_queue(user))
    return render(
        request,
        "cases/queue.html",
        {
            "title": _("待核查"),
            "queue_url": reverse("cases:verify_queue"),
            "tabs": [],
            "page": _page(request, qs),
            "show_unit": True,
            "error": error,
        },
        status=400 if error else 200,
    )


def _filter_units(user):
    """Units to filter by: those in or above the user's areas, and the user's own."""
    paths = scopes.paths_for(user, "cases.view")
    qs = Unit.objects.all()
    if paths is None:
        return qs.order_by("kind", "name")
    allowed = Q(pk__in=queries.unit_ids_of(user))
    for path in paths:
        allowed |= Q(region__path__startswith=path) | Q(region__path__in=services.ancestor_paths(path))
    return qs.filter(allowed).order_by("kind", "name")


def _filter_regions(user):
    """Streets, communities and grids of the user's area for the region filter."""
    return (
        scopes.visible(Region.objects.all(), user, "cases.view")
        .filter(level__in=[Level.STREET, Level.COMMUNITY, Level.GRID])
        .order_by("path")[:500]
    )


def _filter_form(request):
    user = request.user
    regions = list(_filter_regions(user))
    indent = {Level.STREET: "", Level.COMMUNITY: "　", Level.GRID: "　　"}
    for region in regions:
        region.name = indent.get(region.level, "") + region.name
    return forms.FilterForm(request.GET or None, units=_filter_units(user), regions=regions)


@login_required
def case_list(request):
    """全部事件: everything in the user's scope, with the dispatch centre's filters and sorts."""
    user = request.user
    if not _can_browse(user):
        return _deny(request)
    qs, error = _filtered(request, queries.cases_visible_to(user))
    qs = queries.sort_cases(qs, request.GET.get("sort"))
    return render(
        request,
        "cases/list.html",
        {"form": _filter_form(request), "page": _page(request, qs), "show_unit": True, "error": error},
        status=400 if error else 200,
    )


# ---------------------------------------------------------------- map


def _feature_collection(regions) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": region.boundary,
                "properties": {"name": region.name, "code": region.code, "level": region.level},
            }
            for region in regions
            if region.boundary
        ],
    }


@login_required
def case_map(request):
    """Open cases of the user's scope on a map, over the boundaries of the grids they may see."""
    user = request.user
    if not _can_browse(user):
        return _deny(request)
    regions = scopes.visible(Region.objects.all(), user, "cases.view").filter(
        level__in=[Level.STREET, Level.COMMUNITY, Level.GRID], boundary__isnull=False
    )
    code = request.GET.get("region")
    if code:
        node = regions.filter(code=code).first()
        regions = regions.filter(path__startswith=node.path) if node else regions.none()
    regions = regions.only("name", "code", "level", "boundary", "path").order_by("path")[:MAP_REGION_LIMIT]
    points_url = reverse("cases:map_points")
    if request.GET:
        points_url += "?" + request.GET.urlencode()
    return render(
        request,
        "cases/map.html",
        {
            "form": _filter_form(request),
            "regions": _feature_collection(regions),
            "points_url": points_url,
            "map_fields": ["q", "status", "sla", "category", "source", "region"],
        },
    )


@login_required
@require_GET
def map_points(request):
    """The map's markers as JSON: open cases with a point, filtered like the list."""
    user = request.user
    if not _can_browse(user):
        return JsonResponse({"code": "permission_denied", "message": _("您没有权限查看事件地图")}, status=403)
    try:
        qs = queries.filter_cases(queries.cases_visible_to(user), request.GET)
    except queries.BadFilter as exc:
        return JsonResponse({"code": exc.code, "message": exc.message, "details": exc.details}, status=400)
    points = queries.map_points(qs)
    for point in points:
        point["url"] = reverse("cases:detail", args=[point["number"]])
        point["status_label"], point["sla_label"] = str(point["status_label"]), str(point["sla_label"])
    return JsonResponse({"count": len(points), "points": points})


# ---------------------------------------------------------------- the case page


def _visible_case(request, number: str):
    return get_object_or_404(
        queries.cases_visible_to(request.user).select_related("escalated_to", "suggested_unit", "entered_by"),
        number=number,
    )


def available_steps(user, case, assignments) -> list[str]:
    """The staff steps this user may take on this case now: the step may follow the status
    (rules.steps_from) and the user holds the role the service will check."""
    possible = set(rules.steps_from(case.status))
    active = [a for a in assignments if a.ended_at is None]
    mine = [a for a in active if services.is_member(user, a.unit)]
    lead = next((a for a in mine if a.role == AssignmentRole.LEAD), None)
    assists = [a for a in mine if a.role == AssignmentRole.ASSIST]
    dispatcher = services.may_dispatch(user, case)
    steps = []
    for step in STAFF_STEPS:
        if step == "sign":
            # The lead signs a dispatched case; an assisting unit may sign while the lead works.
            ok = any(
                a.signed_at is None
                and (
                    (a.role == AssignmentRole.LEAD and case.status == Status.DISPATCHED)
                    or (
                        a.role == AssignmentRole.ASSIST
                        and case.status in (Status.DISPATCHED, Status.IN_PROGRESS)
                    )
                )
                for a in mine
            )
        elif step not in possible:
            ok = False
        elif step == "close":
            ok = dispatcher and not services.needs_verification(case)
        elif step == "callback":
            ok = dispatcher and case.callback_pending
        elif step in DISPATCHER_STEPS:
            ok = dispatcher
        elif step in ("reply", "return"):
            ok = lead is not None
        elif step == "escalate":
            ok = lead is not None and lead.unit.kind != UnitKind.DEPARTMENT
        elif step == "assist_reply":
            ok = bool(assists)
        elif step == "suspend":
            ok = lead is not None if case.status == Status.IN_PROGRESS else dispatcher
        elif step == "resume":
            ok = lead is not None if case.suspended_status == Status.IN_PROGRESS else dispatcher
        elif step == "verify":
            ok = scopes.can(user, "cases.verify", case) and services.needs_verification(case)
        else:
            ok = False
        if ok:
            steps.append(step)
    return steps


def step_form(step: str, user, case, data=None, files=None):
    if step == "accept":
        suggested = (
            CategorySuggestion.objects.filter(case=case).values_list("suggested_id", flat=True).first()
        )
        return forms.AcceptForm(data, case=case, suggested=suggested)
    if step == "dispatch":
        return forms.DispatchForm(data, units=queries.units_for(user), case=case)
    if step in REASON_LABELS:
        return forms.ReasonForm(data, step=step, label=REASON_LABELS[step])
    if step == "reply":
        return forms.ReplyForm(data, files)
    if step == "assist_reply":
        return forms.AssistReplyForm(data)
    if step == "verify":
        return forms.VerifyForm(data, files)
    if step == "callback":
        return forms.CallbackForm(data)
    if step == "sign":
        return forms.SignForm(data)
    return forms.NoteForm(data, step=step)


def _region_names(case) -> list[str]:
    paths = services.ancestor_paths(case.region_path)
    return list(
        Region.objects.filter(path__in=paths)
        .exclude(level__in=[Level.PROVINCE, Level.CITY])
        .order_by("path")
        .values_list("name", flat=True)
    )


# The server's own principals (core.principals) by the names their events carry.
PRINCIPAL_NAMES = {"system": gettext_lazy("系统"), "auto-routing": gettext_lazy("智能分拨")}


def _event_rows(case):
    events = list(queries.timeline(case).select_related("actor"))
    for event in events:
        if case.reporter_id and event.actor_id == case.reporter_id:
            # The reporter's own steps (report, supplement, rating): never their name, as in the API.
            event.actor_shown = _("反映人")
        elif event.actor_id and event.actor:
            event.actor_shown = event.actor.display_name
        elif event.actor_label in PRINCIPAL_NAMES:
            event.actor_shown = PRINCIPAL_NAMES[event.actor_label]
        else:
            event.actor_shown = event.actor_label
        event.assist_names = (event.data or {}).get("assist") or []
        event.by_rule = bool((event.data or {}).get("suggested"))
    return events


def _deadline_row(label, at, *, left=("", False), done: str = "", late: bool = False) -> dict:
    return {"label": label, "at": at, "left": left[0], "overdue": left[1], "done": done, "late": late}


def _deadlines(case, now) -> list[dict]:
    """The current step's deadline with the working time left, and how the earlier steps went."""
    running = case.is_open and case.status != Status.SUSPENDED
    rows = []
    if case.due_at is not None:
        left = deadline_label(now, case.due_at) if running else ("", False)
        rows.append(_deadline_row(_("当前环节时限"), case.due_at, left=left))
    if case.warn_at is not None and running:
        rows.append(_deadline_row(_("黄灯预警时间"), case.warn_at))
    if case.accept_due is not None:
        if case.accepted_at is not None:
            late = case.accepted_at > case.accept_due
            done = _("超时立案") if late else _("按时立案")
            rows.append(_deadline_row(_("受理时限"), case.accept_due, done=done, late=late))
        elif case.due_at != case.accept_due:
            rows.append(_deadline_row(_("受理时限"), case.accept_due))
    if case.handle_due is not None and case.handle_due != case.due_at:
        if case.replied_at is not None:
            late = case.replied_at > case.handle_due
            done = _("超期反馈") if late else _("按期反馈")
            rows.append(_deadline_row(_("办理时限"), case.handle_due, done=done, late=late))
        else:
            rows.append(_deadline_row(_("办理时限"), case.handle_due))
    return rows


def _detail(request, case, *, bound: dict | None = None, error: str = "", status: int = 200):
    """The case page; `bound` carries a submitted action form with what the user typed."""
    user = request.user
    bound = bound or {}
    now = clock.now()
    assignments = list(case.assignments.select_related("unit").order_by("assigned_at", "pk"))
    steps = available_steps(user, case, assignments)
    for step, form in bound.items():
        if step not in steps and form.errors:
            # The form is not on the page (the user cannot take this step now): say what was wrong.
            problems = [str(e) for errors in form.errors.values() for e in errors]
            error = "；".join(part for part in [error, *problems] if part)
    actions = []
    for index, step in enumerate(steps):
        form = bound.get(step) or step_form(step, user, case)
        actions.append(
            {
                "step": step,
                "title": STEP_TITLES[step],
                "button": STEP_BUTTONS[step],
                "danger": step in DANGER_STEPS,
                "form": form,
                "open": step in bound or (not bound and index == 0),
            }
        )
    case.left_label, case.left_overdue = time_left_label(case, now)
    deadlines = _deadlines(case, now)
    report_photos = [
        p
        for p in case.photos.select_related("attachment", "event")
        if p.event_id is None or p.event.kind == EventKind.SUBMIT
    ]
    map_regions = _feature_collection([case.region]) if case.region.boundary else None
    suggested_ok = (
        "accept" in steps
        and case.suggested_unit_id is not None
        and case.suggested_unit.is_active
        and queries.units_for(user).filter(pk=case.suggested_unit_id).exists()
    )
    context = {
        "case": case,
        "region_names": _region_names(case),
        "assignments": assignments,
        "events": _event_rows(case),
        "report_photos": report_photos,
        "deadlines": deadlines,
        "actions": actions,
        "error": error,
        "map_regions": map_regions,
        "suggested_ok": suggested_ok,
        "is_escalated": case.status == Status.ESCALATED,
        "attributes": _attribute_rows(case),
        **_merge_context(user, case, bound.get("merge")),
    }
    return render(request, "cases/detail.html", context, status=status)


def _attribute_rows(case) -> list[tuple[str, str]]:
    """补充信息 as question → answer, list keys shown by their names."""
    if not case.attributes:
        return []
    rows = []
    for attribute in CategoryAttribute.objects.filter(category_id=case.category_id, code__in=case.attributes):
        names = {str(v["key"]): v["name"] for v in attribute.values}
        value = case.attributes[attribute.code]
        values = value if isinstance(value, list) else [value]
        rows.append((attribute.description, "、".join(names.get(v, v) for v in values)))
    return rows


def _suggestion_rows(case) -> list[dict]:
    suggestion = CategorySuggestion.objects.filter(case=case).first()
    if suggestion is None:
        return []
    names = dict(
        Category.objects.filter(code__in=[c for c, _p in suggestion.top]).values_list("code", "name")
    )
    return [
        {
            "code": code,
            "name": names.get(code, code),
            "percent": round(p * 100),
            "auto": suggestion.auto_routed,
        }
        for code, p in suggestion.top
    ]


def _merge_context(user, case, form=None) -> dict:
    """Suggestions, likely duplicates and 并案 links for the case page."""
    may_merge = case.is_open and services.may_dispatch(user, case)
    duplicates = queries.duplicates_of(user, case) if may_merge else []
    mergeable = [d for d in duplicates if d.case.status in services.MERGEABLE]
    return {
        "suggestions": _suggestion_rows(case),
        "duplicates": duplicates,
        "merge_form": form
        or (forms.MergeForm(numbers=[d.case.number for d in mergeable]) if mergeable else None),
        "merged_cases": list(case.merged.order_by("created_at")),
        "may_unmerge": case.status == Status.MERGED and services.may_dispatch(user, case),
        "followers": case.followers.count(),
    }


@login_required
@require_POST
def case_merge(request, number: str):
    """并案 from the case page: the ticked duplicates are folded into this case."""
    case = _visible_case(request, number)
    visible = queries.cases_visible_to(request.user)
    candidates = [d.case.number for d in queries.duplicates_of(request.user, case)]
    form = forms.MergeForm(request.POST, numbers=candidates)
    if not form.is_valid():
        return _detail(request, case, bound={"merge": form}, error=_("请修改以下问题后再提交"), status=400)
    try:
        services.merge_cases(
            request.user,
            case,
            list(visible.filter(number__in=form.cleaned_data["numbers"])),
            note=form.cleaned_data["note"],
        )
    except DomainError as exc:
        return _detail(request, case, bound={"merge": form}, error=exc.message, status=exc.status)
    messages.success(request, _("已并案 %(n)d 件") % {"n": len(form.cleaned_data["numbers"])})
    return redirect("cases:detail", number=case.number)


@login_required
@require_POST
def case_unmerge(request, number: str):
    case = _visible_case(request, number)
    try:
        services.unmerge_case(request.user, case, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        return _detail(request, case, error=exc.message, status=exc.status)
    messages.success(request, _("已取消并案，该事件恢复单独办理"))
    return redirect("cases:detail", number=case.number)


@login_required
def case_detail(request, number: str):
    return _detail(request, _visible_case(request, number))


def _ensure_possible(step: str, case) -> None:
    """Refuse a step that cannot follow the case's status before looking at the form."""
    if step == "sign" and case.status in (Status.DISPATCHED, Status.IN_PROGRESS):
        return  # an assisting unit may sign while the lead works; the service decides
    rules.ensure_step(step, case.status)


def _accept_and_dispatch(user, case, data, unit_pk: str):
    """立案并派遣 in one transaction: accept, then dispatch to the unit the rules suggest."""
    with transaction.atomic():
        accepted = services.accept_case(user, case, category=data["category"], note=data["note"])
        unit = accepted.suggested_unit
        if unit is not None and not queries.units_for(user).filter(pk=unit.pk).exists():
            raise PermissionDenied("case.unit_out_of_scope", _("您不能向该单位派遣事件"))
        if unit is None or str(unit.pk) != unit_pk:
            raise Conflict(
                "case.suggestion_changed",
                _("所选分类的建议派遣单位已变化，请先立案，再确认派遣单位"),
            )
        return services.dispatch_case(user, accepted, unit=unit, note=data["note"])


def _perform(step: str, request, case, data) -> str:
    """Call the service for `step`; return the success message."""
    user = request.user
    if step == "accept":
        then_dispatch = request.POST.get("then_dispatch")
        if then_dispatch:
            done = _accept_and_dispatch(user, case, data, then_dispatch)
            return _("已立案并派遣给%(unit)s") % {"unit": done.unit.name}
        services.accept_case(user, case, category=data["category"], note=data["note"])
        return _("已立案")
    if step == "reject":
        services.reject_case(user, case, reason=data["reason"])
        return _("已不予受理，将告知反映人")
    if step == "dispatch":
        done = services.dispatch_case(
            user, case, unit=data["unit"], assist_units=data["assist_units"], note=data["note"]
        )
        if done.escalation_level == 2 and case.status == Status.ESCALATED:
            return _("已吹哨，派遣给%(unit)s") % {"unit": done.unit.name}
        return _("已派遣给%(unit)s") % {"unit": done.unit.name}
    if step == "sign":
        services.sign_case(user, case)
        return _("已签收")
    if step == "reply":
        services.reply_case(user, case, note=data["note"], photos=data["photos"])
        return _("已提交处置反馈")
    if step == "assist_reply":
        services.assist_reply_case(user, case, note=data["note"])
        return _("已提交协办意见")
    if step == "return":
        services.return_case(user, case, reason=data["reason"])
        return _("已退单")
    if step == "escalate":
        services.escalate_case(user, case, reason=data["reason"])
        return _("已上报街道")
    if step == "suspend":
        services.suspend_case(user, case, reason=data["reason"])
        return _("已转为待补充材料，时限暂停")
    if step == "resume":
        services.resume_case(user, case, note=data["note"])
        return _("已恢复办理")
    if step == "verify":
        passed = data["result"] == "pass"
        services.verify_case(user, case, passed=passed, note=data["note"], photos=data["photos"])
        return _("核查通过，已结案") if passed else _("核查不通过，已退回返工")
    if step == "close":
        services.close_case(user, case, note=data["note"])
        return _("已结案")
    if step == "callback":
        services.callback_case(user, case, note=data["note"], reopen=data["reopen"])
        return _("已返工，退回原承办单位") if data["reopen"] else _("已记录回访")
    raise Http404


@login_required
@require_POST
def case_step(request, number: str, step: str):
    """One step of the loop from the case page: the form, then the service; errors come back on the page."""
    if step not in STAFF_STEPS:
        raise Http404
    case = _visible_case(request, number)
    try:
        _ensure_possible(step, case)
    except DomainError as exc:
        return _detail(request, case, error=exc.message, status=exc.status)
    form = step_form(step, request.user, case, request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, case, bound={step: form}, error=_("请修改以下问题后再提交"), status=400)
    try:
        message = _perform(step, request, case, form.cleaned_data)
    except DomainError as exc:
        form.add_error(None, exc.message)
        return _detail(request, case, bound={step: form}, error=exc.message, status=exc.status)
    messages.success(request, message)
    return redirect("cases:detail", number=case.number)


@login_required
def photo(request, pk: int):
    """A case photo, only for those who may see the case."""
    visible = queries.cases_visible_to(request.user).values("pk")
    item = get_object_or_404(CasePhoto.objects.select_related("attachment"), pk=pk, case_id__in=visible)
    return uploads.file_response(item.attachment)


# ---------------------------------------------------------------- staff intake


def _default_source(user, requested: str | None) -> str:
    if requested in (Source.HOTLINE, Source.PATROL, Source.REFERRAL):
        return requested
    role = primary_role(user)
    if role == Role.GRID_WORKER:
        return Source.PATROL
    if role == Role.DEPARTMENT_STAFF:
        return Source.REFERRAL
    return Source.HOTLINE


@login_required
def staff_intake(request):
    """热线电话、网格巡查、部门转办: staff enter a case for someone, or one they found."""
    user = request.user
    if not scopes.can(user, "cases.report"):
        return _deny(request)
    grids = (
        scopes.visible(Region.objects.filter(level=Level.GRID), user, "cases.report")
        .select_related("parent")
        .order_by("path")
    )
    default = _default_source(user, request.GET.get("source"))
    if request.method == "POST":
        form = forms.IntakeForm(request.POST, request.FILES, grids=grids, default_source=default)
    else:
        form = forms.IntakeForm(grids=grids, default_source=default)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            try:
                case = services.submit_case(
                    user,
                    source=d["source"],
                    request_type=d["request_type"],
                    title=d["title"],
                    description=d["description"],
                    category=d["category"],
                    lon=d["lon"],
                    lat=d["lat"],
                    coord_system=d["coord_system"] or "wgs84",
                    grid=d["grid"],
                    address=d["address"],
                    reporter_name=d["reporter_name"],
                    reporter_phone=d["reporter_phone"],
                    anonymous=d["anonymous"],
                    photos=d["photos"],
                    ip=client_ip(request),
                )
            except services.InvalidCase as exc:
                form.add_case_errors(exc.errors)
            except DomainError as exc:
                form.add_error("photos" if exc.code.startswith("upload.") else None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("已登记，编号 %(n)s") % {"n": case.number})
                if queries.may_view(user, case):
                    return redirect("cases:detail", number=case.number)
                return redirect("cases:staff_intake")
    regions = (
        grids.select_related(None).filter(boundary__isnull=False).only("name", "code", "level", "boundary")
    )
    regions = regions[:MAP_REGION_LIMIT]
    return render(
        request, "cases/intake.html", {"form": form, "regions": _feature_collection(regions)}, status=status
    )
