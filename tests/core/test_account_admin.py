"""Account administration pages: create, grant, revoke, reset, (de)activate — each inside the admin's area."""

import json

import pytest

from gongzhi.core import audit, services
from gongzhi.core.errors import DomainError
from gongzhi.core.models import AuditEntry, RoleGrant, User
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from tests.factories import user_with

PASSWORD = "correct horse 9"
NEW_PASSWORD = "Tiger-lily 2026"


def login(client, username, password):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR="10.1.1.1")


@pytest.fixture
def admin_a(tree):
    """An administrator of community A (马宗岭社区)."""
    return user_with(Role.ADMIN, tree.community_a, username="admin_a")


@pytest.fixture
def worker_b(tree):
    """A grid worker in community B (金鱼社区): outside admin_a's area."""
    return user_with(Role.GRID_WORKER, tree.grid_b1, username="worker_b", phone="13800138000")


def snapshot(user):
    user = User.objects.get(pk=user.pk)
    grants = sorted(RoleGrant.objects.filter(user=user).values_list("role", "region_id"))
    return (user.is_active, user.password, user.real_name, user.title, user.phone, grants)


def test_admin_creates_an_account_with_a_grant(client, tree, admin_a):
    client.force_login(admin_a)
    response = client.post(
        "/admin/accounts/",
        {
            "username": "wang",
            "real_name": "王芳",
            "phone": "139 0000 1234",
            "title": "网格长",
            "password": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "role": Role.GRID_WORKER,
            "region": tree.grid_a2.pk,
        },
    )
    wang = User.objects.get(username="wang")
    assert response.status_code == 302 and response.url == f"/admin/accounts/{wang.pk}/"
    assert wang.check_password(NEW_PASSWORD) and wang.phone == "13900001234" and wang.title == "网格长"
    assert list(wang.grants.values_list("role", "region")) == [(Role.GRID_WORKER, tree.grid_a2.pk)]
    assert AuditEntry.objects.filter(action="account.create", actor=admin_a, object_id=str(wang.pk)).exists()
    grant_entry = AuditEntry.objects.get(action="account.grant", actor=admin_a, object_id=str(wang.pk))
    assert grant_entry.region_path == tree.grid_a2.path
    assert audit.verify().ok
    page = client.get(response.url).content.decode()
    assert "账号“wang”已创建" in page and "王芳" in page and "139****1234" in page
    listing = client.get("/admin/accounts/?q=王").content.decode()
    assert "wang" in listing and "马宗岭第2网格" in listing and "13900001234" not in listing


