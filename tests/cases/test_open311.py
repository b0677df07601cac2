"""Open311 GeoReport v2 conformance: every resource in XML and JSON, JSON validated against the official
schemas (read at run time from the shared data folder), XML checked to say the same by the Spark
convention; the round trip from POST to closed; errors; jurisdictions; the reporter's privacy."""

from __future__ import annotations

import functools
import json
import os
import re
import urllib.parse
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from gongzhi.cases import open311, services
from gongzhi.cases.models import (
    Case,
    CaseEvent,
    Category,
    CategoryAttribute,
    CategoryKind,
    RequestType,
    Source,
)
from gongzhi.core import clock
from gongzhi.core import services as core_services
from gongzhi.core.masking import mask_name, mask_phone
from gongzhi.core.models import Level
from gongzhi.core.principals import SYSTEM
from tests.cases.conftest import A1_POINT
from tests.factories import region, square

BASE = "/open311/v2"
# The shared data sets sit beside the checkout (../shared/data); GONGZHI_SHARED_DATA overrides.
SHARED_DATA = Path(
    os.environ.get("GONGZHI_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data"
)
SCHEMA_DIR = SHARED_DATA / "open311_schemas"
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}

# Responses without a schema file, written from the specification's text: errors ("errors ⇊ error ↴
# code, description") and discovery (Service Discovery: "All fields are required").
ERRORS_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string", "minLength": 1}},
    },
}
DISCOVERY_SCHEMA = {
    "type": "object",
    "required": ["changeset", "contact", "key_service", "endpoints"],
    "properties": {
        "changeset": {"type": "string", "minLength": 1},
        "contact": {"type": "string"},
        "key_service": {"type": "string", "minLength": 1},
        "endpoints": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["specification", "url", "changeset", "type", "formats"],
                "properties": {
                    "specification": {"type": "string", "format": "uri"},
                    "url": {"type": "string", "format": "uri"},
                    "changeset": {"type": "string"},
                    "type": {"enum": ["production", "test"]},
                    "formats": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                },
            },
        },
    },
}
# Response kind → (JSON schema, XML root element).
KINDS = {
    "discovery": (DISCOVERY_SCHEMA, "discovery"),
    "services": ({"$ref": "services.json"}, "services"),
    "service_definition": ({"$ref": "service-definition.json"}, "service_definition"),
    "requests": ({"$ref": "requests.json"}, "service_requests"),
    "created": (
        {"type": "array", "minItems": 1, "items": {"$ref": "swagger.json#/definitions/RequestResponse"}},
        "service_requests",
    ),
    "token": (
        {"type": "array", "minItems": 1, "items": {"$ref": "swagger.json#/definitions/TokenResponse"}},
        "service_requests",
    ),
    "errors": (ERRORS_SCHEMA, "errors"),
}
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


@functools.cache
def _registry() -> Registry:
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text("utf-8")), default_specification=DRAFT7))
        for path in SCHEMA_DIR.glob("*.json")
    ]
    return Registry().with_resources(resources)


# jsonschema checks "date-time" and "uri" only with optional packages; these checks are always on.
FORMATS = FormatChecker()


@FORMATS.checks("date-time")
def _is_datetime(value) -> bool:
    return not isinstance(value, str) or bool(RFC3339.fullmatch(value))


@FORMATS.checks("uri")
def _is_uri(value) -> bool:
    if not isinstance(value, str):
        return True
    parts = urllib.parse.urlsplit(value)
    return bool(parts.scheme and parts.netloc)


def validate(kind: str, body) -> None:
    schema, _root = KINDS[kind]
    Draft7Validator(schema, registry=_registry(), format_checker=FORMATS).validate(body)


@pytest.fixture(autouse=True)
def _schemas_and_clock(frozen_clock):
    if not (SCHEMA_DIR / "request.json").exists():
        pytest.skip(f"Open311 schemas not found: {SCHEMA_DIR} (the shared data folder)")
    return frozen_clock


# ---------------------------------------------------------------- calling both formats


