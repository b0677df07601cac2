import logging
import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from gongzhi.core import periodic

logger = logging.getLogger(__name__)


def run_scheduler(stop: threading.Event, interval: float) -> None:
    periodic.sync_schedule()
    while not stop.is_set():
        try:
            close_old_connections()
            periodic.tick()
        except Exception:  # keep scheduling through a transient database error
            logger.exception("periodic scheduler tick failed")
        stop.wait(interval)
    connection.close()


class Command(BaseCommand):
    help = "运行后台任务进程（含定时任务调度）"

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="取任务的间隔秒数")
        parser.add_argument("--schedule-interval", type=float, default=15.0, help="检查定时任务的间隔秒数")
        parser.add_argument("--no-schedule", action="store_true", help="只执行任务，不调度定时任务")

    def handle(self, *args, interval, schedule_interval, no_schedule, **options):
        stop = threading.Event()
        if not no_schedule:
            thread = threading.Thread(
                target=run_scheduler, args=(stop, schedule_interval), name="gongzhi-scheduler", daemon=True
            )
            thread.start()
        try:
            call_command("db_worker", interval=interval, queue_name="*", startup_delay=False)
        finally:
            stop.set()
