"""Pages of the people ledger. Thin: scoped queries in, services for changes.

Every object is looked up through a `*_visible_to` query, so anything outside the user's area is a 404;
a user who may see but not change something gets a 403 when they try.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gongzhi.core import scopes
from gongzhi.core import services as core_services
from gongzhi.core.errors import DomainError, PermissionDenied
from gongzhi.core.forms import client_ip
from gongzhi.core.masking import mask_phone
from gongzhi.people import forms, queries, services
from gongzhi.people.models import OrganisationKind, Resident, ResidentEventKind, ResidentStatus

EDIT = "people.edit"
REVEALABLE = {"id_number", "phone"}


def _deny(request):
    return render(request, "403.html", status=403)


def _resident(request, pk: int):
    return get_object_or_404(queries.residents_visible_to(request.user, include_inactive=True), pk=pk)


@login_required
def search(request):
    """找人: one box for a name, pinyin, initials, ID tail, full ID, phone or address."""
    if not scopes.can(request.user, "people.view"):
        return _deny(request)
    q = request.GET.get("q", "").strip()
    include_inactive = request.GET.get("all") == "1"
    results = queries.search_residents(request.user, q, include_inactive=include_inactive) if q else None
    page = (
        Paginator(results.select_related("region", "household"), 30).get_page(request.GET.get("page"))
        if results is not None
        else None
    )
    user = request.user
    return render(
        request,
        "people/search.html",
        {
            "q": q,
            "page": page,
            "include_inactive": include_inactive,
            "can_register": scopes.can(user, EDIT),
            "can_merge": scopes.can(user, "people.merge"),
            "can_import": scopes.can(user, "people.import"),
            "can_export": scopes.can(user, "people.export"),
        },
    )


# ---------------------------------------------------------------- resident profile and its actions


def _profile(request, resident, *, open_form: str = "", **bound):
    """The profile page; `bound` carries a submitted form with its errors, `open_form` unfolds it."""
    user = request.user
    can_edit = scopes.can(user, EDIT, resident)
    can_tag = scopes.can(user, "people.tags", resident)
    living = resident.status == ResidentStatus.LIVING_HERE
    edit_grids = queries.grids_visible_to(user, action=EDIT)
    ownerships = list(queries.ownerships_of(resident))
    buildings = queries.buildings_visible_to(user)
    visible_buildings = set(
        buildings.filter(
            pk__in=[o.unit.building_id for o in ownerships]
            + ([resident.unit.building_id] if resident.unit else [])
        ).values_list("pk", flat=True)
    )
    household_visible = bool(
        resident.household_id
        and queries.households_visible_to(user).filter(pk=resident.household_id).exists()
    )
    context = {
        "resident": resident,
        "tags": services.read_sensitive_tags(user, resident, ip=client_ip(request)),
        "events": _timeline(resident),
        "ownerships": ownerships,
        "visible_buildings": visible_buildings,
        "household_visible": household_visible,
        "merged_into_visible": bool(
            resident.merged_into_id and queries.visible_resident_ids(user, [resident.merged_into_id])
        ),
        "can_reveal": scopes.can(user, "pdata.reveal", resident),
        "can_edit": can_edit,
        "can_tag": can_tag,
        "living": living,
        "open_form": open_form,
    }
    if can_edit and resident.status != ResidentStatus.MERGED:
        context["edit_form"] = bound.get("edit_form") or forms.EditForm(resident=resident)
    if can_edit and living:
        context["move_form"] = bound.get("move_form") or forms.MoveForm(grids=edit_grids)
        context["move_out_form"] = bound.get("move_out_form") or forms.MoveOutForm()
        context["death_form"] = bound.get("death_form") or forms.DeathForm()
    if can_edit and resident.status == ResidentStatus.MOVED_OUT:
        context["move_in_form"] = bound.get("move_in_form") or forms.MoveInForm(grids=edit_grids)
    if can_tag and resident.status != ResidentStatus.MERGED:
        assignable = queries.assignable_tags(user, resident).exclude(
            pk__in=[rt.tag_id for rt in context["tags"]]
        )
        context["tag_form"] = bound.get("tag_form") or forms.TagForm(tags=assignable)
    return render(request, "people/resident_detail.html", context)


def _timeline(resident) -> list:
    """The history, each update's changes labelled in words (ID and phone were masked when recorded)."""
    events = list(resident.events.select_related("from_region", "to_region").order_by("at", "id"))
    fields = {f.name: f for f in Resident._meta.fields}

    def shown(key, value):
        choices = dict(fields[key].choices or ()) if key in fields else {}
        return str(choices.get(value, value))

    for event in events:
        changes = event.changes if event.kind == ResidentEventKind.UPDATE and event.changes else {}
        event.change_list = [
            (str(fields[key].verbose_name) if key in fields else key, shown(key, old), shown(key, new))
            for key, (old, new) in changes.items()
        ]
    return events


@login_required
def resident_detail(request, pk: int):
    return _profile(request, _resident(request, pk))