def spark(element: ET.Element):
    """XML to JSON by the Spark convention: one kind of child is an array, an empty element null."""
    children = list(element)
    if not children:
        return element.text or None
    if len({child.tag for child in children}) == 1:
        return [spark(child) for child in children]
    return {child.tag: spark(child) for child in children}


def as_text(value):
    """JSON as the XML writes it: text values, empty strings and arrays as empty elements."""
    if isinstance(value, list):
        return [as_text(v) for v in value] or None
    if isinstance(value, dict):
        return {k: as_text(v) for k, v in value.items()}
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value in (None, "") else str(value)


def check(response, fmt: str, kind: str, status: int):
    """The body of one response: JSON validated against its schema, XML parsed with its root checked."""
    assert response.status_code == status, response.content.decode()
    assert response["Content-Type"] == CONTENT_TYPES[fmt]
    if fmt == "json":
        body = json.loads(response.content.decode("utf-8"))
        validate(kind, body)
        return body
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(response.content)
    assert root.tag == KINDS[kind][1]
    return root


def both(response_of, kind: str, code: int = 200):
    """A resource in JSON and XML; the XML must carry exactly what the JSON carries."""
    body = check(response_of("json"), "json", kind, code)
    root = check(response_of("xml"), "xml", kind, code)
    assert spark(root) == as_text(body)
    return body, root


def get(client, resource: str, kind: str, code: int = 200, **params):
    return both(lambda fmt: client.get(f"{BASE}/{resource}.{fmt}", params), kind, code)


def form_post(client, url: str, data):
    """POST application/x-www-form-urlencoded, as the specification prescribes."""
    body = urllib.parse.urlencode(data, doseq=True)
    return client.post(url, body, content_type="application/x-www-form-urlencoded; charset=utf-8")


def post(client, data, kind: str = "errors", code: int = 400):
    return both(lambda fmt: form_post(client, f"{BASE}/requests.{fmt}", data), kind, code)


def descriptions(body) -> list[str]:
    return [error["description"] for error in body]


# ---------------------------------------------------------------- set-up


def api_key(region_, actions=("cases.submit",)) -> str:
    _key, token = core_services.create_api_key(
        SYSTEM, name=f"open311 {region_.code} {' '.join(actions)}", region=region_, actions=list(actions)
    )
    return token


def attributes_for(category: Category) -> None:
    CategoryAttribute.objects.create(
        category=category,
        code="pile",
        datatype="singlevaluelist",
        required=True,
        description="垃圾有多少？",
        order=1,
        values=[{"key": "small", "name": "少量"}, {"key": "large", "name": "大量"}],
    )
    CategoryAttribute.objects.create(
        category=category,
        code="bags",
        datatype="number",
        description="大约几袋？",
        datatype_description="填写数字",
        order=3,
    )
    CategoryAttribute.objects.create(
        category=category,
        code="kinds",
        datatype="multivaluelist",
        description="是什么垃圾？",
        order=2,
        values=[{"key": "household", "name": "生活垃圾"}, {"key": "construction", "name": "建筑垃圾"}],
    )


