"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) at /open311/v2/, for integrators.

Plain views rather than the ninja API: the specification makes XML the required format and JSON its
mirror by the Spark convention, so every answer is built once as plain data and written as either
(`.xml` or `.json` after the resource name).

- Services are the active categories a reporter can pick: small classes (小类) and major classes
  without active small ones. Their extra fields (CategoryAttribute) are the service definitions.
- Requests are cases. GET needs no key and is public, so it never carries the reporter (name, phone,
  account) and leaves out 举报 (reports, confidential) and cases not yet classified.
- POST needs an API key with `cases.submit` where the case lands; it goes through submit_case.
- jurisdiction_id is a county (区县) code: required when the deployment has several counties.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from functools import wraps
from xml.etree import ElementTree as ET

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from gongzhi.cases import services
from gongzhi.cases.models import (
    Case,
    CaseEvent,
    Category,
    CategoryAttribute,
    EventKind,
    LimitUnit,
    RequestType,
    Source,
    Status,
)
from gongzhi.core import clock, scopes
from gongzhi.core.errors import DomainError
from gongzhi.core.masking import redact_contacts
from gongzhi.core.models import AuditEntry, Level, Region
from gongzhi.core.services import authenticate_api_key

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'
# XML 1.0 cannot carry most control characters, even escaped; they are dropped from XML output only.
XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Each XML container and the element of its items; JSON writes the containers as arrays.
ITEMS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "jurisdictions": "jurisdiction",
}

# The specification's response volume: 90 days or the first 1000 requests, whichever is smaller.
MAX_SPAN = dt.timedelta(days=90)
LIMIT = 1000
CLOSED = (Status.CLOSED, Status.REJECTED, Status.MERGED)
OPEN = tuple(s for s in Status if s not in CLOSED)
NOTE_EVENTS = (EventKind.REPLY, EventKind.CLOSE, EventKind.REJECT)
# Changes to the service list are audited under these actions (the discovery changeset follows them);
# before any, the catalogue is the national default shipped with the platform.
CATALOGUE_ACTIONS = ("case.category_updated",)
CATALOGUE_BASELINE = "2026-01-01T00:00:00+08:00"
# submit_case's field names as an Open311 client knows them.
FIELDS = {
    "category": "service_code",
    "lon": "long",
    "lat": "lat",
    "address": "address_string",
    "title": "description",
    "reporter_name": "first_name",
    "reporter_phone": "phone",
}
ATTRIBUTE = re.compile(r"attribute\[([^\[\]]+)\](?:\[\])?")
W3C_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?")
CJK = re.compile("[\u3400-\u9fff]")


class Open311Error(Exception):
    """An error list (errors/error/code+description) with its HTTP status."""

    def __init__(self, status: int, *descriptions: str):
        super().__init__(*descriptions)
        self.status = status
        self.descriptions = descriptions


# ---------------------------------------------------------------- writing XML and JSON


def _element(name: str, value) -> ET.Element:
    element = ET.Element(name)
    if isinstance(value, list):
        element.extend(_element(ITEMS[name], item) for item in value)
    elif isinstance(value, dict):
        element.extend(_element(key, item) for key, item in value.items())
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = XML_INVALID.sub("", str(value))
    return element


def _render(fmt: str, root: str, data, status: int = 200) -> HttpResponse:
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False).encode()
    else:
        body = XML_DECLARATION + ET.tostring(_element(root, data), encoding="unicode").encode()
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def _errors(fmt: str, status: int, *descriptions: str) -> HttpResponse:
    return _render(fmt, "errors", [{"code": status, "description": d} for d in descriptions], status)


def _w3c(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def endpoint(*methods: str):
    """A resource with a format suffix: checks format and method, turns errors into error lists."""

    def decorate(view):
        @csrf_exempt  # POST is authenticated by its API key, never by a browser session
        @wraps(view)
        def wrapper(request, fmt: str, **kwargs):
            if fmt not in CONTENT_TYPES:
                return _errors("xml", 404, _("不支持的格式“%(f)s”，请使用 .xml 或 .json") % {"f": fmt})
            if request.method not in methods:
                response = _errors(fmt, 405, _("不支持 %(m)s 请求") % {"m": request.method})
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, fmt, **kwargs)
            except Open311Error as exc:
                return _errors(fmt, exc.status, *exc.descriptions)
            except services.InvalidCase as exc:
                return _errors(fmt, 400, *(f"{FIELDS.get(f, f)}: {m}" for f, m in exc.errors))
            except DomainError as exc:
                # The specification allows 404 (no such resource), 403 (api_key) and 400 for the rest.
                return _errors(fmt, exc.status if exc.status in (403, 404) else 400, exc.message)

        return wrapper

    return decorate


