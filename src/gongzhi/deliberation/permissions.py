"""Actions of the deliberation module, the roles that hold them, and its menu entries.

Residents act as themselves (support, vote) and need no region action: what they may do follows from
their own record in `people` (where they live, what they own, the electorate of each vote).
"""

from django.utils.translation import gettext_lazy as _

from gongzhi.core.roles import Role, register_actions
from gongzhi.web import nav

register_actions(
    {
        "deliberation.view": _("查看议题、表决与结果"),
        "deliberation.manage": _("组织议事：答复提议、建立议题、记录步骤、管理表决"),
        "deliberation.count": _("录入和确认纸质选票"),
    },
    {
        Role.COMMUNITY_STAFF: {"deliberation.view", "deliberation.manage", "deliberation.count"},
        Role.STREET_STAFF: {"deliberation.view", "deliberation.manage", "deliberation.count"},
        Role.LEADER: {"deliberation.view"},
    },
)

nav.register(
    nav.Entry(
        "deliberation",
        _("协商议事"),
        _("民主提事、四议两公开、业主大会与居民会议表决"),
        frozenset({Role.COMMUNITY_STAFF, Role.STREET_STAFF, Role.LEADER}),
        "deliberation:home",
        "deliberation.view",
    )
)
nav.register(
    nav.Entry(
        "proposals",
        _("议事厅"),
        _("提建议、许微心愿、附议和投票"),
        frozenset({Role.RESIDENT}),
        "deliberation:resident_home",
    )
)
