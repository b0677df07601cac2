"""Background tasks of core, and core's periodic jobs."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django_tasks import task

from gongzhi.core import audit, clock, notify, periodic, uploads

logger = logging.getLogger(__name__)


@task()
def run_periodic_job(name: str) -> None:
    periodic.run(name)


@periodic.job(every=dt.timedelta(hours=1))
def prune_login_failures() -> int:
    """Failures older than the lockout window can no longer lock anyone."""
    from gongzhi.core.models import LoginFailure

    cutoff = clock.now() - dt.timedelta(minutes=settings.GONGZHI_LOGIN_WINDOW_MINUTES)
    deleted, _ = LoginFailure.objects.filter(at__lt=cutoff).delete()
    return deleted


@periodic.job(every=dt.timedelta(days=1), timeout=dt.timedelta(hours=6))
def verify_audit_chain() -> None:
    """Check the audit chain daily; a broken chain is logged as an error for the operator."""
    result = audit.verify()
    if not result.ok:
        logger.error("audit chain broken at entry %s: %s", result.broken_id, result.reason)
        raise RuntimeError(f"audit chain broken at entry {result.broken_id}: {result.reason}")


@periodic.job(every=dt.timedelta(minutes=1))
def deliver_notifications() -> dict:
    """Send pending e-mail and webhook copies of notifications (see core.notify)."""
    return notify.deliver_pending()


@periodic.job(every=dt.timedelta(days=1), timeout=dt.timedelta(hours=6))
def prune_orphan_attachment_files() -> int:
    """Remove stored upload files that no attachment refers to (their transaction rolled back)."""
    return uploads.prune_orphan_files()
