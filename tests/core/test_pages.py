"""The web shell: home page per role, navigation, security headers, error pages, language switch."""

import pytest

from gongzhi.core.roles import Role
from tests.factories import user_with


def test_anonymous_is_sent_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_csp_and_security_headers(client, db):
    response = client.get("/login/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in response.content.decode()  # no inline scripts


@pytest.mark.parametrize(
    "role,region_attr,shows,hides",
    [
        (Role.RESIDENT, "community_a", ["随手拍", "我的诉求"], ["区域网格", "接口密钥"]),
        (Role.GRID_WORKER, "grid_a1", ["区域网格", "人房台账"], ["接口密钥", "审计日志", "随手拍"]),
        (Role.COMMUNITY_STAFF, "community_a", ["区域网格", "诉求事件"], ["接口密钥"]),
        (Role.STREET_STAFF, "street", ["区域网格", "数据驾驶舱"], ["接口密钥"]),
        (Role.DEPARTMENT_STAFF, "county", ["诉求事件"], ["人房台账", "审计日志"]),
        (Role.LEADER, "street", ["数据驾驶舱", "审计日志", "人房台账"], ["接口密钥"]),
        (Role.ADMIN, "county", ["接口密钥", "审计日志"], ["随手拍"]),
    ],
)
def test_home_page_per_role(client, tree, role, region_attr, shows, hides):
    client.force_login(user_with(role, getattr(tree, region_attr)))
    page = client.get("/").content.decode()
    assert f'data-role="{role}"' in page
    for text in shows:
        assert text in page, text
    for text in hides:
        assert text not in page, text


def test_error_pages_are_chinese(client, tree):
    client.force_login(user_with(Role.GRID_WORKER, tree.grid_a1))
    response = client.get("/regions/999999/")
    assert response.status_code == 404 and "找不到" in response.content.decode()
    response = client.get("/admin/api-keys/")
    assert response.status_code == 403 and "没有权限" in response.content.decode()


def test_english_is_available(client, tree):
    client.force_login(user_with(Role.GRID_WORKER, tree.grid_a1))
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/").content.decode()
    assert "Grid worker" in page and "Regions and grids" in page
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "网格员" in client.get("/").content.decode()


def test_audit_log_page_is_scoped(client, tree):
    worker = user_with(Role.GRID_WORKER, tree.grid_a1)  # the grant is audited in grid a1
    client.force_login(user_with(Role.LEADER, tree.community_b))
    assert worker.real_name not in client.get("/admin/audit/").content.decode()
    client.force_login(user_with(Role.LEADER, tree.street))
    assert worker.real_name in client.get("/admin/audit/").content.decode()


def test_api_key_page_shows_key_once(client, tree):
    client.force_login(user_with(Role.ADMIN, tree.county))
    response = client.post(
        "/admin/api-keys/", {"name": "12345 热线", "region": tree.street.pk, "actions": ["region.view"]}
    )
    page = response.content.decode()
    assert "只显示这一次" in page and "gz_" in page
    again = client.get("/admin/api-keys/").content.decode()
    assert "12345 热线" in again and "只显示这一次" not in again


def test_nul_characters_are_refused_everywhere(client, tree):
    client.force_login(user_with(Role.GRID_WORKER, tree.grid_a1))
    response = client.get("/api/v1/regions", {"q": "a\x00b"})
    assert response.status_code == 400 and response.json()["code"] == "bad_characters"
    assert client.get("/regions/", {"q": "\x00"}).status_code == 400


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        ('{"name": "a\\u0000b"}', True),  # escaped NUL
        ('{"name": "a\\\\\\u0000b"}', True),  # an escaped backslash, then an escaped NUL
        ('{"name": "C:\\\\u0000"}', False),  # an escaped backslash followed by the text u0000
        ('{"name": "张三"}', False),
    ],
)
def test_nul_characters_in_json_bodies(client, tree, body, refused):
    client.force_login(user_with(Role.GRID_WORKER, tree.grid_a1))
    response = client.post("/api/v1/people/residents", body, content_type="application/json")
    assert (response.status_code == 400 and response.json()["code"] == "bad_characters") is refused
    assert response.status_code != 500
