"""API contract: authentication, errors as {code, message}, OpenAPI."""

from gongzhi.core import services
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from tests.factories import user_with


def test_unauthenticated_gets_401_json(client, db):
    response = client.get("/api/v1/regions")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_me_for_session_and_key(client, tree):
    user = user_with(Role.GRID_WORKER, tree.grid_a1)
    client.force_login(user)
    me = client.get("/api/v1/me").json()
    assert me["kind"] == "user"
    assert me["roles"] == [
        {
            "role": "grid_worker",
            "role_name": "网格员",
            "region": tree.grid_a1.code,
            "region_name": tree.grid_a1.name,
        }
    ]
    assert "pdata.reveal" in me["actions"] and "region.manage" not in me["actions"]
    client.logout()
    _, token = services.create_api_key(SYSTEM, name="热线", region=tree.street, actions=["region.view"])
    me = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert me == {"kind": "api_key", "name": "热线", "roles": [], "actions": ["region.view"]}


def test_validation_errors_list_every_bad_field(client, tree):
    client.force_login(user_with(Role.STREET_STAFF, tree.street))
    response = client.get("/api/v1/locate", {"lon": 500, "lat": "north", "system": "utm"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error" and body["message"] == "请求数据有误"
    assert {d["field"] for d in body["details"]} == {"lon", "lat", "system"}


def test_permission_error_is_403_with_code(client, tree):
    client.force_login(user_with(Role.RESIDENT, tree.community_a))
    response = client.get("/api/v1/locate", {"lon": 105.585, "lat": 30.455})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_region_detail_masks_grid_worker_phones(client, tree):
    user_with(Role.GRID_WORKER, tree.grid_a1, phone="13900001006")
    client.force_login(user_with(Role.COMMUNITY_STAFF, tree.community_a))
    body = client.get(f"/api/v1/regions/{tree.grid_a1.code}").json()
    assert body["grid_workers"][0]["phone"] == "139****1006"
    assert body["parent_code"] == tree.community_a.code
    assert body["division_code"] == ""


def test_session_writes_need_csrf(tree):
    import json

    from django.test import Client

    # Session-authenticated unsafe requests without a CSRF token are refused by the API.
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user_with(Role.COMMUNITY_STAFF, tree.community_a))
    response = strict.post(
        "/api/v1/people/residents",
        json.dumps({"grid": tree.grid_a1.code, "name": "张三"}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert response.json() == {"code": "csrf_failed", "message": "跨站请求校验（CSRF）失败，请刷新页面后重试"}


def test_openapi_schema_and_docs_page(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "共治 Gongzhi API"
    assert "/api/v1/regions/{code}" in schema["paths"]
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKeyAuth"] == {"type": "http", "scheme": "bearer"}
    assert schemes["StaffSession"]["in"] == "cookie"
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.content.decode().lower()  # served from our own static files, works offline
