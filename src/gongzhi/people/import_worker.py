"""Worker processes that check people for big 台账 imports (see `importing.ResidentImporter`).

A separate, Django-free module on purpose: a spawned worker unpickles its initializer before Django
is set up, so the initializer must be importable without touching models.
"""

from __future__ import annotations

import os


def init(language: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    import django

    django.setup()
    from django.utils import translation

    translation.activate(language)


def check_people(chunk, today, seal):
    from gongzhi.people.importing import check_people

    return check_people(chunk, today, seal)
