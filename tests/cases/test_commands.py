"""`gongzhi cases load-categories FILE [--overwrite]` and `gongzhi cases sweep`."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gongzhi.cases import categoryfile, services
from gongzhi.cases.models import Case, CaseEvent, Category, EventKind, Sla, Source
from gongzhi.core import clock
from gongzhi.core.models import AuditEntry

HEADER = ",".join(categoryfile.COLUMNS)


def write(tmp_path, *lines, name="categories.csv"):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("cases", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_load_categories_adds_new_ones_and_audits_once(db, tmp_path):
    path = write(
        tmp_path,
        "ZD01,,重点场所,event,1,2,days,80,1,1",
        "ZD0101,ZD01,学校周边,event,0.5,8,hours,60,1,0",
        "SJ01,,市容环境,event,2,3,days,80,1,1",
    )
    before = Category.objects.count()
    out, _err = run("load-categories", str(path))
    assert "新增 2，更新 0，未变 1" in out
    assert Category.objects.count() == before + 2
    child = Category.objects.get(code="ZD0101")
    assert (child.parent.code, child.handle_limit, child.handle_unit, child.warn_percent) == (
        "ZD01",
        8,
        "hours",
        60,
    )
    assert child.requires_verification and not child.auto_escalate
    entry = AuditEntry.objects.get(action="case.categories_loaded")
    assert entry.after == {
        "file": "categories.csv",
        "rows": 3,
        "created": 2,
        "updated": 0,
        "overwrite": False,
    }
    out, _err = run("load-categories", str(path))  # again: nothing new
    assert "新增 0，更新 0，未变 3" in out and Category.objects.count() == before + 2


def test_overwrite_updates_existing_categories(db, tmp_path):
    path = write(
        tmp_path, "SJ01,,市容环境,event,2,3,days,80,1,1", "SJ0101,SJ01,露天垃圾,event,1,2,days,70,0,0"
    )
    run("load-categories", str(path))
    assert Category.objects.get(code="SJ0101").name == "暴露垃圾"  # kept without --overwrite
    out, _err = run("load-categories", str(path), "--overwrite")
    assert "更新 2" in out
    category = Category.objects.get(code="SJ0101")
    assert (category.name, category.handle_limit, category.warn_percent) == ("露天垃圾", 2, 70)
    assert not category.requires_verification
    assert AuditEntry.objects.filter(action="case.categories_loaded").count() == 2


def test_a_file_with_problems_loads_nothing_and_names_each_line(db, tmp_path):
    path = write(
        tmp_path,
        "ZD01,,重点场所,event,1,2,days,80,1,1",
        "ZD0101,ZD99,学校周边,event,1,2,days,80,1,0",
        "ZD0102,ZD01,医院周边,thing,1,2,weeks,80,1,0",
        "ZD0103,ZD01,车站周边,event,abc,2,days,80,1,0",
    )
    before = Category.objects.count()
    with pytest.raises(CommandError, match="4 处错误") as raised:
        call_command(
            "cases", "load-categories", str(path), stdout=io.StringIO(), stderr=(err := io.StringIO())
        )
    assert "未导入" in str(raised.value)
    lines = err.getvalue().splitlines()
    assert any(line.startswith("第 3 行") and "ZD99" in line for line in lines)
    assert any(line.startswith("第 4 行") and "component" in line for line in lines)
    assert any(line.startswith("第 4 行") and "hours" in line for line in lines)
    assert any(line.startswith("第 5 行") and "数字" in line for line in lines)
    assert Category.objects.count() == before and not Category.objects.filter(code="ZD01").exists()
    assert not AuditEntry.objects.filter(action="case.categories_loaded").exists()

    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("代码,名称\nX,Y\n", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("cases", "load-categories", str(bad_header), stdout=io.StringIO(), stderr=io.StringIO())
    not_text = tmp_path / "photo.csv"
    not_text.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)))
    with pytest.raises(CommandError, match="UTF-8"):
        call_command("cases", "load-categories", str(not_text), stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="文件不存在"):
        call_command("cases", "load-categories", str(tmp_path / "missing.csv"))


def test_the_default_file_loads_cleanly(db):
    out, _err = run("load-categories", str(categoryfile.DEFAULT_FILE))
    assert "新增 0，更新 0" in out  # the migration already loaded it


def test_sweep_marks_overdue_cases_once(world):
    with clock.frozen("2026-11-23T10:00:00+08:00"):
        case = services.submit_case(
            world.dispatcher,
            source=Source.HOTLINE,
            title="井盖缺失",
            description="人行道上的井盖不见了",
            category=world.category("BJ0101"),  # accept within 1 working hour
            grid=world.tree.grid_a1,
            reporter_phone="13912345678",
        )
    with clock.frozen("2026-11-23T10:50:00+08:00"):
        out, _err = run("sweep")
        assert "黄灯预警 1 件，红灯超期 0 件" in out
    with clock.frozen("2026-11-23T11:30:00+08:00"):
        out, _err = run("sweep")
        assert "黄灯预警 0 件，红灯超期 1 件，自动上报 0 件" in out
        out, _err = run("sweep")
        assert "红灯超期 0 件" in out  # idempotent
        assert Case.objects.get(pk=case.pk).sla == Sla.RED
    events = list(case.events.values_list("kind", "at"))
    assert [kind for kind, _at in events] == [EventKind.SUBMIT, EventKind.WARN, EventKind.OVERDUE]
    assert events[2][1] == case.accept_due  # dated when the deadline passed, not when the sweep ran
    assert CaseEvent.objects.filter(kind=EventKind.OVERDUE).count() == 1
