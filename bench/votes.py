"""An owners' vote in a large compound: casting online, closing (count and seal) and `votes verify`.

In a PostgreSQL database of its own (`gongzhi_bench_<pid>`, created, migrated and dropped here) it
builds one community with a compound of N units (default 5,000), each with its own owner who has a
verified login. Units differ in area. A special-item owners' vote opens, freezing the electorate.
It then times three things:
  (a) every owner casting a yes/no ballot on their phone through `votes.cast_online`: checks, the
      row lock, one participation, a chained ballot and the audit entry;
      baseline: the same participation and ballot rows written by the bare ORM, one transaction each;
  (b) closing the vote (`votes.close_vote`: turnout, the tally, every threshold, the seal);
      baseline: one SQL GROUP BY summing count and area per choice;
  (c) `votes.verify`: the chain walked link by link, the electorate hash, ballots against
      participations and a full recount;
      baseline: reading every ballot row once.

    .venv/bin/python bench/votes.py [--owners N] [--database-url URL] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from common import admin, machine, with_database  # noqa: E402  (bench/ is the script folder)

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


def build_compound(owners: int):
    """A community with one compound of `owners` units, each owned by a resident with a login."""
    from django.contrib.auth.hashers import make_password

    from gongzhi.core import rules
    from gongzhi.core.models import Level, Region, RoleGrant, User
    from gongzhi.core.roles import Role
    from gongzhi.people.models import Building, Ownership, Resident, ResidentStatus, Unit

    def make(code, name, level, parent=None):
        return Region.objects.create(
            code=code,
            name=name,
            level=level,
            parent=parent,
            path=rules.child_path(parent.path if parent else "", code),
        )

    county = make("510903", "船山区", Level.COUNTY)
    street = make("510903014", "南强街道", Level.STREET, county)
    community = make("510903014006", "马宗岭社区", Level.COMMUNITY, street)
    grid = make("510903014006001", "第1网格", Level.GRID, community)
    clerk = User.objects.create(username="clerk", password=make_password(None))
    RoleGrant.objects.create(user=clerk, role=Role.COMMUNITY_STAFF, region=community, granted_at=NOW)
    rng = random.Random(11)
    per_building = 100
    buildings = Building.objects.bulk_create(
        Building(
            region=grid, compound="金桂苑", name=f"{i + 1}栋", address=f"金桂路{i + 1}号", created_at=NOW
        )
        for i in range((owners + per_building - 1) // per_building)
    )
    units = Unit.objects.bulk_create(
        Unit(
            building=buildings[i // per_building],
            label=f"{i % per_building + 101}",
            exclusive_area=Decimal(rng.randint(6000, 18000)) / 100,
        )
        for i in range(owners)
    )
    users = User.objects.bulk_create(User(username=f"owner{i}", password="!") for i in range(owners))
    residents = Resident.objects.bulk_create(
        Resident(
            region=grid,
            name=f"业主{i}",
            account=users[i],
            status=ResidentStatus.LIVING_HERE,
            created_at=NOW,
            updated_at=NOW,
        )
        for i in range(owners)
    )
    Ownership.objects.bulk_create(
        Ownership(resident=r, unit=u) for r, u in zip(residents, units, strict=True)
    )
    return community, clerk, users


def open_vote(community, clerk, owners: int):
    from gongzhi.deliberation.models import Process, VoteRule
    from gongzhi.deliberation.services import matters, votes

    matter = matters.create_matter(
        clerk, region=community, title="筹集专项维修资金", process=Process.OWNERS_ASSEMBLY, compound="金桂苑"
    )
    matters.record_step(clerk, matter, code="announce", held_on=NOW.date(), minutes="公告")
    vote = votes.create_vote(
        clerk,
        matter,
        title="筹集专项维修资金",
        rule=VoteRule.OWNERS_SPECIAL,
        closes_at=NOW + dt.timedelta(days=15),
        questions=[{"text": "是否同意筹集专项维修资金", "kind": "yes_no"}],
    )
    return votes.open_vote(clerk, vote)


def time_casting(vote, users) -> list[float]:
    from gongzhi.deliberation.services import votes

    question = vote.questions.get()
    codes = {o.code: o.pk for o in question.options.all()}
    rng = random.Random(5)
    took = []
    for user in users:
        code = rng.choices(["yes", "no", "abstain"], weights=[80, 15, 5])[0]
        start = time.perf_counter()
        votes.cast_online(user, vote, {question.pk: [codes[code]]})
        took.append(time.perf_counter() - start)
    return took


def time_bare_rows(vote, count: int) -> list[float]:
    """The same two rows per voter, written by the bare ORM, then removed again."""
    from django.db import transaction

    from gongzhi.deliberation.models import Ballot, Channel, Elector, Participation

    question = vote.questions.get()
    electors = list(Elector.objects.filter(vote=vote)[:count])
    took = []
    for seq, elector in enumerate(electors, start=1_000_000):
        start = time.perf_counter()
        with transaction.atomic():
            Participation.objects.create(vote=vote, elector=elector, channel=Channel.ONLINE, at=NOW)
            Ballot.objects.create(
                vote=vote,
                seq=seq,
                question=question,
                choices=[1],
                channel=Channel.ONLINE,
                cast_at=NOW,
                receipt_hash="0" * 64,
                prev_hash="0" * 64,
                hash="0" * 64,
                replaced=True,
            )
        took.append(time.perf_counter() - start)
    Ballot.objects.filter(vote=vote, seq__gte=1_000_000).delete()
    Participation.objects.filter(vote=vote, at=NOW).delete()
    return took


def bare_group_by(vote) -> float:
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT choices::text, count(*), sum(area) FROM deliberation_ballot "
            "WHERE vote_id = %s AND NOT replaced GROUP BY choices::text",
            [vote.pk],
        )
        cursor.fetchall()
    return time.perf_counter() - start


def bare_read(vote) -> float:
    from gongzhi.deliberation.models import Ballot

    start = time.perf_counter()
    for _row in Ballot.objects.filter(vote=vote).order_by("seq").values_list().iterator(chunk_size=2000):
        pass
    return time.perf_counter() - start


def ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else values[0] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--owners", type=int, default=5_000)
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

        from gongzhi.core import clock
        from gongzhi.deliberation.services import votes

        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            print(f"database: {cursor.fetchone()[0].split(',')[0]}")
        call_command("migrate", verbosity=0)
        with clock.frozen(NOW) as travel:
            community, clerk, users = build_compound(args.owners)
            vote = open_vote(community, clerk, args.owners)
            baseline = time_bare_rows(vote, min(500, args.owners))
            cast = time_casting(vote, users)
            travel.advance(days=16)
            base_count = bare_group_by(vote)
            start = time.perf_counter()
            result = votes.close_vote(clerk, vote)
            closing = time.perf_counter() - start
        base_read = bare_read(vote)
        start = time.perf_counter()
        check = votes.verify(vote)
        verifying = time.perf_counter() - start
        assert check.ok and check.ballots == args.owners, check

        outcome = result.questions[0]
        area, passed = result.electorate_area, outcome["passed"]
        print(f"\nowners' vote: {args.owners:,} owners, {area:,} m²; passed: {passed}")
        print(f"{'step':34s} {'ours':>16s} {'baseline':>16s} {'ratio':>6s}")
        mean, bare_mean = statistics.fmean(cast), statistics.fmean(baseline)
        print(
            f"{'cast one ballot (mean / p99)':34s} {mean * 1000:7.2f} / {ms(cast, 99):5.2f} ms"
            f" {bare_mean * 1000:7.2f} / {ms(baseline, 99):5.2f} ms {mean / bare_mean:5.1f}×"
        )
        rate, bare_rate = len(cast) / sum(cast), len(baseline) / sum(baseline)
        print(f"{'casting throughput':34s} {rate:11.0f} /s {bare_rate:11.0f} /s")
        ratio = closing / base_count
        print(f"{'close (count and seal)':34s} {closing:14.3f} s {base_count:14.3f} s {ratio:5.0f}×")
        print(f"{'votes verify':34s} {verifying:14.3f} s {base_read:14.3f} s {verifying / base_read:5.1f}×")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()
