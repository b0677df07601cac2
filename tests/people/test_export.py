"""台账导出: masked by default, revealed only with permission over every row (and audited), scoped."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from gongzhi.core import services as core_services
from gongzhi.core.errors import PermissionDenied
from gongzhi.core.models import AuditEntry
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from gongzhi.people import exporting, queries, services
from gongzhi.people.models import Resident
from tests.factories import user_with

ID_A = "110101199003077838"
ID_B = "510903198805120013"
PHONE_A = "13900001234"


@pytest.fixture
def people(tree):
    a = services.register_resident(
        SYSTEM, tree.grid_a1, {"name": "张三", "id_number": ID_A, "phone": PHONE_A, "address": "马宗岭路1号"}
    )
    b = services.register_resident(SYSTEM, tree.grid_b1, {"name": "李四", "id_number": ID_B})
    return a, b


def sheet(content: bytes) -> list[list]:
    ws = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    return [list(row) for row in ws.iter_rows(values_only=True)]


def download(client, user, **params):
    client.force_login(user)
    response = client.get("/people/export.xlsx", params)
    return response, (sheet(b"".join(response.streaming_content)) if response.status_code == 200 else None)


def test_export_masks_by_default_and_is_audited(client, tree, people):
    staff = user_with(Role.STREET_STAFF, tree.street)
    response, rows = download(client, staff)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    header, *data = rows
    assert header[:3] == ["姓名", "证件类型", "证件号码"]
    zhang = next(r for r in data if r[0] == "张三")
    assert zhang[2] == "110101********7838" and zhang[5] == "139****1234"
    assert zhang[header.index("网格")] == "510903014006001"
    assert ID_A not in str(rows) and PHONE_A not in str(rows)
    entry = AuditEntry.objects.get(action="people.export")
    assert (entry.actor, entry.after["rows"], entry.after["revealed"]) == (staff, 2, False)


def test_reveal_export_has_full_numbers_and_its_own_audit_entry(client, tree, people):
    staff = user_with(Role.STREET_STAFF, tree.street)
    response, rows = download(client, staff, reveal="1", q="张三")
    assert response.status_code == 200
    assert [r[0] for r in rows[1:]] == ["张三"]
    assert rows[1][2] == ID_A and rows[1][5] == PHONE_A
    entry = AuditEntry.objects.get(action="people.export_revealed")
    assert entry.after == {"rows": 1, "query": "张三", "revealed": True}
    assert not AuditEntry.objects.filter(action="people.export").exists()


def test_grid_worker_exports_only_their_grid(client, tree, people):
    worker = user_with(Role.GRID_WORKER, tree.grid_a1)
    _response, rows = download(client, worker)
    assert [r[0] for r in rows[1:]] == ["张三"]
    _response, rows = download(client, worker, q="李四")
    assert rows[1:] == []
    _response, rows = download(client, worker, q=ID_B)
    assert rows[1:] == []


def test_no_export_without_the_permission(client, tree, people):
    leader = user_with(Role.LEADER, tree.street)  # views everything, exports nothing
    response, _rows = download(client, leader)
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action__startswith="people.export").exists()


def test_reveal_needs_permission_over_every_exported_row(tree, people):
    key, _secret = core_services.create_api_key(
        SYSTEM, name="台账同步", region=tree.street, actions=["people.view", "people.export"]
    )
    residents = queries.residents_visible_to(key)
    with pytest.raises(PermissionDenied):
        exporting.export_residents(key, residents, reveal=True)
    masked = exporting.export_residents(key, residents)
    assert len(sheet(masked.read())) == 3

    # Reveal rights over part of the rows are not enough.
    worker = user_with(Role.GRID_WORKER, tree.grid_a1)
    assert exporting.may_reveal_all(worker, Resident.objects.all()) is False
    assert exporting.may_reveal_all(worker, Resident.objects.filter(region=tree.grid_a1)) is True


def test_export_round_trips_through_import(tree, people, tmp_path):
    """A revealed export is a valid import file: the columns are the template's."""
    from gongzhi.people import import_services, importing

    staff = user_with(Role.STREET_STAFF, tree.street)
    data = exporting.export_residents(staff, queries.residents_visible_to(staff), reveal=True).read()
    path = tmp_path / "export.xlsx"
    path.write_bytes(data)
    job = import_services.create_import_job(
        staff,
        kind="residents",
        region=tree.street,
        uploaded_file_or_path=path,
        file_name="export.xlsx",
        update_existing=True,
    )
    job = importing.run_job(job.pk)
    assert job.status == "done", job.errors
    assert (job.counts["updated"], job.counts["unchanged"]) == (0, 2)
