"""Sign-in, lockout after repeated failures, password change, and the login page."""

import datetime as dt

import pytest
from django.conf import settings
from django.test import override_settings

from gongzhi.core import services
from gongzhi.core.errors import DomainError
from gongzhi.core.models import AuditEntry, User
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from tests.factories import user_with

PASSWORD = "correct horse 9"


def login(client, username, password, ip="10.1.1.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_production_hashes_with_argon2():
    from gongzhi import settings as project_settings

    assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.Argon2PasswordHasher"])
def test_passwords_are_stored_as_argon2(db):
    user = user_with(None, None, password=PASSWORD)
    assert User.objects.get(pk=user.pk).password.startswith("argon2$")


def test_login_success_lands_on_home_and_is_audited(client, tree):
    user = user_with(Role.GRID_WORKER, tree.grid_a1, username="liu")
    response = login(client, "liu", PASSWORD)
    assert response.status_code == 302 and response.url == "/"
    assert AuditEntry.objects.filter(action="auth.login", actor=user, ip="10.1.1.1").exists()


def test_wrong_password_message(client, tree):
    user_with(Role.GRID_WORKER, tree.grid_a1, username="liu")
    response = login(client, "liu", "wrong")
    assert "用户名或密码错误" in response.content.decode()


def test_account_locks_after_five_failures_in_fifteen_minutes(client, tree, frozen_clock):
    user_with(Role.GRID_WORKER, tree.grid_a1, username="liu")
    for i in range(4):
        assert "用户名或密码错误" in login(client, "liu", "wrong", ip=f"10.0.0.{i}").content.decode()
    fifth = login(client, "liu", "wrong", ip="10.0.0.9").content.decode()
    assert "该账号登录失败次数过多" in fifth
    # Now even the right password is refused, from any address.
    refused = login(client, "liu", PASSWORD, ip="10.9.9.9")
    assert refused.status_code == 200 and "已临时锁定" in refused.content.decode()
    assert AuditEntry.objects.filter(action="auth.locked").count() == 1
    assert AuditEntry.objects.filter(action="auth.login_failed").count() == 5
    # Fifteen minutes after the first failure the window has moved on.
    frozen_clock.advance(minutes=settings.GONGZHI_LOGIN_WINDOW_MINUTES, seconds=1)
    assert login(client, "liu", PASSWORD, ip="10.9.9.9").status_code == 302


def test_failures_spread_over_more_than_the_window_do_not_lock(client, tree, frozen_clock):
    user_with(Role.GRID_WORKER, tree.grid_a1, username="liu")
    for _ in range(4):
        login(client, "liu", "wrong", ip=None or "10.0.0.1")
        frozen_clock.advance(minutes=5)
    assert login(client, "liu", PASSWORD, ip="10.0.0.1").status_code == 302


def test_address_locks_after_five_failures_across_accounts(client, tree, frozen_clock):
    user_with(Role.GRID_WORKER, tree.grid_a1, username="liu")
    for i in range(5):
        login(client, f"guess{i}", "wrong", ip="203.0.113.7")
    response = login(client, "liu", PASSWORD, ip="203.0.113.7")
    assert "此地址登录失败次数过多" in response.content.decode()
    assert login(client, "liu", PASSWORD, ip="203.0.113.8").status_code == 302


def test_successful_login_clears_the_account_counter(client, tree, frozen_clock):
    user_with(Role.GRID_WORKER, tree.grid_a1, username="liu")
    for _ in range(4):
        login(client, "liu", "wrong")
    assert login(client, "liu", PASSWORD).status_code == 302
    client.post("/logout/")
    for i in range(4):
        login(client, "liu", "wrong", ip=f"10.2.0.{i}")
    assert login(client, "liu", PASSWORD, ip="10.3.0.1").status_code == 302


def test_prune_job_removes_only_expired_failures(tree, frozen_clock):
    from gongzhi.core.models import LoginFailure
    from gongzhi.core.tasks import prune_login_failures

    services.record_login_failure("liu", "10.0.0.1")
    frozen_clock.advance(minutes=20)
    services.record_login_failure("liu", "10.0.0.1")
    assert prune_login_failures() == 1
    assert LoginFailure.objects.count() == 1


def test_logout_needs_post_and_is_audited(client, tree):
    user = user_with(Role.GRID_WORKER, tree.grid_a1)
    client.force_login(user)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302 and response.url == "/login/"
    assert AuditEntry.objects.filter(action="auth.logout", actor=user).exists()
    assert client.get("/").status_code == 302


def test_password_change(client, tree):
    user = user_with(Role.GRID_WORKER, tree.grid_a1)
    client.force_login(user)
    wrong = client.post(
        "/account/password/",
        {"old_password": "nope", "new_password": "Tiger-lily 2026", "new_password2": "Tiger-lily 2026"},
    )
    assert "原密码不正确" in wrong.content.decode()
    weak = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password": "12345678901", "new_password2": "12345678901"},
    )
    assert weak.status_code == 200 and "密码" in weak.content.decode()
    ok = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password": "Tiger-lily 2026", "new_password2": "Tiger-lily 2026"},
    )
    assert ok.status_code == 302
    assert User.objects.get(pk=user.pk).check_password("Tiger-lily 2026")
    assert AuditEntry.objects.filter(action="account.password_change", actor=user).exists()
    assert client.get("/").status_code == 200  # still signed in


def test_create_user_validation(db):
    with pytest.raises(DomainError, match="手机"):
        services.create_user(SYSTEM, username="x", password=None, phone="12345")
    services.create_user(SYSTEM, username="x", password=None)
    with pytest.raises(DomainError) as info:
        services.create_user(SYSTEM, username="x", password=None)
    assert info.value.code == "account.username_taken"


def test_only_account_managers_grant_roles(tree):
    staff = user_with(Role.COMMUNITY_STAFF, tree.community_a)
    admin = user_with(Role.ADMIN, tree.community_a)
    target = user_with(None, None)
    with pytest.raises(DomainError):
        services.grant_role(staff, target, Role.GRID_WORKER, tree.grid_a1)
    with pytest.raises(DomainError):
        services.grant_role(admin, target, Role.GRID_WORKER, tree.grid_b1)  # outside the admin's area
    services.grant_role(admin, target, Role.GRID_WORKER, tree.grid_a1)
    assert target.grants.count() == 1


def test_window_length_is_configured():
    assert dt.timedelta(minutes=settings.GONGZHI_LOGIN_WINDOW_MINUTES) == dt.timedelta(minutes=15)
    assert settings.GONGZHI_LOGIN_MAX_FAILURES == 5
