"""Administrators' configuration pages (categories, units, routing rules) and the KPI page.

Configuration needs `cases.configure`, the KPI page `cases.kpi`; anyone else gets 403. Units, rules
and regions are read through scoped queries, so anything outside the administrator's area is a 404.
"""

from __future__ import annotations

import io
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gongzhi.cases import queries, services
from gongzhi.cases.config_forms import (
    KPI_REGION_LEVELS,
    CategoryAttributeForm,
    CategoryForm,
    KpiForm,
    MemberForm,
    RuleForm,
    UnitForm,
)
from gongzhi.cases.models import Category, CategoryAttribute, RoutingRule, Unit, UnitKind, UnitMember
from gongzhi.core import clock, scopes
from gongzhi.core.errors import Conflict, DomainError, PermissionDenied
from gongzhi.core.models import Level, Region, User
from gongzhi.core.roles import Role

CONFIGURE = "cases.configure"
KPI = "cases.kpi"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _deny(request):
    return render(request, "403.html", status=403)


def _regions(user, *levels):
    qs = scopes.visible(Region.objects.all(), user, CONFIGURE)
    return (qs.filter(level__in=levels) if levels else qs).order_by("path")


def _units(user):
    """Units an administrator maintains: those in their area."""
    return scopes.visible(Unit.objects.select_related("region"), user, CONFIGURE)


def _rule_units(user):
    """Units a rule may name: active ones in the area or above it (a district department serves streets)."""
    paths = scopes.paths_for(user, CONFIGURE)
    qs = Unit.objects.filter(is_active=True).select_related("region")
    if paths is None:
        return qs.order_by("kind", "name")
    allowed = Q(pk__in=[])
    for path in paths:
        allowed |= Q(region__path__startswith=path) | Q(region__path__in=services.ancestor_paths(path))
    return qs.filter(allowed).order_by("kind", "name")


def _rules(user):
    return scopes.visible(
        RoutingRule.objects.select_related("category", "category__parent", "region", "unit", "unit__region"),
        user,
        CONFIGURE,
    )


# ---------------------------------------------------------------- categories


@login_required
def config_home(request):
    """The category tree with its deadlines, and the way to units and rules."""
    if not scopes.can(request.user, CONFIGURE):
        return _deny(request)
    majors = Category.objects.filter(parent__isnull=True).prefetch_related(
        Prefetch("children", queryset=Category.objects.order_by("code"))
    )
    return render(
        request,
        "cases/config_home.html",
        {
            "majors": majors,
            "unit_count": _units(request.user).count(),
            "rule_count": _rules(request.user).count(),
        },
    )


@login_required
def category_edit(request, pk: int):
    if not scopes.can(request.user, CONFIGURE):
        return _deny(request)
    category = get_object_or_404(Category.objects.select_related("parent"), pk=pk)
    form = CategoryForm.for_category(category, request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            changed = {name: form.cleaned_data[name] for name in form.changed_data}
            if not changed:
                messages.info(request, _("没有修改。"))
                return redirect(reverse("cases:config") + f"#cat-{category.code}")
            try:
                services.update_category(request.user, category, **changed)
            except PermissionDenied:
                return _deny(request)
            except ValidationError as exc:
                _add_validation_errors(form, exc)
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("分类“%(name)s”已保存。") % {"name": category.name})
                return redirect(reverse("cases:config") + f"#cat-{category.code}")
    return _category_page(request, category, form=form, status=status)


def _category_page(request, category, *, form=None, attribute_form=None, status=200):
    context = {
        "form": form or CategoryForm.for_category(category),
        "category": category,
        "attributes": list(category.attributes.all()),
        "attribute_form": attribute_form or CategoryAttributeForm(),
    }
    return render(request, "cases/config_category.html", context, status=status)


@login_required
@require_POST
def category_attribute_add(request, pk: int):
    if not scopes.can(request.user, CONFIGURE):
        return _deny(request)
    category = get_object_or_404(Category.objects.select_related("parent"), pk=pk)
    form = CategoryAttributeForm(request.POST)
    if form.is_valid():
        try:
            services.add_category_attribute(request.user, category, **form.cleaned_data)
        except ValidationError as exc:
            _add_validation_errors(form, exc)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("已添加补充信息“%(d)s”。") % {"d": form.cleaned_data["description"]})
            return redirect("cases:category_edit", pk=category.pk)
    return _category_page(request, category, attribute_form=form, status=400)