def request_form(key: str, **overrides) -> dict:
    data = {
        "api_key": key,
        "service_code": "SJ0101",
        "lat": str(A1_POINT[1]),
        "long": str(A1_POINT[0]),
        "description": "小区门口垃圾三天没人清运",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def hotline_case(world, *, actor=None, grid=None, **values) -> Case:
    fields = dict(
        source=Source.HOTLINE,
        title="路边垃圾",
        description="路边垃圾堆了很久",
        category="SJ0102",
        grid=grid or world.tree.grid_a1,
        reporter_name="李四光",
        reporter_phone="13700001111",
    )
    fields.update(values)
    return services.submit_case(actor or world.dispatcher, **fields)


def w3c(value) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


def numbers(body) -> list[str]:
    return [request["service_request_id"] for request in body]


def notice(category: Category) -> str:
    return f"立案后 {category.handle_limit} 个{category.get_handle_unit_display()}内办结"


# ---------------------------------------------------------------- discovery and services


def test_discovery_names_the_endpoint_formats_and_jurisdictions(client, world, settings):
    settings.GONGZHI_OPEN311_CONTACT = "12345 热线 0825-12345"
    body, root = get(client, "discovery", "discovery")
    assert body == {
        "changeset": open311.CATALOGUE_BASELINE,
        "contact": "12345 热线 0825-12345",
        "key_service": body["key_service"],
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": "http://testserver/open311/v2",
                "changeset": open311.CATALOGUE_BASELINE,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
        "jurisdictions": [{"jurisdiction_id": "510903", "name": "船山区"}],
    }
    assert "cases.submit" in body["key_service"] and "0825-12345" in body["key_service"]
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]

    # A change to the catalogue moves the changeset on, so clients refresh what they cached.
    services.update_category(SYSTEM, world.category("SJ0101"), name="暴露垃圾（含垃圾桶满溢）")
    body, _root = get(client, "discovery", "discovery")
    assert body["changeset"] == "2026-11-23T10:00:00+08:00" > open311.CATALOGUE_BASELINE
    assert body["endpoints"][0]["changeset"] == body["changeset"]


def test_services_are_the_active_leaf_categories(client, world):
    leaves = Category.objects.filter(parent__isnull=False).count()
    attributes_for(world.category("SJ0101"))
    Category.objects.create(code="ZZ01", name="其他事项", kind=CategoryKind.EVENT)  # a major on its own
    Category.objects.filter(code="SJ0105").update(is_active=False)
    Category.objects.filter(code="BJ06").update(is_active=False)  # its two small classes go with it

    body, root = get(client, "services", "services")
    by_code = {service["service_code"]: service for service in body}
    assert len(body) == leaves - 1 - 2 + 1
    assert by_code["SJ0101"] == {
        "service_code": "SJ0101",
        "service_name": "暴露垃圾",
        "description": None,
        "metadata": True,
        "type": "realtime",
        "keywords": None,
        "group": "市容环境",
    }
    assert by_code["SJ0102"]["metadata"] is False
    assert by_code["ZZ01"]["group"] == "其他事项"
    assert not {"SJ01", "SJ0105", "BJ06", "BJ0601", "BJ0602"} & set(by_code)
    assert [s.findtext("service_code") for s in root.findall("service")] == [s["service_code"] for s in body]
    assert root.find("service[service_code='SJ0101']/metadata").text == "true"


def test_a_service_definition_lists_its_attributes_in_order(client, world):
    attributes_for(world.category("SJ0101"))
    body, root = get(client, "services/SJ0101", "service_definition")
    assert body == {
        "service_code": "SJ0101",
        "attributes": [
            {
                "variable": True,
                "code": "pile",
                "datatype": "singlevaluelist",
                "required": True,
                "datatype_description": None,
                "order": 1,
                "description": "垃圾有多少？",
                "values": [{"key": "small", "name": "少量"}, {"key": "large", "name": "大量"}],
            },
            {
                "variable": True,
                "code": "kinds",
                "datatype": "multivaluelist",
                "required": False,
                "datatype_description": None,
                "order": 2,
                "description": "是什么垃圾？",
                "values": [
                    {"key": "household", "name": "生活垃圾"},
                    {"key": "construction", "name": "建筑垃圾"},
                ],
            },
            {
                "variable": True,
                "code": "bags",
                "datatype": "number",
                "required": False,
                "datatype_description": "填写数字",
                "order": 3,
                "description": "大约几袋？",
                "values": [],
            },
        ],
    }
    assert [v.findtext("key") for v in root.findall("attributes/attribute[code='pile']/values/value")] == [
        "small",
        "large",
    ]
    body, root = get(client, "services/SJ0102", "service_definition")
    assert body == {"service_code": "SJ0102", "attributes": []}

    Category.objects.filter(code="SJ0105").update(is_active=False)
    for code in ("XX99", "SJ01", "SJ0105"):  # unknown, a major with small classes, inactive
        body, root = get(client, f"services/{code}", "errors", 404)
        assert body[0]["code"] == 404 and code in body[0]["description"]
        assert root.findtext("error/code") == "404"


