"""Every state change of a case. Each step is one service: it checks who may act, checks that the step
may follow the current status (rules.ensure_step), writes the case, one `CaseEvent` and one audit
entry, and queues notifications in the outbox — all in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gongzhi.cases import addressing, queries, rules
from gongzhi.cases.models import (
    OPEN_STATUSES,
    AssignmentRole,
    AttributeType,
    Case,
    CaseAssignment,
    CaseEvent,
    CaseFollower,
    CasePhoto,
    CaseSequence,
    Category,
    CategoryAttribute,
    CategorySuggestion,
    EventKind,
    Rating,
    RequestType,
    RoutingRule,
    Sla,
    Source,
    Status,
    SweepState,
    Unit,
    UnitKind,
    UnitMember,
)
from gongzhi.core import audit, clock, geo, notify, scopes, uploads
from gongzhi.core.errors import Conflict, DomainError, NotFound, PermissionDenied
from gongzhi.core.models import ApiKey, Level, Region, RoleGrant, User
from gongzhi.core.principals import AUTO_ROUTING, SYSTEM
from gongzhi.core.roles import ROLE_ACTIONS
from gongzhi.core.rules import ancestor_paths

MAX_PHOTOS = 9
STAFF_SOURCES = {Source.PATROL, Source.HOTLINE, Source.REFERRAL}


# ---------------------------------------------------------------- helpers


def _limits(category: Category | None) -> tuple[dt.timedelta, dt.timedelta, int]:
    """(acceptance limit, handling limit, warning percent) for a category, or the deployment default."""
    if category is None:
        return (
            rules.limit_as_working_time(settings.GONGZHI_CASE_ACCEPT_HOURS, "hours"),
            rules.limit_as_working_time(settings.GONGZHI_CASE_HANDLE_DAYS, "days"),
            80,
        )
    return (
        rules.limit_as_working_time(category.accept_hours, "hours"),
        rules.limit_as_working_time(category.handle_limit, category.handle_unit),
        category.warn_percent,
    )


def _verify_limit() -> dt.timedelta:
    return rules.limit_as_working_time(settings.GONGZHI_CASE_VERIFY_HOURS, "hours")


def _set_deadline(case: Case, start: dt.datetime, limit: dt.timedelta, warn_percent: int) -> rules.Deadline:
    d = rules.deadline(start, limit, warn_percent)
    case.due_at, case.warn_at = d.due, d.warn
    return d


def _event(
    actor,
    case: Case,
    kind: str,
    *,
    unit: Unit | None = None,
    note: str = "",
    public: bool = True,
    on_time: bool | None = None,
    working_seconds: int | None = None,
    rating: str = "",
    data: dict | None = None,
    ip: str | None = None,
) -> CaseEvent:
    event = CaseEvent.objects.create(
        case=case,
        kind=kind,
        at=clock.now(),
        actor=actor if isinstance(actor, User) and actor.pk else None,
        actor_label=audit.actor_label(actor),
        unit=unit,
        region_path=case.region_path,
        category=case.category,
        note=note,
        public=public,
        on_time=on_time,
        working_seconds=working_seconds,
        rating=rating,
        data=data or {},
    )
    after = {"status": case.status, "unit": unit.pk if unit else None}
    if data:
        after.update(data)
    audit.record(actor, f"case.{kind}", case, after=after, ip=ip)
    return event


def case_url(case: Case) -> str:
    return reverse("cases:detail", args=[case.number])


def _tell(recipients: Iterable[User], kind: str, case: Case, title: str) -> None:
    notify.send(
        recipients, kind, title=title, body=f"{case.number} {case.title}", url=case_url(case), obj=case
    )


def _tell_reporter(case: Case, kind: str, title: str, *, new: bool = False) -> None:
    """Tell the people waiting on a case: its reporter, its followers and, after 并案, the reporters and
    followers of the cases merged into it. Each is pointed at the case they know, by its own number."""
    waiting: dict[int, str] = {}  # user id → the number they know
    if not new:
        followers = CaseFollower.objects.filter(Q(case=case) | Q(case__merged_into=case))
        for number, user_id in followers.values_list("case__number", "user_id"):
            waiting.setdefault(user_id, number)
        merged = Case.objects.filter(merged_into=case, reporter__isnull=False)
        waiting.update({user_id: number for number, user_id in merged.values_list("number", "reporter_id")})
    if case.reporter_id:
        waiting[case.reporter_id] = case.number
    people = User.objects.in_bulk([user_id for user_id in waiting if user_id != case.reporter_id])
    if case.reporter_id:
        people[case.reporter_id] = case.reporter
    by_number: dict[str, list[User]] = {}
    for user_id, number in waiting.items():
        by_number.setdefault(number, []).append(people[user_id])
    for number, recipients in by_number.items():
        url = reverse("cases:mine_detail", args=[number])
        notify.send(recipients, kind, title=title, body=f"{number} {case.title}", url=url, obj=case)


def unit_staff(unit: Unit, *, heads_only: bool = False):
    members = UnitMember.objects.filter(unit=unit)
    if heads_only:
        members = members.filter(is_head=True)
    return User.objects.filter(pk__in=members.values("user_id"), is_active=True)


def _roles_with(action: str) -> list[str]:
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions]


def dispatchers_of(case: Case, *, at_least: str = Level.COMMUNITY):
    """Staff who may dispatch this case: grants on its community or street (street only for escalations)."""
    paths = ancestor_paths(case.region_path)
    levels = [Level.STREET] if at_least == Level.STREET else [Level.STREET, Level.COMMUNITY]
    grants = RoleGrant.objects.filter(
        role__in=_roles_with("cases.dispatch"), region__path__in=paths, region__level__in=levels
    )
    return User.objects.filter(pk__in=grants.values("user_id"), is_active=True)


def _grid_workers(case: Case):
    grants = RoleGrant.objects.filter(role__in=_roles_with("cases.verify"), region=case.region)
    return User.objects.filter(pk__in=grants.values("user_id"), is_active=True)


def street_of(region: Region) -> Region | None:
    if region.level == Level.STREET:
        return region
    paths = ancestor_paths(region.path)
    return Region.objects.filter(path__in=paths, level=Level.STREET).first()


def is_member(user, unit: Unit | None) -> bool:
    if unit is None:
        return False
    if getattr(user, "is_superuser", False):
        return True
    return isinstance(user, User) and UnitMember.objects.filter(unit=unit, user=user).exists()


def escalation_pending(case: Case) -> bool:
    """An escalation waiting for the street: just raised, or returned by a unit the street sent it to."""
    return bool(case.escalated_to_id) and case.status in (Status.ESCALATED, Status.RETURNED)


def may_dispatch(actor, case: Case) -> bool:
    """The dispatcher's check (pages offer what the services allow): the case's area, and while an
    escalation is pending the street it went to — the community that raised it waits (吹哨)."""
    if not scopes.can(actor, "cases.dispatch", case):
        return False
    return not escalation_pending(case) or scopes.can(actor, "cases.dispatch", case.escalated_to)


def _require_dispatcher(actor, case: Case) -> None:
    scopes.require(actor, "cases.dispatch", case)
    if escalation_pending(case):
        scopes.require(actor, "cases.dispatch", case.escalated_to)


def _lock(case: Case) -> Case:
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("category", "region", "unit", "escalated_to")
        .get(pk=case.pk)
    )


def _required(text: str, code: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise DomainError(code, message)
    return text


def _active_assignments(case: Case):
    return CaseAssignment.objects.filter(case=case, ended_at__isnull=True)


def _attach(actor, case: Case, event: CaseEvent | None, photos: Sequence) -> None:
    if len(photos) > MAX_PHOTOS:
        raise DomainError("case.too_many_photos", _("照片最多 %(n)d 张") % {"n": MAX_PHOTOS})
    for photo in photos:
        attachment = uploads.store_image(actor if isinstance(actor, User) else None, photo)
        CasePhoto.objects.create(case=case, event=event, attachment=attachment)


def _next_number(now: dt.datetime) -> str:
    """A tracking number: the local date and a serial (20261122000123).

    On PostgreSQL the serial comes from a sequence, which takes no lock: intake requests never wait
    for each other's transactions. Elsewhere (SQLite, where writers queue anyway) a per-day counter
    row is incremented in one statement, so numbers restart at 000001 each day.
    """
    day = timezone.localtime(now).date()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval('cases_case_number_seq')")
            return f"{day:%Y%m%d}{cursor.fetchone()[0] % 1_000_000:06d}"
        cursor.execute(
            f"UPDATE {CaseSequence._meta.db_table} SET last = last + 1 WHERE day = %s RETURNING last",
            [connection.ops.adapt_datefield_value(day)],
        )
        row = cursor.fetchone()
    if row is None:  # the first case of the day; if another request created it first, count on
        with transaction.atomic():
            _sequence, created = CaseSequence.objects.get_or_create(day=day, defaults={"last": 1})
        return f"{day:%Y%m%d}{1:06d}" if created else _next_number(now)
    return f"{day:%Y%m%d}{row[0]:06d}"


# ---------------------------------------------------------------- intake


class InvalidCase(DomainError):
    """Every problem with a submission at once, so a form or an integrator can fix them in one go."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__(
            "case.invalid",
            "；".join(message for _field, message in errors),
            details=[{"field": field, "message": message} for field, message in errors],
        )
        self.errors = errors