@login_required
@require_POST
def category_attribute_remove(request, pk: int, attribute_pk: int):
    if not scopes.can(request.user, CONFIGURE):
        return _deny(request)
    attribute = get_object_or_404(
        CategoryAttribute.objects.select_related("category"), pk=attribute_pk, category_id=pk
    )
    services.remove_category_attribute(request.user, attribute)
    messages.success(request, _("已删除补充信息“%(d)s”。") % {"d": attribute.description})
    return redirect("cases:category_edit", pk=pk)


def _add_validation_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# ---------------------------------------------------------------- units


@login_required
def unit_list(request):
    if not scopes.can(request.user, CONFIGURE):
        return _deny(request)
    kind = request.GET.get("kind", "")
    q = request.GET.get("q", "").strip()
    units = _units(request.user).annotate(member_count=Count("memberships"))
    if kind in UnitKind.values:
        units = units.filter(kind=kind)
    if q:
        units = units.filter(name__contains=q)
    page = Paginator(units.order_by("region__path", "kind", "name"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "cases/config_units.html",
        {"page": page, "kind": kind, "q": q, "kinds": UnitKind.choices},
    )


@login_required
def unit_edit(request, pk: int | None = None):
    if not scopes.can(request.user, CONFIGURE):
        return _deny(request)
    unit = get_object_or_404(_units(request.user), pk=pk) if pk is not None else None
    regions = _regions(request.user, Level.COUNTY, Level.STREET, Level.COMMUNITY, Level.GRID)
    initial = (
        {"name": unit.name, "kind": unit.kind, "region": unit.region, "phone": unit.phone} if unit else None
    )
    form = UnitForm(request.POST or None, initial=initial, regions=regions)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved = services.save_unit(
                    request.user,
                    name=data["name"],
                    kind=data["kind"],
                    region=data["region"],
                    phone=data["phone"],
                    unit=unit,
                )
            except PermissionDenied:
                return _deny(request)
            except Conflict as exc:
                form.add_error("name", exc.message)
                status = exc.status
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("单位“%(name)s”已保存。") % {"name": saved.name})
                if unit is None:
                    return redirect("cases:unit_members", pk=saved.pk)
                return redirect("cases:units")
    return render(request, "cases/config_unit.html", {"form": form, "unit": unit}, status=status)


def _is_staff_account(user: User) -> bool:
    """Unit members see the unit's cases, so only staff accounts (not residents) may join a unit."""
    return user.grants.exclude(role=Role.RESIDENT).exists() or user.is_superuser


@login_required
def unit_members(request, pk: int):
    if not scopes.can(request.user, CONFIGURE):
        return _deny(request)
    unit = get_object_or_404(_units(request.user), pk=pk)
    form = MemberForm()
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "add")
        try:
            if action == "add":
                form = MemberForm(request.POST)
                status = 400
                if form.is_valid():
                    username = form.cleaned_data["username"].strip()
                    member = User.objects.filter(username=username, is_active=True).first()
                    if member is None:
                        form.add_error("username", _("没有用户名为“%(u)s”的在用账号") % {"u": username})
                    elif not _is_staff_account(member):
                        form.add_error("username", _("该账号不是工作人员账号，不能加入处置单位"))
                    else:
                        services.set_unit_member(
                            request.user, unit, member, member=True, is_head=form.cleaned_data["is_head"]
                        )
                        messages.success(
                            request, _("已将 %(name)s 加入本单位。") % {"name": member.display_name}
                        )
                        return redirect("cases:unit_members", pk=unit.pk)
            elif action in ("remove", "head", "unhead"):
                membership = get_object_or_404(
                    UnitMember.objects.select_related("user"),
                    unit=unit,
                    user_id=queries.parse_id(request.POST.get("user")) or 0,
                )
                member = membership.user
                if action == "remove":
                    services.set_unit_member(request.user, unit, member, member=False)
                    messages.success(request, _("已将 %(name)s 移出本单位。") % {"name": member.display_name})
                else:
                    services.set_unit_member(
                        request.user, unit, member, member=True, is_head=action == "head"
                    )
                    messages.success(
                        request, _("已更新 %(name)s 的负责人设置。") % {"name": member.display_name}
                    )
                return redirect("cases:unit_members", pk=unit.pk)
            else:
                return HttpResponse(status=400)
        except PermissionDenied:
            return _deny(request)
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status
    memberships = unit.memberships.select_related("user").order_by("-is_head", "user__username")
    return render(
        request,
        "cases/config_members.html",
        {"unit": unit, "memberships": memberships, "form": form},
        status=status,
    )