# ---------------------------------------------------------------- the round trip


def test_round_trip_from_post_to_closed(client, world, frozen_clock):
    category = world.category("SJ0101")
    attributes_for(category)
    key = api_key(world.tree.street)
    other = hotline_case(world)  # SJ0102, for the filters to leave out

    # A required attribute missing: 400 naming it (in both formats), and nothing is created.
    body, root = post(client, request_form(key, **{"attribute[bags]": "12"}))
    assert [e["code"] for e in body] == [400] and "attribute[pile]" in body[0]["description"]
    assert "attribute[pile]" in root.findtext("error/description")
    assert Case.objects.count() == 1

    data = request_form(
        key,
        address_string="马宗岭路 12 号",
        description="小区门口垃圾三天没人清运\n气味很大",
        media_url="https://img.example.cn/photo.jpg",
        email="zhang@example.cn",
        device_id="device-7",
        account_id="acc-42",
        first_name="三丰",
        last_name="张",
        phone="13912345678",
        **{
            "attribute[pile]": "large",
            "attribute[kinds][]": ["household", "construction"],
            "attribute[bags]": "12",
        },
    )
    created = check(form_post(client, f"{BASE}/requests.json", data), "json", "created", 200)
    case = Case.objects.get(number=created[0]["service_request_id"])
    assert created == [
        {"service_request_id": case.number, "service_notice": notice(category), "account_id": "acc-42"}
    ]
    assert (case.source, case.category, case.region) == (Source.OPEN311, category, world.tree.grid_a1)
    assert case.title == "暴露垃圾：小区门口垃圾三天没人清运 气味很大"
    assert case.description == "小区门口垃圾三天没人清运\n气味很大" and case.address == "马宗岭路 12 号"
    assert (case.reporter_name, case.reporter_phone) == ("张三丰", "13912345678")
    assert case.attributes == {"pile": "large", "kinds": ["household", "construction"], "bags": "12"}
    assert case.events.get().data["media_url"] == "https://img.example.cn/photo.jpg"

    body, root = get(client, f"requests/{case.number}", "requests")
    assert body == [
        {
            "service_request_id": case.number,
            "status": "open",
            "status_notes": None,
            "service_name": "暴露垃圾",
            "service_code": "SJ0101",
            "description": "小区门口垃圾三天没人清运\n气味很大",
            "agency_responsible": world.department.name,  # the routing rule's suggestion
            "service_notice": notice(category),
            "requested_datetime": "2026-11-23T10:00:00+08:00",
            "updated_datetime": "2026-11-23T10:00:00+08:00",
            "expected_datetime": "2026-11-23T12:00:00+08:00",  # accepted within two working hours
            "address": "马宗岭路 12 号",
            "address_id": None,
            "zipcode": None,
            "lat": A1_POINT[1],
            "long": A1_POINT[0],
            "media_url": "https://img.example.cn/photo.jpg",
        }
    ]
    assert root.findtext("request/service_request_id") == case.number
    assert root.findtext("request/status") == "open"
    body, _root = get(client, f"tokens/{case.number}", "token")
    assert body == [{"service_request_id": case.number, "token": case.number}]

    def listed(**params) -> list[str]:
        return numbers(get(client, "requests", "requests", **params)[0])

    assert listed() == [case.number, other.number]  # newest first
    assert listed(service_code="SJ0101") == [case.number]
    assert listed(service_code="SJ0102,SJ0101") == [case.number, other.number]
    assert listed(status="open", service_code="SJ0101") == [case.number]
    assert listed(status="closed") == []
    assert listed(status="open,closed", service_code="SJ0101") == [case.number]
    assert listed(start_date="2026-11-23T09:00:00+08:00", end_date="2026-11-23T02:30:00Z") == [
        case.number,
        other.number,
    ]
    assert listed(start_date="2026-10-01T00:00:00+08:00", end_date="2026-11-22T00:00:00+08:00") == []
    # service_request_id overrides every other argument.
    assert listed(service_request_id=f" {case.number},20990101000001", status="closed") == [case.number]

    # The loop, through the services; the public notes follow it.
    case = services.accept_case(world.dispatcher, case)
    case = services.dispatch_case(world.dispatcher, case, unit=world.department, note="请执法局处理")
    case = services.sign_case(world.officer, case)
    frozen_clock.advance(hours=2)
    case = services.reply_case(world.officer, case, note="垃圾已清运")
    request = get(client, f"requests/{case.number}", "requests")[0][0]
    assert (request["status"], request["status_notes"]) == ("open", "垃圾已清运")
    assert request["agency_responsible"] == world.department.name
    assert request["expected_datetime"] == w3c(case.handle_due)
    assert request["updated_datetime"] == "2026-11-23T12:00:00+08:00"

    frozen_clock.advance(hours=1)
    case = services.verify_case(world.grid_worker, case, passed=True, note="现场已清理干净")
    body, root = get(client, f"requests/{case.number}", "requests")
    assert (body[0]["status"], body[0]["status_notes"]) == ("closed", "现场已清理干净")
    assert body[0]["updated_datetime"] == "2026-11-23T13:00:00+08:00"  # the closing
    assert root.findtext("request/status_notes") == "现场已清理干净"
    assert listed(status="closed") == [case.number]
    assert listed(status="open") == [other.number]


