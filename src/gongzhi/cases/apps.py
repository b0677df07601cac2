from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "gongzhi.cases"
    label = "cases"
    verbose_name = _("诉求事件")

    def ready(self) -> None:
        from gongzhi.cases import demo, permissions, tasks  # noqa: F401  (register actions, jobs, demo)
