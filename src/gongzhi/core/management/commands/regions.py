from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gongzhi.core import services
from gongzhi.core.principals import SYSTEM


class Command(BaseCommand):
    help = "区划：import 导入统计用区划代码 CSV（可为 .csv.gz），全部成功或全部不导入"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        imp = sub.add_parser("import", help="导入区划 CSV：代码、名称、层级、上级代码、城乡分类代码")
        imp.add_argument("file", type=Path)
        imp.add_argument("--dry-run", action="store_true", help="只校验不写入")

    def handle(self, *args, verb, file, dry_run, **options):
        if not file.exists():
            raise CommandError(f"文件不存在：{file}")
        try:
            counts = services.import_regions(SYSTEM, file, dry_run=dry_run)
        except services.ImportRejected as exc:
            for error in exc.errors[:200]:
                self.stderr.write(str(error))
            if len(exc.errors) > 200:
                self.stderr.write(f"……另有 {len(exc.errors) - 200} 处错误")
            raise CommandError(exc.message) from exc
        prefix = "（试运行，未写入）" if dry_run else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{prefix}新增 {counts['created']}，更新 {counts['updated']}，未变 {counts['unchanged']}。"
            )
        )
