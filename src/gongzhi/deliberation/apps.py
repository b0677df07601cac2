from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliberationConfig(AppConfig):
    name = "gongzhi.deliberation"
    label = "deliberation"
    verbose_name = _("协商议事")

    def ready(self) -> None:
        from gongzhi.deliberation import demo, permissions  # noqa: F401  (actions, navigation, demo)
