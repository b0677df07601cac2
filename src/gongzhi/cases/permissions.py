"""Actions of the cases module, the roles that hold them, and its menu entries.

Handling a case (sign, reply, return, escalate) is not a region action: it belongs to the members of
the unit the case was dispatched to, wherever they sit (a district department serves many streets).
"""

from django.utils.translation import gettext_lazy as _

from gongzhi.core.roles import Role, register_actions
from gongzhi.web import nav

register_actions(
    {
        "cases.view": _("查看诉求事件"),
        "cases.report": _("录入诉求事件（巡查、热线、转办）"),
        "cases.dispatch": _("受理、派遣、结案与回访"),
        "cases.verify": _("现场核查"),
        "cases.kpi": _("查看办理考核指标"),
        "cases.configure": _("维护事件分类、处置单位和派遣规则"),
        "cases.submit": _("通过接口提交诉求"),
    },
    {
        Role.GRID_WORKER: {"cases.view", "cases.report", "cases.verify"},
        Role.COMMUNITY_STAFF: {"cases.view", "cases.report", "cases.dispatch", "cases.verify", "cases.kpi"},
        Role.STREET_STAFF: {"cases.view", "cases.report", "cases.dispatch", "cases.kpi"},
        Role.DEPARTMENT_STAFF: {"cases.report"},
        Role.LEADER: {"cases.view", "cases.kpi"},
        Role.ADMIN: {"cases.configure"},
    },
)

nav.register(
    nav.Entry(
        "cases",
        _("诉求事件"),
        _("受理、派遣、处置、核查、评价的闭环"),
        frozenset(
            {Role.GRID_WORKER, Role.COMMUNITY_STAFF, Role.STREET_STAFF, Role.DEPARTMENT_STAFF, Role.LEADER}
        ),
        "cases:home",
    )
)
nav.register(
    nav.Entry(
        "report",
        _("随手拍"),
        _("拍照上报身边的问题，跟踪办理进度"),
        frozenset({Role.RESIDENT}),
        "cases:report",
    )
)
nav.register(
    nav.Entry("my_requests", _("我的诉求"), _("查看办理进度并评价"), frozenset({Role.RESIDENT}), "cases:mine")
)
nav.register(
    nav.Entry(
        "case_config",
        _("事件配置"),
        _("事件分类、时限、处置单位与派遣规则（权责清单）"),
        frozenset({Role.ADMIN}),
        "cases:config",
        "cases.configure",
    )
)