def test_post_in_xml_with_an_address_only(client, world):
    key = api_key(world.tree.street)
    data = request_form(key, lat=None, long=None, address_string="南强街道马宗岭路 3 号")
    root = check(form_post(client, f"{BASE}/requests.xml", data), "xml", "created", 200)
    case = Case.objects.get(number=root.findtext("request/service_request_id"))
    assert [child.tag for child in root.find("request")] == ["service_request_id", "service_notice"]
    # No point: placed in the key's street for the dispatcher to refine.
    assert (case.region, case.located_by, case.lon) == (world.tree.street, "street", None)
    assert case.address == "南强街道马宗岭路 3 号"

    # An address naming a community is matched against the region tree.
    data = request_form(key, lat=None, long=None, address_string="四川省遂宁市南强街道马宗岭社区居委会门口")
    root = check(form_post(client, f"{BASE}/requests.xml", data), "xml", "created", 200)
    case = Case.objects.get(number=root.findtext("request/service_request_id"))
    assert (case.region, case.located_by) == (world.tree.community_a, "text")

    data = request_form(key, lat=None, long=None, address_id="MZL-0012")
    body = check(form_post(client, f"{BASE}/requests.json", data), "json", "created", 200)
    assert Case.objects.get(number=body[0]["service_request_id"]).address == "MZL-0012"


def test_post_without_a_description_is_named_after_the_service(client, world):
    data = request_form(api_key(world.tree.street), description=None)
    body = check(form_post(client, f"{BASE}/requests.json", data), "json", "created", 200)
    case = Case.objects.get(number=body[0]["service_request_id"])
    assert (case.title, case.description) == ("暴露垃圾", "暴露垃圾")


def test_post_is_csrf_exempt(world):
    client = Client(enforce_csrf_checks=True)
    response = form_post(client, f"{BASE}/requests.json", request_form(api_key(world.tree.street)))
    check(response, "json", "created", 200)


# ---------------------------------------------------------------- errors