def _act(request, resident, name: str, form, call, success: str):
    """Run one action form: valid input goes to the service, errors come back on the profile."""
    if form.is_valid():
        try:
            call(form.cleaned_data)
        except PermissionDenied:
            return _deny(request)
        except services.InvalidPerson as exc:
            form.add_person_errors(exc.errors)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, success)
            return redirect("people:resident", pk=resident.pk)
    return _profile(request, resident, open_form=name, **{name: form})


@login_required
@require_POST
def resident_edit(request, pk: int):
    resident = _resident(request, pk)
    if not scopes.can(request.user, EDIT, resident):
        return _deny(request)
    form = forms.EditForm(request.POST, resident=resident)
    return _act(
        request,
        resident,
        "edit_form",
        form,
        lambda data: services.update_resident(request.user, resident, form.person_data()),
        _("信息已保存。"),
    )


@login_required
@require_POST
def resident_move(request, pk: int):
    resident = _resident(request, pk)
    if not scopes.can(request.user, EDIT, resident):
        return _deny(request)
    form = forms.MoveForm(request.POST, grids=queries.grids_visible_to(request.user, action=EDIT))
    return _act(
        request,
        resident,
        "move_form",
        form,
        lambda d: services.move(
            request.user,
            resident,
            to_region=d["to_region"],
            on_date=d["on_date"],
            address=d["address"],
            note=d["note"],
        ),
        _("已办理辖区内迁移。"),
    )


@login_required
@require_POST
def resident_move_in(request, pk: int):
    resident = _resident(request, pk)
    if not scopes.can(request.user, EDIT, resident):
        return _deny(request)
    form = forms.MoveInForm(request.POST, grids=queries.grids_visible_to(request.user, action=EDIT))
    return _act(
        request,
        resident,
        "move_in_form",
        form,
        lambda d: services.move_in(
            request.user,
            resident,
            region=d["region"],
            on_date=d["on_date"],
            address=d["address"],
            note=d["note"],
        ),
        _("已办理迁入。"),
    )


@login_required
@require_POST
def resident_move_out(request, pk: int):
    resident = _resident(request, pk)
    if not scopes.can(request.user, EDIT, resident):
        return _deny(request)
    form = forms.MoveOutForm(request.POST)
    return _act(
        request,
        resident,
        "move_out_form",
        form,
        lambda d: services.move_out(
            request.user, resident, on_date=d["on_date"], destination=d["destination"], note=d["note"]
        ),
        _("已办理迁出。"),
    )


@login_required
@require_POST
def resident_death(request, pk: int):
    resident = _resident(request, pk)
    if not scopes.can(request.user, EDIT, resident):
        return _deny(request)
    form = forms.DeathForm(request.POST)
    return _act(
        request,
        resident,
        "death_form",
        form,
        lambda d: services.record_death(request.user, resident, on_date=d["on_date"], note=d["note"]),
        _("已登记死亡。"),
    )


@login_required
@require_POST
def resident_tag(request, pk: int):
    resident = _resident(request, pk)
    if not scopes.can(request.user, "people.tags", resident):
        return _deny(request)
    form = forms.TagForm(request.POST, tags=queries.assignable_tags(request.user, resident))
    return _act(
        request,
        resident,
        "tag_form",
        form,
        lambda d: services.tag_resident(request.user, resident, d["tag"], since=d["since"], note=d["note"]),
        _("已添加标签。"),
    )