def _category_by_code(code: str) -> Category | None:
    try:
        return Category.objects.select_related("parent").get(code=code)
    except Category.DoesNotExist:
        return None


def _check_attributes(category: Category | None, values: dict) -> tuple[dict, list[tuple[str, str]]]:
    """The category's extra fields (补充信息), checked; without a category none may be given."""
    specs = (
        [
            rules.AttributeSpec(a.code, a.datatype, a.required, tuple(a.keys))
            for a in CategoryAttribute.objects.filter(category=category)
        ]
        if category is not None
        else []
    )
    return rules.check_attributes(specs, values)


def _resident_record(user):
    return getattr(user, "resident_record", None) if isinstance(user, User) else None


def locate_case(
    actor,
    *,
    lon: float | None,
    lat: float | None,
    coord_system: str = "wgs84",
    grid: Region | None = None,
    address: str = "",
) -> tuple[Region | None, str, float | None, float | None]:
    """Where a case is: (region, how it was found, WGS-84 lon, lat). Never guesses below what is known.

    Order: a point inside a grid boundary; a grid named by staff; the address text matched against
    the region tree and the buildings ledger (hotline, Open311 address_string); the reporting
    resident's own grid; the street of the actor's area (flagged "street" for the dispatcher).
    """
    if lon is not None and lat is not None:
        wgs_lon, wgs_lat = geo.to_wgs84(lon, lat, coord_system)
        found = geo.locate(wgs_lon, wgs_lat)
        if found is not None:
            return found, "point", wgs_lon, wgs_lat
    else:
        wgs_lon = wgs_lat = None
    if grid is not None:
        return grid, "grid", wgs_lon, wgs_lat
    if address.strip():
        found = addressing.resolve(address, within=_area_of(actor))
        if found is not None and not found.needs_review:
            return found.region, "text", wgs_lon, wgs_lat
        if found is not None:
            # A guess or only the street: the dispatcher checks it (flagged "street").
            street = street_of(found.region)
            return street or found.region, "street", wgs_lon, wgs_lat
    resident = _resident_record(actor)
    if resident is not None:
        return resident.region, "address", wgs_lon, wgs_lat
    home = _home_street(actor)
    return home, "street", wgs_lon, wgs_lat


def _area_of(actor) -> Region | None:
    """The one area an integrator or staff member works in, to keep address matching inside it."""
    if isinstance(actor, ApiKey):
        return actor.region
    if isinstance(actor, User):
        regions = {g.region for g in RoleGrant.objects.filter(user=actor).select_related("region")}
        return regions.pop() if len(regions) == 1 else None
    return None


def _home_street(actor) -> Region | None:
    """The street of the actor's own area, if that names exactly one street."""
    if isinstance(actor, ApiKey):
        region = actor.region
    elif isinstance(actor, User):
        grant = RoleGrant.objects.filter(user=actor).select_related("region").order_by("region__path").first()
        region = grant.region if grant else None
    else:
        region = None
    if region is None:
        return None
    if region.level in (Level.STREET, Level.COMMUNITY, Level.GRID):
        return street_of(region)
    return None


def route(category: Category | None, region: Region) -> Unit | None:
    """The responsible unit by the routing rules (权责清单), or None when no rule matches."""
    if category is None:
        return None
    codes = [category.code] + ([category.parent.code] if category.parent_id else [])
    candidates = RoutingRule.objects.filter(
        category__code__in=codes, region__path__in=ancestor_paths(region.path), unit__is_active=True
    ).select_related("category", "region", "unit")
    units = {rule.unit_id: rule.unit for rule in candidates}
    found = [rules.Rule(rule.category.code, rule.region.path, rule.unit_id) for rule in candidates]
    chosen = rules.pick_rule(found, codes, region.path)
    return units[chosen.unit_id] if chosen else None