def test_post_errors(client, world):
    key = api_key(world.tree.street)
    attributes_for(world.category("SJ0101"))
    valid = request_form(key, **{"attribute[pile]": "small"})

    body, root = post(client, {**valid, "api_key": ""}, code=403)
    assert body == [{"code": 403, "description": "缺少 api_key"}]
    assert root.findtext("error/code") == "403"
    body, _root = post(client, {**valid, "api_key": "gz_0000_not-a-key"}, code=403)
    assert body == [{"code": 403, "description": "无效的 api_key"}]
    body, _root = post(client, {**valid, "api_key": api_key(world.tree.street, ["cases.view"])}, code=403)
    assert "cases.submit" in body[0]["description"]
    neighbour = region("510903015", "北固乡", Level.STREET, world.tree.county, square(105.62, 30.50, 0.04))
    post(client, {**valid, "api_key": api_key(neighbour)}, code=403)  # the point is in 南强街道

    body, _root = post(client, {**valid, "service_code": ""})
    assert descriptions(body) == ["缺少 service_code"]
    body, _root = post(client, {**valid, "service_code": "XX99"}, code=404)
    assert "XX99" in body[0]["description"]
    post(client, {**valid, "service_code": "SJ01"}, code=404)  # a major with small classes
    body, _root = post(client, {**valid, "lat": "", "long": ""})
    assert "address_string" in body[0]["description"]
    body, _root = post(client, {**valid, "long": ""})
    assert descriptions(body) == ["lat 与 long 须同时提供"]
    body, _root = post(client, {**valid, "lat": "北纬30度", "long": "nan"})
    assert [d.split()[0] for d in descriptions(body)] == ["lat", "long"]
    body, _root = post(client, {**valid, "lat": "95"})
    assert descriptions(body)[0].startswith("long: ")  # out of range, named as Open311 names it

    # Every problem with the submission at once, named by its Open311 parameter.
    body, _root = post(
        client, {**valid, "attribute[pile]": "huge", "description": "很" * 2001, "media_url": "ftp://x"}
    )
    assert sorted(d.split(":")[0] for d in descriptions(body)) == [
        "attribute[pile]",
        "description",
        "media_url",
    ]
    assert not Case.objects.exists()


def test_resource_errors(client, world):
    body, _root = get(client, "requests/20990101000001", "errors", 404)
    assert "20990101000001" in body[0]["description"]
    get(client, "tokens/20990101000001", "errors", 404)

    def bad(**params) -> str:
        return descriptions(get(client, "requests", "errors", 400, **params)[0])[0]

    assert "90" in bad(start_date="2026-01-01T00:00:00Z", end_date="2026-06-01T00:00:00Z")
    assert "end_date" in bad(start_date="2026-11-20T00:00:00Z", end_date="2026-11-01T00:00:00Z")
    assert "start_date" in bad(start_date="yesterday")
    assert "end_date" in bad(end_date="2026-11-01T00:00:00")  # no time zone
    assert "start_date" in bad(start_date="2026-13-01T00:00:00Z")
    assert "pending" in bad(status="open,pending")

    # An unknown format or resource: 404 with an XML error list (XML is the required format).
    for url in (f"{BASE}/services.csv", f"{BASE}/requests/1.html", f"{BASE}/nothing", f"{BASE}/services"):
        root = check(client.get(url), "xml", "errors", 404)
        assert root.findtext("error/code") == "404"
    body = check(client.put(f"{BASE}/requests.json"), "json", "errors", 405)
    assert body[0]["code"] == 405
    assert client.delete(f"{BASE}/services.xml")["Allow"] == "GET, HEAD"


def test_the_default_window_is_the_last_90_days(client, world, monkeypatch):
    with clock.frozen("2026-08-01T09:00:00+08:00"):
        old = hotline_case(world)
    new = hotline_case(world)

    def listed(**params) -> list[str]:
        return numbers(get(client, "requests", "requests", **params)[0])

    assert listed() == [new.number]
    assert listed(start_date="2026-07-15T00:00:00+08:00", end_date="2026-08-15T00:00:00Z") == [old.number]
    assert listed(start_date="2026-07-20") == [old.number]  # a date: from local midnight, 90 days on
    assert listed(end_date="2026-08-02T00:00:00+08:00") == [old.number]
    # Empty arguments are the same as none, and an unencoded "+08:00" (read as " 08:00") still works.
    assert listed(start_date="", end_date="", status="", service_code="", jurisdiction_id="") == [new.number]
    response = client.get(f"{BASE}/requests.json?start_date=2026-07-20T00:00:00+08:00")
    assert numbers(check(response, "json", "requests", 200)) == [old.number]

    # At most LIMIT requests, newest first.
    monkeypatch.setattr(open311, "LIMIT", 1)
    assert listed(start_date="2026-07-20T00:00:00Z", end_date="2026-10-17T00:00:00Z") == [old.number]
    newer = hotline_case(world)
    assert listed() == [newer.number]


