"""API contract of /api/v1/people/…: scoped, masked, errors as {code, message, details}."""

import json

import pytest

from gongzhi.core import services as core_services
from gongzhi.core.models import AuditEntry
from gongzhi.core.principals import SYSTEM
from gongzhi.people import services
from gongzhi.people.models import Resident, Tag
from tests.people.ledger import ID_A, ID_A_MASKED, ID_B, PHONE_A, PHONE_B, build_ledger

BASE = "/api/v1/people"


@pytest.fixture
def ledger(tree, frozen_clock):
    return build_ledger(tree)


def post(client, url, body, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def key(tree_region, actions):
    _, token = core_services.create_api_key(
        SYSTEM, name=f"{tree_region.code}:{','.join(actions)}", region=tree_region, actions=actions
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_list_is_scoped_and_masked(client, ledger):
    client.force_login(ledger.worker_a)
    response = client.get(f"{BASE}/residents")
    assert response.status_code == 200
    rows = response.json()
    assert [r["name"] for r in rows] == ["张三", "王芳"]  # in order of registration
    zhang = rows[0]
    assert zhang["id_number_masked"] == ID_A_MASKED and zhang["phone_masked"] == "139****1234"
    assert zhang["grid"] == ledger.resident.region.code and zhang["household_id"] == ledger.household.pk
    assert "id_number" not in zhang and "phone" not in zhang
    assert ID_A not in response.content.decode() and PHONE_A not in response.content.decode()
    assert [r["name"] for r in client.get(f"{BASE}/residents", {"limit": 1, "offset": 1}).json()] == ["王芳"]


def test_grid_worker_cannot_list_search_or_open_another_grid(client, ledger):
    client.force_login(ledger.worker_b)
    assert [r["name"] for r in client.get(f"{BASE}/residents").json()] == ["李四"]
    for q in ["张三", "zs", "7838", ID_A, PHONE_A, "马宗岭"]:
        assert client.get(f"{BASE}/residents", {"q": q}).json() == [], q
    for url in [
        f"{BASE}/residents/{ledger.resident.pk}",
        f"{BASE}/households/{ledger.household.pk}",
        f"{BASE}/buildings/{ledger.building.pk}",
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"
    body = client.get(f"{BASE}/residents/{ledger.neighbour.pk}").json()
    assert body["name"] == "李四" and ID_B not in json.dumps(body) and PHONE_B not in json.dumps(body)


def test_search_by_every_key(client, ledger):
    client.force_login(ledger.staff)
    for q in ["张三", "zhangsan", "zs", "7838", ID_A, PHONE_A]:
        assert [r["id"] for r in client.get(f"{BASE}/residents", {"q": q}).json()] == [ledger.resident.pk], q


def test_detail_has_visible_tags_and_history(client, ledger):
    r = ledger.resident
    services.tag_resident(ledger.staff, r, Tag.objects.get(code="released_prisoner"))
    services.tag_resident(ledger.staff, r, Tag.objects.get(code="veteran"))
    client.force_login(ledger.leader)
    body = client.get(f"{BASE}/residents/{r.pk}").json()
    assert [t["code"] for t in body["tags"]] == ["veteran"]
    assert [e["kind"] for e in body["events"]] == ["register"]
    assert body["events"][0]["to_grid"] == r.region.code
    client.force_login(ledger.worker_a)
    body = client.get(f"{BASE}/residents/{r.pk}").json()
    assert {t["code"] for t in body["tags"]} == {"released_prisoner", "veteran"}
    assert AuditEntry.objects.filter(action="people.sensitive_read", actor=ledger.worker_a).count() == 1


def test_register_through_the_api(client, ledger, tree):
    client.force_login(ledger.worker_a)
    response = post(
        client,
        f"{BASE}/residents",
        {
            "grid": tree.grid_a1.code,
            "name": "赵六",
            "id_number": "110101200001010010",
            "phone": "13900009999",
            "ethnicity": "汉",
            "household_id": ledger.household.pk,
            "relation": "子",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["sex"], body["birth_date"], body["ethnicity"]) == (
        "赵六",
        "M",
        "2000-01-01",
        "汉族",
    )
    assert body["id_number_masked"] == "110101********0010" and "13900009999" not in response.content.decode()
    assert body["household_id"] == ledger.household.pk and body["relation"] == "son"
    assert [e["kind"] for e in body["events"]] == ["register"]
    assert Resident.objects.get(pk=body["id"]).region == tree.grid_a1


def test_register_errors_list_each_field(client, ledger, tree):
    client.force_login(ledger.worker_a)
    response = post(
        client,
        f"{BASE}/residents",
        {"grid": tree.grid_a1.code, "name": "", "id_number": "110105194912310021", "phone": "123"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "people.invalid"
    fields = {d["field"]: d["message"] for d in body["details"]}
    assert set(fields) == {"姓名", "证件号码", "联系电话"}
    assert "校验位错误" in fields["证件号码"]
    assert not Resident.objects.filter(name="").exists()

    for grid in [tree.grid_b1.code, tree.community_a.code, "nope"]:
        response = post(client, f"{BASE}/residents", {"grid": grid, "name": "赵六"})
        assert (response.status_code, response.json()["code"]) == (400, "people.unknown_grid"), grid
    response = post(
        client,
        f"{BASE}/residents",
        {"grid": tree.grid_a1.code, "name": "赵六", "household_id": ledger.household_b.pk},
    )
    assert response.json()["code"] == "people.unknown_household"

    response = post(
        client, f"{BASE}/residents", {"grid": tree.grid_a1.code, "name": "赵六", "id_number": ID_A}
    )
    assert (response.status_code, response.json()["code"]) == (409, "people.duplicate_id")

    response = post(client, f"{BASE}/residents", {"name": "赵六"})
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert not Resident.objects.filter(name="赵六").exists()


def test_leader_cannot_register(client, ledger, tree):
    client.force_login(ledger.leader)
    response = post(client, f"{BASE}/residents", {"grid": tree.grid_a1.code, "name": "赵六"})
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_household_members_and_householder(client, ledger):
    client.force_login(ledger.worker_a)
    body = client.get(f"{BASE}/households/{ledger.household.pk}").json()
    assert (body["number"], body["grid"], body["householder_id"]) == (
        "H001",
        ledger.resident.region.code,
        ledger.resident.pk,
    )
    members = {m["name"]: m for m in body["members"]}
    assert set(members) == {"张三", "王芳"}
    assert members["张三"]["is_householder"] and members["王芳"]["relation"] == "spouse"
    assert members["张三"]["id_number_masked"] == ID_A_MASKED and ID_A not in json.dumps(body)


def test_building_with_units_owners_and_occupants(client, ledger):
    from decimal import Decimal

    unit_302 = ledger.building.units.get(label="2单元302")
    services.add_ownership(SYSTEM, ledger.neighbour, unit_302, share=Decimal(1))
    client.force_login(ledger.worker_a)
    body = client.get(f"{BASE}/buildings/{ledger.building.pk}").json()
    assert (body["name"], body["compound"], body["floors"]) == ("3栋", "阳光小区", 6)
    units = {u["label"]: u for u in body["units"]}
    u301 = units["2单元301"]
    assert (Decimal(u301["building_area"]), Decimal(u301["exclusive_area"])) == (
        Decimal("98.5"),
        Decimal("80.2"),
    )
    assert {o["name"]: Decimal(o["share"]) for o in u301["owners"]} == {
        "张三": Decimal("0.5"),
        "王芳": Decimal("0.5"),
    }
    assert {o["name"] for o in u301["occupants"]} == {"张三", "王芳"}
    # an owner registered in another grid is named masked and without an id
    assert units["2单元302"]["owners"] == [{"id": None, "name": "李*", "share": "1.0000"}]
    assert units["2单元302"]["use"] == "shop" and units["2单元302"]["occupants"] == []


def test_api_keys_need_people_actions_and_stay_in_their_region(client, ledger, tree):
    view_a = key(tree.community_a, ["people.view"])
    names = {r["name"] for r in client.get(f"{BASE}/residents", **view_a).json()}
    assert names == {"张三", "王芳"}
    assert client.get(f"{BASE}/residents/{ledger.neighbour.pk}", **view_a).status_code == 404
    assert client.get(f"{BASE}/buildings/{ledger.building.pk}", **view_a).status_code == 200
    response = post(client, f"{BASE}/residents", {"grid": tree.grid_a1.code, "name": "赵六"}, **view_a)
    assert response.status_code == 403

    regions_only = key(tree.street, ["region.view"])
    assert client.get(f"{BASE}/residents", **regions_only).json() == []
    assert client.get(f"{BASE}/residents/{ledger.resident.pk}", **regions_only).status_code == 404

    edit_a = key(tree.community_a, ["people.view", "people.edit"])
    response = post(client, f"{BASE}/residents", {"grid": tree.grid_a2.code, "name": "赵六"}, **edit_a)
    assert response.status_code == 201
    event = Resident.objects.get(name="赵六").events.get()
    assert event.actor is None and event.actor_label.startswith("apikey:")


def test_unauthenticated_and_openapi(client, ledger):
    assert client.get(f"{BASE}/residents").status_code == 401
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in [
        "/api/v1/people/residents",
        "/api/v1/people/residents/{resident_id}",
        "/api/v1/people/households/{household_id}",
        "/api/v1/people/buildings/{building_id}",
    ]:
        assert path in paths, path