@transaction.atomic
def submit_case(
    actor,
    *,
    source: str,
    title: str,
    description: str,
    request_type: str = RequestType.COMPLAINT,
    category: Category | str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    coord_system: str = "wgs84",
    grid: Region | str | None = None,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    anonymous: bool = False,
    photos: Sequence = (),
    attributes: dict[str, str | list[str]] | None = None,
    media_url: str = "",
    ip: str | None = None,
) -> Case:
    """Receive a request or event from any source and give it a number, a region and a deadline.

    `category` and `grid` may be given as objects or as codes (API and Open311); every problem with
    the submission is reported at once in one InvalidCase.
    """
    errors: list[tuple[str, str]] = []
    if isinstance(category, str):
        code = category.strip()
        category = _category_by_code(code) if code else None
        if code and category is None:
            errors.append(("category", _("没有分类代码 %(code)s") % {"code": code}))
    if isinstance(grid, str):
        code, grid = grid.strip(), Region.objects.filter(code=grid.strip(), level=Level.GRID).first()
        if code and grid is None:
            errors.append(("grid", _("没有网格代码 %(code)s") % {"code": code}))
    title, description = (title or "").strip(), (description or "").strip()
    if not title:
        errors.append(("title", _("请填写标题")))
    elif len(title) > 100:
        errors.append(("title", _("标题不能超过 100 个字")))
    if not description:
        errors.append(("description", _("请描述问题")))
    elif len(description) > 2000:
        errors.append(("description", _("描述不能超过 2000 个字")))
    if source not in Source.values:
        errors.append(("source", _("来源不正确")))
    if request_type not in RequestType.values:
        errors.append(("request_type", _("诉求类型不正确")))
    if category is not None and not category.is_active:
        errors.append(("category", _("该分类已停用")))
    if (lon is None) != (lat is None):
        errors.append(("lon" if lon is None else "lat", _("经度和纬度需同时提供")))
    if lon is not None and lat is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
        errors.append(("lon", _("坐标超出范围")))
    if coord_system not in ("wgs84", "gcj02", "bd09"):
        errors.append(("coord_system", _("坐标系只能是 wgs84、gcj02 或 bd09")))
    if len(photos) > MAX_PHOTOS:
        errors.append(("photos", _("照片最多 %(n)d 张") % {"n": MAX_PHOTOS}))
    if len(address) > 200:
        errors.append(("address", _("地址不能超过 200 个字")))
    if media_url and not (media_url.startswith(("https://", "http://")) and len(media_url) <= 500):
        errors.append(("media_url", _("图片链接须为 http(s) 地址，且不超过 500 个字符")))
    if source == Source.HOTLINE and not (reporter_phone or "").strip() and not anonymous:
        errors.append(("reporter_phone", _("热线来电请记录来电号码")))
    attributes, attribute_errors = _check_attributes(category, attributes or {})
    errors += attribute_errors
    if errors:
        raise InvalidCase(errors)

    # Who is reporting decides who may and on whose behalf.
    reporter = None
    if source == Source.RESIDENT:
        if not isinstance(actor, User) or not actor.is_authenticated:
            raise PermissionDenied("case.login_required", _("请先登录再反映问题"))
        reporter = actor
        resident = _resident_record(actor)
        reporter_name = resident.name if resident else actor.real_name
        reporter_phone = (resident.phone if resident else "") or actor.phone or ""
    region, located_by, wgs_lon, wgs_lat = locate_case(
        actor, lon=lon, lat=lat, coord_system=coord_system, grid=grid, address=address
    )
    if region is None:
        raise InvalidCase([("lon", _("无法确定问题所在区域，请在地图上选点或填写所在网格"))])
    if located_by == "point" and region.level not in (Level.GRID, Level.COMMUNITY, Level.STREET):
        region, located_by = street_of(region) or region, "street"
    if source in STAFF_SOURCES:
        scopes.require(actor, "cases.report", region)
    elif source != Source.RESIDENT or isinstance(actor, ApiKey):
        # Integrators (API, Open311) need the submit action where the case lands.
        scopes.require(actor, "cases.submit", region)
    if source == Source.PATROL and region.level != Level.GRID:
        raise InvalidCase([("grid", _("巡查上报须定位到网格"))])

    now = clock.now()
    case = Case(
        number=_next_number(now),
        source=source,
        request_type=request_type,
        title=title,
        description=description,
        category=category,
        region=region,
        region_path=region.path,
        located_by=located_by,
        lon=wgs_lon,
        lat=wgs_lat,
        address=address.strip(),
        attributes=attributes,
        reporter=reporter,
        entered_by=actor if isinstance(actor, User) and source in STAFF_SOURCES else None,
        reporter_name=(reporter_name or "").strip()[:50],
        reporter_phone=(reporter_phone or "").strip(),
        anonymous=anonymous,
        verified_reporter=_resident_record(reporter) is not None,
        created_at=now,
    )
    accept_limit, _handle, warn_percent = _limits(category)
    d = _set_deadline(case, now, accept_limit, warn_percent)
    case.accept_due = d.due
    case.suggested_unit = route(category, region)
    case.no_rule = case.suggested_unit is None
    case.save()
    event = _event(
        actor,
        case,
        EventKind.SUBMIT,
        note=_("来源：%(source)s") % {"source": Source(source).label},
        data={"located_by": located_by} | ({"media_url": media_url} if media_url else {}),
        ip=ip,
    )
    _attach(actor, case, event, photos)
    _suggest_and_route(case, now)
    # Dispatchers work from their queue (it is the notice of new cases); the reporter gets a receipt.
    _tell_reporter(case, "case.submitted", _("您的诉求已提交，编号 %(n)s") % {"n": case.number}, new=True)
    return case


def _suggest_and_route(case: Case, now: dt.datetime) -> None:
    """智能分拨: record the classifier's top-3 for the dispatcher; route on its own when it is sure.

    Without a trained model nothing happens. Routing on its own needs the confidence at or above
    GONGZHI_CLASSIFIER_AUTO_ROUTE, no contrary category from the reporter and a routing rule; the case
    is then accepted and dispatched under the name auto-routing, and marked so.
    """
    from gongzhi.cases import classifier

    model = classifier.current()
    if model is None:
        return
    top = model.predict_top(classifier.text_of(case.title, case.description), k=3)
    known = Category.objects.filter(code__in=[code for code, _p in top], is_active=True).select_related(
        "parent"
    )
    by_code = {c.code: c for c in known}
    top = [(code, p) for code, p in top if code in by_code]
    if not top:
        return
    best, confidence = by_code[top[0][0]], top[0][1]
    suggestion = CategorySuggestion.objects.create(
        case=case,
        model_version=model.version,
        top=[[code, round(p, 4)] for code, p in top],
        suggested=best,
        confidence=confidence,
        created_at=now,
    )
    threshold = settings.GONGZHI_CLASSIFIER_AUTO_ROUTE
    if threshold is None or confidence < threshold or case.category_id not in (None, best.pk):
        return
    unit = route(best, case.region)
    if unit is None:
        return
    suggestion.auto_routed = True
    suggestion.save(update_fields=["auto_routed"])
    note = _("智能分拨：%(name)s，置信度 %(p).0f%%") % {"name": best.full_name, "p": confidence * 100}
    accepted = accept_case(AUTO_ROUTING, case, category=best, note=note)
    dispatch_case(AUTO_ROUTING, accepted, unit=unit, note=note)


def _decide_suggestion(case: Case, category: Category, now: dt.datetime) -> None:
    """Record where the category finally chosen at acceptance stood among the suggestions."""
    suggestion = CategorySuggestion.objects.filter(case=case, decided_at__isnull=True).first()
    if suggestion is None:
        return
    codes = [code for code, _p in suggestion.top]
    suggestion.final, suggestion.decided_at = category, now
    suggestion.rank = codes.index(category.code) + 1 if category.code in codes else 0
    suggestion.save(update_fields=["final", "decided_at", "rank"])


# ---------------------------------------------------------------- dispatch centre