def test_a_search_costs_the_same_few_queries_for_any_number_of_requests(client, world):
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            check(client.get(f"{BASE}/requests.json"), "json", "requests", 200)
        return len(captured)

    hotline_case(world)
    one = queries_for_list()
    for _n in range(5):
        services.accept_case(world.dispatcher, hotline_case(world))
    assert len(get(client, "requests", "requests")[0]) == 6
    assert queries_for_list() == one


def test_xml_stays_well_formed_whatever_the_text(client, world):
    case = hotline_case(world, description='垃圾\x0c堆 <b>&amp; "很多"</b>')
    root = check(client.get(f"{BASE}/requests/{case.number}.xml"), "xml", "requests", 200)
    assert root.findtext("request/description") == '垃圾堆 <b>&amp; "很多"</b>'
    body = check(client.get(f"{BASE}/requests/{case.number}.json"), "json", "requests", 200)
    assert body[0]["description"] == case.description


# ---------------------------------------------------------------- status mapping


def test_rejected_is_closed_and_a_merged_case_follows_its_main_case(client, world):
    rejected = services.reject_case(
        world.dispatcher, hotline_case(world), reason="属于物业服务合同纠纷，请联系物业"
    )
    request = get(client, f"requests/{rejected.number}", "requests")[0][0]
    assert (request["status"], request["status_notes"]) == ("closed", "属于物业服务合同纠纷，请联系物业")
    assert request["expected_datetime"] is None

    main = services.accept_case(world.dispatcher, hotline_case(world))
    main = services.dispatch_case(world.dispatcher, main, unit=world.department)
    duplicate = hotline_case(world, description="同一处垃圾")
    services.merge_cases(world.dispatcher, main, [duplicate])
    request = get(client, f"requests/{duplicate.number}", "requests")[0][0]
    assert (request["status"], request["agency_responsible"]) == ("open", world.department.name)
    assert request["expected_datetime"] == w3c(main.handle_due)
    assert request["description"] == "同一处垃圾"
    assert duplicate.number in numbers(get(client, "requests", "requests", status="open")[0])

    main = services.sign_case(world.officer, main)
    main = services.reply_case(world.officer, main, note="已清运")
    CaseEvent.objects.filter(case=main, kind="reply").update(public=False)  # internal notes stay inside
    request = get(client, f"requests/{duplicate.number}", "requests")[0][0]
    assert request["status_notes"] is None
    services.verify_case(world.grid_worker, main, passed=True, note="核查通过，已清理")
    request = get(client, f"requests/{duplicate.number}", "requests")[0][0]
    assert (request["status"], request["status_notes"]) == ("closed", "核查通过，已清理")
    closed = numbers(get(client, "requests", "requests", status="closed")[0])
    assert {duplicate.number, main.number, rejected.number} == set(closed)


# ---------------------------------------------------------------- jurisdictions


def test_one_county_makes_jurisdiction_optional_but_checked(client, world):
    case = hotline_case(world)
    assert numbers(get(client, "requests", "requests", jurisdiction_id="510903")[0]) == [case.number]
    get(client, "services", "services", jurisdiction_id="510903")
    for resource in (
        "services",
        "services/SJ0101",
        "requests",
        f"requests/{case.number}",
        f"tokens/{case.number}",
    ):
        body, _root = get(client, resource, "errors", 404, jurisdiction_id="510904")
        assert "510904" in body[0]["description"]
    body, _root = post(client, request_form(api_key(world.tree.street), jurisdiction_id="510904"), code=404)
    assert not Case.objects.exclude(pk=case.pk).exists()


