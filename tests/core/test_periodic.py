"""Periodic jobs: due jobs are claimed once, never overlap, and survive restarts (state in the database)."""

import datetime as dt

import pytest

from gongzhi.core import periodic
from gongzhi.core.models import PeriodicJob

calls = []


@pytest.fixture
def job(db):
    def sample():
        calls.append(1)

    periodic.job(every=dt.timedelta(minutes=10), timeout=dt.timedelta(hours=1))(sample)
    name = f"{sample.__module__}.{sample.__name__}"
    calls.clear()
    yield name
    periodic.JOBS.pop(name)


def test_due_job_is_claimed_by_one_caller_only(job, frozen_clock):
    periodic.sync_schedule()
    assert job in periodic.claim_due()
    assert job not in periodic.claim_due()  # a second worker at the same moment wins nothing


def test_running_job_is_not_started_again_until_finished(job, frozen_clock):
    periodic.sync_schedule()
    periodic.claim_due()
    frozen_clock.advance(minutes=15)  # due again, but the first run has not finished
    assert job not in periodic.claim_due()
    periodic.run(job)
    assert calls == [1]
    assert job in periodic.claim_due()


def test_stale_run_is_given_up_after_timeout(job, frozen_clock):
    periodic.sync_schedule()
    periodic.claim_due()
    frozen_clock.advance(minutes=61)
    assert job in periodic.claim_due()


def test_schedule_is_kept_in_the_database(job, frozen_clock):
    periodic.sync_schedule()
    periodic.claim_due()
    periodic.run(job)
    row = PeriodicJob.objects.get(name=job)
    assert row.next_run_at == frozen_clock.at + dt.timedelta(minutes=10)
    assert row.last_status == "ok" and row.running_since is None
    periodic.sync_schedule()  # a restart re-syncs without resetting the schedule
    assert PeriodicJob.objects.get(name=job).next_run_at == row.next_run_at


def test_failure_is_recorded_and_releases_the_job(db, frozen_clock):
    def broken():
        raise ValueError("boom")

    periodic.job(every=dt.timedelta(minutes=1))(broken)
    name = f"{broken.__module__}.{broken.__name__}"
    try:
        periodic.sync_schedule()
        periodic.claim_due()
        periodic.run(name)
        row = PeriodicJob.objects.get(name=name)
        assert row.last_status == "failed" and "boom" in row.last_error and row.running_since is None
    finally:
        periodic.JOBS.pop(name)


def test_tick_enqueues_a_task(job, frozen_clock, settings):
    from django_tasks_db.models import DBTaskResult

    periodic.sync_schedule()
    names = periodic.tick()
    assert job in names
    queued = DBTaskResult.objects.filter(args_kwargs__args=[job])
    assert queued.count() == 1
