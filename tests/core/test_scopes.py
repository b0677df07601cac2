"""A user never sees outside their scope — on the page, through the API, or in an export."""

import io

import pytest
from openpyxl import load_workbook

from gongzhi.core import scopes, services
from gongzhi.core.errors import PermissionDenied
from gongzhi.core.models import Region
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from tests.factories import user_with


@pytest.fixture
def grid_worker(tree):
    return user_with(Role.GRID_WORKER, tree.grid_a1, username="gw_a1")


def test_visible_is_the_union_of_granted_subtrees(tree):
    user = user_with(Role.COMMUNITY_STAFF, tree.community_a)
    services.grant_role(SYSTEM, user, Role.GRID_WORKER, tree.grid_b1)
    codes = set(scopes.visible(Region.objects.all(), user).values_list("code", flat=True))
    assert codes == {tree.community_a.code, tree.grid_a1.code, tree.grid_a2.code, tree.grid_b1.code}


def test_grid_worker_sees_only_their_grid(tree, grid_worker):
    codes = list(scopes.visible(Region.objects.all(), grid_worker).values_list("code", flat=True))
    assert codes == [tree.grid_a1.code]


def test_resident_role_gives_no_staff_view(tree):
    resident = user_with(Role.RESIDENT, tree.community_a)
    assert not scopes.visible(Region.objects.all(), resident).exists()
    assert not scopes.can(resident, "region.view")


def test_require_checks_both_action_and_place(tree, grid_worker):
    scopes.require(grid_worker, "region.view", tree.grid_a1)
    with pytest.raises(PermissionDenied):
        scopes.require(grid_worker, "region.view", tree.grid_a2)
    with pytest.raises(PermissionDenied):
        scopes.require(grid_worker, "region.manage", tree.grid_a1)


def test_leader_views_but_cannot_reveal(tree):
    leader = user_with(Role.LEADER, tree.street)
    assert scopes.can(leader, "region.view", tree.grid_b1)
    assert not scopes.can(leader, "pdata.reveal", tree.grid_b1)


def test_anonymous_and_inactive_see_nothing(tree, grid_worker):
    from django.contrib.auth.models import AnonymousUser

    assert not scopes.visible(Region.objects.all(), AnonymousUser()).exists()
    grid_worker.is_active = False
    assert not scopes.visible(Region.objects.all(), grid_worker).exists()


def test_prefix_match_does_not_leak_to_sibling_codes(db):
    """'5109/' must not match '51090/': paths end in a slash."""
    from tests.factories import region

    a = region("51", "A", "province")
    region("5109", "B", "city", a)
    other = region("52", "C", "province")
    region("5201", "D", "city", other)
    user = user_with(Role.LEADER, a)
    assert set(scopes.visible(Region.objects.all(), user).values_list("code", flat=True)) == {"51", "5109"}


# ---- the three paths a record can leave through: page, API, export


def test_page_hides_another_grid(client, tree, grid_worker):
    client.force_login(grid_worker)
    assert client.get(f"/regions/{tree.grid_a1.code}/").status_code == 200
    assert client.get(f"/regions/{tree.grid_a2.code}/").status_code == 404
    listing = client.get("/regions/").content.decode()
    assert tree.grid_a1.code in listing and tree.grid_a2.code not in listing


def test_api_hides_another_grid(client, tree, grid_worker):
    client.force_login(grid_worker)
    assert client.get(f"/api/v1/regions/{tree.grid_a1.code}").status_code == 200
    response = client.get(f"/api/v1/regions/{tree.grid_a2.code}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    codes = [r["code"] for r in client.get("/api/v1/regions").json()]
    assert codes == [tree.grid_a1.code]


def test_export_hides_another_grid(client, tree, grid_worker):
    client.force_login(grid_worker)
    response = client.get("/regions/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    codes = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert codes == [tree.grid_a1.code]


def test_api_key_is_bound_to_its_region_and_actions(client, tree):
    key, token = services.create_api_key(
        SYSTEM, name="热线", region=tree.community_b, actions=["region.view"]
    )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    codes = {r["code"] for r in client.get("/api/v1/regions", **auth).json()}
    assert codes == {tree.community_b.code, tree.grid_b1.code}
    assert client.get(f"/api/v1/regions/{tree.grid_a1.code}", **auth).status_code == 404


def test_revoked_or_wrong_key_is_refused(client, tree):
    key, token = services.create_api_key(SYSTEM, name="热线", region=tree.street, actions=["region.view"])
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}x").status_code == 401
    services.revoke_api_key(SYSTEM, key)
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert response.json() == {"code": "unauthenticated", "message": "需要登录或有效的接口密钥"}


def test_key_without_the_action_sees_nothing(client, tree):
    _, token = services.create_api_key(SYSTEM, name="只审计", region=tree.street, actions=["audit.view"])
    assert client.get("/api/v1/regions", HTTP_AUTHORIZATION=f"Bearer {token}").json() == []