def test_several_counties_make_jurisdiction_required(client, world):
    county_b = region("510904", "安居区", Level.COUNTY, world.tree.city)
    street_b = region("510904001", "柔刚街道", Level.STREET, county_b, square(105.70, 30.45, 0.04))
    grid_b = region("510904001001001", "柔刚第1网格", Level.GRID, street_b, square(105.70, 30.45, 0.01))
    case_a = hotline_case(world)
    case_b = hotline_case(world, actor=SYSTEM, grid=grid_b)
    key = api_key(world.tree.city)

    body, _root = get(client, "discovery", "discovery")
    assert body["jurisdictions"] == [
        {"jurisdiction_id": "510903", "name": "船山区"},
        {"jurisdiction_id": "510904", "name": "安居区"},
    ]
    for resource in (
        "services",
        "services/SJ0101",
        "requests",
        f"requests/{case_a.number}",
        f"tokens/{case_a.number}",
    ):
        body, _root = get(client, resource, "errors", 400)
        assert "jurisdiction_id" in body[0]["description"]
        get(client, resource, "errors", 404, jurisdiction_id="510903014")  # a street is no jurisdiction
    post(client, request_form(key), code=400)

    assert numbers(get(client, "requests", "requests", jurisdiction_id="510903")[0]) == [case_a.number]
    assert numbers(get(client, "requests", "requests", jurisdiction_id="510904")[0]) == [case_b.number]
    get(client, f"requests/{case_b.number}", "errors", 404, jurisdiction_id="510903")
    get(client, f"requests/{case_b.number}", "requests", jurisdiction_id="510904")

    # Creation is limited to the county named: a point in 船山区 is refused for 安居区 and not kept.
    body, _root = post(client, request_form(key, jurisdiction_id="510904"), code=400)
    assert "安居区" in body[0]["description"]
    assert Case.objects.count() == 2
    body = check(
        form_post(client, f"{BASE}/requests.json", request_form(key, jurisdiction_id="510903")),
        "json",
        "created",
        200,
    )
    assert Case.objects.get(number=body[0]["service_request_id"]).region == world.tree.grid_a1


# ---------------------------------------------------------------- privacy


def test_no_reporter_data_and_no_reports_leave_through_open311(client, world):
    key = api_key(world.tree.street)
    personal = request_form(
        key,
        first_name="三丰",
        last_name="张",
        phone="13912345678",
        email="zhang@example.cn",
        account_id="acc-42",
    )
    created = check(form_post(client, f"{BASE}/requests.json", personal), "json", "created", 200)
    submitted = Case.objects.get(number=created[0]["service_request_id"])
    hotline = hotline_case(world)
    anonymous = hotline_case(world, reporter_name="王五", reporter_phone="13600002222", anonymous=True)
    report = hotline_case(world, request_type=RequestType.REPORT, description="举报某餐馆违规排污")
    assert submitted.reporter_name == "张三丰" and hotline.reporter_phone == "13700001111"

    secrets = ["张三丰", "三丰", "13912345678", "zhang@example.cn", "acc-42", "李四光", "13700001111", "王五"]
    secrets += [
        mask_phone("13912345678"),
        mask_phone("13700001111"),
        mask_name("张三丰"),
        mask_name("李四光"),
    ]
    public = [submitted, hotline, anonymous]
    bodies = []
    for fmt in ("json", "xml"):
        for url in (
            f"requests.{fmt}",
            f"requests.{fmt}?service_request_id={','.join(c.number for c in [*public, report])}",
            *(f"requests/{c.number}.{fmt}" for c in public),
            *(f"tokens/{c.number}.{fmt}" for c in public),
        ):
            response = client.get(f"{BASE}/{url}")
            check(response, fmt, "token" if url.startswith("tokens") else "requests", 200)
            bodies.append(response.content.decode())
    for body in bodies:
        assert not [secret for secret in secrets if secret in body]
        assert report.number not in body and "举报" not in body
    listed = numbers(get(client, "requests", "requests")[0])
    assert set(listed) == {c.number for c in public}
    get(client, f"requests/{report.number}", "errors", 404)
    get(client, f"tokens/{report.number}", "errors", 404)


def test_contacts_typed_into_a_description_are_masked(client, world):
    case = hotline_case(world, description="垃圾堆了很久，有事打我电话13912345678")
    for fmt in ("json", "xml"):
        body = client.get(f"{BASE}/requests/{case.number}.{fmt}").content.decode()
        assert "13912345678" not in body and "139****5678" in body
