"""Residents' pages: 随手拍 (report a problem), 我的诉求 (my requests), progress, rating and supplements.

A resident only ever reaches their own cases: every lookup goes through queries.my_cases, so anyone
else's tracking number is a 404. Handlers' names are never shown — only units and step labels.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from gongzhi.cases import queries, services
from gongzhi.cases.models import Case, CasePhoto, EventKind, Source, Status
from gongzhi.cases.resident_forms import RateForm, ReportForm, SupplementForm
from gongzhi.core import clock, uploads
from gongzhi.core.errors import DomainError, PermissionDenied
from gongzhi.core.forms import client_ip
from gongzhi.core.masking import redact_contacts
from gongzhi.core.models import Level, Region, RoleGrant

MAP_REGION_LIMIT = 3000

# The loop as a resident sees it.
STAGES = [
    pgettext_lazy("resident", "提交"),
    pgettext_lazy("resident", "受理"),
    pgettext_lazy("resident", "办理"),
    pgettext_lazy("resident", "办结"),
    pgettext_lazy("resident", "评价"),
]

# Status in plain words (the staff labels say 立案/派遣/核查…).
PLAIN_STATUS = {
    Status.SUBMITTED: pgettext_lazy("resident", "已提交，等待受理"),
    Status.ACCEPTED: pgettext_lazy("resident", "已受理，正在安排办理单位"),
    Status.RETURNED: pgettext_lazy("resident", "已受理，正在安排办理单位"),
    Status.ESCALATED: pgettext_lazy("resident", "已提交上级协调办理"),
    Status.DISPATCHED: pgettext_lazy("resident", "已交办理单位"),
    Status.IN_PROGRESS: pgettext_lazy("resident", "正在办理"),
    Status.REPLIED: pgettext_lazy("resident", "已处理，正在核实结果"),
    Status.SUSPENDED: pgettext_lazy("resident", "需要您补充材料"),
    Status.CLOSED: pgettext_lazy("resident", "已办结"),
    Status.REJECTED: pgettext_lazy("resident", "不予受理"),
    Status.MERGED: pgettext_lazy("resident", "已与同类诉求合并办理"),
}

# Timeline steps in plain words; anything not listed uses the event's own label.
PLAIN_EVENT = {
    EventKind.SUBMIT: pgettext_lazy("resident", "您提交了诉求"),
    EventKind.ACCEPT: pgettext_lazy("resident", "已受理"),
    EventKind.REJECT: pgettext_lazy("resident", "不予受理"),
    EventKind.DISPATCH: pgettext_lazy("resident", "已交办理单位"),
    EventKind.WHISTLE: pgettext_lazy("resident", "已交职能部门办理"),
    EventKind.SIGN: pgettext_lazy("resident", "办理单位已接手"),
    EventKind.REPLY: pgettext_lazy("resident", "办理单位反馈了处理结果"),
    EventKind.ESCALATE: pgettext_lazy("resident", "已提交上级协调办理"),
    EventKind.SUSPEND: pgettext_lazy("resident", "需要您补充材料"),
    EventKind.RESUME: pgettext_lazy("resident", "已补充材料，继续办理"),
    EventKind.CLOSE: pgettext_lazy("resident", "已办结"),
    EventKind.REOPEN: pgettext_lazy("resident", "重新办理"),
    EventKind.EVALUATE: pgettext_lazy("resident", "您评价了办理结果"),
    EventKind.AUTO_ESCALATE: pgettext_lazy("resident", "已提交上级协调办理"),
    EventKind.MERGE: pgettext_lazy("resident", "已与同类诉求合并办理"),
}


def stage_of(case: Case) -> int:
    """How many steps of 提交→受理→办理→办结→评价 are done (1–5)."""
    status = case.suspended_status if case.status == Status.SUSPENDED else case.status
    if status == Status.CLOSED:
        return 5 if is_rated(case) else 4
    if status in (Status.DISPATCHED, Status.IN_PROGRESS, Status.REPLIED):
        return 3
    if status in (Status.ACCEPTED, Status.RETURNED, Status.ESCALATED, Status.MERGED, Status.REJECTED):
        return 2
    return 1


def is_rated(case: Case) -> bool:
    """Rated since it was last closed (a reopened and closed-again case may be rated again)."""
    return bool(case.rated_at and case.closed_at and case.rated_at >= case.closed_at)


def progress(case: Case) -> dict:
    done = stage_of(case)
    steps = []
    for i, label in enumerate(STAGES, start=1):
        state = "done" if i <= done else ("current" if i == done + 1 else "todo")
        steps.append({"label": label, "state": state})
    if case.status in (Status.REJECTED, Status.MERGED):
        # The loop stops here: nothing further is "current".
        steps = [dict(s, state="stopped") if s["state"] != "done" else s for s in steps]
    return {
        "steps": steps,
        "done": done,
        "total": len(STAGES),
        "status": PLAIN_STATUS.get(case.status, case.get_status_display()),
        "to_rate": case.status == Status.CLOSED and not is_rated(case),
    }


def _own_case(request, number: str) -> Case:
    return get_object_or_404(queries.my_cases(request.user), number=number)


def _known_case(request, number: str) -> Case:
    """A case the resident reported or follows."""
    return get_object_or_404(queries.resident_cases(request.user), number=number)


def _photos_for(user, case: Case):
    """What a resident may see: the reporter the photos they sent, everyone the units' reply photos."""
    shown = Q(event__kind=EventKind.REPLY, event__public=True)
    if case.reporter_id == user.pk:
        shown |= Q(attachment__uploaded_by=case.reporter_id) | Q(event__kind=EventKind.SUBMIT)
    return CasePhoto.objects.filter(case=case).filter(shown).select_related("attachment", "event")


