"""Roles and the actions each may take inside the region subtree where it is granted.

Actions are "<area>.<verb>" strings; later modules add theirs with `register_actions`.
API keys carry a subset of the same actions.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    RESIDENT = "resident", _("居民")
    GRID_WORKER = "grid_worker", _("网格员")
    COMMUNITY_STAFF = "community_staff", _("社区工作人员")
    STREET_STAFF = "street_staff", _("街道工作人员")
    DEPARTMENT_STAFF = "department_staff", _("部门工作人员")
    LEADER = "leader", _("领导")
    ADMIN = "admin", _("管理员")


# Most senior first: decides which home page a user with several roles sees.
ROLE_PRIORITY = [
    Role.ADMIN,
    Role.LEADER,
    Role.STREET_STAFF,
    Role.DEPARTMENT_STAFF,
    Role.COMMUNITY_STAFF,
    Role.GRID_WORKER,
    Role.RESIDENT,
]

ACTIONS: dict[str, str] = {
    "region.view": _("查看区域与网格"),
    "region.export": _("导出区域台账"),
    "region.manage": _("维护区域与网格"),
    "pdata.reveal": _("查看完整个人信息"),
    "account.manage": _("管理账号与授权"),
    "apikey.manage": _("管理接口密钥"),
    "audit.view": _("查看审计日志"),
}

# Separation of duties: administrators manage accounts and keys but do not read personal data;
# leaders see everything in their area but reveal nothing.
ROLE_ACTIONS: dict[str, set[str]] = {
    Role.RESIDENT: set(),
    Role.GRID_WORKER: {"region.view", "region.export", "pdata.reveal"},
    Role.COMMUNITY_STAFF: {"region.view", "region.export", "pdata.reveal"},
    Role.STREET_STAFF: {"region.view", "region.export", "pdata.reveal"},
    Role.DEPARTMENT_STAFF: {"region.view"},
    Role.LEADER: {"region.view", "region.export", "audit.view"},
    Role.ADMIN: {
        "region.view",
        "region.export",
        "region.manage",
        "account.manage",
        "apikey.manage",
        "audit.view",
    },
}


def register_actions(actions: dict[str, str], grants: dict[str, set[str]]) -> None:
    """Let a module add its actions and say which roles hold them."""
    ACTIONS.update(actions)
    for role, extra in grants.items():
        ROLE_ACTIONS[role] |= set(extra)


def role_allows(role: str, action: str) -> bool:
    return action in ROLE_ACTIONS.get(role, set())
