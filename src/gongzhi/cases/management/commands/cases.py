"""`gongzhi cases load-categories FILE [--overwrite]` and `gongzhi cases sweep`."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from gongzhi.cases import categoryfile, services
from gongzhi.cases.models import Category
from gongzhi.core import audit
from gongzhi.core.principals import SYSTEM

MAX_PRINTED_PROBLEMS = 200


class Command(BaseCommand):
    help = "诉求事件：load-categories 导入事件分类文件（有错误时整个文件不导入）；sweep 执行一次时限巡检"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        load = sub.add_parser(
            "load-categories",
            help="导入事件分类 CSV：code,parent,name,kind,accept_hours,handle_limit,handle_unit,"
            "warn_percent,requires_verification,auto_escalate",
        )
        load.add_argument("file", type=Path)
        load.add_argument("--overwrite", action="store_true", help="已有的分类按文件更新（默认只新增）")
        sub.add_parser("sweep", help="标记黄灯预警、红灯超期，并按分类设置自动上报")

    def handle(self, *args, verb, **options):
        if verb == "load-categories":
            self.load_categories(options["file"], overwrite=options["overwrite"])
        else:
            self.sweep()

    def load_categories(self, path: Path, *, overwrite: bool) -> None:
        if not path.is_file():
            raise CommandError(f"文件不存在：{path}")
        try:
            rows = categoryfile.read(path)
        except categoryfile.CategoryFileError as exc:
            for problem in exc.problems[:MAX_PRINTED_PROBLEMS]:
                self.stderr.write(problem)
            if len(exc.problems) > MAX_PRINTED_PROBLEMS:
                self.stderr.write(f"……另有 {len(exc.problems) - MAX_PRINTED_PROBLEMS} 处错误")
            raise CommandError(f"分类文件有 {len(exc.problems)} 处错误，未导入任何分类。") from exc
        except (UnicodeDecodeError, OSError) as exc:
            raise CommandError(f"无法读取文件 {path}（须为 UTF-8 编码的 CSV）：{exc}") from exc
        with transaction.atomic():
            created, updated = categoryfile.load(Category, rows, overwrite=overwrite)
            audit.record(
                SYSTEM,
                "case.categories_loaded",
                after={
                    "file": path.name,
                    "rows": len(rows),
                    "created": created,
                    "updated": updated,
                    "overwrite": overwrite,
                },
            )
        unchanged = len(rows) - created - updated
        self.stdout.write(self.style.SUCCESS(f"事件分类：新增 {created}，更新 {updated}，未变 {unchanged}。"))

    def sweep(self) -> None:
        counts = services.sweep_deadlines()
        self.stdout.write(
            self.style.SUCCESS(
                f"时限巡检：黄灯预警 {counts['yellow']} 件，红灯超期 {counts['red']} 件，"
                f"自动上报 {counts['escalated']} 件。"
            )
        )
