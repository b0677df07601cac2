"""Background tasks of the people module, and its periodic jobs."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from gongzhi.core import periodic


@task()
def run_import(job_id: int) -> str:
    """Run one queued 台账 import (see people.importing); returns the job's final status."""
    from gongzhi.people import importing

    return importing.run_job(job_id).status


@periodic.job(every=dt.timedelta(hours=1))
def sweep_stale_imports() -> dict:
    """Fail imports whose process died and remove the files they left (uploads hold personal data)."""
    from gongzhi.people import importing

    return importing.sweep_stale()
