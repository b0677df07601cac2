"""API contract of /api/v1/cases…: intake by key or staff session, scoped reads, the staff steps, KPIs."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from gongzhi.cases import queries, services
from gongzhi.cases.models import Case, CaseEvent, EventKind, Rating, Source, Status
from gongzhi.core import geo
from gongzhi.core import services as core_services
from gongzhi.core.models import AuditEntry, Level
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from tests.cases.conftest import A1_POINT
from tests.factories import region, square, user_with

BASE = "/api/v1/cases"
CST = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _frozen(frozen_clock):
    return frozen_clock


def post(client, url, body=None, **extra):
    return client.post(url, json.dumps(body or {}), content_type="application/json", **extra)


def key(region_, actions, name=None):
    _, token = core_services.create_api_key(
        SYSTEM, name=name or f"{region_.code}:{','.join(actions)}", region=region_, actions=actions
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def submission(**overrides):
    body = {
        "title": "小区门口垃圾堆放",
        "description": "垃圾三天没人清运，气味很大",
        "category": "SJ0101",
        "lon": A1_POINT[0],
        "lat": A1_POINT[1],
        "reporter_name": "张三丰",
        "reporter_phone": "13912345678",
    }
    body.update(overrides)
    return body


def file_case(world, grid=None, **overrides) -> Case:
    values = dict(
        source=Source.HOTLINE,
        title="路灯不亮",
        description="楼下路灯坏了一周",
        category=world.category("SJ0101"),
        grid=grid or world.tree.grid_a1,
        reporter_name="张三丰",
        reporter_phone="13912345678",
    )
    values.update(overrides)
    return services.submit_case(world.dispatcher, **values)


# ---------------------------------------------------------------- intake


def test_ping_is_a_trivial_unauthenticated_answer(client, db):
    response = client.get(f"{BASE}/ping")
    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_an_integrator_submits_with_a_key(client, world):
    headers = key(world.tree.street, ["cases.submit"], name="12345热线")
    response = post(client, BASE, submission(address="南强街道马宗岭路 12 号"), **headers)
    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get(number=body["number"])
    assert body == {
        "number": case.number,
        "status": "submitted",
        "region": {"code": world.tree.grid_a1.code, "name": world.tree.grid_a1.name},
        "located_by": "point",
        "category": "SJ0101",
        "suggested_unit": world.department.name,
        "no_rule": False,
        "accept_due": "2026-11-23T12:00:00+08:00",
        "created_at": "2026-11-23T10:00:00+08:00",
    }
    assert case.source == Source.API and case.reporter is None and case.entered_by is None
    assert case.address == "南强街道马宗岭路 12 号" and case.reporter_phone == "13912345678"
    event = case.events.get()
    assert (event.kind, event.actor, event.actor_label) == (EventKind.SUBMIT, None, "apikey:12345热线")
    entry = AuditEntry.objects.get(action="case.submit", object_id=str(case.pk))
    assert entry.actor_label == "apikey:12345热线" and entry.region_path == world.tree.grid_a1.path


def test_gcj02_points_are_converted_before_locating(client, world):
    # 105.5895 E lies in grid A1 (105.58–105.59); its GCJ-02 form (≈105.5929) would fall in A2.
    gcj_lon, gcj_lat = geo.wgs84_to_gcj02(105.5895, 30.455)
    assert geo.locate(gcj_lon, gcj_lat) == world.tree.grid_a2  # read as WGS-84 it would be misplaced
    headers = key(world.tree.street, ["cases.submit"])
    response = post(client, BASE, submission(lon=gcj_lon, lat=gcj_lat, coord_system="gcj02"), **headers)
    assert response.status_code == 201, response.content
    assert response.json()["region"]["code"] == world.tree.grid_a1.code
    case = Case.objects.get(number=response.json()["number"])
    assert case.lon == pytest.approx(105.5895, abs=1e-6) and case.lat == pytest.approx(30.455, abs=1e-6)


def test_a_key_needs_cases_submit_and_its_own_street(client, world):
    view_only = key(world.tree.street, ["cases.view"])
    response = post(client, BASE, submission(), **view_only)
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")

    other_street = region(
        "510903015", "另一街道", Level.STREET, world.tree.county, square(105.70, 30.45, 0.02)
    )
    elsewhere = key(other_street, ["cases.submit"])
    response = post(client, BASE, submission(), **elsewhere)  # the point lies in 南强街道's grid A1
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    response = post(client, BASE, submission(lon=None, lat=None, grid=world.tree.grid_b1.code), **elsewhere)
    assert response.status_code == 403
    assert not Case.objects.exists() and not CaseEvent.objects.exists()
    assert client.post(BASE, "{}", content_type="application/json").status_code == 401


def test_every_bad_field_is_listed_at_once(client, world):
    headers = key(world.tree.street, ["cases.submit"])
    response = post(
        client,
        BASE,
        {
            "title": " ",
            "description": "",
            "request_type": "rant",
            "category": "XX99",
            "grid": "nope",
            "lon": 105.585,
            "coord_system": "utm",
            "address": "路" * 201,
        },
        **headers,
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "case.invalid" and body["message"]
    fields = {d["field"]: d["message"] for d in body["details"]}
    assert set(fields) == {
        "title", "description", "request_type", "category", "grid", "lat", "coord_system", "address"
    }  # fmt: skip
    assert "XX99" in fields["category"] and "nope" in fields["grid"]
    assert not Case.objects.exists()

    # Shape errors are the API's usual 422 with the fields named.
    response = post(client, BASE, {"description": "x", "lon": "east"}, **headers)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert {d["field"] for d in response.json()["details"]} == {"payload.title", "payload.lon"}
    # A NUL character never reaches the handler (PostgreSQL could not store it).
    response = post(client, BASE, submission(title="坏\x00字符"), **headers)
    assert (response.status_code, response.json()["code"]) == (400, "bad_characters")
    assert not Case.objects.exists()


def test_staff_enter_hotline_calls_and_patrol_reports(client, world):
    client.force_login(world.dispatcher)
    response = post(client, BASE, submission(lon=None, lat=None, grid=world.tree.grid_a2.code))
    assert response.status_code == 201, response.content
    case = Case.objects.get(number=response.json()["number"])
    assert (case.source, case.entered_by, case.region) == (
        Source.HOTLINE,
        world.dispatcher,
        world.tree.grid_a2,
    )
    assert response.json()["located_by"] == "grid"

    response = post(client, BASE, submission(reporter_phone=""))
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == ["reporter_phone"]
    response = post(client, BASE, submission(source="api"))
    assert (response.status_code, response.json()["details"][0]["field"]) == (400, "source")

    client.force_login(world.grid_worker)
    response = post(client, BASE, submission(source="patrol", category="SJ0401"))
    assert response.status_code == 201
    assert Case.objects.get(number=response.json()["number"]).source == Source.PATROL
    response = post(client, BASE, submission(source="patrol", lon=105.605, lat=30.455))  # grid B1
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")

    client.force_login(world.resident)
    assert post(client, BASE, submission()).status_code == 403

    headers = key(world.tree.street, ["cases.submit"])
    response = post(client, BASE, submission(source="hotline"), **headers)
    assert (response.status_code, response.json()["details"][0]["field"]) == (400, "source")


# ---------------------------------------------------------------- reading


def test_list_and_detail_are_scoped(client, world):
    mine = file_case(world, title="马宗岭的路灯")
    theirs = file_case(world, grid=world.tree.grid_b1, title="金鱼的井盖")
    client.force_login(world.community)  # 马宗岭社区
    rows = client.get(BASE).json()
    assert [r["number"] for r in rows] == [mine.number]
    assert rows[0]["region"] == {"code": world.tree.grid_a1.code, "name": world.tree.grid_a1.name}
    response = client.get(f"{BASE}/{theirs.number}")
    assert (response.status_code, response.json()["code"]) == (404, "case.not_found")
    response = post(client, f"{BASE}/{theirs.number}/accept")
    assert response.status_code == 404

    client.force_login(world.dispatcher)  # the whole street, newest first
    assert [r["number"] for r in client.get(BASE).json()] == [theirs.number, mine.number]
    assert [r["number"] for r in client.get(BASE, {"limit": 1, "offset": 1}).json()] == [mine.number]
    assert [r["number"] for r in client.get(BASE, {"q": "井盖"}).json()] == [theirs.number]
    assert [r["number"] for r in client.get(BASE, {"region": "510903014006"}).json()] == [mine.number]
    assert client.get(BASE, {"status": "closed"}).json() == []
    assert client.get(BASE, {"status": "nonsense"}).status_code == 422

    view_a = key(world.tree.community_a, ["cases.view"])
    assert [r["number"] for r in client.get(BASE, **view_a).json()] == [mine.number]
    assert client.get(f"{BASE}/{theirs.number}", **view_a).status_code == 404
    submit_only = key(world.tree.street, ["cases.submit"])
    assert client.get(BASE, **submit_only).json() == []


def test_detail_masks_the_reporter_and_shows_the_timeline(client, world):
    case = file_case(world)
    services.accept_case(world.dispatcher, case, note="属实")
    client.force_login(world.community)
    response = client.get(f"{BASE}/{case.number}")
    body = response.json()
    assert body["reporter_name_masked"] == "张**" and body["reporter_phone_masked"] == "139****5678"
    assert "13912345678" not in response.content.decode() and "张三丰" not in response.content.decode()
    assert [e["kind"] for e in body["timeline"]] == ["submit", "accept"]
    assert body["timeline"][1]["actor"] == "dispatcher" and body["timeline"][1]["note"] == "属实"
    assert body["status"] == "accepted" and "dispatch" in body["next_steps"]
    assert body["category"] == "SJ0101" and body["suggested_unit"] == world.department.name

    anonymous = file_case(world, anonymous=True)
    body = client.get(f"{BASE}/{anonymous.number}").json()
    assert (body["reporter_name_masked"], body["reporter_phone_masked"]) == ("匿名", "")


# ---------------------------------------------------------------- steps


def test_the_loop_through_the_step_endpoints(client, world, frozen_clock):
    case = file_case(world)
    url = f"{BASE}/{case.number}"
    client.force_login(world.dispatcher)
    body = post(client, f"{url}/accept", {"category": "SJ0102", "note": "立案"}).json()
    assert body["status"] == "accepted" and body["category"] == "SJ0102"

    response = post(client, f"{url}/accept")
    assert (response.status_code, response.json()["code"]) == (409, "case.cannot_accept")
    assert "已立案" in response.json()["message"]

    response = post(client, f"{url}/dispatch", {"unit": 999999, "assist": [world.community_unit.pk, 888]})
    assert response.status_code == 400
    assert {d["field"] for d in response.json()["details"]} == {"unit", "assist"}
    response = post(
        client, f"{url}/dispatch", {"unit": world.department.pk, "assist": [world.community_unit.pk]}
    )
    body = response.json()
    assert (
        response.status_code == 200
        and body["status"] == "dispatched"
        and body["unit"] == world.department.name
    )
    assert [(a["unit"], a["role"]) for a in body["assignments"]] == [
        (world.department.name, "lead"),
        (world.community_unit.name, "assist"),
    ]

    # Not the dispatcher's unit: only its members sign.
    response = post(client, f"{url}/sign")
    assert (response.status_code, response.json()["code"]) == (403, "case.not_unit_member")
    client.force_login(world.officer)
    assert post(client, f"{url}/reply", {"note": "已清理"}).json()["code"] == "case.cannot_reply"
    assert post(client, f"{url}/sign").json()["status"] == "in_progress"
    response = post(client, f"{url}/reply", {"note": " "})
    assert (response.status_code, response.json()["code"]) == (400, "case.reply_required")
    frozen_clock.advance(hours=1)
    assert post(client, f"{url}/reply", {"note": "已清理"}).json()["status"] == "replied"

    client.force_login(world.dispatcher)  # the category needs a field check
    response = post(client, f"{url}/close")
    assert (response.status_code, response.json()["code"]) == (400, "case.verification_required")
    client.force_login(world.grid_worker)
    response = post(client, f"{url}/verify", {"passed": False})
    assert (response.status_code, response.json()["code"]) == (400, "case.reason_required")
    body = post(client, f"{url}/verify", {"passed": False, "note": "仍有垃圾"}).json()
    assert body["status"] == "in_progress" and body["reopen_count"] == 1
    client.force_login(world.officer)
    post(client, f"{url}/reply", {"note": "再次清理"})
    client.force_login(world.grid_worker)
    body = post(client, f"{url}/verify", {"passed": True}).json()
    assert body["status"] == "closed"
    assert [e["kind"] for e in body["timeline"]] == [
        "submit", "accept", "dispatch", "sign", "reply", "reopen", "reply", "close"
    ]  # fmt: skip
    response = post(client, f"{url}/verify", {"passed": True})
    assert (response.status_code, response.json()["code"]) == (409, "case.cannot_verify")

    # No dissatisfied rating, so there is nothing to call back about.
    client.force_login(world.dispatcher)
    response = post(client, f"{url}/callback", {"note": "电话回访"})
    assert (response.status_code, response.json()["code"]) == (409, "case.no_callback")


def test_return_escalate_whistle_suspend_reject_and_callback(client, world):
    client.force_login(world.dispatcher)
    returned = file_case(world)
    services.accept_case(world.dispatcher, returned)
    post(client, f"{BASE}/{returned.number}/dispatch", {"unit": world.department.pk})
    client.force_login(world.officer)
    body = post(client, f"{BASE}/{returned.number}/return", {"reason": "不属本局职责"}).json()
    assert body["status"] == "returned" and body["unit"] is None

    escalated = file_case(world, category=world.category("SJ0801"))
    services.accept_case(world.dispatcher, escalated)
    services.dispatch_case(world.dispatcher, escalated, unit=world.community_unit)
    client.force_login(world.community)
    post(client, f"{BASE}/{escalated.number}/sign")
    body = post(client, f"{BASE}/{escalated.number}/escalate", {"reason": "涉及违建，社区无权处理"}).json()
    assert body["status"] == "escalated" and body["escalated_to"]["code"] == world.tree.street.code
    # The community that raised it waits for the street.
    response = post(client, f"{BASE}/{escalated.number}/dispatch", {"unit": world.department.pk})
    assert response.status_code == 403
    client.force_login(world.dispatcher)
    body = post(client, f"{BASE}/{escalated.number}/dispatch", {"unit": world.department.pk}).json()
    assert body["escalation_level"] == 2 and body["timeline"][-1]["kind"] == "whistle"

    suspended = file_case(world)
    body = post(client, f"{BASE}/{suspended.number}/suspend", {"reason": "请补充现场照片"}).json()
    assert body["status"] == "suspended" and body["due_at"] is None
    assert post(client, f"{BASE}/{suspended.number}/resume", {}).json()["status"] == "submitted"
    response = post(client, f"{BASE}/{suspended.number}/reject", {"reason": ""})
    assert (response.status_code, response.json()["code"]) == (400, "case.reason_required")
    assert (
        post(client, f"{BASE}/{suspended.number}/reject", {"reason": "重复反映"}).json()["status"]
        == "rejected"
    )
    response = post(client, f"{BASE}/{suspended.number}/resume", {})
    assert (response.status_code, response.json()["code"]) == (409, "case.cannot_resume")

    # A dispute (no field check) closed by the dispatcher, rated dissatisfied, called back and reopened.
    dispute = services.submit_case(
        world.resident,
        source=Source.RESIDENT,
        title="邻居装修噪音",
        description="每天早上七点开始装修",
        category=world.category("SJ0801"),
        lon=A1_POINT[0],
        lat=A1_POINT[1],
    )
    services.accept_case(world.dispatcher, dispute)
    services.dispatch_case(world.dispatcher, dispute, unit=world.community_unit)
    services.sign_case(world.community, dispute)
    services.reply_case(world.community, dispute, note="已调解")
    assert post(client, f"{BASE}/{dispute.number}/close", {"note": "调解完成"}).json()["status"] == "closed"
    services.evaluate_case(world.resident, dispute, rating=Rating.DISSATISFIED, comment="还在吵")
    body = client.get(f"{BASE}/{dispute.number}").json()
    assert body["callback_pending"] and body["rating"] == "dissatisfied"
    evaluate = next(e for e in body["timeline"] if e["kind"] == "evaluate")
    assert evaluate["actor"] == "反映人" and evaluate["note"] == "还在吵"  # not the resident's username
    body = post(client, f"{BASE}/{dispute.number}/callback", {"note": "回访后重办", "reopen": True}).json()
    assert body["status"] == "in_progress" and body["unit"] == world.community_unit.name
    assert not body["callback_pending"]


def test_steps_by_a_key_hold_to_its_actions(client, world):
    case = file_case(world)
    view_only = key(world.tree.street, ["cases.view"])
    response = post(client, f"{BASE}/{case.number}/accept", **view_only)
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert Case.objects.get(pk=case.pk).status == Status.SUBMITTED
    # Integrators read only the public part of the timeline.
    services.accept_case(world.dispatcher, case)
    services.dispatch_case(world.dispatcher, case, unit=world.department)
    services.return_case(world.officer, case, reason="内部：不属本局")
    body = client.get(f"{BASE}/{case.number}", **view_only).json()
    assert [e["kind"] for e in body["timeline"]] == ["submit", "accept", "dispatch"]
    client.force_login(world.dispatcher)
    assert client.get(f"{BASE}/{case.number}").json()["timeline"][-1]["note"] == "内部：不属本局"


# ---------------------------------------------------------------- KPIs


def test_kpis_match_the_query_and_carry_definitions(client, world, frozen_clock):
    late = file_case(world)
    frozen_clock.advance(hours=3)  # past the 2-hour acceptance limit
    services.accept_case(world.dispatcher, late)
    on_time = file_case(world, grid=world.tree.grid_b1)
    services.accept_case(world.dispatcher, on_time)
    services.dispatch_case(world.dispatcher, on_time, unit=world.department)
    services.return_case(world.officer, on_time, reason="非本局职责")
    services.dispatch_case(world.dispatcher, on_time, unit=world.other_community_unit)

    client.force_login(world.leader)
    for group_by in ("region", "unit", "category"):
        response = client.get(
            f"{BASE}/kpis", {"start": "2026-11-01", "end": "2026-11-23", "group_by": group_by}
        )
        assert response.status_code == 200, response.content
        body = response.json()
        total, rows = queries.kpis(
            world.leader,
            start=dt.datetime(2026, 11, 1, tzinfo=CST),
            end=dt.datetime(2026, 11, 24, tzinfo=CST),
            group_by=group_by,
        )
        assert body["total"]["accepted"] == total.accepted == 2
        assert body["total"]["accepted_on_time"] == total.accepted_on_time == 1
        assert body["total"]["accept_rate"] == str(total.rates["accept_rate"]) == "50.00"
        assert body["total"]["return_rate"] == "50.00"  # one return in two dispatches
        assert body["total"]["satisfaction_rate"] is None and body["total"]["avg_hours"] is None
        assert [(r["key"], r["label"], r["accepted"], r["dispatched"]) for r in body["rows"]] == [
            (r.key, r.label, r.accepted, r.dispatched) for r in rows
        ]
    assert [d["key"] for d in body["definitions"]] == [k for k, _label, _text in queries.KPI_DEFINITIONS]
    regions = client.get(f"{BASE}/kpis", {"start": "2026-11-01", "end": "2026-11-23"}).json()
    assert [r["label"] for r in regions["rows"]] == ["马宗岭社区", "金鱼社区"]

    body = client.get(f"{BASE}/kpis", {"region": world.tree.community_b.code}).json()
    assert body["total"]["accepted"] == 1 and body["region"]["code"] == world.tree.community_b.code
    assert (body["start"], body["end"]) == ("2026-10-25", "2026-11-23")  # the last 30 days
    assert client.get(f"{BASE}/kpis", {"start": "2026-12-01", "end": "2026-11-01"}).status_code == 400
    assert client.get(f"{BASE}/kpis", {"group_by": "weather"}).status_code == 422
    assert client.get(f"{BASE}/kpis", {"region": "510903015"}).status_code == 404
    assert client.get(f"{BASE}/kpis", {"start": "1066-10-14"}).status_code == 422

    client.force_login(world.community)  # the community's own KPIs only
    assert client.get(f"{BASE}/kpis").json()["total"]["accepted"] == 1
    client.force_login(world.officer)
    assert client.get(f"{BASE}/kpis").status_code == 403


def test_openapi_lists_the_case_endpoints(client, db):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in [
        "/api/v1/cases",
        "/api/v1/cases/{number}",
        "/api/v1/cases/kpis",
        "/api/v1/cases/{number}/dispatch",
    ]:
        assert path in paths, path
    assert set(paths["/api/v1/cases"]) == {"get", "post"}


def test_unknown_case_is_404(client, world):
    client.force_login(user_with(Role.LEADER, world.tree.street))
    response = client.get(f"{BASE}/20990101000001")
    assert (response.status_code, response.json()["code"]) == (404, "case.not_found")


def test_intake_costs_one_key_lookup_beyond_the_service(client, world):
    """The handler is load-tested at 200 requests/s: it adds no query of its own to submit_case's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = key(world.tree.street, ["cases.submit"], name="load")
    post(client, BASE, submission(), **headers)  # the first use stamps the key's last use
    with CaptureQueriesContext(connection) as through_api:
        assert post(client, BASE, submission(), **headers).status_code == 201
    hotline = core_services.authenticate_api_key(headers["HTTP_AUTHORIZATION"].removeprefix("Bearer "))
    with CaptureQueriesContext(connection) as direct:
        services.submit_case(hotline, source=Source.API, **submission())
    assert len(through_api) == len(direct) + 1, [q["sql"] for q in through_api.captured_queries]
