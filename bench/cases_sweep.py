"""The SLA sweep over 1,000,000 open cases (budget: under 5 s for one sweep).

In a PostgreSQL database of its own (`gongzhi_bench_<pid>`, created, migrated and dropped here) it
builds a county of 4 streets x 6 communities x 4 grids with one unit (and its head) per community,
two dispatchers per street and one department, then loads N open cases with COPY: statuses spread
over the open states, categories drawn from the defaults (some escalate automatically).

The worker sweeps every minute. Deadlines are spread over 50 days, so a regular run meets a few
dozen crossings; after an outage it catches up on everything since its last run. It times, in
consecutive windows ending at the same frozen moments:
  (a) baseline: the least any sweep must do — one bare INSERT … SELECT writing an event for each
      case that went overdue in the window (then deleted again);
  (b) ours: `cases.services.sweep_deadlines` — claiming the window since the last run, warning and
      overdue events for every crossing, automatic escalation of community cases (their rows,
      assignments and events), one digest notification per unit and per street, the audit entry;
for a one-minute window (the regular run), a one-hour catch-up and a one-day catch-up; then the
idle cost of a run with nothing to do.

    .venv/bin/python bench/cases_sweep.py [--cases N] [--database-url URL] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from common import admin, machine, with_database  # noqa: E402  (bench/ is the script folder)

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
OPEN = ("submitted", "accepted", "dispatched", "in_progress", "replied", "returned", "escalated")
OPEN_WEIGHTS = (10, 5, 25, 45, 8, 3, 4)


def build_world() -> tuple[list, list, list]:
    """Regions, one community unit each, a department; returns (grids, units by community, categories)."""
    from gongzhi.cases.models import Category, Unit, UnitKind, UnitMember
    from gongzhi.core import rules
    from gongzhi.core.models import Level, Region, RoleGrant, User
    from gongzhi.core.roles import Role

    def make(code, name, level, parent=None):
        return Region.objects.create(
            code=code,
            name=name,
            level=level,
            parent=parent,
            path=rules.child_path(parent.path if parent else "", code),
        )

    province = make("51", "四川省", Level.PROVINCE)
    city = make("5109", "遂宁市", Level.CITY, province)
    county = make("510903", "船山区", Level.COUNTY, city)
    Unit.objects.create(name="区综合行政执法局", kind=UnitKind.DEPARTMENT, region=county)
    grids, units = [], {}
    for s in range(1, 5):
        street = make(f"510903{s:03d}", f"街道{s}", Level.STREET, county)
        for d in range(2):
            dispatcher = User.objects.create(username=f"dispatcher{s}-{d}")
            RoleGrant.objects.create(user=dispatcher, role=Role.STREET_STAFF, region=street, granted_at=NOW)
        for c in range(1, 7):
            community = make(f"{street.code}{c:03d}", f"社区{s}-{c}", Level.COMMUNITY, street)
            units[community.pk] = Unit.objects.create(
                name=f"社区{s}-{c}居委会", kind=UnitKind.COMMUNITY, region=community
            )
            staff = User.objects.create(username=f"community{s}-{c}")
            UnitMember.objects.create(unit=units[community.pk], user=staff, is_head=True)
            for g in range(1, 5):
                grids.append(make(f"{community.code}{g:03d}", f"网格{g}", Level.GRID, community))
    categories = list(Category.objects.filter(parent__isnull=False).values_list("pk", "auto_escalate"))
    return grids, units, categories


def load_cases(n: int, grids, units, categories, seed: int = 7) -> None:
    from django.db import connection

    rng = random.Random(seed)
    columns = (
        "number, source, request_type, title, description, region_id, region_path, located_by, address,"
        " reporter_name, anonymous, verified_reporter, status, unit_id, no_rule, escalation_level,"
        " created_at, due_at, warn_at, suspended_status, suspended_working, reopen_count, rating,"
        " callback_pending, category_id"
    )
    with connection.cursor() as cursor, cursor.copy(f"COPY cases_case ({columns}) FROM STDIN") as copy:
        for i in range(n):
            grid = rng.choice(grids)
            status = rng.choices(OPEN, OPEN_WEIGHTS)[0]
            unit = units[grid.parent_id].pk if status in ("dispatched", "in_progress", "replied") else None
            # Deadlines from 2 days before the last timed moment to 48 days after it, warnings up to
            # 4 days before them.
            due = NOW + dt.timedelta(minutes=rng.randint(-60 * 24 * 2, 60 * 24 * 48))
            warn = due - dt.timedelta(minutes=rng.randint(60, 60 * 24 * 4))
            category_id, _auto = rng.choice(categories)
            copy.write_row(
                (
                    f"B{i:013d}",
                    "resident",
                    "complaint",
                    "路边垃圾",
                    "描述",
                    grid.pk,
                    grid.path,
                    "point",
                    "",
                    "",
                    False,
                    False,
                    status,
                    unit,
                    False,
                    0,
                    NOW - dt.timedelta(days=rng.randint(1, 30)),
                    due,
                    warn,
                    "",
                    dt.timedelta(0),
                    0,
                    "",
                    False,
                    category_id,
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args()

    print(machine())
    name = f"gongzhi_bench_{os.getpid()}"
    url = with_database(args.database_url, name)
    work = Path(tempfile.mkdtemp(prefix="gongzhi-bench-"))
    os.environ.update(
        {
            "GONGZHI_DATABASE_URL": url,
            "GONGZHI_VAR_DIR": str(work / "var"),
            "DJANGO_SETTINGS_MODULE": "gongzhi.settings",
        }
    )
    admin(args.database_url, f'CREATE DATABASE "{name}"')
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from gongzhi.cases import services
        from gongzhi.cases.models import Case, CaseEvent, SweepState
        from gongzhi.core import clock
        from gongzhi.core.models import Notification

        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            print(f"database: {cursor.fetchone()[0].split(',')[0]}")
        call_command("migrate", verbosity=0)
        grids, units, categories = build_world()
        t = time.perf_counter()
        load_cases(args.cases, grids, units, categories)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE cases_case")
        print(f"loaded {args.cases:,} open cases in {time.perf_counter() - t:.1f} s")

        # The worker has been sweeping every minute; it last ran just before the first timed window.
        # Each window is timed twice: the bare INSERT of its overdue events (deleted again), then ours.
        windows = [
            ("every-minute sweep", dt.timedelta(minutes=1)),
            ("catch-up after 1 hour down", dt.timedelta(hours=1)),
            ("catch-up after 1 day down", dt.timedelta(days=1)),
        ]
        start = NOW - sum((w for _label, w in windows), dt.timedelta(0))
        # One untimed regular run first: a long-running worker has long loaded what the first run loads
        # (URL map, translations, notification and audit code).
        SweepState.objects.update_or_create(pk=1, defaults={"swept_until": start - dt.timedelta(minutes=5)})
        with clock.frozen(start):
            services.sweep_deadlines()
        print()
        print(f"open cases: {args.cases:,}; deadlines spread over 50 days")
        print(f"{'window':28s} {'baseline':>9s} {'ours':>8s} {'ratio':>6s}  crossings (yellow/red/escalated)")
        at, worst_regular = start, 0.0
        for label, width in windows:
            at += width
            with connection.cursor() as cursor:
                t = time.perf_counter()
                cursor.execute(
                    "INSERT INTO cases_caseevent (case_id, at, kind, actor_label, region_path, note, public,"
                    " rating, data) SELECT id, due_at, 'overdue', 'system', region_path, '', false, '', '{}'"
                    " FROM cases_case WHERE status = ANY(%s) AND due_at > %s AND due_at <= %s",
                    [list(OPEN), at - width, at],
                )
                baseline = time.perf_counter() - t
                cursor.execute(
                    "DELETE FROM cases_caseevent WHERE actor_label = 'system' AND at > %s", [at - width]
                )
            with clock.frozen(at):
                t = time.perf_counter()
                result = services.sweep_deadlines()
                ours = time.perf_counter() - t
            if width <= dt.timedelta(hours=1):
                worst_regular = max(worst_regular, ours)
            print(
                f"{label:28s} {baseline:8.3f}s {ours:7.3f}s {ours / max(baseline, 1e-6):6.1f}"
                f"  {result['yellow']:,}/{result['red']:,}/{result['escalated']:,}",
                flush=True,
            )
        with clock.frozen(at):
            t = time.perf_counter()
            assert services.sweep_deadlines() == {"yellow": 0, "red": 0, "escalated": 0}
            idle = time.perf_counter() - t
        print(f"{'same moment again (idle)':28s} {'':9s} {idle:7.3f}s")
        print(
            f"events {CaseEvent.objects.count():,}, digest notifications {Notification.objects.count():,},"
            f" escalated cases {Case.objects.filter(status='escalated').count():,}"
        )
        verdict = "met" if worst_regular < 5 else "MISSED"
        print(f"budget: regular sweep and 1-hour catch-up over {args.cases:,} cases under 5 s -> {verdict}")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()