# ---------------------------------------------------------------- routing rules (权责清单)


RULE_FILTERS = ("category", "region", "page")


@login_required
def rule_list(request):
    """The routing rules in the administrator's area, filtered by category and region, and the add form."""
    user = request.user
    if not scopes.can(user, CONFIGURE):
        return _deny(request)
    categories = Category.objects.filter(is_active=True).select_related("parent").order_by("code")
    form = RuleForm(
        request.POST or None,
        categories=categories,
        regions=_regions(user),
        units=_rule_units(user),
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            existed = RoutingRule.objects.filter(category=data["category"], region=data["region"]).exists()
            try:
                services.save_routing_rule(
                    user,
                    category=data["category"],
                    region=data["region"],
                    unit=data["unit"],
                    note=data["note"],
                )
            except PermissionDenied:
                return _deny(request)
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                text = (
                    _("已更新规则：%(c)s · %(r)s → %(u)s")
                    if existed
                    else _("已添加规则：%(c)s · %(r)s → %(u)s")
                )
                messages.success(
                    request,
                    text % {"c": data["category"].name, "r": data["region"].name, "u": data["unit"].name},
                )
                return redirect(reverse("cases:rules") + _filter_query(request.POST.get("back", "")))

    rules = _rules(user)
    category = request.GET.get("category", "").strip()
    region_code = request.GET.get("region", "").strip()
    if category:
        rules = rules.filter(Q(category__code=category) | Q(category__parent__code=category))
    if region_code:
        node = _regions(user).filter(code=region_code).first()
        rules = rules.filter(region__path__startswith=node.path) if node else rules.none()
    page = Paginator(rules.order_by("category__code", "region__path"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "cases/config_rules.html",
        {
            "page": page,
            "form": form,
            "category": category,
            "region": region_code,
            "filter_categories": Category.objects.select_related("parent").order_by("code"),
            "filter_regions": _regions(user, Level.COUNTY, Level.STREET, Level.COMMUNITY),
            "back": request.GET.urlencode(),
        },
        status=status,
    )


def _filter_query(raw: str) -> str:
    """The list's filters to come back to, rebuilt from known keys only."""
    params = QueryDict(raw)
    kept = QueryDict(mutable=True)
    for key in RULE_FILTERS:
        if params.get(key):
            kept[key] = params[key]
    return f"?{kept.urlencode()}" if kept else ""


@login_required
@require_POST
def rule_delete(request, pk: int):
    if not scopes.can(request.user, CONFIGURE):
        return _deny(request)
    rule = get_object_or_404(_rules(request.user), pk=pk)
    label = f"{rule.category.name} · {rule.region.name} → {rule.unit.name}"
    try:
        services.delete_routing_rule(request.user, rule)
    except PermissionDenied:
        return _deny(request)
    messages.success(request, _("已删除规则：%(r)s") % {"r": label})
    return redirect(reverse("cases:rules") + _filter_query(request.POST.get("back", "")))


# ---------------------------------------------------------------- KPIs

# (key, the numerator and denominator fields of KpiRow) in the order the page shows them.
RATE_PARTS = {
    "accept_rate": ("accepted_on_time", "accepted"),
    "on_time_close_rate": ("closed_on_time", "closed"),
    "rework_rate": ("reopened", "closed"),
    "return_rate": ("returned", "dispatched"),
    "satisfaction_rate": ("satisfied", "evaluated"),
}
FIXED_LABELS = {"合计", "未派遣（调度环节）", "未分类"}


def _label(row) -> str:
    return _(row.label) if row.label in FIXED_LABELS else row.label


def _rate_text(row, key: str) -> str:
    """ "93.72%（911/972）", or "—" when there is nothing to divide by."""
    rate = row.rates.get(key)
    if rate is None:
        return "—"
    part, whole = (getattr(row, name) for name in RATE_PARTS[key])
    return f"{rate}%（{part}/{whole}）"


def _avg_text(row) -> str:
    hours = row.avg_hours
    if hours is None:
        return "—"
    return _("%(h)s（%(n)d 件）") % {"h": hours, "n": row.closed}


def _display(row) -> dict:
    return {
        "label": _label(row),
        "accept_rate": _rate_text(row, "accept_rate"),
        "on_time_close_rate": _rate_text(row, "on_time_close_rate"),
        "overdue": row.overdue,
        "rework_rate": _rate_text(row, "rework_rate"),
        "return_rate": _rate_text(row, "return_rate"),
        "satisfaction_rate": _rate_text(row, "satisfaction_rate"),
        "avg_hours": _avg_text(row),
    }


def _definitions() -> list[tuple[str, str]]:
    return [(_(label), _(text)) for _key, label, text in queries.KPI_DEFINITIONS]


@login_required
def kpi_page(request):
    """办理考核指标: the period's figures for the user's area, per region, unit or category, and as .xlsx."""
    user = request.user
    if not scopes.can(user, KPI):
        return _deny(request)
    regions = scopes.visible(Region.objects.filter(level__in=KPI_REGION_LEVELS), user, KPI).order_by("path")
    params = request.GET.copy()
    params.pop("format", None)
    form = KpiForm(params, regions=regions, today=clock.today())
    context = {"form": form, "definitions": _definitions(), "query": params.urlencode()}
    if not form.is_valid():
        return render(request, "cases/kpi.html", context, status=400)
    start, end = form.bounds()
    data = form.cleaned_data
    total, rows = queries.kpis(user, start=start, end=end, group_by=data["group"], region=data["region"])
    if request.GET.get("format") == "xlsx":
        return _kpi_xlsx(form, total, rows)
    context.update(
        {
            "first_day": data["first_day"],
            "last_day": data["last_day"],
            "group_label": dict(form.fields["group"].choices).get(data["group"]),
            "scope_region": data["region"],
            "total": _display(total),
            "rows": [_display(row) for row in rows],
            "intake": queries.intake_stats(user, start=start, end=end, region=data["region"]),
        }
    )
    return render(request, "cases/kpi.html", context)


def kpi_header() -> list[str]:
    return [
        _("分组"),
        _("受理及时率（%）"),
        _("按时立案数"),
        _("立案数"),
        _("按期办结率（%）"),
        _("按期办结数"),
        _("结案数"),
        _("超期件数"),
        _("返工率（%）"),
        _("返工次数"),
        _("退单率（%）"),
        _("退单次数"),
        _("派遣次数"),
        _("满意率（%）"),
        _("满意件数"),
        _("评价件数"),
        _("平均办理时长（工作小时）"),
    ]


def kpi_values(row) -> list:
    """One row of the spreadsheet: numbers as numbers (None, an empty cell, where nothing divides)."""
    r = row.rates
    return [
        _label(row),
        r["accept_rate"],
        row.accepted_on_time,
        row.accepted,
        r["on_time_close_rate"],
        row.closed_on_time,
        row.closed,
        row.overdue,
        r["rework_rate"],
        row.reopened,
        r["return_rate"],
        row.returned,
        row.dispatched,
        r["satisfaction_rate"],
        row.satisfied,
        row.evaluated,
        row.avg_hours,
    ]


def _kpi_xlsx(form: KpiForm, total, rows) -> HttpResponse:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    data = form.cleaned_data
    wb = Workbook()
    ws = wb.active
    ws.title = _("办理考核指标")[:31]
    header = kpi_header()
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(kpi_values(row))
    ws.append(kpi_values(total))
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for i, title in enumerate(header, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, len(title) * 2 + 2)
    ws.column_dimensions["A"].width = 24
    ws.freeze_panes = "B2"

    about = wb.create_sheet(_("指标说明")[:31])
    region = data["region"]
    about.append([_("期间"), f"{data['first_day']:%Y-%m-%d} — {data['last_day']:%Y-%m-%d}"])
    about.append([_("分组"), str(dict(form.fields["group"].choices).get(data["group"]))])
    about.append([_("区域"), region.name if region else _("全部（我的管辖范围）")])
    about.append([_("生成时间"), f"{timezone.localtime(clock.now()):%Y-%m-%d %H:%M}"])
    about.append([])
    for label, text in _definitions():
        about.append([label, text])
    about.column_dimensions["A"].width = 16
    about.column_dimensions["B"].width = 80

    buf = io.BytesIO()
    wb.save(buf)
    name = _("办理考核指标_%(a)s_%(b)s.xlsx") % {
        "a": f"{data['first_day']:%Y%m%d}",
        "b": f"{data['last_day']:%Y%m%d}",
    }
    response = HttpResponse(buf.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response