@transaction.atomic
def accept_case(actor, case: Case, *, category: Category | None = None, note: str = "") -> Case:
    """立案: the case is real and ours. A category is required from here on (it sets the deadlines)."""
    case = _lock(case)
    _require_dispatcher(actor, case)
    rules.ensure_step("accept", case.status)
    category = category or case.category
    if category is None:
        raise DomainError("case.category_required", _("立案前请选择事件分类"))
    if not category.is_active:
        raise DomainError("case.category_inactive", _("该分类已停用"))
    now = clock.now()
    on_time = now <= case.accept_due if case.accept_due else None
    if category != case.category:
        case.category = category
        case.suggested_unit = route(category, case.region)
        case.no_rule = case.suggested_unit is None
    accept_limit, _handle, warn_percent = _limits(category)
    case.status, case.accepted_at = Status.ACCEPTED, now
    _set_deadline(case, now, accept_limit, warn_percent)  # time to dispatch (派遣时限)
    case.save()
    _decide_suggestion(case, category, now)
    _event(actor, case, EventKind.ACCEPT, note=note, on_time=on_time)
    return case


@transaction.atomic
def reject_case(actor, case: Case, *, reason: str) -> Case:
    """不予受理: with a reason the reporter is told."""
    reason = _required(reason, "case.reason_required", _("请填写不予受理的理由"))
    case = _lock(case)
    _require_dispatcher(actor, case)
    rules.ensure_step("reject", case.status)
    case.status, case.closed_at = Status.REJECTED, clock.now()
    case.due_at = case.warn_at = None
    case.save()
    _event(actor, case, EventKind.REJECT, note=reason)
    _tell_reporter(case, "case.rejected", _("您反映的问题不予受理"))
    return case


@transaction.atomic
def dispatch_case(
    actor, case: Case, *, unit: Unit, assist_units: Sequence[Unit] = (), note: str = ""
) -> Case:
    """派遣 to a lead unit (and assisting units, 协办). From an escalation to a department: 吹哨."""
    case = _lock(case)
    _require_dispatcher(actor, case)
    rules.ensure_step("dispatch", case.status)
    if not unit.is_active:
        raise DomainError("case.unit_inactive", _("单位“%(unit)s”已停用") % {"unit": unit.name})
    assists = [u for u in dict.fromkeys(assist_units) if u.pk != unit.pk]
    for u in assists:
        if not u.is_active:
            raise DomainError("case.unit_inactive", _("单位“%(unit)s”已停用") % {"unit": u.name})
    wanted = {unit.pk, *(u.pk for u in assists)}
    if queries.units_for(actor).filter(pk__in=wanted).count() != len(wanted):
        raise PermissionDenied("case.unit_out_of_reach", _("只能派遣给您所辖区域内或上级区域的单位"))
    now = clock.now()
    whistle = case.status == Status.ESCALATED and unit.kind == UnitKind.DEPARTMENT
    _active_assignments(case).update(ended_at=now)
    CaseAssignment.objects.create(
        case=case, unit=unit, role=AssignmentRole.LEAD, assigned_at=now, whistled=whistle
    )
    CaseAssignment.objects.bulk_create(
        CaseAssignment(case=case, unit=u, role=AssignmentRole.ASSIST, assigned_at=now, whistled=whistle)
        for u in assists
    )
    _accept, handle_limit, warn_percent = _limits(case.category)
    case.status, case.unit, case.dispatched_at = Status.DISPATCHED, unit, now
    if whistle:
        case.escalation_level = 2
    d = _set_deadline(case, now, handle_limit, warn_percent)
    case.handle_due = d.due
    case.save()
    _event(
        actor,
        case,
        EventKind.WHISTLE if whistle else EventKind.DISPATCH,
        unit=unit,
        note=note,
        data={
            "assist": [u.name for u in assists],
            "suggested": case.suggested_unit_id == unit.pk,
        },
    )
    _tell(unit_staff(unit), "case.dispatched", case, _("新派遣的事件待签收"))
    for u in assists:
        _tell(unit_staff(u), "case.assist", case, _("新的协办事件"))
    return case


# ---------------------------------------------------------------- the handling unit


@transaction.atomic
def sign_case(actor, case: Case) -> Case:
    """签收 (报到 for a whistled department): a unit takes the case it was sent."""
    case = _lock(case)
    assignment = _my_assignment(actor, case)
    if assignment.signed_at is not None:
        raise Conflict("case.already_signed", _("本单位已签收该事件"))
    now = clock.now()
    if assignment.role == AssignmentRole.LEAD:
        rules.ensure_step("sign", case.status)
        case.status = Status.IN_PROGRESS
        case.save(update_fields=["status"])
    elif case.status not in (Status.DISPATCHED, Status.IN_PROGRESS):
        rules.ensure_step("sign", case.status)
    assignment.signed_at = now
    assignment.save(update_fields=["signed_at"])
    _event(actor, case, EventKind.SIGN, unit=assignment.unit, data={"role": assignment.role})
    if assignment.role == AssignmentRole.LEAD:
        _tell_reporter(case, "case.in_progress", _("您反映的问题已有单位承办"))
    return case


def _my_assignment(actor, case: Case, *, lead_only: bool = False) -> CaseAssignment:
    assignments = _active_assignments(case).select_related("unit")
    if lead_only:
        assignments = assignments.filter(role=AssignmentRole.LEAD)
    for assignment in assignments:
        if is_member(actor, assignment.unit):
            return assignment
    raise PermissionDenied("case.not_unit_member", _("您不是该事件承办单位的人员，不能办理"))


@transaction.atomic
def reply_case(actor, case: Case, *, note: str, photos: Sequence = ()) -> Case:
    """处置反馈: the lead unit says what it did. Then a grid worker verifies, or the dispatcher closes."""
    note = _required(note, "case.reply_required", _("请填写处置结果"))
    case = _lock(case)
    assignment = _my_assignment(actor, case, lead_only=True)
    rules.ensure_step("reply", case.status)
    now = clock.now()
    on_time = case.handle_due is None or now <= case.handle_due
    assignment.replied_at = now
    assignment.save(update_fields=["replied_at"])
    case.status, case.replied_at = Status.REPLIED, now
    _set_deadline(case, now, _verify_limit(), 80)
    case.save()
    event = _event(actor, case, EventKind.REPLY, unit=assignment.unit, note=note, on_time=on_time)
    _attach(actor, case, event, photos)
    if needs_verification(case):
        _tell(_grid_workers(case), "case.verify", case, _("有事件待核查"))
    else:
        _tell(dispatchers_of(case), "case.replied", case, _("有事件已反馈待结案"))
    _tell_reporter(case, "case.replied", _("您反映的问题已处置，待核查结案"))
    return case