@csrf_exempt
def not_found(request):
    return _errors("xml", 404, _("没有这个 Open311 资源，请从 discovery.xml 查看可用的接口"))


# ---------------------------------------------------------------- parameters


def _param(request, name: str) -> str:
    """A parameter from the form body (POST) or the query string. Empty counts as not given."""
    value = request.POST.get(name) if request.method == "POST" else None
    return (value or request.GET.get(name) or "").strip()


def _list(request, name: str) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in _param(request, name).split(",") if v.strip()))


def _counties() -> QuerySet[Region]:
    return Region.objects.filter(level=Level.COUNTY).order_by("code")


def _jurisdiction(request) -> Region | None:
    """The county a request is limited to, or None when one endpoint serves only one."""
    given = _param(request, "jurisdiction_id")
    if not given:
        if len(_counties()[:2]) > 1:
            raise Open311Error(400, _("本接口服务多个区县，请提供 jurisdiction_id（区县代码）"))
        return None
    county = _counties().filter(code=given).first()
    if county is None:
        raise Open311Error(404, _("没有辖区 jurisdiction_id=%(id)s") % {"id": given})
    return county


def _datetime(request, name: str) -> dt.datetime | None:
    value = _param(request, name)
    if not value:
        return None
    # An unencoded "+08:00" in a query string arrives as " 08:00".
    value = re.sub(r" (\d{2}:\d{2})$", r"+\1", value)
    if not W3C_DATETIME.fullmatch(value):
        raise Open311Error(
            400, _("%(name)s 须为 W3C 日期时间并带时区，如 2026-11-01T00:00:00+08:00") % {"name": name}
        )
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Open311Error(400, _("%(name)s 不是有效的日期时间") % {"name": name}) from None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)  # a date: local midnight


def _window(request) -> tuple[dt.datetime, dt.datetime]:
    """The requested_datetime range: at most 90 days; the most recent 90 days by default."""
    start, end = _datetime(request, "start_date"), _datetime(request, "end_date")
    if start and end:
        if end < start:
            raise Open311Error(400, _("end_date 不能早于 start_date"))
        if end - start > MAX_SPAN:
            raise Open311Error(400, _("start_date 与 end_date 相隔不能超过 90 天"))
        return start, end
    if start:
        return start, start + MAX_SPAN
    end = end or clock.now()
    return end - MAX_SPAN, end


# ---------------------------------------------------------------- services


def offered_categories() -> QuerySet[Category]:
    """Active small classes of active majors, and active majors without active small classes."""
    active_children = Category.objects.filter(parent=OuterRef("pk"), is_active=True)
    return (
        Category.objects.alias(has_children=Exists(active_children))
        .filter(is_active=True)
        .filter(Q(parent__isnull=False, parent__is_active=True) | Q(parent__isnull=True, has_children=False))
        .annotate(metadata=Exists(CategoryAttribute.objects.filter(category=OuterRef("pk"))))
        .select_related("parent")
        .order_by("code")
    )


def _service(code: str) -> Category:
    category = offered_categories().filter(code=code).first()
    if category is None:
        raise Open311Error(404, _("没有服务 service_code=%(code)s") % {"code": code})
    return category


def _notice(category: Category) -> str:
    """What the reporter can expect: the category's handling limit (办理时限)."""
    return _("立案后 %(n)s 个%(unit)s内办结") % {
        "n": category.handle_limit,
        "unit": LimitUnit(category.handle_unit).label,
    }


def _service_out(category: Category) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": None,
        "metadata": category.metadata,
        "type": "realtime",
        "keywords": None,
        "group": (category.parent or category).name,
    }


def _attribute_out(attribute: CategoryAttribute) -> dict:
    return {
        "variable": True,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "datatype_description": attribute.datatype_description or None,
        "order": attribute.order,
        "description": attribute.description,
        "values": [{"key": str(v["key"]), "name": str(v["name"])} for v in attribute.values],
    }


# ---------------------------------------------------------------- requests


# Never read (nor decrypted) for Open311: what would identify the reporter.
PERSONAL = ("reporter_name", "reporter_phone", "reporter_phone_index")


def public_cases(jurisdiction: Region | None) -> QuerySet[Case]:
    """Cases anyone may read through Open311: classified, not 举报, never the reporter's fields."""
    cases = (
        Case.objects.filter(category__isnull=False)
        .exclude(request_type=RequestType.REPORT)
        .select_related(
            "category", "unit", "suggested_unit", "merged_into__unit", "merged_into__suggested_unit"
        )
        .defer(*PERSONAL, *(f"merged_into__{field}" for field in PERSONAL))
    )
    if jurisdiction is not None:
        cases = cases.filter(region_path__startswith=jurisdiction.path)
    return cases


