from django.core.management.base import BaseCommand, CommandError

from gongzhi.core import services
from gongzhi.core.errors import DomainError
from gongzhi.core.models import ApiKey
from gongzhi.core.principals import SYSTEM


class Command(BaseCommand):
    help = "管理接口密钥：create / list / revoke"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        create = sub.add_parser("create", help="签发密钥（明文只显示一次）")
        create.add_argument("--name", required=True)
        create.add_argument("--region", required=True, help="区域代码，密钥只能访问该区域及其下级")
        create.add_argument("--actions", required=True, help="逗号分隔，如 region.view,cases.create")
        sub.add_parser("list", help="列出密钥")
        revoke = sub.add_parser("revoke", help="吊销密钥")
        revoke.add_argument("--name", required=True)

    def handle(self, *args, verb, **options):
        try:
            if verb == "create":
                region = services.region_by_code(options["region"])
                actions = [a.strip() for a in options["actions"].split(",") if a.strip()]
                key, plaintext = services.create_api_key(
                    SYSTEM, name=options["name"], region=region, actions=actions
                )
                self.stderr.write(
                    f"密钥“{key.name}”已创建（区域 {region.name}，操作 {', '.join(key.actions)}）。"
                    "请立即保存，它不会再显示："
                )
                self.stdout.write(plaintext)
            elif verb == "list":
                for key in ApiKey.objects.select_related("region"):
                    state = "有效" if key.is_active else "已吊销"
                    self.stdout.write(
                        f"{key.name}\tgz_{key.prefix}_…\t{key.region.code}\t{','.join(key.actions)}\t{state}"
                    )
            elif verb == "revoke":
                key = ApiKey.objects.filter(name=options["name"]).first()
                if key is None:
                    raise CommandError(f"没有名为“{options['name']}”的密钥")
                services.revoke_api_key(SYSTEM, key)
                self.stdout.write(f"密钥“{key.name}”已吊销。")
        except DomainError as exc:
            raise CommandError(exc.message) from exc