# ---------------------------------------------------------------- 随手拍


@login_required
def report(request):
    form = ReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid() and not form.location_errors:
            data = form.cleaned_data
            try:
                case = services.submit_case(
                    request.user,
                    source=Source.RESIDENT,
                    title=data["title"],
                    description=data["description"],
                    request_type=data["request_type"],
                    category=form.category,
                    lon=data["lon"],
                    lat=data["lat"],
                    coord_system=data["coord_system"],
                    address=data["address"],
                    anonymous=data["anonymous"],
                    photos=data["all_photos"],
                    ip=client_ip(request),
                )
            except services.InvalidCase as exc:
                form.add_case_errors(exc.errors)
            except PermissionDenied as exc:
                form.add_error(None, exc.message)
            except DomainError as exc:
                # upload.* (not an image, too large, too many pixels) and too many photos.
                if exc.code.startswith("upload.") or exc.code == "case.too_many_photos":
                    form.add_error("photos", exc.message)
                else:
                    form.add_error(None, exc.message)
            else:
                return redirect(reverse("cases:mine_detail", args=[case.number]) + "?submitted=1")
        status = 400
    else:
        status = 200
    return render(
        request,
        "cases/resident_report.html",
        {
            "form": form,
            "regions": _map_regions(request.user),
            "max_photos": services.MAX_PHOTOS,
            "max_size": settings.GONGZHI_UPLOAD_MAX_BYTES,
        },
        status=status,
    )


def _map_regions(user) -> dict:
    """Boundaries to tap on: the grids and communities of the resident's street (not personal data)."""
    resident = getattr(user, "resident_record", None)
    home = resident.region if resident is not None else None
    if home is None:
        grant = RoleGrant.objects.filter(user=user).select_related("region").order_by("region__path").first()
        home = grant.region if grant else None
    street = services.street_of(home) if home is not None else None
    regions = Region.objects.filter(boundary__isnull=False)
    if street is not None:
        regions = regions.filter(
            path__startswith=street.path, level__in=[Level.STREET, Level.COMMUNITY, Level.GRID]
        )
    else:
        regions = regions.filter(level=Level.STREET)
    regions = regions.only("name", "code", "level", "boundary").order_by("path")[:MAP_REGION_LIMIT]
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": r.boundary,
                "properties": {"name": r.name, "code": r.code, "level": r.level},
            }
            for r in regions
        ],
    }


# ---------------------------------------------------------------- 我的诉求


@login_required
def mine(request):
    cases = queries.my_cases(request.user).order_by("-created_at", "-pk")
    page = Paginator(cases, 20).get_page(request.GET.get("page"))
    rows = [{"case": case, "progress": progress(services.main_case(case))} for case in page.object_list]
    followed = [
        {"case": case, "progress": progress(case)}
        for case in queries.followed_cases(request.user).order_by("-created_at")[:50]
    ]
    return render(request, "cases/resident_mine.html", {"page": page, "rows": rows, "followed": followed})


def _timeline(case: Case) -> list:
    """The public steps of a case; a merged case goes on with the steps of the case it joined."""
    events = list(queries.timeline(case, public_only=True))
    if case.merged_into_id:
        joined = events[-1].at if events else case.created_at
        events += [e for e in queries.timeline(case.merged_into, public_only=True) if e.at >= joined]
    return events


def _detail(request, case: Case, *, rate_form=None, supplement_form=None, status: int = 200):
    main = services.main_case(case)
    info = progress(main)
    events = []
    for event in _timeline(case):
        events.append(
            {
                "at": event.at,
                "label": PLAIN_EVENT.get(event.kind, event.get_kind_display()),
                "unit": event.unit.name if event.unit_id and event.unit else "",
                "note": _public_note(event),
                "rating": event.get_rating_display() if event.rating else "",
            }
        )
    own = case.reporter_id == request.user.pk
    context = {
        "case": case,
        "main": main,
        "own": own,
        "progress": info,
        "events": events,
        "photos": list(_photos_for(request.user, case)),
        "submitted": request.GET.get("submitted") == "1",
        "duplicates": _duplicates_for_reporter(case) if own and case.status == Status.SUBMITTED else [],
    }
    # Rating and supplements belong to the reporter of the case being handled, not to followers.
    if own and info["to_rate"] and not case.merged_into_id:
        context["rate_form"] = rate_form or RateForm()
    if own and case.status == Status.SUSPENDED:
        context["supplement_form"] = supplement_form or SupplementForm()
        asked = case.events.filter(kind=EventKind.SUSPEND).order_by("-at", "-pk").first()
        context["asked_for"] = asked.note if asked else ""
    return render(request, "cases/resident_detail.html", context, status=status)


