"""Case intake over HTTP: `POST /api/v1/cases` against `gongzhi serve` (gunicorn, 2 workers).

Budget (ARCHITECTURE §7 and the cases issue): at 200 requests/s, p99 under 50 ms — with locating,
routing, the working-day deadline, the timeline event, the audit entry and the notifications of the
dispatchers all included in each request.

For each database (PostgreSQL in a database of its own, created and dropped here; SQLite in a
temporary file) it migrates, builds a street of 12 communities x 4 grids with boundaries, units,
routing rules for every category, two dispatchers and an API key, starts the server on a free
loopback port and drives it from 4 client threads:

  max:    each thread sends its requests back to back (throughput and latency under saturation);
  paced:  the threads together send 200 requests/s on a fixed schedule; latency is measured from
          the scheduled send time, so a server that falls behind is charged for the queue.

Both against the same server's trivial JSON endpoint `GET /api/v1/cases/ping` (the baseline: the
same stack, no work) and against `POST /api/v1/cases`. Bounded: --requests per thread and
--max-seconds per phase. Loopback only.

    .venv/bin/python bench/cases_intake.py [--requests 2000] [--databases postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from common import admin, machine, with_database  # noqa: E402  (bench/ is the script folder)

GONGZHI = Path(sys.executable).parent / "gongzhi"
THREADS = 4
ORIGIN_LON, ORIGIN_LAT, CELL = 105.585, 30.455, 0.006
TITLES = [
    ("SJ0101", "小区门口垃圾堆积", "垃圾三天没人清运，气味很大"),
    ("SJ0401", "人行道占道经营", "早市摊贩占满人行道，行人只能走机动车道"),
    ("BJ0201", "路灯不亮", "巷子里三盏路灯晚上都不亮，老人出行不便"),
    ("BJ0101", "井盖缺失", "人行道上井盖丢失，已经用树枝围起来"),
    ("SJ0405", "夜间噪声扰民", "楼下烧烤店营业到凌晨两点，噪声很大"),
    ("SJ0602", "楼道堆放杂物", "三单元楼道堆满纸箱，存在消防隐患"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(env: dict) -> tuple[str, list[tuple[float, float]]]:
    """Migrate and build the world in a child process (Django settings are per process)."""
    out = subprocess.run(
        [sys.executable, __file__, "--prepare"], env=env, check=True, capture_output=True, text=True
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["key"], [tuple(p) for p in data["points"]]


def build() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from gongzhi.cases import services
    from gongzhi.cases.models import Category, UnitKind
    from gongzhi.core import rules
    from gongzhi.core import services as core
    from gongzhi.core.models import Level, Region
    from gongzhi.core.principals import SYSTEM
    from gongzhi.core.roles import Role

    call_command("migrate", verbosity=0)

    def square(lon, lat, w, h):
        ring = [[lon, lat], [lon + w, lat], [lon + w, lat + h], [lon, lat + h], [lon, lat]]
        return {"type": "Polygon", "coordinates": [ring]}

    def make(code, name, level, parent=None, boundary=None):
        return Region.objects.create(
            code=code,
            name=name,
            level=level,
            parent=parent,
            path=rules.child_path(parent.path if parent else "", code),
            boundary=boundary,
        )

    province = make("51", "四川省", Level.PROVINCE)
    city = make("5109", "遂宁市", Level.CITY, province)
    county = make("510903", "船山区", Level.COUNTY, city)
    street = make(
        "510903014", "南强街道", Level.STREET, county, square(ORIGIN_LON, ORIGIN_LAT, 8 * CELL, 6 * CELL)
    )
    department = services.save_unit(SYSTEM, name="区综合行政执法局", kind=UnitKind.DEPARTMENT, region=county)
    points = []
    for c in range(12):
        col, row = c % 4, c // 4
        lon, lat = ORIGIN_LON + col * 2 * CELL, ORIGIN_LAT + row * 2 * CELL
        community = make(
            f"510903014{c + 1:03d}",
            f"社区{c + 1}",
            Level.COMMUNITY,
            street,
            square(lon, lat, 2 * CELL, 2 * CELL),
        )
        unit = services.save_unit(
            SYSTEM, name=f"社区{c + 1}居委会", kind=UnitKind.COMMUNITY, region=community
        )
        for g in range(4):
            glon, glat = lon + (g % 2) * CELL, lat + (g // 2) * CELL
            make(
                f"{community.code}{g + 1:03d}",
                f"网格{g + 1}",
                Level.GRID,
                community,
                square(glon, glat, CELL, CELL),
            )
            points.append((glon + CELL / 2, glat + CELL / 2))
        staff = core.create_user(SYSTEM, username=f"community{c}", password="x" * 12, check_password=False)
        core.grant_role(SYSTEM, staff, Role.COMMUNITY_STAFF, community)
        services.set_unit_member(SYSTEM, unit, staff, member=True, is_head=True)
        services.save_routing_rule(
            SYSTEM, category=Category.objects.get(code="SJ06"), region=community, unit=unit
        )
    for code in ("SJ01", "SJ04", "BJ01", "BJ02"):
        services.save_routing_rule(
            SYSTEM, category=Category.objects.get(code=code), region=street, unit=department
        )
    for i in range(2):
        dispatcher = core.create_user(
            SYSTEM, username=f"dispatcher{i}", password="x" * 12, check_password=False
        )
        core.grant_role(SYSTEM, dispatcher, Role.STREET_STAFF, street)
    _key, secret = core.create_api_key(SYSTEM, name="12345 热线", region=street, actions=["cases.submit"])
    print(json.dumps({"key": secret, "points": points}))


class Server:
    def __init__(self, env: dict, port: int):
        self.port = port
        self.proc = subprocess.Popen(
            [str(GONGZHI), "serve", f"127.0.0.1:{port}", "--workers", "2", "--no-worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self, key: str, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                status, _ = request(self.port, "GET", "/api/v1/me", key)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)  # polling a starting server, not timing anything
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def request(port: int, method: str, path: str, key: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def case_body(rng: random.Random, points) -> bytes:
    code, title, description = rng.choice(TITLES)
    lon, lat = rng.choice(points)
    return json.dumps(
        {
            "title": title,
            "description": description,
            "category": code,
            "lon": lon + rng.uniform(-0.002, 0.002),
            "lat": lat + rng.uniform(-0.002, 0.002),
            "reporter_name": "张先生",
            "reporter_phone": f"139{rng.randint(0, 99_999_999):08d}",
        },
        ensure_ascii=False,
    ).encode()


def run_phase(port, key, points, *, kind: str, per_thread: int, rate: float | None, max_seconds: float):
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.1
    stop_at = start + max_seconds

    def client(index: int) -> None:
        rng = random.Random(index)
        mine = []
        for k in range(per_thread):
            scheduled = start + (k * THREADS + index) / rate if rate else time.perf_counter()
            now = time.perf_counter()
            if scheduled > now:
                time.sleep(scheduled - now)  # pacing the load generator
            if time.perf_counter() > stop_at:
                break
            if kind == "ping":
                status, data = request(port, "GET", "/api/v1/cases/ping", key)
                ok = status == 200
            else:
                status, data = request(port, "POST", "/api/v1/cases", key, case_body(rng, points))
                ok = status == 201
            mine.append(time.perf_counter() - scheduled)
            if not ok:
                with lock:
                    errors.append(f"{status} {data[:200]!r}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "n": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors,
    }


def bench_database(label: str, env: dict, args) -> dict:
    key, points = prepare(env)
    port = free_port()
    server = Server(env, port)
    results = {}
    try:
        server.wait_ready(key)
        run_phase(port, key, points, kind="ping", per_thread=50, rate=None, max_seconds=30)  # warm-up
        for name, kind, rate in (
            ("baseline max", "ping", None),
            ("intake max", "case", None),
            ("baseline @200/s", "ping", 200.0),
            ("intake @200/s", "case", 200.0),
        ):
            r = run_phase(
                port,
                key,
                points,
                kind=kind,
                per_thread=args.requests,
                rate=rate,
                max_seconds=args.max_seconds,
            )
            results[name] = r
            print(
                f"  {label:10s} {name:16s} {r['n']:6,d} req  {r['rps']:7.1f} req/s"
                f"  p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms"
                + (f"  ERRORS {len(r['errors'])}: {r['errors'][0]}" if r["errors"] else ""),
                flush=True,
            )
    finally:
        server.stop()
    base, ours = results["baseline @200/s"], results["intake @200/s"]
    throughput = results["intake max"]["rps"] / results["baseline max"]["rps"]
    met = ours["p99"] < 50 and ours["rps"] >= 190
    print(
        f"  {label:10s} ratios intake/baseline: throughput {throughput:.2f}, p99 at 200/s"
        f" {ours['p99'] / base['p99']:.2f}; budget p99 < 50 ms at 200/s -> {'met' if met else 'MISSED'}",
        flush=True,
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per client thread and phase")
    parser.add_argument("--max-seconds", type=float, default=90, help="time limit per phase")
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    if args.prepare:
        build()
        return

    print(machine())
    print(f"{THREADS} client threads x {args.requests} requests per phase; server: gunicorn, 2 workers")
    for label in args.databases.split(","):
        work = Path(tempfile.mkdtemp(prefix="gongzhi-bench-"))
        env = {**os.environ, "GONGZHI_VAR_DIR": str(work / "var"), "GONGZHI_LOG_LEVEL": "WARNING"}
        name = f"gongzhi_bench_{os.getpid()}"
        if label == "postgresql":
            env["GONGZHI_DATABASE_URL"] = with_database(args.database_url, name)
            admin(args.database_url, f'CREATE DATABASE "{name}"')
        else:
            env.pop("GONGZHI_DATABASE_URL", None)
        try:
            bench_database(label, env, args)
        finally:
            if label == "postgresql":
                admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