@transaction.atomic
def assist_reply_case(actor, case: Case, *, note: str) -> Case:
    """协办意见: an assisting unit reports its part to the lead."""
    note = _required(note, "case.reply_required", _("请填写协办意见"))
    case = _lock(case)
    assignment = _my_assignment(actor, case)
    if assignment.role != AssignmentRole.ASSIST:
        raise DomainError("case.not_assist", _("主办单位请使用“处置反馈”"))
    rules.ensure_step("assist_reply", case.status)
    assignment.replied_at = clock.now()
    assignment.save(update_fields=["replied_at"])
    _event(actor, case, EventKind.ASSIST_REPLY, unit=assignment.unit, note=note, public=False)
    if case.unit_id:
        _tell(unit_staff(case.unit), "case.assist_replied", case, _("协办单位已反馈意见"))
    return case


@transaction.atomic
def return_case(actor, case: Case, *, reason: str) -> Case:
    """退单: not this unit's matter; back to the dispatcher with the reason."""
    reason = _required(reason, "case.reason_required", _("请填写退单理由"))
    case = _lock(case)
    assignment = _my_assignment(actor, case, lead_only=True)
    rules.ensure_step("return", case.status)
    now = clock.now()
    _active_assignments(case).update(ended_at=now)
    accept_limit, _handle, warn_percent = _limits(case.category)
    case.status, case.unit = Status.RETURNED, None
    _set_deadline(case, now, accept_limit, warn_percent)
    case.save()
    _event(actor, case, EventKind.RETURN, unit=assignment.unit, note=reason, public=False)
    level = Level.STREET if escalation_pending(case) else Level.COMMUNITY
    _tell(dispatchers_of(case, at_least=level), "case.returned", case, _("有事件被退单，请重新派遣"))
    return case


@transaction.atomic
def escalate_case(actor, case: Case, *, reason: str) -> Case:
    """上报: beyond the unit's powers, up to the street, which may whistle a department (吹哨报到)."""
    reason = _required(reason, "case.reason_required", _("请填写上报原因"))
    case = _lock(case)
    assignment = _my_assignment(actor, case, lead_only=True)
    rules.ensure_step("escalate", case.status)
    if assignment.unit.kind == UnitKind.DEPARTMENT:
        raise DomainError("case.department_cannot_escalate", _("职能部门不能上报，不属于本部门职责的请退单"))
    _escalate(case, reason=reason)
    _event(actor, case, EventKind.ESCALATE, unit=assignment.unit, note=reason)
    _tell(dispatchers_of(case, at_least=Level.STREET), "case.escalated", case, _("社区上报的事件待街道处理"))
    return case


def _escalate(case: Case, *, reason: str) -> None:
    street = street_of(case.region)
    if street is None:
        raise DomainError("case.no_street", _("该事件不在任何街道内，无法上报"))
    now = clock.now()
    _active_assignments(case).update(ended_at=now)
    accept_limit, _handle, warn_percent = _limits(case.category)
    case.status, case.unit, case.escalated_to, case.escalation_level = Status.ESCALATED, None, street, 1
    _set_deadline(case, now, accept_limit, warn_percent)
    case.save()


@transaction.atomic
def suspend_case(actor, case: Case, *, reason: str) -> Case:
    """待补充材料: the clock stops until the reporter supplies what is missing."""
    reason = _required(reason, "case.reason_required", _("请说明需要补充的材料"))
    case = _lock(case)
    rules.ensure_step("suspend", case.status)
    if case.status == Status.IN_PROGRESS:
        _my_assignment(actor, case, lead_only=True)
    else:
        _require_dispatcher(actor, case)
    now = clock.now()
    case.suspended_status, case.suspended_at = case.status, now
    case.suspended_remaining = rules.time_left(now, case.due_at)
    case.suspended_warn_remaining = rules.time_left(now, case.warn_at)
    case.status, case.due_at, case.warn_at = Status.SUSPENDED, None, None
    case.save()
    _event(actor, case, EventKind.SUSPEND, unit=case.unit, note=reason)
    _tell_reporter(case, "case.suspended", _("您反映的问题需要补充材料"))
    return case


@transaction.atomic
def resume_case(actor, case: Case, *, note: str = "") -> Case:
    """The material arrived (from the reporter or staff): the clock runs on with the time that was left."""
    case = _lock(case)
    rules.ensure_step("resume", case.status)
    if not (isinstance(actor, User) and case.reporter_id == actor.pk):
        if case.suspended_status == Status.IN_PROGRESS:
            _my_assignment(actor, case, lead_only=True)
        else:
            _require_dispatcher(actor, case)
    now = clock.now()
    paused = rules.time_left(case.suspended_at, now) or dt.timedelta(0)
    case.suspended_working += max(paused, dt.timedelta(0))
    case.status = case.suspended_status
    if case.suspended_remaining is not None:
        case.due_at = rules.resume_deadline(now, case.suspended_remaining)
        case.warn_at = rules.resume_deadline(now, case.suspended_warn_remaining or dt.timedelta(0))
        if case.status in (Status.DISPATCHED, Status.IN_PROGRESS):
            case.handle_due = case.due_at
        elif case.status == Status.SUBMITTED:
            case.accept_due = case.due_at
    case.suspended_status, case.suspended_at = "", None
    case.suspended_remaining = case.suspended_warn_remaining = None
    case.save()
    _event(actor, case, EventKind.RESUME, unit=case.unit, note=note)
    if case.unit_id:
        _tell(unit_staff(case.unit), "case.resumed", case, _("补充材料已到，事件恢复办理"))
    return case


# ---------------------------------------------------------------- 并案 (merging duplicates) and following

MERGEABLE = frozenset(
    {Status.SUBMITTED, Status.ACCEPTED, Status.RETURNED, Status.ESCALATED, Status.SUSPENDED}
)


@transaction.atomic
def merge_cases(actor, main: Case, duplicates: Sequence[Case], *, note: str = "") -> Case:
    """并案: fold duplicates into one main case. Their reporters and followers then hear of every step
    of the main case and they close with it; being merged, they are no longer due and count once.

    Only duplicates not yet in a unit's hands are merged (a unit's work is not silently withdrawn); the
    main case may be at any open step.
    """
    main = _lock(main)
    _require_dispatcher(actor, main)
    if main.status not in OPEN_STATUSES and main.status != Status.SUSPENDED:
        raise Conflict("case.cannot_merge_into", _("主案已办结或已并入其他事件，不能再并入"))
    if not duplicates:
        raise DomainError("case.nothing_to_merge", _("请选择要并入的事件"))
    merged = []
    for other in sorted(duplicates, key=lambda c: c.pk):
        other = _lock(other)
        _require_dispatcher(actor, other)
        _merge_one(actor, main, other, note=note)
        merged.append(other.number)
    _event(actor, main, EventKind.MERGE, note=note, public=False, data={"merged": merged})
    return main


def _merge_one(actor, main: Case, other: Case, *, note: str) -> None:
    if other.pk == main.pk:
        raise DomainError("case.merge_self", _("不能把事件并入它自己"))
    if other.status not in MERGEABLE or Case.objects.filter(merged_into=other).exists():
        raise Conflict(
            "case.cannot_merge",
            _("事件 %(n)s 当前状态为“%(s)s”，不能并案")
            % {"n": other.number, "s": other.get_status_display()},
        )
    before = other.status
    other.status, other.merged_into, other.due_at, other.warn_at = Status.MERGED, main, None, None
    other.save()
    _event(actor, other, EventKind.MERGE, note=note, data={"into": main.number, "before": before})
    _tell_reporter(
        other, "case.merged", _("您反映的问题已与同一问题合并办理（并入 %(n)s）") % {"n": main.number}
    )