def test_create_form_errors_are_shown_and_nothing_is_written(client, tree, admin_a):
    client.force_login(admin_a)
    before = User.objects.count()
    base = {"username": "li", "real_name": "李", "role": Role.GRID_WORKER, "region": tree.grid_a1.pk}
    weak = client.post("/admin/accounts/", {**base, "password": "12345678901", "password2": "12345678901"})
    assert weak.status_code == 200 and "errorlist" in weak.content.decode()
    mismatch = client.post("/admin/accounts/", {**base, "password": NEW_PASSWORD, "password2": "x"})
    assert "两次输入的密码不一致" in mismatch.content.decode()
    passwords = {"password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    taken = client.post("/admin/accounts/", {**base, **passwords, "username": "admin_a"})
    assert "已被使用" in taken.content.decode()
    assert User.objects.count() == before


def test_cannot_grant_outside_own_area(client, tree, admin_a):
    client.force_login(admin_a)
    before = (User.objects.count(), RoleGrant.objects.count(), AuditEntry.objects.count())
    response = client.post(
        "/admin/accounts/",
        {
            "username": "zhao",
            "real_name": "赵",
            "password": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "role": Role.GRID_WORKER,
            "region": tree.grid_b1.pk,
        },
    )
    assert response.status_code == 200 and "该区域不在您的管辖范围内" in response.content.decode()
    # The region select offers only the admin's area.
    assert "马宗岭第1网格（510903014006001）" in response.content.decode()
    assert "金鱼第1网格" not in response.content.decode()

    colleague = user_with(Role.GRID_WORKER, tree.grid_a1)
    counts = (User.objects.count(), RoleGrant.objects.count(), AuditEntry.objects.count())
    grant = client.post(
        f"/admin/accounts/{colleague.pk}/grants/", {"role": Role.ADMIN, "region": tree.street.pk}
    )
    assert grant.status_code == 200 and "该区域不在您的管辖范围内" in grant.content.decode()
    assert (User.objects.count(), RoleGrant.objects.count(), AuditEntry.objects.count()) == counts
    assert before[0] + 1 == counts[0]

    # The services refuse too, whatever a caller sends, and write nothing.
    with pytest.raises(DomainError):
        services.grant_role(admin_a, colleague, Role.ADMIN, tree.street)
    with pytest.raises(DomainError):
        services.create_account(
            admin_a, username="zhao", password=NEW_PASSWORD, role=Role.GRID_WORKER, region=tree.grid_b1
        )
    assert not User.objects.filter(username="zhao").exists()
    assert (User.objects.count(), RoleGrant.objects.count(), AuditEntry.objects.count()) == counts


def test_grant_and_revoke_through_the_page(client, tree, admin_a):
    worker = user_with(Role.GRID_WORKER, tree.grid_a1)
    client.force_login(admin_a)
    response = client.post(
        f"/admin/accounts/{worker.pk}/grants/", {"role": Role.COMMUNITY_STAFF, "region": tree.community_a.pk}
    )
    assert response.status_code == 302
    grant = worker.grants.get(role=Role.COMMUNITY_STAFF)
    page = client.get(f"/admin/accounts/{worker.pk}/").content.decode()
    assert "社区工作人员" in page and "data-confirm=" in page
    response = client.post(f"/admin/accounts/{worker.pk}/grants/{grant.pk}/revoke/")
    assert response.status_code == 302 and not worker.grants.filter(pk=grant.pk).exists()
    assert AuditEntry.objects.filter(action="account.revoke", actor=admin_a).exists()
    # Revoking the last grant in the admin's area takes the user out of the admin's list.
    last = worker.grants.get()
    response = client.post(f"/admin/accounts/{worker.pk}/grants/{last.pk}/revoke/")
    assert response.url == "/admin/accounts/"
    assert client.get(f"/admin/accounts/{worker.pk}/").status_code == 404


def test_admin_of_a_cannot_see_or_touch_a_user_of_b(client, tree, admin_a, worker_b):
    client.force_login(admin_a)
    listing = client.get("/admin/accounts/").content.decode()
    assert "admin_a" in listing and "worker_b" not in listing
    assert "worker_b" not in client.get("/admin/accounts/?q=worker").content.decode()
    assert client.get(f"/admin/accounts/{worker_b.pk}/").status_code == 404

    before = snapshot(worker_b)
    audit_count = AuditEntry.objects.count()
    grant_b = worker_b.grants.get()
    posts = [
        (f"/admin/accounts/{worker_b.pk}/", {"real_name": "改名", "title": "x"}),
        (f"/admin/accounts/{worker_b.pk}/grants/", {"role": Role.GRID_WORKER, "region": tree.grid_a1.pk}),
        (f"/admin/accounts/{worker_b.pk}/grants/{grant_b.pk}/revoke/", {}),
        (f"/admin/accounts/{worker_b.pk}/password/", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD}),
        (f"/admin/accounts/{worker_b.pk}/active/", {"active": "0"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code in (403, 404), url
    assert snapshot(worker_b) == before
    assert AuditEntry.objects.count() == audit_count

    for call in (
        lambda: services.set_active(admin_a, worker_b, False),
        lambda: services.reset_password(admin_a, worker_b, NEW_PASSWORD),
        lambda: services.update_profile(admin_a, worker_b, real_name="改名", phone="", title=""),
        lambda: services.revoke_role(admin_a, grant_b),
    ):
        with pytest.raises(DomainError):
            call()
    assert snapshot(worker_b) == before


def test_user_with_a_grant_outside_the_area_is_only_partly_managed(client, tree, admin_a):
    both = user_with(Role.GRID_WORKER, tree.grid_a1, username="both")
    services.grant_role(SYSTEM, both, Role.GRID_WORKER, tree.grid_b1)
    client.force_login(admin_a)
    page = client.get(f"/admin/accounts/{both.pk}/").content.decode()
    assert "不在您的管辖范围" in page and "重置密码" not in page
    before = snapshot(both)
    client.post(f"/admin/accounts/{both.pk}/active/", {"active": "0"})
    client.post(f"/admin/accounts/{both.pk}/password/", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    outside = both.grants.get(region=tree.grid_b1)
    client.post(f"/admin/accounts/{both.pk}/grants/{outside.pk}/revoke/")
    assert snapshot(both) == before
    with pytest.raises(DomainError) as info:
        services.set_active(admin_a, both, False)
    assert info.value.code == "account.outside_scope"


def test_superuser_sees_users_without_grants(client, tree, admin_a):
    loner = user_with(None, None, username="loner")
    client.force_login(admin_a)
    assert "loner" not in client.get("/admin/accounts/").content.decode()
    assert client.get(f"/admin/accounts/{loner.pk}/").status_code == 404
    root = User.objects.create_superuser("root", password=PASSWORD)
    client.force_login(root)
    assert "loner" in client.get("/admin/accounts/").content.decode()
    assert client.get(f"/admin/accounts/{loner.pk}/").status_code == 200


def test_deactivated_user_cannot_log_in(client, tree, admin_a):
    worker = user_with(Role.GRID_WORKER, tree.grid_a1, username="liu")
    client.force_login(admin_a)
    response = client.post(f"/admin/accounts/{worker.pk}/active/", {"active": "0"})
    assert response.status_code == 302 and not User.objects.get(pk=worker.pk).is_active
    entry = AuditEntry.objects.get(action="account.deactivate", object_id=str(worker.pk))
    assert entry.actor == admin_a and entry.region_path == tree.grid_a1.path

    client.post("/logout/")
    refused = login(client, "liu", PASSWORD)
    assert refused.status_code == 200 and "用户名或密码错误" in refused.content.decode()

    services.set_active(admin_a, worker, True)
    assert AuditEntry.objects.filter(action="account.activate", object_id=str(worker.pk)).exists()
    assert login(client, "liu", PASSWORD).status_code == 302


def test_deactivation_ends_an_open_session(client, tree, admin_a):
    worker = user_with(Role.GRID_WORKER, tree.grid_a1)
    client.force_login(worker)
    assert client.get("/").status_code == 200
    services.set_active(admin_a, worker, False)
    assert client.get("/").status_code == 302


def test_admin_cannot_deactivate_themselves(client, tree, admin_a):
    client.force_login(admin_a)
    response = client.post(f"/admin/accounts/{admin_a.pk}/active/", {"active": "0"}, follow=True)
    assert "不能停用自己的账号" in response.content.decode()
    assert User.objects.get(pk=admin_a.pk).is_active
    assert not AuditEntry.objects.filter(action="account.deactivate").exists()


def test_reset_password(client, tree, admin_a):
    worker = user_with(Role.GRID_WORKER, tree.grid_a1, username="liu")
    client.force_login(admin_a)
    weak = client.post(
        f"/admin/accounts/{worker.pk}/password/", {"password": "12345678901", "password2": "12345678901"}
    )
    assert weak.status_code == 200 and "errorlist" in weak.content.decode()
    assert User.objects.get(pk=worker.pk).check_password(PASSWORD)

    response = client.post(
        f"/admin/accounts/{worker.pk}/password/", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="account.password_reset")
    assert entry.actor == admin_a and entry.object_id == str(worker.pk)
    stored = User.objects.get(pk=worker.pk).password
    text = json.dumps([entry.before, entry.after, entry.object_repr], ensure_ascii=False)
    assert NEW_PASSWORD not in text and stored not in text

    client.post("/logout/")
    assert login(client, "liu", PASSWORD).status_code == 200
    assert login(client, "liu", NEW_PASSWORD).status_code == 302


def test_profile_update_audits_the_masked_phone_only(client, tree, admin_a):
    worker = user_with(Role.GRID_WORKER, tree.grid_a1, phone="13800138000")
    client.force_login(admin_a)
    page = client.get(f"/admin/accounts/{worker.pk}/").content.decode()
    assert "13800138000" not in page and "138****8000" in page  # administrators do not read phones

    bad = client.post(f"/admin/accounts/{worker.pk}/", {"real_name": "刘", "phone": "12345", "title": ""})
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    assert User.objects.get(pk=worker.pk).phone == "13800138000"

    response = client.post(
        f"/admin/accounts/{worker.pk}/", {"real_name": "刘强", "phone": "139-0000-5678", "title": "网格长"}
    )
    assert response.status_code == 302
    worker.refresh_from_db()
    assert (worker.real_name, worker.phone, worker.title) == ("刘强", "13900005678", "网格长")
    entry = AuditEntry.objects.get(action="account.update")
    assert entry.before["phone"] == "138****8000" and entry.after["phone"] == "139****5678"
    assert entry.after["real_name"] == "刘强" and entry.after["title"] == "网格长"
    text = json.dumps([entry.before, entry.after], ensure_ascii=False)
    assert "13800138000" not in text and "13900005678" not in text

    # An empty phone field keeps the number; the checkbox clears it.
    client.post(f"/admin/accounts/{worker.pk}/", {"real_name": "刘强", "phone": "", "title": "网格长"})
    assert User.objects.get(pk=worker.pk).phone == "13900005678"
    assert AuditEntry.objects.filter(action="account.update").count() == 1
    clear = {"real_name": "刘强", "phone": "", "clear_phone": "on", "title": "网格长"}
    client.post(f"/admin/accounts/{worker.pk}/", clear)
    assert User.objects.get(pk=worker.pk).phone is None


@pytest.mark.parametrize(
    "role,region_attr",
    [
        (Role.RESIDENT, "community_a"),
        (Role.GRID_WORKER, "grid_a1"),
        (Role.COMMUNITY_STAFF, "community_a"),
        (Role.STREET_STAFF, "street"),
        (Role.DEPARTMENT_STAFF, "county"),
        (Role.LEADER, "street"),
    ],
)
def test_other_roles_are_refused(client, tree, role, region_attr):
    colleague = user_with(Role.GRID_WORKER, tree.grid_a1)
    client.force_login(user_with(role, getattr(tree, region_attr)))
    response = client.get("/admin/accounts/")
    assert response.status_code == 403 and "没有权限" in response.content.decode()
    assert client.get(f"/admin/accounts/{colleague.pk}/").status_code == 403
    assert client.post(f"/admin/accounts/{colleague.pk}/active/", {"active": "0"}).status_code == 403
    assert User.objects.get(pk=colleague.pk).is_active
    assert "账号管理" not in client.get("/").content.decode()


def test_admin_sees_the_menu_entry(client, tree, admin_a):
    client.force_login(admin_a)
    page = client.get("/").content.decode()
    assert "账号管理" in page and 'href="/admin/accounts/"' in page


def test_anonymous_is_sent_to_login(client, db):
    response = client.get("/admin/accounts/")
    assert response.status_code == 302 and response.url.startswith("/login/")