def _status_q(status: str) -> Q:
    """open or closed, a merged case going by its main case."""
    statuses = CLOSED if status == "closed" else OPEN
    return Q(merged_into__isnull=True, status__in=statuses) | Q(
        merged_into__isnull=False, merged_into__status__in=statuses
    )


def _agency(case: Case) -> str | None:
    unit = case.unit if case.unit_id else case.suggested_unit
    return unit.name if unit else None


def requests_out(cases: list[Case]) -> list[dict]:
    """Cases as Open311 requests. A merged case shows its main case's status, notes and deadline.

    Three queries for any number of cases: the latest event of each, the latest public note (reply,
    close or reject) and the media URL given at submission.
    """
    mains = {case.pk: case.merged_into if case.merged_into_id else case for case in cases}
    ids = {case.pk for case in cases} | {main.pk for main in mains.values()}
    events = CaseEvent.objects.filter(case_id__in=ids).order_by()
    latest = dict(events.values("case_id").annotate(last=Max("at")).values_list("case_id", "last"))
    notes = dict(
        events.filter(public=True, kind__in=NOTE_EVENTS)
        .exclude(note="")
        .order_by("at", "pk")
        .values_list("case_id", "note")
    )  # later rows overwrite earlier ones: the latest note per case remains
    media = {
        case_id: data.get("media_url")
        for case_id, data in events.filter(kind=EventKind.SUBMIT).values_list("case_id", "data")
    }
    out = []
    for case in cases:
        main = mains[case.pk]
        updated = [t for t in (latest.get(case.pk), latest.get(main.pk)) if t]
        out.append(
            {
                "service_request_id": case.number,
                "status": "closed" if main.status in CLOSED else "open",
                "status_notes": redact_contacts(notes.get(main.pk)) or None,
                "service_name": case.category.name,
                "service_code": case.category.code,
                "description": redact_contacts(case.description),
                "agency_responsible": _agency(main),
                "service_notice": _notice(case.category),
                "requested_datetime": _w3c(case.created_at),
                "updated_datetime": _w3c(max(updated, default=None)),
                "expected_datetime": _w3c(main.handle_due or main.due_at),
                "address": case.address or None,
                "address_id": None,
                "zipcode": None,
                "lat": case.lat,
                "long": case.lon,
                "media_url": media.get(case.pk) or None,
            }
        )
    return out


def _reporter_name(first: str, last: str) -> str:
    """Chinese names are written family name first (张 + 三丰); others "first last"."""
    if CJK.search(first + last):
        return f"{last}{first}"
    return " ".join(part for part in (first, last) if part)


def _title(service_name: str, description: str) -> str:
    text = " ".join(description.split())
    title = f"{service_name}：{text}" if text else service_name
    return title if len(title) <= 100 else title[:99] + "…"


def _attributes(post) -> dict[str, list[str]]:
    """attribute[code]=v, and attribute[code][]=v repeated for a multivaluelist."""
    values: dict[str, list[str]] = {}
    for name in post:
        match = ATTRIBUTE.fullmatch(name)
        if match:
            values.setdefault(match.group(1), []).extend(post.getlist(name))
    return values


def _location(request) -> tuple[float | None, float | None]:
    """(long, lat) as numbers; a full location (lat+long, address_string or address_id) is required."""
    problems, numbers = [], {}
    for name in ("lat", "long"):
        value = _param(request, name)
        try:
            numbers[name] = float(value) if value else None
        except ValueError:
            numbers[name] = math.nan
        if numbers[name] is not None and not math.isfinite(numbers[name]):
            problems.append(_("%(name)s 须为数字（WGS-84 度）") % {"name": name})
    if not problems and (numbers["lat"] is None) != (numbers["long"] is None):
        problems.append(_("lat 与 long 须同时提供"))
    has_address = _param(request, "address_string") or _param(request, "address_id")
    if not problems and numbers["lat"] is None and not has_address:
        problems.append(_("请提供位置：lat 与 long，或 address_string，或 address_id"))
    if problems:
        raise Open311Error(400, *problems)
    return numbers["long"], numbers["lat"]


