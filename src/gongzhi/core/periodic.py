"""Periodic jobs run by the worker on a schedule kept in the database.

    @periodic.job(every=timedelta(hours=1))
    def prune_login_failures(): ...

`tick()` (called by `gongzhi worker` every few seconds) claims each due job with a conditional
UPDATE — only one worker wins, however many run — and enqueues it as a task. A claimed job stays
marked running until it finishes, so a slow run is never overlapped by the next one; a run that
died without finishing is given up after `timeout` and scheduled again.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q

from gongzhi.core import clock

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every: dt.timedelta
    timeout: dt.timedelta
    fn: Callable[[], object]


JOBS: dict[str, Job] = {}


def job(*, every: dt.timedelta, timeout: dt.timedelta | None = None):
    def wrap(fn):
        name = f"{fn.__module__}.{fn.__name__}"
        JOBS[name] = Job(name, every, timeout or max(every, dt.timedelta(minutes=30)), fn)
        return fn

    return wrap


def sync_schedule() -> None:
    """Create rows for newly registered jobs and keep intervals in step with the code."""
    from gongzhi.core.models import PeriodicJob

    now = clock.now()
    for j in JOBS.values():
        row, created = PeriodicJob.objects.get_or_create(
            name=j.name, defaults={"interval_seconds": int(j.every.total_seconds()), "next_run_at": now}
        )
        if not created and row.interval_seconds != int(j.every.total_seconds()):
            PeriodicJob.objects.filter(pk=row.pk).update(interval_seconds=int(j.every.total_seconds()))


def claim_due(now: dt.datetime | None = None) -> list[str]:
    """Claim every due job not already running; returns the names this caller won."""
    from gongzhi.core.models import PeriodicJob

    now = now or clock.now()
    won = []
    for j in JOBS.values():
        stale = now - j.timeout
        claimed = (
            PeriodicJob.objects.filter(name=j.name, next_run_at__lte=now)
            .filter(Q(running_since__isnull=True) | Q(running_since__lt=stale))
            .update(running_since=now, next_run_at=now + j.every)
        )
        if claimed:
            won.append(j.name)
    return won


def tick(now: dt.datetime | None = None) -> list[str]:
    """Claim due jobs and enqueue a task for each."""
    from gongzhi.core.tasks import run_periodic_job

    names = claim_due(now)
    for name in names:
        run_periodic_job.enqueue(name)
    return names


def run(name: str) -> None:
    """Run a claimed job and release it, recording how it went."""
    from gongzhi.core.models import PeriodicJob

    j = JOBS.get(name)
    started = clock.now()
    PeriodicJob.objects.filter(name=name).update(last_started_at=started)
    status, error = "ok", ""
    try:
        if j is None:
            raise LookupError(f"no periodic job named {name}")
        j.fn()
    except Exception:
        status, error = "failed", traceback.format_exc()
        logger.exception("periodic job %s failed", name)
    finally:
        PeriodicJob.objects.filter(name=name).update(
            running_since=None, last_finished_at=clock.now(), last_status=status, last_error=error
        )
