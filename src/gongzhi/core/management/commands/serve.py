import os
import signal
import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "以 gunicorn 运行平台（whitenoise 提供静态文件），并在旁边启动后台任务进程"

    def add_arguments(self, parser):
        parser.add_argument("addr", nargs="?", default="127.0.0.1:8000", help="监听地址，默认 127.0.0.1:8000")
        parser.add_argument("--workers", type=int, default=int(os.environ.get("GONGZHI_WEB_WORKERS", "3")))
        parser.add_argument("--no-worker", action="store_true", help="不启动后台任务进程")

    def handle(self, *args, addr, workers, no_worker, **options):
        from gunicorn.app.base import BaseApplication

        # Collect before the app loads: whitenoise indexes the static folder when it starts.
        call_command("collectstatic", interactive=False, verbosity=0)
        from gongzhi.wsgi import application

        worker = None
        if not no_worker:
            worker = subprocess.Popen([sys.executable, "-m", "gongzhi.cli", "worker"])

        class App(BaseApplication):
            def load_config(self):
                self.cfg.set("bind", addr)
                self.cfg.set("workers", workers)
                self.cfg.set("accesslog", "-")
                self.cfg.set("timeout", 60)

            def load(self):
                return application

        self.stdout.write(f"共治已启动：http://{addr}/  （Ctrl+C 停止）")
        try:
            App().run()
        finally:
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()
