"""Actions of the people module and the roles that hold them; its menu entry."""

from django.utils.translation import gettext_lazy as _

from gongzhi.core.roles import Role, register_actions
from gongzhi.web import nav

register_actions(
    {
        "people.view": _("查看人房台账"),
        "people.edit": _("维护人房台账"),
        "people.import": _("导入人房台账"),
        "people.export": _("导出人房台账"),
        "people.merge": _("合并重复人员"),
        "people.tags": _("维护人员标签"),
    },
    {
        # Grid workers keep their grid's ledger (ARCHITECTURE §1), so they may load its spreadsheet too.
        Role.GRID_WORKER: {"people.view", "people.edit", "people.import", "people.export", "people.tags"},
        Role.COMMUNITY_STAFF: {
            "people.view",
            "people.edit",
            "people.import",
            "people.export",
            "people.merge",
            "people.tags",
        },
        Role.STREET_STAFF: {
            "people.view",
            "people.edit",
            "people.import",
            "people.export",
            "people.merge",
            "people.tags",
        },
        Role.LEADER: {"people.view"},
    },
)

nav.register(
    nav.Entry(
        "people",
        _("人房台账"),
        _("实有人口、房屋、户和单位组织"),
        frozenset({Role.GRID_WORKER, Role.COMMUNITY_STAFF, Role.STREET_STAFF, Role.LEADER}),
        "people:search",
        "people.view",
    )
)