@transaction.atomic
def join_existing_case(user, own: Case, existing: Case) -> Case:
    """ "已有人反映" — the reporter withdraws a just-filed request into the existing one and follows it.

    Only while their request still waits for acceptance, and only into one of its likely duplicates
    (a resident cannot attach their request to an arbitrary case number).
    """
    own = _lock(own)
    if own.reporter_id != getattr(user, "pk", None):
        raise PermissionDenied("case.not_reporter", _("只能处理您自己反映的问题"))
    if own.status != Status.SUBMITTED:
        raise Conflict("case.already_accepted", _("您的诉求已受理，不能再合并"))
    candidates = queries.duplicates_of_case(Case.objects.filter(pk=existing.pk), own)
    if not candidates:
        raise Conflict("case.not_duplicate", _("该事件与您的诉求不是同一问题，不能合并"))
    main = _lock(existing)
    _merge_one(user, main, own, note=_("反映人确认与已有诉求为同一问题"))
    # On the main case's timeline under the system's name: staff never see who another case's reporter is.
    _event(SYSTEM, main, EventKind.MERGE, public=False, note=own.number, data={"merged": [own.number]})
    return main


@transaction.atomic
def unmerge_case(actor, case: Case, *, reason: str) -> Case:
    """取消并案: the case goes back to where it was, with its own deadlines; the main case carries on."""
    reason = _required(reason, "case.reason_required", _("请填写取消并案的理由"))
    case = _lock(case)
    _require_dispatcher(actor, case)
    if case.status != Status.MERGED or case.merged_into_id is None:
        raise Conflict("case.cannot_unmerge", _("该事件没有并案"))
    main = case.merged_into
    merge = case.events.filter(kind=EventKind.MERGE).order_by("-at", "-pk").first()
    before = (merge.data or {}).get("before") if merge else None
    now = clock.now()
    status = before or (Status.ACCEPTED if case.accepted_at else Status.SUBMITTED)
    case.status, case.merged_into, case.closed_at = status, None, None
    if status == Status.SUSPENDED:
        case.due_at = case.warn_at = None  # the remaining time is still kept aside
    else:
        # A fresh limit for the step it returns to: the time it spent merged was not its own.
        accept_limit, _handle, warn_percent = _limits(case.category)
        _set_deadline(case, now, accept_limit, warn_percent)
    case.save()
    _event(actor, case, EventKind.UNMERGE, note=reason, data={"from": main.number})
    _event(actor, main, EventKind.UNMERGE, note=reason, public=False, data={"released": case.number})
    _tell_reporter(case, "case.unmerged", _("您反映的问题已恢复单独办理"))
    return case


def main_case(case: Case) -> Case:
    """The case whose progress a merged case follows (itself when not merged)."""
    return case.merged_into if case.merged_into_id else case


@transaction.atomic
def follow_case(user, case: Case, *, title: str, description: str, lon=None, lat=None, region=None) -> Case:
    """关注 instead of filing again: the resident hears of every step. Following a merged case follows
    its main case. Returns the case followed.

    The resident says what they were about to report; only a case that reads as the same problem
    there may be followed, so a tracking number alone opens nothing.
    """
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied("case.login_required", _("请先登录"))
    same = queries.likely_duplicates(
        Case.objects.filter(pk=case.pk),
        title=title,
        description=description,
        lon=lon,
        lat=lat,
        region=region,
        category=None,
        at=clock.now(),
    )
    if not same:
        raise Conflict("case.not_duplicate", _("该事件与您要反映的问题不是同一问题，不能关注"))
    case = main_case(case)
    if not case.is_open:
        raise Conflict("case.cannot_follow", _("该事件已办结，无需关注"))
    if case.reporter_id == user.pk:
        raise Conflict("case.own_case", _("这是您自己反映的问题，进展会通知您"))
    _follower, created = CaseFollower.objects.get_or_create(
        case=case, user=user, defaults={"since": clock.now()}
    )
    if created:
        audit.record(user, "case.follow", case)
    return case


# ---------------------------------------------------------------- verification and closing


def needs_verification(case: Case) -> bool:
    return case.category.requires_verification if case.category_id else True


def _close(actor, case: Case, *, note: str, verified: bool) -> None:
    now = clock.now()
    _active_assignments(case).update(ended_at=now)
    on_time = case.handle_due is None or (case.replied_at is not None and case.replied_at <= case.handle_due)
    start = case.accepted_at or case.created_at
    handling = rules.time_left(start, now) or dt.timedelta(0)
    working = max(handling - case.suspended_working, dt.timedelta(0))
    case.status, case.closed_at, case.due_at, case.warn_at = Status.CLOSED, now, None, None
    case.save()
    Case.objects.filter(merged_into=case).update(closed_at=now)  # 并案: closed together, counted once
    _event(
        actor,
        case,
        EventKind.CLOSE,
        unit=case.unit,
        note=note,
        on_time=on_time,
        working_seconds=int(working.total_seconds()),
        data={"verified": verified},
    )
    _tell_reporter(case, "case.closed", _("您反映的问题已办结，请评价"))


def _reopen(actor, case: Case, *, note: str, cause: str) -> None:
    """返工: back to the same lead unit, already signed, with a fresh handling deadline."""
    if case.unit_id is None:
        raise DomainError("case.no_unit", _("该事件没有承办单位，无法返工"))
    now = clock.now()
    _active_assignments(case).update(ended_at=now)
    CaseAssignment.objects.create(
        case=case, unit=case.unit, role=AssignmentRole.LEAD, assigned_at=now, signed_at=now
    )
    _accept, handle_limit, warn_percent = _limits(case.category)
    case.status, case.reopen_count, case.closed_at = Status.IN_PROGRESS, case.reopen_count + 1, None
    case.callback_pending, case.rated_at = False, None  # a new round: the reporter may rate it again
    Case.objects.filter(merged_into=case).update(closed_at=None)
    d = _set_deadline(case, now, handle_limit, warn_percent)
    case.handle_due = d.due
    case.save()
    _event(actor, case, EventKind.REOPEN, unit=case.unit, note=note, data={"cause": cause})
    _tell(unit_staff(case.unit), "case.reopened", case, _("事件被退回返工"))


@transaction.atomic
def verify_case(actor, case: Case, *, passed: bool, note: str = "", photos: Sequence = ()) -> Case:
    """核查: the grid worker checks on site. Pass → closed; fail → 返工 to the same unit."""
    case = _lock(case)
    scopes.require(actor, "cases.verify", case)
    rules.ensure_step("verify", case.status)
    if not needs_verification(case):
        # Otherwise a grid worker could close what the dispatcher is to close (and call back).
        raise Conflict("case.verification_not_required", _("该分类无需现场核查，由调度人员结案"))
    if not passed:
        note = _required(note, "case.reason_required", _("核查不通过请说明原因"))
        _reopen(actor, case, note=note, cause="verification")
    else:
        _close(actor, case, note=note or _("现场核查通过"), verified=True)
    last = case.events.order_by("-pk").first()
    _attach(actor, case, last, photos)
    return case


