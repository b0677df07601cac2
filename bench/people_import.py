"""Importing residents from CSV (budget: 1,000,000 rows within 3x PostgreSQL's own COPY of the same rows).

Generates N synthetic residents as a CSV in the shape communities keep (Chinese headers; valid
GB 11643 ID numbers; names, phones, addresses; sex and birth date filled in and consistent), spread
over a few grids of a generated region tree, streamed to a temporary file. Then, in a database of
its own (`gongzhi_bench_<pid>`, created, migrated and dropped here):

  (a) baseline: PostgreSQL's COPY of the same CSV rows into a bare table of text columns;
  (b) ours: the real import path (`people.importing.run_job`: parse, validate every row, check
      duplicates in the file and against the database, encrypt, blind-index, derive search keys,
      insert the residents with COPY plus one register event each, one audit entry) in a fresh
      process, so its peak memory (ru_maxrss) is its own.

(b) runs at N/10 and at N (tables emptied in between) to show peak memory does not grow with the
file. Prints rows/s for both, the ratio ours/COPY, the time split between validation and writing,
and the machine.

    .venv/bin/python bench/people_import.py [--rows N] [--database-url URL] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from common import admin, machine, with_database  # noqa: E402  (bench/ is the script folder)

HEADER = [
    "姓名",
    "身份证号",
    "性别",
    "出生日期",
    "联系电话",
    "民族",
    "政治面貌",
    "人口类型",
    "与户主关系",
    "现住址",
    "迁入日期",
    "网格",
]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰海燕文斌林鹏晨浩宇欣怡子涵梓萱雨轩"
ADDRESS_CODES = ("510903", "510904", "510921", "510922", "510981", "510100", "500101", "110105", "420106")
ETHNIC = ("汉族",) * 96 + ("回族", "藏族", "彝族", "羌族")
POLITICAL = ("群众",) * 85 + ("中共党员",) * 8 + ("共青团员",) * 6 + ("民主党派",)
RESIDENCE = ("户籍人口",) * 8 + ("流动人口",) * 2
RELATION = ("户主", "配偶", "子", "女", "父母", "孙子女")
ROADS = ("马宗岭路", "南强路", "金鱼街", "遂州北路", "明月路", "河东一路", "嘉禾西路", "开善路")
FIRST_BIRTH = dt.date(1930, 1, 1)
BIRTH_DAYS = (dt.date(2024, 12, 31) - FIRST_BIRTH).days


# ---------------------------------------------------------------- data


def citizen_ids(n: int, seed: int):
    """n distinct valid ID numbers: a permutation (multiply by a unit mod M) of (address, day, seq)."""
    from gongzhi.core.validators import citizen_id_check_char

    space = len(ADDRESS_CODES) * BIRTH_DAYS * 999
    step = 2_654_435_761
    while math.gcd(step, space) != 1:  # a unit mod `space` visits every combination once
        step += 2
    offset = seed * 7919
    for i in range(n):
        k = (i * step + offset) % space
        k, seq = divmod(k, 999)
        address, day = divmod(k, BIRTH_DAYS)
        birth = FIRST_BIRTH + dt.timedelta(days=day)
        first17 = f"{ADDRESS_CODES[address]}{birth:%Y%m%d}{seq + 1:03d}"
        yield first17 + citizen_id_check_char(first17), birth


def write_csv(path: Path, n: int, grids: list[str], seed: int = 1) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for number, birth in citizen_ids(n, seed):
            given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
            moved = birth + dt.timedelta(days=rng.randrange(0, max(1, (dt.date(2025, 6, 1) - birth).days)))
            out.writerow(
                [
                    rng.choice(SURNAMES) + given,
                    number,
                    "男" if int(number[16]) % 2 else "女",
                    f"{birth:%Y-%m-%d}",
                    f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
                    rng.choice(ETHNIC),
                    rng.choice(POLITICAL),
                    rng.choice(RESIDENCE),
                    rng.choice(RELATION),
                    f"{rng.choice(ROADS)}{rng.randrange(1, 300)}号{rng.randrange(1, 30)}栋"
                    f"{rng.randrange(1, 5)}单元{rng.randrange(1, 33)}{rng.randrange(1, 5):02d}",
                    f"{moved:%Y-%m-%d}",
                    rng.choice(grids),
                ]
            )


# ---------------------------------------------------------------- database


def build_regions() -> tuple[str, list[str]]:
    """A county with 2 streets x 3 communities x 4 grids; returns the county code and 8 grid codes."""
    from gongzhi.core import rules
    from gongzhi.core.models import Level, Region

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
    grids = []
    for s in range(1, 3):
        street = make(f"510903{s:03d}", f"第{s}街道", Level.STREET, county)
        for c in range(1, 4):
            community = make(f"{street.code}{c:03d}", f"第{s}-{c}社区", Level.COMMUNITY, street)
            for g in range(1, 5):
                grids.append(
                    make(f"{community.code}{g:03d}", f"第{s}-{c}-{g}网格", Level.GRID, community).code
                )
    return county.code, grids[::3]


def copy_baseline(path: Path) -> float:
    """PostgreSQL's own COPY of the CSV into a bare table with the same columns, as text."""
    from django.db import connection

    with connection.cursor() as cursor:
        columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
        cursor.execute(f"DROP TABLE IF EXISTS bench_bare; CREATE TABLE bench_bare ({columns})")
        start = time.perf_counter()
        with cursor.cursor.copy("COPY bench_bare FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
        seconds = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_bare")
    return seconds


def schema_floor() -> tuple[float, int]:
    """PostgreSQL alone inserting the rows just imported (already validated, encrypted, indexed) into a
    copy of people_resident with the same indexes: what the table's indexes cost, with no client work."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'people_resident'")
        indexes = cursor.fetchone()[0]
        cursor.execute("CREATE TABLE bench_floor (LIKE people_resident INCLUDING ALL)")
        start = time.perf_counter()
        cursor.execute("INSERT INTO bench_floor SELECT * FROM people_resident")
        seconds = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_floor")
    return seconds, indexes


def empty_people_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE people_residentevent, people_resident, people_household, people_importjob CASCADE"
        )


def import_in_child(path: Path, region: str, env: dict) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--region", region],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"import failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def child(path: Path, region_code: str) -> None:
    """Runs in a fresh process: import the file the way `gongzhi people import` does; print JSON."""
    import django

    django.setup()
    from gongzhi.core import services as core_services
    from gongzhi.core.principals import SYSTEM
    from gongzhi.people import import_services, importing

    rss_setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    phases: dict[str, float] = {}

    def on_progress(phase, done, total):
        phases.setdefault(phase, time.perf_counter())

    start = time.perf_counter()
    job = import_services.create_import_job(
        SYSTEM,
        kind="residents",
        region=core_services.region_by_code(region_code),
        uploaded_file_or_path=path,
        file_name=path.name,
        copy=False,
    )
    job = importing.run_job(job.pk, actor=SYSTEM, on_progress=on_progress)
    seconds = time.perf_counter() - start
    if job.status != "done":
        raise SystemExit(f"import {job.status}: {job.errors[:5]}")
    writing = phases.get("writing", start + seconds)
    print(
        json.dumps(
            {
                "rows": job.counts["created"],
                "seconds": seconds,
                "validate_seconds": writing - start,
                "write_seconds": start + seconds - writing,
                "rss_setup_kb": rss_setup,
                "rss_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--region", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    if args.child:
        child(args.child, args.region)
        return

    print(machine())
    name = f"gongzhi_bench_{os.getpid()}"
    url = with_database(args.database_url, name)
    work = Path(tempfile.mkdtemp(prefix="gongzhi-bench-"))
    env = {**os.environ, "GONGZHI_DATABASE_URL": url, "GONGZHI_VAR_DIR": str(work / "var")}
    os.environ.update(env)
    admin(args.database_url, f'CREATE DATABASE "{name}"')
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            print(f"database: {cursor.fetchone()[0].split(',')[0]}")
        call_command("migrate", verbosity=0)
        region, grids = build_regions()

        small_n = max(1, args.rows // 10)
        big, small = work / "residents.csv", work / "residents_small.csv"
        t = time.perf_counter()
        write_csv(big, args.rows, grids)
        write_csv(small, small_n, grids, seed=2)
        size = big.stat().st_size / 1e6
        print(
            f"generated {args.rows:,} + {small_n:,} rows in {time.perf_counter() - t:.1f} s ({size:.0f} MB)"
        )

        copy_s = copy_baseline(big)
        connection.close()  # the child imports on its own connection

        results = {}
        for label, path, n in (("N/10", small, small_n), ("N", big, args.rows)):
            empty_people_tables()
            connection.close()
            results[label] = import_in_child(path, region, env)
            assert results[label]["rows"] == n, results[label]
        ours = results["N"]
        floor_s, indexes = schema_floor()
        print()
        print(f"rows:                 {args.rows:,}")
        print(f"COPY (bare table):    {copy_s:8.2f} s   {args.rows / copy_s:12,.0f} rows/s")
        print(
            f"import (ours):        {ours['seconds']:8.2f} s   {args.rows / ours['seconds']:12,.0f} rows/s"
            f"   (validate {ours['validate_seconds']:.1f} s, write {ours['write_seconds']:.1f} s)"
        )
        print(f"ratio ours/COPY:      {ours['seconds'] / copy_s:8.2f}   (budget 3.0)")
        print(
            f"floor: PostgreSQL alone inserting the prepared rows into a copy of people_resident"
            f" ({indexes} indexes): {floor_s:.2f} s = {floor_s / copy_s:.1f}x COPY"
        )
        for label, r in results.items():
            print(
                f"peak memory at {label:5} ({r['rows']:>9,} rows): {r['rss_peak_kb'] / 1024:7.1f} MB"
                f"   (after start-up {r['rss_setup_kb'] / 1024:.1f} MB,"
                f" import added {(r['rss_peak_kb'] - r['rss_setup_kb']) / 1024:.1f} MB)"
            )
    finally:
        from django.db import connection

        connection.close()
        if args.keep:
            print(f"kept database {name}")
        else:
            admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
