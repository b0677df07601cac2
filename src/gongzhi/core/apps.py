from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "gongzhi.core"
    label = "core"
    verbose_name = _("基础")

    def ready(self) -> None:
        from gongzhi.core import demo, signals, tasks  # noqa: F401  (registers loaders, handlers, jobs)