@transaction.atomic
def close_case(actor, case: Case, *, note: str = "") -> Case:
    """结案 by the dispatcher, for categories that need no field check."""
    case = _lock(case)
    _require_dispatcher(actor, case)
    rules.ensure_step("close", case.status)
    if needs_verification(case):
        raise DomainError("case.verification_required", _("该分类须经网格员现场核查后结案"))
    _close(actor, case, note=note, verified=False)
    return case


@transaction.atomic
def evaluate_case(actor, case: Case, *, rating: str, comment: str = "") -> Case:
    """评价 by the reporter, once per closing. 不满意 opens a callback (回访) for the dispatcher."""
    case = _lock(case)
    if not (isinstance(actor, User) and case.reporter_id == actor.pk):
        raise PermissionDenied("case.not_reporter", _("只有反映人本人可以评价"))
    rules.ensure_step("evaluate", case.status)
    if rating not in Rating.values:
        raise InvalidCase([("rating", _("请选择满意、基本满意或不满意"))])
    if case.rated_at is not None:
        raise Conflict("case.already_rated", _("您已评价过本次办理结果"))
    now = clock.now()
    case.rating, case.rated_at = rating, now
    case.callback_pending = rating == Rating.DISSATISFIED
    case.save()
    _event(actor, case, EventKind.EVALUATE, unit=case.unit, note=comment.strip(), rating=rating)
    if case.callback_pending:
        _tell(dispatchers_of(case), "case.callback", case, _("居民不满意，请回访"))
    return case


@transaction.atomic
def callback_case(actor, case: Case, *, note: str, reopen: bool) -> Case:
    """回访 after a dissatisfied rating: record what the reporter said; reopen (返工) if it is warranted."""
    note = _required(note, "case.reason_required", _("请填写回访情况"))
    case = _lock(case)
    _require_dispatcher(actor, case)
    rules.ensure_step("callback", case.status)
    if not case.callback_pending:
        raise Conflict("case.no_callback", _("该事件没有待回访的不满意评价"))
    if reopen:
        _reopen(actor, case, note=note, cause="callback")
    else:
        case.callback_pending = False
        case.save(update_fields=["callback_pending"])
        _event(actor, case, EventKind.CALLBACK, unit=case.unit, note=note, public=False)
    return case


# ---------------------------------------------------------------- the deadline sweep


def sweep_deadlines(now: dt.datetime | None = None) -> dict:
    """Record the warnings (黄灯) and overdues (红灯) that happened since the last run; auto-escalate.

    The light itself is never stored (Case.sla derives it from warn_at/due_at, exact at any moment), so
    the sweep writes no case rows for it: it claims the window (last run, now] on a one-row table and
    INSERT … SELECTs one event per crossing, dated at the crossing, from range scans of the two
    deadline indexes. Each unit and street gets one digest notification. Only cases that escalate
    automatically are updated. Two workers can never sweep the same window.
    """
    now = now or clock.now()
    with transaction.atomic():
        state, _created = SweepState.objects.select_for_update().get_or_create(pk=1)
        since = state.swept_until
        if since is not None and since >= now:
            return {"yellow": 0, "red": 0, "escalated": 0}
        state.swept_until = now
        state.save(update_fields=["swept_until"])
        window = _window(since, now)
        yellow = _insert_sla_events(EventKind.WARN, "warn_at", window)
        red = _insert_sla_events(EventKind.OVERDUE, "due_at", window)
        escalated = 0
        if yellow or red:
            _sla_digests(window)
            escalated = _auto_escalate(window, now)
            audit.record(None, "case.sweep", after={"yellow": yellow, "red": red, "escalated": escalated})
    return {"yellow": yellow, "red": red, "escalated": escalated}


def _window(since: dt.datetime | None, now: dt.datetime) -> dict[str, Q]:
    """The crossings in (since, now] of open cases: a warning whose deadline is still ahead, or a deadline."""

    def crossed(field: str) -> Q:
        condition = Q(**{f"{field}__lte": now}, status__in=[s.value for s in OPEN_STATUSES])
        return condition & Q(**{f"{field}__gt": since}) if since is not None else condition

    return {"warn_at": crossed("warn_at") & Q(due_at__gt=now), "due_at": crossed("due_at")}


def _insert_sla_events(kind: str, field: str, window: dict[str, Q]) -> int:
    """One INSERT … SELECT of the window's events; `at` is the moment of crossing, not of the sweep."""
    crossing = (
        Case.objects.filter(window[field])
        .order_by()
        .values("id", field, "unit_id", "region_path", "category_id")
    )
    select_sql, params = crossing.query.sql_with_params()
    columns = "case_id, at, unit_id, region_path, category_id, kind, actor_label, note, public, rating, data"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {CaseEvent._meta.db_table} ({columns})"
            f" SELECT c.*, %s, 'system', '', %s, '', '{{}}' FROM ({select_sql}) c",
            [kind, False, *params],
        )
        return cursor.rowcount


def _auto_escalate(window: dict[str, Q], now: dt.datetime) -> int:
    """Overdue cases of auto-escalating categories held by a community-level unit go up to their street."""
    candidates = Case.objects.filter(
        window["due_at"],
        status__in=[Status.DISPATCHED, Status.IN_PROGRESS],
        category__auto_escalate=True,
        escalation_level=0,
    ).exclude(unit__kind=UnitKind.DEPARTMENT)
    accept_limit = rules.limit_as_working_time(settings.GONGZHI_CASE_ACCEPT_HOURS, "hours")
    d = rules.deadline(now, accept_limit, 80)
    total = 0
    for street in Region.objects.filter(level=Level.STREET, path__in=_street_paths(candidates)):
        ids = list(candidates.filter(region_path__startswith=street.path).values_list("pk", flat=True))
        CaseAssignment.objects.filter(case_id__in=ids, ended_at__isnull=True).update(ended_at=now)
        _insert_escalation_events(ids, now)
        total += Case.objects.filter(pk__in=ids).update(
            status=Status.ESCALATED,
            escalated_to=street,
            escalation_level=1,
            unit=None,
            due_at=d.due,
            warn_at=d.warn,
        )
    return total


def _street_paths(cases) -> set[str]:
    prefixes = cases.order_by().values_list("region_path", flat=True).distinct()
    return {"/".join(path.split("/")[:4]) + "/" for path in prefixes}


def _insert_escalation_events(ids: list[int], now: dt.datetime) -> None:
    CaseEvent.objects.bulk_create(
        CaseEvent(
            case_id=pk,
            kind=EventKind.AUTO_ESCALATE,
            at=now,
            actor_label="system",
            unit_id=unit_id,
            region_path=path,
            category_id=category_id,
            note=_("超期未办结，自动上报街道"),
        )
        for pk, unit_id, path, category_id in Case.objects.filter(pk__in=ids).values_list(
            "pk", "unit_id", "region_path", "category_id"
        )
    )


