"""`gongzhi people import FILE --kind residents --region CODE [--dry-run] [--update-existing]`."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from gongzhi.core import services as core_services
from gongzhi.core.errors import DomainError
from gongzhi.core.principals import SYSTEM
from gongzhi.people import import_services, importing
from gongzhi.people.models import ImportKind, ImportStatus

PHASES = {"validating": "校验", "writing": "写入"}
MAX_PRINTED_ERRORS = 200


class ProgressBar:
    """A one-line text bar on stderr, redrawn in place with \\r at most a few times a second."""

    WIDTH = 30

    def __init__(self, stream, interval: float = 0.2):
        self.stream = stream
        self.interval = interval
        self._last = 0.0
        self._phase = None
        self._started = time.monotonic()

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase != self._phase:
            if self._phase is not None:
                self.stream.write("\n")
            self._phase, self._started, self._last = phase, now, 0.0
        finished = total and done >= total
        if not finished and now - self._last < self.interval:
            return
        self._last = now
        share = done / total if total else 0.0
        filled = int(self.WIDTH * min(share, 1.0))
        rate = done / max(now - self._started, 1e-9)
        label = PHASES.get(phase, phase)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{label} [{bar}] {share:6.1%} {done:,}/{total:,} 行  {rate:,.0f} 行/秒")
        self.stream.flush()

    def close(self) -> None:
        if self._phase is not None:
            self.stream.write("\n")
            self.stream.flush()


class Command(BaseCommand):
    help = "人房台账：import 导入实有人口、户、楼栋房屋或单位组织台账（.xlsx/.csv），全部成功或全部不导入"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        imp = sub.add_parser("import", help="导入台账文件；有任何错误时整个文件不导入，并列出每处错误")
        imp.add_argument("file", type=Path)
        imp.add_argument("--kind", choices=ImportKind.values, default=ImportKind.RESIDENTS, help="台账类型")
        imp.add_argument("--region", required=True, help="导入范围的区域或网格代码")
        imp.add_argument("--dry-run", action="store_true", help="只校验不写入")
        imp.add_argument("--update-existing", action="store_true", help="证件号码已登记的人员按表更新")

    def handle(self, *args, verb, file, kind, region, dry_run, update_existing, **options):
        if not file.exists():
            raise CommandError(f"文件不存在：{file}")
        try:
            job = import_services.create_import_job(
                SYSTEM,
                kind=kind,
                region=core_services.region_by_code(region),
                uploaded_file_or_path=file,
                file_name=file.name,
                dry_run=dry_run,
                update_existing=update_existing,
                copy=False,  # read in place, synchronously
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        bar = ProgressBar(self.stderr._out if hasattr(self.stderr, "_out") else sys.stderr)
        try:
            job = importing.run_job(job.pk, actor=SYSTEM, on_progress=bar)
        finally:
            bar.close()
        self._report(job)

    def _report(self, job) -> None:
        counts = job.counts
        if job.status == ImportStatus.DONE:
            if job.dry_run:
                message = (
                    f"校验通过（仅校验，未写入）：共 {counts.get('rows', 0)} 行，"
                    f"将新增 {counts.get('to_create', 0)}，更新 {counts.get('to_update', 0)}。"
                )
            else:
                message = (
                    f"导入完成：共 {counts.get('rows', 0)} 行，新增 {counts.get('created', 0)}，"
                    f"更新 {counts.get('updated', 0)}，未变 {counts.get('unchanged', 0)}。"
                )
            self.stdout.write(self.style.SUCCESS(message))
            if counts.get("ignored_columns"):
                self.stdout.write("未识别、已忽略的列：" + "、".join(counts["ignored_columns"]))
            return
        for error in job.errors[:MAX_PRINTED_ERRORS]:
            self.stderr.write(str(importing.RowError(error["row"], error["column"], error["message"])))
        total = counts.get("errors", len(job.errors))
        if total > MAX_PRINTED_ERRORS:
            self.stderr.write(f"……另有 {total - MAX_PRINTED_ERRORS} 处错误")
        if job.status == ImportStatus.REJECTED:
            raise CommandError(f"文件有 {total} 处错误，未导入任何数据。")
        raise CommandError("导入失败，未导入任何数据。")
