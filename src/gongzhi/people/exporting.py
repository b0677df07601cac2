"""台账导出: the scoped resident list as .xlsx, masked unless the user may and asks to reveal.

The columns are the import template's, so an export (revealed) can be edited and imported again.
"""

from __future__ import annotations

import tempfile

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from gongzhi.core import audit, exports, scopes
from gongzhi.core.errors import PermissionDenied
from gongzhi.people.models import Resident

EXPORT_HEADER = [
    "姓名",
    "证件类型",
    "证件号码",
    "性别",
    "出生日期",
    "联系电话",
    "民族",
    "政治面貌",
    "人口类型",
    "与户主关系",
    "现住址",
    "迁入日期",
    "网格",
    "网格名称",
    "户号",
    "小区",
    "楼栋",
    "房号",
    "状态",
]
WIDTHS = [10, 14, 22, 6, 12, 16, 8, 12, 10, 12, 40, 12, 18, 16, 10, 14, 10, 12, 8]


def exportable(actor, residents: QuerySet[Resident]) -> QuerySet[Resident]:
    """Narrow a (view-scoped) resident list to where the actor may also export."""
    return scopes.visible(residents, actor, "people.export")


def may_reveal_all(actor, residents: QuerySet[Resident]) -> bool:
    """Full numbers only when the actor may reveal personal data for EVERY exported person's grid."""
    paths = scopes.paths_for(actor, "pdata.reveal")
    if paths is None:
        return True
    if not paths:
        return False
    inside = Q()
    for path in paths:
        inside |= Q(region__path__startswith=path)
    return not residents.exclude(inside).exists()


def _row(r: Resident, reveal: bool) -> list:
    unit = r.unit
    return [
        r.name,
        r.get_id_type_display(),
        (r.id_number or "") if reveal else r.masked_id,
        r.get_sex_display(),
        r.birth_date.isoformat() if r.birth_date else "",
        (r.phone or "") if reveal else r.masked_phone,
        r.ethnicity,
        r.get_political_status_display(),
        r.get_residence_type_display(),
        r.get_relation_display(),
        r.address,
        r.moved_in_on.isoformat() if r.moved_in_on else "",
        r.region.code,
        r.region.name,
        r.household.number if r.household else "",
        unit.building.compound if unit else "",
        unit.building.name if unit else "",
        unit.label if unit else "",
        r.get_status_display(),
    ]


@transaction.atomic
def export_residents(actor, residents: QuerySet[Resident], *, reveal: bool = False, query: str = "", ip=None):
    """Write the residents to a temporary .xlsx and return it (an open binary file, at its start).

    Audited either way: "people.export" with the row count, or "people.export_revealed" when the full
    numbers were exported — allowed only with `pdata.reveal` over every exported person.
    """
    scopes.require(actor, "people.export")
    residents = exportable(actor, residents)
    if reveal and not may_reveal_all(actor, residents):
        raise PermissionDenied("people.reveal_denied", _("导出范围内有您无权查看完整证件号码和电话的人员"))
    rows = (
        _row(r, reveal)
        for r in residents.select_related("region", "household", "unit__building")
        .order_by("region__path", "name", "pk")
        .iterator(chunk_size=2000)
    )
    target = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - handed to the response, which closes it
    count = exports.write_xlsx(target, _("实有人口"), EXPORT_HEADER, rows, widths=WIDTHS)
    target.seek(0)
    audit.record(
        actor,
        "people.export_revealed" if reveal else "people.export",
        None,
        ip=ip,
        object_repr=_("实有人口台账"),
        after={"rows": count, "query": query, "revealed": reveal},
    )
    return target