def _sla_digests(window: dict[str, Q]) -> None:
    """One message per unit (and per street for its dispatchers) summing up what changed colour."""
    for sla, field in ((Sla.YELLOW, "warn_at"), (Sla.RED, "due_at")):
        _digest(sla, Case.objects.filter(window[field]).order_by())


def _digest(sla: str, changed) -> None:
    per_unit = changed.exclude(unit=None).values("unit_id").annotate(n=Count("pk"))
    units = Unit.objects.in_bulk({row["unit_id"] for row in per_unit})
    for row in per_unit:
        notify.send(
            unit_staff(units[row["unit_id"]]),
            f"case.{sla}",
            title=_digest_title(sla, row["n"]),
            url=reverse("cases:unit_queue"),
        )
    if sla != Sla.RED:
        return
    per_street: dict[str, int] = {}
    for row in changed.values("region_path").annotate(n=Count("pk")):
        street_path = "/".join(row["region_path"].split("/")[:4]) + "/"
        per_street[street_path] = per_street.get(street_path, 0) + row["n"]
    for street in Region.objects.filter(path__in=per_street, level=Level.STREET):
        grants = RoleGrant.objects.filter(role__in=_roles_with("cases.dispatch"), region=street)
        notify.send(
            User.objects.filter(pk__in=grants.values("user_id"), is_active=True),
            "case.red",
            title=_("督办：本街道 %(n)d 件事件超期") % {"n": per_street[street.path]},
            url=reverse("cases:dispatch_queue") + "?sla=red",
        )


def _digest_title(sla: str, count: int) -> str:
    if sla == Sla.RED:
        return _("%(n)d 件事件已超期（红灯）") % {"n": count}
    return _("%(n)d 件事件临近时限（黄灯）") % {"n": count}


# ---------------------------------------------------------------- configuration (administrators)


@transaction.atomic
def save_routing_rule(
    actor, *, category: Category, region: Region, unit: Unit, note: str = ""
) -> RoutingRule:
    scopes.require(actor, "cases.configure", region)
    rule, created = RoutingRule.objects.update_or_create(
        category=category, region=region, defaults={"unit": unit, "note": note}
    )
    audit.record(
        actor,
        "case.rule_saved",
        rule,
        region=region,
        after={"category": category.code, "unit": unit.name, "created": created},
        object_repr=f"{category.code} {region.name} → {unit.name}",
    )
    return rule


@transaction.atomic
def delete_routing_rule(actor, rule: RoutingRule) -> None:
    scopes.require(actor, "cases.configure", rule.region)
    audit.record(
        actor,
        "case.rule_deleted",
        rule,
        region=rule.region,
        before={"category": rule.category.code, "unit": rule.unit.name},
        object_repr=f"{rule.category.code} {rule.region.name} → {rule.unit.name}",
    )
    rule.delete()


CATEGORY_FIELDS = (
    "name",
    "accept_hours",
    "handle_limit",
    "handle_unit",
    "warn_percent",
    "requires_verification",
    "auto_escalate",
    "is_active",
)


@transaction.atomic
def update_category(actor, category: Category, **values) -> Category:
    scopes.require(actor, "cases.configure")
    unknown = set(values) - set(CATEGORY_FIELDS)
    if unknown:
        raise DomainError("case.bad_field", _("不能修改这些字段：%(f)s") % {"f": ", ".join(sorted(unknown))})
    before = {f: str(getattr(category, f)) for f in values}
    for field, value in values.items():
        setattr(category, field, value)
    category.full_clean()
    category.save()
    audit.record(
        actor, "case.category_updated", category, before=before, after={f: str(v) for f, v in values.items()}
    )
    return category


@transaction.atomic
def add_category_attribute(
    actor,
    category: Category,
    *,
    code: str,
    datatype: str,
    description: str,
    required: bool = False,
    datatype_description: str = "",
    order: int = 1,
    values: Sequence[dict] = (),
) -> CategoryAttribute:
    """补充信息: an extra field the category asks reporters (and Open311 clients) for."""
    scopes.require(actor, "cases.configure")
    lists = datatype in (AttributeType.SINGLE, AttributeType.MULTI)
    if lists and not values:
        raise DomainError("case.attribute_values", _("单选、多选须列出可选值"))
    if not lists and values:
        raise DomainError("case.attribute_values", _("只有单选、多选可以列出可选值"))
    if CategoryAttribute.objects.filter(category=category, code=code).exists():
        raise DomainError("case.attribute_exists", _("该分类已有字段代码 %(c)s") % {"c": code})
    attribute = CategoryAttribute(
        category=category,
        code=code,
        datatype=datatype,
        required=required,
        description=description,
        datatype_description=datatype_description,
        order=order,
        values=list(values),
    )
    attribute.full_clean()
    attribute.save()
    # Recorded as a change of the category: Open311 clients re-read service definitions on it.
    audit.record(actor, "case.category_updated", category, after={"attribute_added": code})
    return attribute


@transaction.atomic
def remove_category_attribute(actor, attribute: CategoryAttribute) -> None:
    scopes.require(actor, "cases.configure")
    category, code = attribute.category, attribute.code
    attribute.delete()
    audit.record(actor, "case.category_updated", category, after={"attribute_removed": code})


@transaction.atomic
def save_unit(
    actor, *, name: str, kind: str, region: Region, phone: str = "", unit: Unit | None = None
) -> Unit:
    scopes.require(actor, "cases.configure", region)
    name = _required(name, "case.unit_name_required", _("请填写单位名称"))
    if kind not in UnitKind.values:
        raise DomainError("case.bad_unit_kind", _("单位类型不正确"))
    duplicate = Unit.objects.filter(region=region, name=name)
    if unit is not None:
        duplicate = duplicate.exclude(pk=unit.pk)
    if duplicate.exists():
        raise Conflict("case.unit_exists", _("该区域已有同名单位“%(name)s”") % {"name": name})
    unit = unit or Unit()
    unit.name, unit.kind, unit.region, unit.phone = name, kind, region, phone.strip()
    unit.save()
    audit.record(actor, "case.unit_saved", unit, region=region, after={"name": name, "kind": kind})
    return unit


@transaction.atomic
def set_unit_member(actor, unit: Unit, user: User, *, member: bool, is_head: bool = False) -> None:
    scopes.require(actor, "cases.configure", unit.region)
    if member:
        UnitMember.objects.update_or_create(unit=unit, user=user, defaults={"is_head": is_head})
    else:
        UnitMember.objects.filter(unit=unit, user=user).delete()
    audit.record(
        actor,
        "case.unit_member",
        unit,
        region=unit.region,
        after={"user": user.username, "member": member, "head": is_head},
    )


def get_case(number: str, queryset) -> Case:
    case = queryset.filter(number=number).first()
    if case is None:
        raise NotFound("case.not_found", _("没有找到编号为 %(n)s 的事件") % {"n": number})
    return case