def _create(request, fmt: str) -> HttpResponse:
    token = _param(request, "api_key")
    key = authenticate_api_key(token)
    if key is None:
        raise Open311Error(403, _("无效的 api_key") if token else _("缺少 api_key"))
    if not scopes.can(key, "cases.submit"):
        raise Open311Error(403, _("该 api_key 没有提交诉求（cases.submit）的权限"))
    jurisdiction = _jurisdiction(request)
    code = _param(request, "service_code")
    if not code:
        raise Open311Error(400, _("缺少 service_code"))
    category = _service(code)
    lon, lat = _location(request)
    description = _param(request, "description")
    address = _param(request, "address_string") or _param(request, "address_id")
    with transaction.atomic():
        case = services.submit_case(
            key,
            source=Source.OPEN311,
            title=_title(category.name, description),
            description=description or category.name,
            category=category.code,
            lon=lon,
            lat=lat,
            coord_system="wgs84",
            address=address,
            reporter_name=_reporter_name(_param(request, "first_name"), _param(request, "last_name")),
            reporter_phone=_param(request, "phone"),
            attributes=_attributes(request.POST),
            media_url=_param(request, "media_url"),
            ip=request.META.get("REMOTE_ADDR"),
        )
        if jurisdiction is not None and not case.region_path.startswith(jurisdiction.path):
            # Raised inside the transaction: the case is not kept.
            raise Open311Error(
                400,
                _("该位置不在辖区 %(name)s（%(id)s）内")
                % {"name": jurisdiction.name, "id": jurisdiction.code},
            )
    created = {"service_request_id": case.number, "service_notice": _notice(category)}
    account_id = _param(request, "account_id")
    if account_id:  # the client's own identifier, echoed; never stored or shown by GET
        created["account_id"] = account_id
    return _render(fmt, "service_requests", [created])


def _search(request, fmt: str) -> HttpResponse:
    cases = public_cases(_jurisdiction(request))
    ids = _list(request, "service_request_id")
    if ids:  # overrides every other argument
        cases = cases.filter(number__in=ids[:LIMIT])
    else:
        start, end = _window(request)
        cases = cases.filter(created_at__gte=start, created_at__lte=end)
        codes = _list(request, "service_code")
        if codes:
            cases = cases.filter(category__code__in=codes)
        statuses = _list(request, "status")
        unknown = [s for s in statuses if s not in ("open", "closed")]
        if unknown:
            raise Open311Error(400, _("status 只能是 open 或 closed：%(s)s") % {"s": ",".join(unknown)})
        if len(statuses) == 1:
            cases = cases.filter(_status_q(statuses[0]))
    cases = list(cases.order_by("-created_at", "-pk")[:LIMIT])
    return _render(fmt, "service_requests", requests_out(cases))


def _public_case(request, number: str) -> Case:
    case = public_cases(_jurisdiction(request)).filter(number=number).first()
    if case is None:
        raise Open311Error(404, _("没有诉求 service_request_id=%(id)s") % {"id": number})
    return case


# ---------------------------------------------------------------- views


@endpoint("GET", "HEAD")
def discovery(request, fmt: str):
    last = (
        AuditEntry.objects.filter(action__in=CATALOGUE_ACTIONS)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    changeset = _w3c(last) if last else CATALOGUE_BASELINE
    contact = settings.GONGZHI_OPEN311_CONTACT
    key_service = _("接口密钥由平台管理员在“接口密钥”页面签发，须有“提交诉求”（cases.submit）权限并限定区域")
    if contact:
        key_service += _("；联系：%(contact)s") % {"contact": contact}
    url = request.build_absolute_uri(reverse("open311:discovery", kwargs={"fmt": fmt})).rsplit("/", 1)[0]
    data = {
        "changeset": changeset,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
        "jurisdictions": [{"jurisdiction_id": c.code, "name": c.name} for c in _counties()],
    }
    return _render(fmt, "discovery", data)


@endpoint("GET", "HEAD")
def service_list(request, fmt: str):
    _jurisdiction(request)  # categories are deployment-wide; the argument is still checked
    return _render(fmt, "services", [_service_out(c) for c in offered_categories()])


@endpoint("GET", "HEAD")
def service_definition(request, fmt: str, service_code: str):
    _jurisdiction(request)
    category = _service(service_code)
    attributes = CategoryAttribute.objects.filter(category=category).order_by("order", "code")
    data = {"service_code": category.code, "attributes": [_attribute_out(a) for a in attributes]}
    return _render(fmt, "service_definition", data)


@endpoint("GET", "HEAD", "POST")
def request_list(request, fmt: str):
    if request.method == "POST":
        return _create(request, fmt)
    return _search(request, fmt)


@endpoint("GET", "HEAD")
def request_detail(request, fmt: str, service_request_id: str):
    case = _public_case(request, service_request_id)
    return _render(fmt, "service_requests", requests_out([case]))


@endpoint("GET", "HEAD")
def token(request, fmt: str, token: str):
    """Requests are created in real time, so a token is simply the request's number."""
    case = _public_case(request, token)
    return _render(fmt, "service_requests", [{"service_request_id": case.number, "token": token}])
