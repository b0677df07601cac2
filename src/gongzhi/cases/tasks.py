"""Background work of the cases module: the deadline sweep, every minute."""

from __future__ import annotations

import datetime as dt

from gongzhi.core import periodic


@periodic.job(every=dt.timedelta(minutes=1))
def sweep_case_deadlines() -> None:
    from gongzhi.cases import services

    services.sweep_deadlines()
