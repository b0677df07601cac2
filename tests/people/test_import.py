"""台账导入: every bad row reported with row, column and message; the file imported whole or not at all."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from openpyxl import Workbook, load_workbook

from gongzhi.core.errors import PermissionDenied
from gongzhi.core.models import AuditEntry
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from gongzhi.people import import_services, importing, services
from gongzhi.people.models import (
    Building,
    Household,
    ImportJob,
    Organisation,
    Resident,
    ResidentEvent,
    Unit,
)
from gongzhi.people.sheets import SheetError, SheetReader
from tests.factories import user_with

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

# Valid synthetic citizen IDs (GB 11643 check characters).
ID_1 = "110101199003077838"  # 男 1990-03-07
ID_2 = "11010519491231002X"  # 女 1949-12-31
ID_3 = "510903198805120013"  # 男 1988-05-12
ID_BAD_CHECK = "110101199003077839"  # check character should be 8
ID_4 = "51090320000101002X"  # 女 2000-01-01

HEADER = [
    "序号",
    "姓名",
    "身份证号",
    "性别",
    "出生日期",
    "联系电话",
    "民族",
    "与户主关系",
    "居住地址",
    "所属网格",
]


def write_csv(path: Path, rows: list[list], *, encoding: str = "utf-8-sig") -> Path:
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list], *, title_row: str | None = None) -> Path:
    wb = Workbook()
    ws = wb.active
    if title_row:
        ws.append([title_row])
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def good_rows() -> list[list]:
    return [
        HEADER,
        [1, "张三", ID_1, "男", "", "13900001111", "汉", "户主", "马宗岭路1号", "510903014006001"],
        [2, "李芳", ID_2, "", "1949年12月31日", "", "汉族", "配偶", "马宗岭路1号", "马宗岭第1网格"],
        [3, "王五", ID_3, "", "", "0825-1234567", "回族", "", "马宗岭路2号", "马宗岭第2网格"],
    ]


def bad_rows() -> list[list]:
    """The sample with deliberate errors, one kind per row (rows 3–7 as the user sees them)."""
    return [
        HEADER,
        [1, "张三", ID_1, "男", "", "13900001111", "汉", "户主", "马宗岭路1号", "510903014006001"],
        [2, "错校验", ID_BAD_CHECK, "", "", "", "", "", "", "510903014006001"],
        [3, "错日期", "", "", "1990-02-30", "", "", "", "", "510903014006001"],
        [4, "错网格", ID_4, "", "", "", "", "", "", "第9网格"],
        [5, "重复", ID_1, "", "", "", "", "", "", "510903014006001"],
        [6, "已登记", ID_3, "", "", "", "", "", "", "510903014006001"],
    ]


@pytest.fixture
def staff(tree):
    return user_with(Role.COMMUNITY_STAFF, tree.community_a)


def run(actor, region, path: Path, **options):
    job = import_services.create_import_job(
        actor,
        kind=options.pop("kind", "residents"),
        region=region,
        uploaded_file_or_path=path,
        file_name=path.name,
        **options,
    )
    return importing.run_job(job.pk)


def messages(job) -> list[tuple]:
    return [(e["row"], e["column"], e["message"]) for e in job.errors]


def test_bad_file_reports_every_row_and_writes_nothing(tree, staff, tmp_path):
    services.register_resident(staff, tree.grid_a2, {"name": "王五", "id_number": ID_3})
    before = (Resident.objects.count(), ResidentEvent.objects.count(), AuditEntry.objects.count())

    job = run(staff, tree.community_a, write_csv(tmp_path / "台账.csv", bad_rows()))

    assert job.status == "rejected"
    assert messages(job) == [
        (3, "身份证号", "身份证号码校验位错误，应为 8"),
        (4, "出生日期", "日期“1990-02-30”不存在"),
        (5, "所属网格", "找不到网格“第9网格”"),
        (6, "身份证号", "与第 2 行的证件号码重复"),
        (7, "身份证号", "该证件号码已登记（如需更新已登记人员，请选择“按证件号更新已有人员”）"),
    ]
    assert job.counts["errors"] == 5 and job.counts["rows"] == 6
    assert (Resident.objects.count(), ResidentEvent.objects.count()) == before[:2]
    assert not AuditEntry.objects.filter(action="people.import").exists()
    assert AuditEntry.objects.filter(action="people.import_rejected").count() == 1
    assert job.finished_at is not None and not Path(job.stored_path).exists()


def test_fixed_file_imports_whole_with_events_and_one_audit_entry(tree, staff, tmp_path):
    job = run(staff, tree.community_a, write_csv(tmp_path / "台账.csv", good_rows()))

    assert job.status == "done", job.errors
    assert job.counts["created"] == 3 and job.done_rows == job.total_rows == 3
    zhang = Resident.objects.get(name="张三")
    assert (zhang.id_number, zhang.sex, zhang.phone, zhang.ethnicity) == (ID_1, "M", "13900001111", "汉族")
    assert zhang.name_pinyin == "zhangsan" and zhang.id_tail4 is not None
    assert zhang.region == tree.grid_a1 and zhang.relation == "self"
    assert Resident.objects.get(name="李芳").region == tree.grid_a1  # grid by name
    wang = Resident.objects.get(name="王五")
    assert (wang.region, wang.phone) == (tree.grid_a2, "0825-1234567")
    # Searchable at once: the blind index and ID-tail keys match what the services write.
    from gongzhi.people import queries

    assert list(queries.search_residents(staff, ID_1)) == [zhang]
    assert list(queries.search_residents(staff, ID_1[-6:])) == [zhang]
    assert list(queries.search_residents(staff, "zs")) == [zhang]
    assert ResidentEvent.objects.filter(kind="register").count() == 3
    event = zhang.events.get()
    assert (event.to_region, event.actor) == (tree.grid_a1, staff)
    entries = AuditEntry.objects.filter(action="people.import")
    assert entries.count() == 1 and entries.get().after["created"] == 3
    assert entries.get().region_path == tree.community_a.path


def test_dry_run_validates_and_writes_nothing(tree, staff, tmp_path):
    job = run(staff, tree.community_a, write_csv(tmp_path / "a.csv", good_rows()), dry_run=True)
    assert job.status == "done" and job.counts["to_create"] == 3
    assert Resident.objects.count() == 0
    assert not AuditEntry.objects.filter(action="people.import").exists()


def test_update_existing_updates_matched_people_with_history(tree, staff, tmp_path):
    existing = services.register_resident(
        staff, tree.grid_a1, {"name": "张三", "id_number": ID_1, "phone": "13900009999", "ethnicity": "汉族"}
    )
    rows = good_rows()
    rows[1][5] = "13900001111"  # new phone
    rows[1][6] = ""  # blank: keeps 汉族
    rejected = run(staff, tree.community_a, write_csv(tmp_path / "a.csv", rows))
    assert rejected.status == "rejected" and messages(rejected)[0][:2] == (2, "身份证号")

    job = run(staff, tree.community_a, write_csv(tmp_path / "b.csv", rows), update_existing=True)

    assert job.status == "done", job.errors
    assert (job.counts["created"], job.counts["updated"]) == (2, 1)
    existing.refresh_from_db()
    assert (existing.phone, existing.ethnicity, existing.relation) == ("13900001111", "汉族", "self")
    update = existing.events.get(kind="update")
    assert update.changes["phone"] == ["139****9999", "139****1111"]
    assert Resident.objects.count() == 3


def test_xlsx_with_title_row_and_aliases(tree, staff, tmp_path):
    rows = [
        ["姓名*", "公民身份号码", "手机号", "户籍类型", "现住址", "网格编码", "备注"],
        ["张三", ID_1, 13900001111, "流动", "马宗岭路1号", "510903014006001", "无"],
        [None] * 7,  # blank rows are skipped
        ["李芳", ID_2, None, "户籍", "马宗岭路1号", 510903014006002, None],
    ]
    path = write_xlsx(tmp_path / "人口.xlsx", rows, title_row="马宗岭社区实有人口台账")
    job = run(staff, tree.community_a, path)
    assert job.status == "done", job.errors
    assert job.counts["ignored_columns"] == ["备注"]
    zhang = Resident.objects.get(name="张三")
    assert (zhang.phone, zhang.residence_type) == ("13900001111", "floating")
    assert Resident.objects.get(name="李芳").region == tree.grid_a2


def test_xlsx_error_rows_are_spreadsheet_rows(tree, staff, tmp_path):
    rows = [
        ["姓名", "证件号码", "网格"],
        ["张三", ID_BAD_CHECK, "510903014006001"],
        [None] * 3,
        ["", ID_1, ""],
    ]
    path = write_xlsx(tmp_path / "x.xlsx", rows, title_row="台账")
    job = run(staff, tree.community_a, path)
    assert messages(job) == [
        (3, "证件号码", "身份证号码校验位错误，应为 8"),
        (5, "姓名", "姓名不能为空"),
        (5, "网格", "请填写网格（网格编码或名称）"),
    ]


def test_id_number_mangled_by_excel_is_explained(tree, staff, tmp_path):
    path = write_xlsx(tmp_path / "x.xlsx", [["姓名", "身份证号码"], ["张三", 1.10101199003078e17]])
    job = run(staff, tree.grid_a1, path)
    assert job.errors[0]["message"].startswith("证件号码被 Excel 存成了数字")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk"])
def test_csv_encodings(tree, staff, tmp_path, encoding):
    job = run(staff, tree.community_a, write_csv(tmp_path / "a.csv", good_rows(), encoding=encoding))
    assert job.status == "done", job.errors
    assert set(Resident.objects.values_list("name", flat=True)) == {"张三", "李芳", "王五"}


def test_grid_worker_cannot_import_into_another_grid(tree, tmp_path):
    worker = user_with(Role.GRID_WORKER, tree.grid_a1)
    rows = [
        ["姓名", "身份证号", "网格"],
        ["张三", ID_1, ""],
        ["李四", ID_3, "金鱼第1网格"],
        ["王五", ID_4, "510903014008001"],
    ]
    path = write_csv(tmp_path / "a.csv", rows)

    with pytest.raises(PermissionDenied):
        import_services.create_import_job(
            worker, kind="residents", region=tree.grid_b1, uploaded_file_or_path=path, file_name="a.csv"
        )
    job = run(worker, tree.grid_a1, path)
    assert messages(job) == [
        (3, "网格", "网格“金鱼第1网格”不在您的导入范围内"),
        (4, "网格", "网格“510903014008001”不在您的导入范围内"),
    ]
    assert Resident.objects.count() == 0


def test_update_cannot_reach_people_outside_scope(tree, staff, tmp_path):
    services.register_resident(SYSTEM, tree.grid_b1, {"name": "李四", "id_number": ID_3})
    path = write_csv(tmp_path / "a.csv", [["姓名", "身份证号", "网格"], ["李四", ID_3, "510903014006001"]])
    job = run(staff, tree.community_a, path, update_existing=True)
    assert messages(job) == [(2, "身份证号", "该证件号码已登记在您的管辖范围之外，不能更新")]


def test_missing_required_column_rejects_the_file(tree, staff, tmp_path):
    job = run(staff, tree.community_a, write_csv(tmp_path / "a.csv", [["身份证号", "网格"], [ID_1, "1"]]))
    assert job.status == "rejected"
    assert "缺少必填列 “姓名”" in job.errors[0]["message"]
    grid_missing = run(staff, tree.community_a, write_csv(tmp_path / "b.csv", [["姓名"], ["张三"]]))
    assert "缺少“网格”列" in grid_missing.errors[0]["message"]


def test_not_a_spreadsheet(tree, staff, tmp_path):
    path = tmp_path / "a.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    with pytest.raises(SheetError, match="另存为"):
        run(staff, tree.community_a, path)


def test_households_and_units_are_linked(tree, staff, tmp_path):
    building = services.create_building(
        staff, tree.grid_a1, name="3栋", address="马宗岭路18号", compound="阳光小区"
    )
    unit = services.create_unit(staff, building, label="301")
    rows = [
        ["姓名", "身份证号", "与户主关系", "户号", "楼栋", "房号", "网格"],
        ["张三", ID_1, "户主", "H1", "3栋", "301", "马宗岭第1网格"],
        ["李芳", ID_2, "妻", "H1", "3栋", "301", "马宗岭第1网格"],
        ["王五", ID_3, "", "", "3栋", "999", "马宗岭第1网格"],
    ]
    job = run(staff, tree.community_a, write_csv(tmp_path / "a.csv", rows))
    assert messages(job) == [(4, "房号", "楼栋“阳光小区3栋”中找不到房号“999”")]
    rows[3][5] = "301"
    job = run(staff, tree.community_a, write_csv(tmp_path / "b.csv", rows))
    assert job.status == "done", job.errors
    household = Household.objects.get(number="H1")
    assert household.householder.name == "张三" and household.unit == unit
    assert set(household.members.values_list("name", flat=True)) == {"张三", "李芳"}
    assert Resident.objects.filter(unit=unit).count() == 3
    assert job.counts["households_created"] == 1


def test_buildings_and_units_import(tree, staff, tmp_path):
    rows = [
        ["网格", "小区", "楼栋", "地址", "层数", "房号", "建筑面积", "专有部分面积", "用途", "使用状态"],
        ["马宗岭第1网格", "阳光小区", "1栋", "马宗岭路1号", "6", "101", "90.5", "80", "住宅", "出租"],
        ["马宗岭第1网格", "阳光小区", "1栋", "", "", "102", "60", "70", "", ""],
        ["马宗岭第1网格", "阳光小区", "1栋", "", "", "101", "", "", "", ""],
        ["马宗岭第1网格", "", "2栋", "", "", "", "", "", "", ""],
    ]
    job = run(staff, tree.community_a, write_csv(tmp_path / "a.csv", rows), kind="buildings")
    assert messages(job) == [
        (3, "专有部分面积", "专有部分面积不能大于建筑面积"),
        (4, "房号", "与第 2 行的房号重复（同一楼栋）"),
        (5, "地址", "新楼栋“2栋”须填写地址"),
    ]
    rows[2][7], rows[3][5], rows[4][3] = "50", "103", "马宗岭路2号"
    job = run(staff, tree.community_a, write_csv(tmp_path / "b.csv", rows), kind="buildings")
    assert job.status == "done", job.errors
    b1 = Building.objects.get(name="1栋")
    assert (b1.compound, b1.address, b1.floors) == ("阳光小区", "马宗岭路1号", 6)
    assert sorted(b1.units.values_list("label", flat=True)) == ["101", "102", "103"]
    unit = Unit.objects.get(building=b1, label="101")
    assert (str(unit.exclusive_area), unit.status) == ("80.00", "rented")
    assert Building.objects.filter(name="2栋").exists()


def test_households_import(tree, staff, tmp_path):
    rows = [
        ["户号", "户类型", "地址", "网格"],
        ["H1", "户籍户", "路1号", "马宗岭第1网格"],
        ["H1", "", "", "马宗岭第1网格"],
    ]
    job = run(staff, tree.community_a, write_csv(tmp_path / "a.csv", rows), kind="households")
    assert messages(job) == [(3, "户号", "与第 2 行的户号重复（同一网格）")]
    rows[2][3] = "马宗岭第2网格"
    job = run(staff, tree.community_a, write_csv(tmp_path / "b.csv", rows), kind="households")
    assert job.status == "done" and Household.objects.count() == 2
    assert Household.objects.get(region=tree.grid_a1).kind == "registered"


def test_organisations_import(tree, staff, tmp_path):
    from gongzhi.core.validators import credit_code_check_char

    code = "91510903MA62000001"
    code = code[:17] + credit_code_check_char(code[:17])
    rows = [
        ["单位名称", "类别", "统一社会信用代码", "联系人", "联系电话", "所属社区"],
        ["马宗岭志愿者协会", "社会组织", "", "李四", "13900001111", "马宗岭社区"],
        ["某某公司", "公司", code, "", "", ""],
        ["某某公司二", "企业", code, "", "", ""],
        ["坏代码", "企业", "91510903MA62000000", "", "", ""],
    ]
    job = run(staff, tree.community_a, write_csv(tmp_path / "a.csv", rows), kind="organisations")
    assert [(r, c) for r, c, _m in messages(job)] == [(4, "统一社会信用代码"), (5, "统一社会信用代码")]
    del rows[3:]
    job = run(staff, tree.community_a, write_csv(tmp_path / "b.csv", rows), kind="organisations")
    assert job.status == "done", job.errors
    org = Organisation.objects.get(name="马宗岭志愿者协会")
    assert (org.region, org.contact_phone) == (tree.community_a, "13900001111")


def test_template_has_header_example_and_instructions(tree, staff, tmp_path):
    for kind in importing.COLUMNS:
        data = importing.template_xlsx(kind)
        wb = load_workbook(io.BytesIO(data))
        sheet, notes = wb.worksheets
        assert notes.title == "填写说明"
        header = [c.value for c in sheet[1]]
        assert header == [c.title for c in importing.COLUMNS[kind]]
        assert [r[0].value for r in notes.iter_rows(min_row=2, max_row=len(header) + 1)] == header
    # The residents template's own example row imports cleanly (as a dry run, into its grid).
    path = tmp_path / "模板.xlsx"
    path.write_bytes(importing.template_xlsx("residents"))
    reader = SheetReader(path, importing.aliases_for(importing.RESIDENT_COLUMNS), {"name"})
    assert list(reader.header.positions) == [c.key for c in importing.RESIDENT_COLUMNS]


def test_start_import_runs_the_task_after_commit(tree, staff, tmp_path, django_capture_on_commit_callbacks):
    path = write_csv(tmp_path / "a.csv", good_rows())
    with override_settings(TASKS=IMMEDIATE), django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = import_services.start_import(
            staff, kind="residents", region=tree.community_a, uploaded_file_or_path=path, file_name="台账.csv"
        )
        assert job.status == "queued"
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == "done" and Resident.objects.count() == 3
    assert not Path(job.stored_path).exists()  # the stored copy is removed
    assert path.exists()  # the original is not ours to remove


def test_a_job_runs_once(tree, staff, tmp_path):
    path = write_csv(tmp_path / "a.csv", good_rows())
    job = import_services.create_import_job(
        staff, kind="residents", region=tree.community_a, uploaded_file_or_path=path, file_name="a.csv"
    )
    assert importing.run_job(job.pk).status == "done"
    assert importing.run_job(job.pk).status == "done"
    assert Resident.objects.count() == 3
    assert ImportJob.objects.get(pk=job.pk).counts["created"] == 3


def test_cli_import(tree, tmp_path):
    good = write_csv(tmp_path / "good.csv", good_rows())
    out, err = io.StringIO(), io.StringIO()
    call_command("people", "import", str(good), "--region", "510903014006", stdout=out, stderr=err)
    assert "新增 3" in out.getvalue() and "写入 [" in err.getvalue() and "\r" in err.getvalue()
    assert Resident.objects.count() == 3

    bad = write_csv(tmp_path / "bad.csv", bad_rows())
    err = io.StringIO()
    with pytest.raises(CommandError, match="未导入任何数据"):
        call_command(
            "people", "import", str(bad), "--region", "510903014006", stdout=io.StringIO(), stderr=err
        )
    assert "第 3 行 身份证号：身份证号码校验位错误，应为 8" in err.getvalue()
    assert Resident.objects.count() == 3
    assert bad.exists()


# ---------------------------------------------------------------- pages


def test_import_page_offers_only_regions_where_the_user_may_import(client, tree):
    worker = user_with(Role.GRID_WORKER, tree.grid_a1)
    client.force_login(worker)
    response = client.get("/people/import/")
    assert response.status_code == 200
    regions = list(response.context["form"].fields["region"].queryset)
    assert regions == [tree.grid_a1]
    leader = user_with(Role.LEADER, tree.street)
    client.force_login(leader)
    assert client.get("/people/import/").status_code == 403
    assert client.get("/people/import/template/residents.xlsx").status_code == 403


def test_upload_runs_in_the_background_and_the_job_page_reports(
    client, tree, staff, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    path = write_csv(tmp_path / "台账.csv", bad_rows())
    with override_settings(TASKS=IMMEDIATE), django_capture_on_commit_callbacks(execute=True):
        with open(path, "rb") as f:
            response = client.post(
                "/people/import/", {"kind": "residents", "region": tree.community_a.pk, "file": f}
            )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/people/import/{job.pk}/"
    assert (job.file_name, job.created_by, job.status) == ("台账.csv", staff, "rejected")

    page = client.get(f"/people/import/{job.pk}/").content.decode()
    assert "行号" in page and "错误说明" in page and "hx-trigger" not in page
    assert "身份证号码校验位错误，应为 8" in page and "找不到网格“第9网格”" in page
    listing = client.get("/people/import/").content.decode()
    assert "台账.csv" in listing

    other = user_with(Role.COMMUNITY_STAFF, tree.community_b)
    client.force_login(other)
    assert client.get(f"/people/import/{job.pk}/").status_code == 404


def test_job_page_polls_while_running(client, tree, staff, tmp_path):
    path = write_csv(tmp_path / "a.csv", good_rows())
    job = import_services.create_import_job(
        staff, kind="residents", region=tree.community_a, uploaded_file_or_path=path, file_name="a.csv"
    )
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", total_rows=5000, done_rows=2000, counts={"phase": "validating"}
    )
    client.force_login(staff)
    fragment = client.get(f"/people/import/{job.pk}/status/").content.decode()
    assert 'hx-trigger="every 1s"' in fragment and f'hx-get="/people/import/{job.pk}/status/"' in fragment
    assert "已处理 2000 / 共 5000 行" in fragment and "正在校验" in fragment

    ImportJob.objects.filter(pk=job.pk).update(status="queued")
    importing.run_job(job.pk)
    fragment = client.get(f"/people/import/{job.pk}/status/").content.decode()
    assert "hx-trigger" not in fragment and "导入完成：共 3 行" in fragment


def test_template_download(client, tree, staff):
    client.force_login(staff)
    response = client.get("/people/import/template/buildings.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in response["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.content))
    assert [c.value for c in wb.worksheets[0][1]][:3] == ["网格", "小区", "楼栋"]
    assert client.get("/people/import/template/nonsense.xlsx").status_code == 404


def test_worker_processes_check_big_files_the_same_way(tree, staff, tmp_path, monkeypatch):
    """Large files are checked in worker processes; the outcome must not differ from the inline path."""
    monkeypatch.setenv("GONGZHI_IMPORT_WORKERS", "2")
    monkeypatch.setattr(importing, "BATCH", 2)  # several chunks in flight, so order matters
    job = run(staff, tree.community_a, write_csv(tmp_path / "bad.csv", bad_rows()))
    assert [(r, c) for r, c, _m in messages(job)] == [
        (3, "身份证号"),
        (4, "出生日期"),
        (5, "所属网格"),
        (6, "身份证号"),
    ]
    job = run(staff, tree.community_a, write_csv(tmp_path / "good.csv", good_rows()))
    assert job.status == "done", job.errors
    from gongzhi.people import queries

    assert [r.name for r in queries.search_residents(staff, ID_1)] == ["张三"]
    assert [r.name for r in queries.search_residents(staff, "wangwu")] == ["王五"]


@pytest.mark.django_db(transaction=True)
def test_write_progress_is_visible_while_the_import_transaction_is_open(tmp_path, monkeypatch):
    """On PostgreSQL the write phase reports through a second connection, so the job page moves while
    the import transaction is still open; SQLite (one writer) reports when the write ends."""
    from django.db import DEFAULT_DB_ALIAS, connection, connections

    from tests.factories import build_tree

    tree = build_tree()
    staff = user_with(Role.COMMUNITY_STAFF, tree.community_a)
    monkeypatch.setattr(importing, "PROGRESS_EVERY", 1)
    path = write_csv(tmp_path / "a.csv", good_rows())
    job = import_services.create_import_job(
        staff, kind="residents", region=tree.community_a, uploaded_file_or_path=path, file_name="a.csv"
    )
    seen = []

    def look(phase, done, total):
        if phase == "writing" and done and connection.vendor == "postgresql":
            other = connections.create_connection(DEFAULT_DB_ALIAS)
            try:
                with other.cursor() as cursor:
                    cursor.execute("SELECT done_rows FROM people_importjob WHERE id = %s", [job.pk])
                    seen.append(cursor.fetchone()[0])
                    cursor.execute("SELECT count(*) FROM people_resident")
                    seen.append(-cursor.fetchone()[0])  # the rows themselves are not visible yet
            finally:
                other.close()

    job = importing.run_job(job.pk, on_progress=look)
    assert job.status == "done" and job.done_rows == 3
    if connection.vendor == "postgresql":
        assert seen[:2] == [3, 0]  # 3 rows reported written while none was visible yet


def test_sweep_fails_dead_imports_and_removes_their_files(tree, staff, tmp_path):
    import datetime as dt
    import os

    from gongzhi.core import clock

    path = write_csv(tmp_path / "a.csv", good_rows())
    dead = import_services.create_import_job(
        staff, kind="residents", region=tree.community_a, uploaded_file_or_path=path, file_name="a.csv"
    )
    fresh = import_services.create_import_job(
        staff, kind="residents", region=tree.community_a, uploaded_file_or_path=path, file_name="b.csv"
    )
    long_ago = clock.now() - dt.timedelta(days=2)
    ImportJob.objects.filter(pk=dead.pk).update(status="running", created_at=long_ago)
    leftover = importing.imports_dir() / "spool-leftover"
    leftover.mkdir()
    for p in (leftover, Path(dead.stored_path), Path(fresh.stored_path)):
        os.utime(p, (long_ago.timestamp(), long_ago.timestamp()))

    swept = importing.sweep_stale()
    assert swept["failed"] == 1 and swept["removed"] >= 2  # (and whatever killed test runs left)
    dead.refresh_from_db()
    assert dead.status == "failed" and "导入中断" in dead.errors[0]["message"]
    assert not leftover.exists() and not Path(dead.stored_path).exists()
    assert Path(fresh.stored_path).exists()  # still queued: its file stays
    assert importing.run_job(fresh.pk).status == "done"
