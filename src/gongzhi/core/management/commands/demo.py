from django.core.management import call_command
from django.core.management.base import BaseCommand

from gongzhi.core import demo


class Command(BaseCommand):
    help = "加载演示数据（可重复执行）：南强街道的社区与网格、各角色演示账号"

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        for line in demo.run_all():
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("演示数据已就绪。"))