@login_required
@require_POST
def resident_untag(request, pk: int, tag_pk: int):
    resident = _resident(request, pk)
    if not scopes.can(request.user, "people.tags", resident):
        return _deny(request)
    tag = get_object_or_404(queries.assignable_tags(request.user, resident), pk=tag_pk)
    try:
        services.untag_resident(request.user, resident, tag)
    except PermissionDenied:
        return _deny(request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已移除标签“%(t)s”。") % {"t": tag.name})
    return redirect("people:resident", pk=resident.pk)


@login_required
@require_POST
def resident_reveal(request, pk: int, field: str):
    """The full ID or phone number (an htmx fragment, or a small page without JS); audited by the service."""
    resident = _resident(request, pk)
    if field not in REVEALABLE:
        return render(request, "404.html", status=404)
    try:
        value = core_services.reveal(
            request.user, resident, field, reason=request.POST.get("reason", ""), ip=client_ip(request)
        )
    except DomainError as exc:
        if request.headers.get("HX-Request"):
            return HttpResponseForbidden(exc.message)
        return _deny(request)
    template = "core/_revealed.html" if request.headers.get("HX-Request") else "people/revealed.html"
    return render(request, template, {"value": value or "—", "resident": resident, "field": field})


# ---------------------------------------------------------------- register


@login_required
def resident_new(request):
    """登记: enter a person once, in a grid where the user may edit the ledger."""
    if not scopes.can(request.user, EDIT):
        return _deny(request)
    form = forms.RegisterForm(request.POST or None, grids=queries.grids_visible_to(request.user, action=EDIT))
    if request.method == "POST" and form.is_valid():
        try:
            resident = services.register_resident(
                request.user, form.cleaned_data["region"], form.person_data()
            )
        except services.InvalidPerson as exc:
            form.add_person_errors(exc.errors)
        except PermissionDenied:
            return _deny(request)
        except DomainError as exc:
            form.add_error("id_number" if exc.code == "people.duplicate_id" else None, exc.message)
        else:
            messages.success(request, _("已登记“%(n)s”。") % {"n": resident.name})
            return redirect("people:resident", pk=resident.pk)
    return render(request, "people/resident_new.html", {"form": form})


# ---------------------------------------------------------------- households, buildings, organisations


def _household_page(request, household, *, form=None):
    members = list(queries.household_members(household))
    can_edit = scopes.can(request.user, EDIT, household)
    return render(
        request,
        "people/household_detail.html",
        {
            "household": household,
            "members": members,
            "visible_ids": queries.visible_resident_ids(request.user, [m.pk for m in members]),
            "building_visible": bool(
                household.unit
                and queries.buildings_visible_to(request.user).filter(pk=household.unit.building_id).exists()
            ),
            "can_edit": can_edit,
            "form": form
            or (
                forms.HouseholderForm(
                    members=queries.household_members(household),
                    initial={"resident": household.householder_id},
                )
                if can_edit and members
                else None
            ),
        },
    )


@login_required
def household_detail(request, pk: int):
    household = get_object_or_404(queries.households_visible_to(request.user), pk=pk)
    return _household_page(request, household)


@login_required
@require_POST
def household_set_householder(request, pk: int):
    household = get_object_or_404(queries.households_visible_to(request.user), pk=pk)
    if not scopes.can(request.user, EDIT, household):
        return _deny(request)
    form = forms.HouseholderForm(request.POST, members=queries.household_members(household))
    if form.is_valid():
        try:
            services.set_householder(request.user, household, form.cleaned_data["resident"])
        except PermissionDenied:
            return _deny(request)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("户主已设为“%(n)s”。") % {"n": form.cleaned_data["resident"].name})
            return redirect("people:household", pk=household.pk)
    return _household_page(request, household, form=form)


@login_required
def building_list(request):
    if not scopes.can(request.user, "people.view"):
        return _deny(request)
    grid = request.GET.get("grid", "").strip()
    q = request.GET.get("q", "").strip()
    buildings = queries.building_list(request.user, grid=grid or None, q=q or None)
    page = Paginator(buildings, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "people/building_list.html",
        {"page": page, "grid": grid, "q": q, "grids": queries.grids_visible_to(request.user)},
    )


@login_required
def building_detail(request, pk: int):
    """一楼一档: the building and, unit by unit, who owns it and who lives there."""
    building = get_object_or_404(queries.buildings_visible_to(request.user), pk=pk)
    sheet = queries.building_sheet(building)
    people = [p.pk for row in sheet for p in (*row["owners"], *row["occupants"])]
    return render(
        request,
        "people/building_detail.html",
        {
            "building": building,
            "sheet": sheet,
            "visible_ids": queries.visible_resident_ids(request.user, people),
            "occupant_total": sum(len(row["occupants"]) for row in sheet),
        },
    )


@login_required
def organisation_list(request):
    if not scopes.can(request.user, "people.view"):
        return _deny(request)
    kind = request.GET.get("kind", "")
    q = request.GET.get("q", "").strip()
    organisations = queries.organisation_list(request.user, kind=kind or None, q=q or None)
    page = Paginator(organisations, 50).get_page(request.GET.get("page"))
    for org in page:
        org.contact_phone_masked = mask_phone(org.contact_phone)
    return render(
        request,
        "people/organisation_list.html",
        {"page": page, "kind": kind, "q": q, "kinds": OrganisationKind.choices},
    )


# ---------------------------------------------------------------- likely duplicates


@login_required
def duplicates(request):
    """疑似重复: pairs that look like one person entered twice, side by side, for a person to merge."""
    if not scopes.can(request.user, "people.merge"):
        return _deny(request)
    return render(request, "people/duplicates.html", {"pairs": queries.likely_duplicates(request.user)})


@login_required
@require_POST
def duplicates_merge(request):
    if not scopes.can(request.user, "people.merge"):
        return _deny(request)
    form = forms.MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择要保留的记录。"))
        return redirect("people:duplicates")
    mergeable = queries.residents_visible_to(request.user, action="people.merge")
    a = get_object_or_404(mergeable, pk=form.cleaned_data["a"])
    b = get_object_or_404(mergeable, pk=form.cleaned_data["b"])
    keep, duplicate = (a, b) if form.cleaned_data["keep"] == "a" else (b, a)
    try:
        services.merge_residents(request.user, keep, duplicate, note=form.cleaned_data["note"])
    except PermissionDenied:
        return _deny(request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("已合并，保留“%(n)s”的记录（编号 %(pk)s）。") % {"n": keep.name, "pk": keep.pk}
        )
    return redirect("people:duplicates")