# Steps whose note is written for the reporter; dispatch instructions, acceptance and escalation
# notes are between staff and stay on the staff page.
NOTES_FOR_REPORTER = frozenset(
    {
        EventKind.REJECT,
        EventKind.REPLY,
        EventKind.SUSPEND,
        EventKind.RESUME,
        EventKind.CLOSE,
        EventKind.EVALUATE,
    }
)


def _public_note(event) -> str:
    """Notes the reporter should read: reasons, replies, what is missing, their own words."""
    return event.note if event.kind in NOTES_FOR_REPORTER else ""


def _duplicates_for_reporter(case: Case) -> list:
    """ "已有人反映": open cases that read as the same problem at the same place, from anyone."""
    return queries.duplicates_of_case(Case.objects.all(), case, limit=3)


@login_required
def mine_detail(request, number: str):
    return _detail(request, _known_case(request, number))


@login_required
def mine_photo(request, number: str, pk: int):
    case = _known_case(request, number)
    photo = get_object_or_404(_photos_for(request.user, case), pk=pk)
    return uploads.file_response(photo.attachment)


@login_required
@require_POST
def join(request, number: str, other: str):
    """The reporter agrees their new request is the same problem as an existing one: merge and follow."""
    case = _own_case(request, number)
    existing = get_object_or_404(Case, number=other)
    try:
        services.join_existing_case(request.user, case, existing)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _detail(request, case, status=exc.status)
    messages.success(request, _("已合并到已有的诉求，办理进展会通知您。"))
    return redirect("cases:mine_detail", number=case.number)


def _draft(request) -> dict:
    """What the resident is about to report, from the report form's fields (for 已有人反映)."""
    params = request.POST if request.method == "POST" else request.GET
    lon = lat = None
    try:
        lon, lat = float(params.get("lon", "")), float(params.get("lat", ""))
    except ValueError:
        lon = lat = None
    coord = params.get("coord_system", "wgs84")
    if (
        coord not in ("wgs84", "gcj02", "bd09")
        or lon is None
        or not (-180 <= lon <= 180 and -90 <= lat <= 90)
    ):
        lon = lat = None
    region, _how, wgs_lon, wgs_lat = services.locate_case(
        request.user, lon=lon, lat=lat, coord_system=coord if lon is not None else "wgs84"
    )
    return {
        "title": params.get("title", "")[:100],
        "description": params.get("description", "")[:2000],
        "lon": wgs_lon,
        "lat": wgs_lat,
        "region": region,
    }


@login_required
def similar(request):
    """已有人反映: likely duplicates of what the resident is writing, for the report page (JSON)."""
    draft = _draft(request)
    if len(draft["title"] + draft["description"]) < 4:
        return JsonResponse({"cases": []})
    found = queries.likely_duplicates(Case.objects.all(), category=None, at=clock.now(), limit=3, **draft)
    return JsonResponse(
        {
            "cases": [
                {
                    "number": d.case.number,
                    "title": redact_contacts(d.case.title),
                    "status": str(PLAIN_STATUS.get(d.case.status, d.case.get_status_display())),
                    "distance_m": d.distance_m,
                    "created_at": d.case.created_at.isoformat(),
                    "follow_url": reverse("cases:follow", args=[d.case.number]),
                }
                for d in found
            ]
        }
    )


@login_required
@require_POST
def follow(request, number: str):
    """关注 instead of filing again; the form carries what the resident was about to report."""
    case = get_object_or_404(Case, number=number)
    try:
        followed = services.follow_case(request.user, case, **_draft(request))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("cases:report")
    messages.success(request, _("已关注，办理的每一步都会通知您。"))
    return redirect("cases:mine_detail", number=followed.number)


@login_required
@require_POST
def rate(request, number: str):
    case = _own_case(request, number)
    form = RateForm(request.POST)
    if form.is_valid():
        try:
            services.evaluate_case(
                request.user, case, rating=form.cleaned_data["rating"], comment=form.cleaned_data["comment"]
            )
        except services.InvalidCase as exc:
            for _field, message in exc.errors:
                form.add_error("rating", message)
        except DomainError as exc:
            messages.error(request, exc.message)
            return _detail(request, case, rate_form=form, status=exc.status)
        else:
            messages.success(request, _("感谢您的评价！"))
            return redirect("cases:mine_detail", number=case.number)
    return _detail(request, case, rate_form=form, status=400)


@login_required
@require_POST
def supplement(request, number: str):
    case = _own_case(request, number)
    form = SupplementForm(request.POST)
    if form.is_valid():
        try:
            services.resume_case(request.user, case, note=form.cleaned_data["note"])
        except DomainError as exc:
            messages.error(request, exc.message)
            return _detail(request, case, supplement_form=form, status=exc.status)
        messages.success(request, _("已收到您补充的材料，办理继续进行。"))
        return redirect("cases:mine_detail", number=case.number)
    return _detail(request, case, supplement_form=form, status=400)
