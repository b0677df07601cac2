"""分类补充信息: the extra fields a category asks for — the rule that checks them, their configuration
page, and intake from the pages' services and the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gongzhi.cases import rules, services
from gongzhi.cases.models import Case, CategoryAttribute, Source
from gongzhi.core.errors import DomainError, PermissionDenied
from gongzhi.core.models import AuditEntry
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from tests.factories import user_with

Spec = rules.AttributeSpec
SPECS = [
    Spec("cover_no", "string", False),
    Spec("depth", "number", True),
    Spec("seen_at", "datetime", False),
    Spec("period", "singlevaluelist", False, ("day", "night")),
    Spec("kinds", "multivaluelist", False, ("rain", "sewage", "power")),
]


def test_good_values_are_cleaned():
    cleaned, errors = rules.check_attributes(
        SPECS,
        {
            "cover_no": " A-12 ",
            "depth": "1.5",
            "seen_at": "2026-11-22T21:30:00+08:00",
            "period": "night",
            "kinds": ["rain", "power"],
        },
    )
    assert errors == []
    assert cleaned == {
        "cover_no": "A-12",
        "depth": "1.5",
        "seen_at": "2026-11-22T21:30:00+08:00",
        "period": "night",
        "kinds": ["rain", "power"],
    }


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({}, "attribute[depth]", "此项必填"),
        ({"depth": "  "}, "attribute[depth]", "此项必填"),
        ({"depth": "深"}, "attribute[depth]", "须为数字"),
        ({"depth": "NaN"}, "attribute[depth]", "须为数字"),
        ({"depth": "1", "seen_at": "昨晚"}, "attribute[seen_at]", "须为日期时间"),
        ({"depth": "1", "period": "dusk"}, "attribute[period]", "不是可选值：dusk"),
        ({"depth": "1", "period": ["day", "night"]}, "attribute[period]", "只能填一个值"),
        ({"depth": "1", "kinds": ["rain", "gas"]}, "attribute[kinds]", "不是可选值：gas"),
        ({"depth": "1", "colour": "red"}, "attribute[colour]", "没有这项补充信息"),
        ({"depth": "1", "cover_no": "号" * 201}, "attribute[cover_no]", "内容过长"),
    ],
)
def test_each_bad_value_is_named(values, field, message):
    cleaned, errors = rules.check_attributes(SPECS, values)
    assert [f for f, _m in errors] == [field]
    assert message in errors[0][1]


@pytest.fixture
def manhole(world):
    category = world.category("SJ0101")
    services.add_category_attribute(
        SYSTEM, category, code="pile", datatype="string", description="垃圾大约几袋", required=True, order=1
    )
    services.add_category_attribute(
        SYSTEM,
        category,
        code="smell",
        datatype="singlevaluelist",
        description="是否有异味",
        order=2,
        values=[{"key": "yes", "name": "有"}, {"key": "no", "name": "没有"}],
    )
    return category


def test_intake_checks_and_keeps_the_attributes(world, manhole, frozen_clock):
    values = dict(
        source=Source.PATROL,
        title="垃圾堆放",
        description="路边垃圾",
        category=manhole,
        grid=world.tree.grid_a1,
    )
    with pytest.raises(services.InvalidCase) as refused:
        services.submit_case(world.grid_worker, **values, attributes={"smell": "maybe"})
    assert dict(refused.value.errors).keys() == {"attribute[pile]", "attribute[smell]"}
    assert not Case.objects.exists()
    case = services.submit_case(world.grid_worker, **values, attributes={"pile": "5", "smell": "yes"})
    assert case.attributes == {"pile": "5", "smell": "yes"}


def test_the_api_takes_attributes_and_the_case_page_shows_them(world, manhole, client, frozen_clock):
    client.force_login(world.dispatcher)
    body = {
        "title": "垃圾堆放",
        "description": "路边垃圾",
        "category": "SJ0101",
        "grid": world.tree.grid_a1.code,
        "reporter_phone": "13800000001",
        "attributes": {"pile": "3", "smell": "no"},
    }
    response = client.post("/api/v1/cases", body, content_type="application/json")
    assert response.status_code == 201, response.content
    number = response.json()["number"]
    assert client.get(f"/api/v1/cases/{number}").json()["attributes"] == {"pile": "3", "smell": "no"}
    page = client.get(reverse("cases:detail", args=[number])).content.decode()
    assert "垃圾大约几袋" in page and "是否有异味" in page and "没有" in page
    body["attributes"] = {}
    response = client.post("/api/v1/cases", body, content_type="application/json")
    assert response.status_code == 400 and "attribute[pile]" in str(response.json()["details"])


def test_administrators_add_and_remove_attributes_on_the_category_page(world, client):
    admin = user_with(Role.ADMIN, world.tree.street, username="admin_a")
    category = world.category("SJ0405")
    url = reverse("cases:category_attribute_add", args=[category.pk])
    client.force_login(admin)
    bad = client.post(
        url, {"code": "period", "description": "噪声时段", "datatype": "singlevaluelist", "order": 1}
    )
    assert bad.status_code == 400 and "单选、多选须列出可选值" in bad.content.decode()
    bad = client.post(
        url,
        {
            "code": "period",
            "description": "噪声时段",
            "datatype": "singlevaluelist",
            "order": 1,
            "values": "夜间",
        },
    )
    assert bad.status_code == 400 and "第 1 行应写成“代码=名称”" in bad.content.decode()
    assert not CategoryAttribute.objects.exists()
    good = client.post(
        url,
        {
            "code": "period",
            "description": "噪声时段",
            "datatype": "singlevaluelist",
            "order": 1,
            "required": "on",
            "values": "day=白天\nnight=夜间",
        },
    )
    assert good.status_code == 302
    attribute = CategoryAttribute.objects.get(category=category)
    assert attribute.values == [{"key": "day", "name": "白天"}, {"key": "night", "name": "夜间"}]
    assert attribute.required
    page = client.get(reverse("cases:category_edit", args=[category.pk])).content.decode()
    assert "噪声时段" in page and "白天、夜间" in page
    again = client.post(url, {"code": "period", "description": "又一个", "datatype": "string", "order": 2})
    assert again.status_code == 400 and "已有字段代码 period" in again.content.decode()
    removed = client.post(reverse("cases:category_attribute_remove", args=[category.pk, attribute.pk]))
    assert removed.status_code == 302 and not CategoryAttribute.objects.exists()
    changes = AuditEntry.objects.filter(action="case.category_updated", object_id=str(category.pk)).count()
    assert changes == 2


def test_only_administrators_configure_attributes(world, client):
    category = world.category("SJ0405")
    with pytest.raises(PermissionDenied):
        services.add_category_attribute(
            world.dispatcher, category, code="x", datatype="string", description="问"
        )
    with pytest.raises(DomainError):
        services.add_category_attribute(
            SYSTEM,
            category,
            code="x",
            datatype="string",
            description="问",
            values=[{"key": "a", "name": "A"}],
        )
    client.force_login(world.dispatcher)
    response = client.post(
        reverse("cases:category_attribute_add", args=[category.pk]),
        {"code": "x", "description": "问", "datatype": "string", "order": 1},
    )
    assert response.status_code == 403 and not CategoryAttribute.objects.exists()
