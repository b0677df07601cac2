"""`gongzhi cases load-categories FILE [--overwrite]`, `gongzhi cases sweep` and
`gongzhi cases train-classifier [--from-csv FILE --label-map MAP] [--output PATH]`."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from gongzhi.cases import categoryfile, classifier, services
from gongzhi.cases.models import Category
from gongzhi.core import audit
from gongzhi.core.principals import SYSTEM

MAX_PRINTED_PROBLEMS = 200


class Command(BaseCommand):
    help = (
        "诉求事件：load-categories 导入事件分类文件（有错误时整个文件不导入）；sweep 执行一次时限巡检；"
        "train-classifier 训练智能分拨分类模型"
    )

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
        train = sub.add_parser(
            "train-classifier",
            help="训练智能分拨分类模型：默认用本系统已结案事件的最终分类，或用带标签的 CSV 文件",
        )
        train.add_argument(
            "--from-csv",
            type=Path,
            metavar="FILE",
            help="UTF-8 CSV，列 title,description,label（或 留言主题,留言详情,一级标签）",
        )
        train.add_argument(
            "--label-map", type=Path, metavar="MAP", help="标签对照表 CSV：label,category_code"
        )
        train.add_argument(
            "--output", type=Path, metavar="PATH", help="模型文件（默认 GONGZHI_CLASSIFIER_MODEL）"
        )

    def handle(self, *args, verb, **options):
        if verb == "load-categories":
            self.load_categories(options["file"], overwrite=options["overwrite"])
        elif verb == "train-classifier":
            self.train_classifier(options["from_csv"], options["label_map"], options["output"])
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

    def train_classifier(self, csv_path: Path | None, label_map: Path | None, output: Path | None) -> None:
        if (csv_path is None) != (label_map is None):
            raise CommandError("--from-csv 与 --label-map 须同时提供")
        for path in (csv_path, label_map):
            if path is not None and not path.is_file():
                raise CommandError(f"文件不存在：{path}")
        try:
            if csv_path is not None:
                data = classifier.train_from_csv(csv_path, label_map)
                source = f"csv:{csv_path.name}"
            else:
                data = classifier.training_set_from_cases()
                source = classifier.SOURCE_CASES
        except classifier.TrainingError as exc:
            raise CommandError(f"{exc}。未训练模型。") from exc
        self.print_training_set(data)
        if not data.texts:
            where = "文件中没有可用的样本" if csv_path else "没有足够的已结案且有分类的事件"
            raise CommandError(f"没有可用于训练的数据：{where}。未训练模型。")
        output = output or Path(settings.GONGZHI_CLASSIFIER_MODEL)
        try:
            model, evaluation = classifier.train_and_publish(data, output, source=source)
        except classifier.TrainingError as exc:
            raise CommandError(f"{exc}。未训练模型。") from exc
        except OSError as exc:
            raise CommandError(f"无法写入模型文件 {output}：{exc}") from exc
        self.stdout.write(
            f"留出 {evaluation.tested} 条检验：准确率 {evaluation.accuracy:.1%}，"
            f"前三命中率 {evaluation.top3:.1%}"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"分类模型已训练：版本 {model.version}，样本 {model.samples} 条，已写入 {output}"
            )
        )

    def print_training_set(self, data: classifier.TrainingSet) -> None:
        counts = data.counts()
        names = dict(Category.objects.filter(code__in=counts).values_list("code", "name"))
        self.stdout.write(f"训练样本 {len(data.texts)} 条，{len(counts)} 个分类：")
        for code, n in counts.items():
            self.stdout.write(f"  {code} {names.get(code, '')}：{n}")
        for code, n in data.dropped.items():
            self.stdout.write(f"  分类 {code} 仅 {n} 条，少于 {classifier.MIN_PER_CLASS} 条，未参与训练")
        for label, n in data.unmapped.items():
            self.stdout.write(f"  标签“{label}”不在对照表中，跳过 {n} 行")
        if data.blank:
            self.stdout.write(f"  缺少文字或标签，跳过 {data.blank} 行")
