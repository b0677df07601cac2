import getpass

from django.core.management.base import BaseCommand, CommandError

from gongzhi.core import services
from gongzhi.core.errors import DomainError
from gongzhi.core.models import User
from gongzhi.core.principals import SYSTEM


class Command(BaseCommand):
    help = "创建部署管理员（超级用户，可管理整个部署）"

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--real-name", default="")
        parser.add_argument("--password", help="省略时交互输入；也可用环境变量 GONGZHI_ADMIN_PASSWORD")

    def handle(self, *args, username, real_name, password, **options):
        import os

        password = password or os.environ.get("GONGZHI_ADMIN_PASSWORD")
        if not password:
            password = getpass.getpass("密码：")
            if password != getpass.getpass("再次输入密码："):
                raise CommandError("两次输入的密码不一致")
        try:
            user = services.create_user(SYSTEM, username=username, password=password, real_name=real_name)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
        self.stdout.write(self.style.SUCCESS(f"管理员 {username} 已创建。"))
