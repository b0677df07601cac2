"""Administrators' configuration pages: categories, units and their members, routing rules.

Only `cases.configure` opens them; every change goes through a service and leaves an audit entry; an
administrator of one street neither sees nor changes another street's units and rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gongzhi.cases import services
from gongzhi.cases.models import Category, RoutingRule, Unit, UnitKind, UnitMember
from gongzhi.core import clock
from gongzhi.core.models import AuditEntry
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from tests.cases.helpers import neighbour_street
from tests.factories import user_with


@pytest.fixture(autouse=True)
def now():
    with clock.frozen("2026-11-23T10:00:00+08:00") as travel:
        yield travel


@pytest.fixture
def admin(world):
    return user_with(Role.ADMIN, world.tree.street, username="admin_a")


@pytest.fixture
def street_b(world):
    """The neighbouring street (tests/cases/helpers.py) with a unit and a rule of its own."""
    neighbour = neighbour_street(world.tree)
    community = neighbour.community
    unit = services.save_unit(SYSTEM, name="北固村民委员会", kind=UnitKind.COMMUNITY, region=community)
    rule = services.save_routing_rule(SYSTEM, category=world.category("SJ0102"), region=community, unit=unit)
    return neighbour.street, community, unit, rule


def text(response) -> str:
    return response.content.decode()


def rules_table(response) -> str:
    """The list of rules, without the add form below it (whose selects name every unit)."""
    return text(response).split('id="add-rule"')[0]


def audits(action: str):
    return AuditEntry.objects.filter(action=action).order_by("pk")


# ---------------------------------------------------------------- who may


def test_configuration_is_for_administrators_only(client, world, admin):
    rule = RoutingRule.objects.first()
    category = world.category("SJ01")
    get_urls = [
        "/cases/config/",
        f"/cases/config/categories/{category.pk}/",
        "/cases/config/units/",
        "/cases/config/units/new/",
        f"/cases/config/units/{world.community_unit.pk}/",
        f"/cases/config/units/{world.community_unit.pk}/members/",
        "/cases/config/rules/",
    ]
    for user in [world.dispatcher, world.community, world.leader, world.officer, world.resident]:
        client.force_login(user)
        for url in get_urls:
            assert client.get(url).status_code == 403, (user.username, url)
        assert client.post(f"/cases/config/rules/{rule.pk}/delete/").status_code == 403
        assert client.post(f"/cases/config/categories/{category.pk}/", {"name": "改名"}).status_code == 403
    assert RoutingRule.objects.filter(pk=rule.pk).exists()
    assert Category.objects.get(pk=category.pk).name == "市容环境"
    client.force_login(admin)
    for url in get_urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "<script>" not in text(response)


def test_the_menu_offers_configuration_to_administrators(client, admin):
    client.force_login(admin)
    assert 'href="/cases/config/"' in text(client.get("/"))


# ---------------------------------------------------------------- categories


def test_the_category_tree_shows_deadlines_and_switches(client, world, admin):
    client.force_login(admin)
    page = text(client.get("/cases/config/"))
    for piece in [
        "SJ01",
        "市容环境",
        "SJ0101",
        "暴露垃圾",
        "BJ0104",
        "燃气设施",
        "部件",
        "事件",
        "工作小时",
        "工作日",
    ]:
        assert piece in page, piece
    assert f'href="/cases/config/categories/{world.category("SJ0101").pk}/"' in page
    assert page.index("SJ0101") < page.index("SJ0102")


def test_editing_a_category_saves_only_what_changed_and_audits_it(client, world, admin):
    category = world.category("SJ0101")
    url = f"/cases/config/categories/{category.pk}/"
    client.force_login(admin)
    form = text(client.get(url))
    assert 'value="暴露垃圾"' in form and 'name="warn_percent"' in form
    data = {
        "name": "暴露垃圾",
        "accept_hours": "1.5",
        "handle_limit": "2",
        "handle_unit": "days",
        "warn_percent": "70",
        "requires_verification": "on",
        "auto_escalate": "on",
        "is_active": "on",
    }
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"] == "/cases/config/#cat-SJ0101"
    category.refresh_from_db()
    assert (category.accept_hours, category.handle_limit, category.warn_percent) == (Decimal("1.5"), 2, 70)
    entry = audits("case.category_updated").get()
    assert entry.actor == admin and set(entry.after) == {"accept_hours", "handle_limit", "warn_percent"}
    assert entry.before["handle_limit"] == "1" and entry.after["handle_limit"] == "2"

    # Nothing changed: nothing written.
    assert client.post(url, data).status_code == 302
    assert audits("case.category_updated").count() == 1

    bad = client.post(url, {**data, "warn_percent": "0", "handle_limit": "0"})
    assert bad.status_code == 400
    category.refresh_from_db()
    assert category.warn_percent == 70 and category.handle_limit == 2

    # Switching a category off: residents no longer see it offered.
    client.post(url, {k: v for k, v in data.items() if k != "is_active"})
    assert not Category.objects.get(pk=category.pk).is_active
    client.force_login(world.resident)
    assert f'value="{category.pk}"' not in text(client.get("/cases/report/"))


# ---------------------------------------------------------------- units and members


def test_units_are_listed_with_members_and_created_and_edited(client, world, admin):
    client.force_login(admin)
    page = text(client.get("/cases/config/units/"))
    assert "马宗岭社区居委会" in page and "南强街道综治中心" in page
    assert "区综合行政执法局" not in page  # at the county, above this administrator's street

    response = client.post(
        "/cases/config/units/new/",
        {
            "name": "南强物业公司",
            "kind": UnitKind.PROPERTY,
            "region": world.tree.community_b.pk,
            "phone": "0825-1234567",
        },
    )
    unit = Unit.objects.get(name="南强物业公司")
    assert response.status_code == 302 and response["Location"] == f"/cases/config/units/{unit.pk}/members/"
    assert unit.region == world.tree.community_b and unit.kind == UnitKind.PROPERTY
    assert audits("case.unit_saved").filter(actor=admin).count() == 1

    duplicate = client.post(
        "/cases/config/units/new/",
        {"name": "马宗岭社区居委会", "kind": UnitKind.COMMUNITY, "region": world.tree.community_a.pk},
    )
    assert duplicate.status_code == 409 and "该区域已有同名单位" in text(duplicate)

    edit = client.post(
        f"/cases/config/units/{unit.pk}/",
        {
            "name": "南强物业服务公司",
            "kind": UnitKind.PROPERTY,
            "region": world.tree.community_b.pk,
            "phone": "",
        },
    )
    assert edit.status_code == 302
    unit.refresh_from_db()
    assert unit.name == "南强物业服务公司" and unit.phone == ""


def test_members_are_added_by_username_made_heads_and_removed(client, world, admin):
    unit = world.community_unit
    url = f"/cases/config/units/{unit.pk}/members/"
    client.force_login(admin)
    assert client.post(url, {"action": "add", "username": "nobody"}).status_code == 400
    refused = client.post(url, {"action": "add", "username": world.resident.username})
    assert refused.status_code == 400 and "不是工作人员账号" in text(refused)
    assert not UnitMember.objects.filter(unit=unit, user=world.resident).exists()

    assert client.post(url, {"action": "add", "username": "gridworker", "is_head": ""}).status_code == 302
    membership = UnitMember.objects.get(unit=unit, user=world.grid_worker)
    assert not membership.is_head
    client.post(url, {"action": "head", "user": world.grid_worker.pk})
    membership.refresh_from_db()
    assert membership.is_head
    page = text(client.get(url))
    assert "gridworker" in page and "取消负责人" in page

    client.post(url, {"action": "remove", "user": world.grid_worker.pk})
    assert not UnitMember.objects.filter(unit=unit, user=world.grid_worker).exists()
    assert [e.after["member"] for e in audits("case.unit_member").filter(actor=admin)] == [True, True, False]
    # Someone who is not a member cannot be "removed".
    assert client.post(url, {"action": "remove", "user": world.officer.pk}).status_code == 404


def test_another_streets_units_are_out_of_reach(client, world, admin, street_b):
    _street, community, unit, _rule = street_b
    client.force_login(admin)
    assert "北固村民委员会" not in text(client.get("/cases/config/units/"))
    assert client.get(f"/cases/config/units/{unit.pk}/").status_code == 404
    assert client.get(f"/cases/config/units/{unit.pk}/members/").status_code == 404
    assert (
        client.post(f"/cases/config/units/{unit.pk}/members/", {"username": "gridworker"}).status_code == 404
    )
    # Nor can a unit be created there: the region is not offered.
    response = client.post(
        "/cases/config/units/new/", {"name": "越界单位", "kind": UnitKind.OTHER, "region": community.pk}
    )
    assert response.status_code == 400 and not Unit.objects.filter(name="越界单位").exists()


# ---------------------------------------------------------------- routing rules


def test_rules_are_listed_filtered_added_updated_and_deleted(client, world, admin):
    client.force_login(admin)
    page = text(client.get("/cases/config/rules/"))
    assert (
        "区综合行政执法局" in rules_table(client.get("/cases/config/rules/")) and "马宗岭社区居委会" in page
    )
    only_disputes = rules_table(client.get("/cases/config/rules/", {"category": "SJ08"}))
    assert "马宗岭社区居委会" in only_disputes and "区综合行政执法局" not in only_disputes
    in_b = text(client.get("/cases/config/rules/", {"region": world.tree.community_b.code}))
    assert "没有找到派遣规则" in in_b
    # The add form offers the county department (above the street) as a unit.
    assert f'value="{world.department.pk}"' in page

    data = {
        "category": world.category("SJ0103").pk,
        "region": world.tree.community_b.pk,
        "unit": world.other_community_unit.pk,
        "note": "权责清单第 3 项",
        "back": "category=SJ01",
    }
    response = client.post("/cases/config/rules/", data)
    assert response.status_code == 302 and response["Location"] == "/cases/config/rules/?category=SJ01"
    rule = RoutingRule.objects.get(category__code="SJ0103")
    assert rule.region == world.tree.community_b and rule.unit == world.other_community_unit
    assert services.route(world.category("SJ0103"), world.tree.grid_b1) == world.other_community_unit

    client.post("/cases/config/rules/", {**data, "unit": world.street_unit.pk})
    rule.refresh_from_db()
    assert rule.unit == world.street_unit and RoutingRule.objects.filter(category__code="SJ0103").count() == 1
    assert "已更新规则" in text(client.get("/cases/config/rules/"))

    assert client.get(f"/cases/config/rules/{rule.pk}/delete/").status_code == 405
    response = client.post(f"/cases/config/rules/{rule.pk}/delete/", {"back": "region=x&evil=1"})
    assert response.status_code == 302 and response["Location"] == "/cases/config/rules/?region=x"
    assert not RoutingRule.objects.filter(pk=rule.pk).exists()
    assert [e.action for e in AuditEntry.objects.filter(actor=admin).order_by("pk")] == [
        "case.rule_saved",
        "case.rule_saved",
        "case.rule_deleted",
    ]


def test_another_streets_rules_are_out_of_reach(client, world, admin, street_b):
    _street, community, unit, rule = street_b
    client.force_login(admin)
    page = text(client.get("/cases/config/rules/"))
    assert "北固" not in page  # neither its rule, its unit nor its regions (in the selects)
    assert client.post(f"/cases/config/rules/{rule.pk}/delete/").status_code == 404
    assert RoutingRule.objects.filter(pk=rule.pk).exists()
    response = client.post(
        "/cases/config/rules/",
        {"category": world.category("SJ0103").pk, "region": community.pk, "unit": world.street_unit.pk},
    )
    assert response.status_code == 400 and "该区域不在您的管辖范围内" in text(response)
    assert not RoutingRule.objects.filter(category__code="SJ0103").exists()
