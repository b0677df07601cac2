from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "gongzhi.people"
    label = "people"
    verbose_name = _("人房")

    def ready(self) -> None:
        from gongzhi.people import demo, permissions, tasks  # noqa: F401  (actions, navigation, demo, jobs)
