from django.core.management.base import BaseCommand, CommandError

from gongzhi.core import audit


class Command(BaseCommand):
    help = "审计日志：verify 校验哈希链，报告第一条被篡改的记录"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("verify", help="校验哈希链")

    def handle(self, *args, verb, **options):
        result = audit.verify()
        if not result.ok:
            raise CommandError(
                f"审计链在第 {result.broken_id} 条记录处断裂：{result.reason}（此前 {result.checked} 条完好）"
            )
        self.stdout.write(self.style.SUCCESS(f"审计链完好，共 {result.checked} 条记录。"))
