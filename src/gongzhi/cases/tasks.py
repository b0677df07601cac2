"""Background work of the cases module: the deadline sweep every minute, the classifier nightly."""

from __future__ import annotations

import datetime as dt

from gongzhi.core import periodic


@periodic.job(every=dt.timedelta(minutes=1))
def sweep_case_deadlines() -> None:
    from gongzhi.cases import services

    services.sweep_deadlines()


@periodic.job(every=dt.timedelta(hours=1), timeout=dt.timedelta(hours=2))
def retrain_case_classifier() -> None:
    """Retrain 智能分拨 from closed cases once a night: periodic jobs run at intervals, so this hourly
    check acts only in the first run inside classifier.NIGHT_HOURS (and skips when nothing is due)."""
    from gongzhi.cases import classifier

    classifier.retrain_from_cases()
