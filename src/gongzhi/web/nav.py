"""Navigation and home-page tiles by role. Modules add their entries with `register`.

An entry is shown when the user may do its `action` somewhere; entries whose module is not built
yet (url_name None) appear on home pages as "建设中" so each role sees where the platform is going.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from gongzhi.core.roles import Role


@dataclass(frozen=True)
class Entry:
    key: str
    title: str
    description: str
    roles: frozenset[str]
    url_name: str | None = None
    action: str | None = None
    in_menu: bool = True

    @property
    def url(self) -> str | None:
        return reverse(self.url_name) if self.url_name else None


STAFF = frozenset(
    {
        Role.GRID_WORKER,
        Role.COMMUNITY_STAFF,
        Role.STREET_STAFF,
        Role.DEPARTMENT_STAFF,
        Role.LEADER,
        Role.ADMIN,
    }
)
ENTRIES: list[Entry] = [
    Entry(
        "regions",
        _("区域网格"),
        _("街道、社区（村）和网格的划分与网格员"),
        STAFF,
        "region_list",
        "region.view",
    ),
    Entry(
        "people",
        _("人房台账"),
        _("实有人口、房屋、户和单位组织"),
        frozenset({Role.GRID_WORKER, Role.COMMUNITY_STAFF, Role.STREET_STAFF}),
    ),
    Entry(
        "cases",
        _("诉求事件"),
        _("受理、派遣、处置、核查、评价的闭环"),
        frozenset(
            {Role.GRID_WORKER, Role.COMMUNITY_STAFF, Role.STREET_STAFF, Role.DEPARTMENT_STAFF, Role.LEADER}
        ),
    ),
    Entry("report", _("随手拍"), _("拍照上报身边的问题，跟踪办理进度"), frozenset({Role.RESIDENT})),
    Entry("my_requests", _("我的诉求"), _("查看办理进度并评价"), frozenset({Role.RESIDENT})),
    Entry(
        "deliberation",
        _("协商议事"),
        _("提议、四议两公开、表决"),
        frozenset({Role.RESIDENT, Role.COMMUNITY_STAFF, Role.STREET_STAFF}),
    ),
    Entry(
        "disclosure",
        _("三务公开"),
        _("党务、村（居）务、财务公开"),
        frozenset({Role.RESIDENT, Role.COMMUNITY_STAFF, Role.STREET_STAFF, Role.LEADER}),
    ),
    Entry(
        "volunteers",
        _("志愿服务"),
        _("志愿者、活动与时间银行"),
        frozenset({Role.RESIDENT, Role.COMMUNITY_STAFF}),
    ),
    Entry(
        "care",
        _("关爱走访"),
        _("特殊人群走访与矛盾纠纷调解"),
        frozenset({Role.GRID_WORKER, Role.COMMUNITY_STAFF}),
    ),
    Entry(
        "servicehall",
        _("便民服务"),
        _("办事指南、在线申请与证明"),
        frozenset({Role.RESIDENT, Role.COMMUNITY_STAFF}),
    ),
    Entry("insight", _("数据驾驶舱"), _("指标、考核与社区画像"), frozenset({Role.LEADER, Role.STREET_STAFF})),
    Entry(
        "accounts",
        _("账号管理"),
        _("账号、角色与授权"),
        frozenset({Role.ADMIN}),
        "account_list",
        "account.manage",
    ),
    Entry(
        "api_keys",
        _("接口密钥"),
        _("为外部系统签发和吊销访问密钥"),
        frozenset({Role.ADMIN}),
        "api_keys",
        "apikey.manage",
    ),
    Entry(
        "audit",
        _("审计日志"),
        _("所有操作与个人信息查看记录"),
        frozenset({Role.ADMIN, Role.LEADER}),
        "audit_log",
        "audit.view",
    ),
]


def register(entry: Entry) -> None:
    """A module announces its page; replaces the placeholder with the same key."""
    for i, existing in enumerate(ENTRIES):
        if existing.key == entry.key:
            ENTRIES[i] = entry
            return
    ENTRIES.append(entry)


def entries_for(user, roles: set[str]) -> list[Entry]:
    from gongzhi.core import scopes

    if getattr(user, "is_superuser", False):
        roles = roles | {Role.ADMIN}
    shown = []
    for entry in ENTRIES:
        if not roles & entry.roles:
            continue
        if entry.action and not scopes.can(user, entry.action):
            continue
        shown.append(entry)
    return shown
