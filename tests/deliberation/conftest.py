"""A small community for deliberation tests: a compound whose units differ in area (one owner holds
two units, two people co-own one, one unit is the developer's), adults and a child, party members,
verified residents with logins, and staff of this and the neighbouring community; and the matters,
votes and ballots the tests build on it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from gongzhi.core import clock
from gongzhi.core.models import User
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from gongzhi.core.validators import citizen_id_check_char
from gongzhi.deliberation.models import Elector, Process, Vote, VoteRule
from gongzhi.deliberation.services import matters, votes
from gongzhi.people import services as people
from gongzhi.people.models import Resident, Unit
from tests.factories import Tree, build_tree, user_with

_serial = {"n": 0}


def citizen_id(birth: dt.date, male: bool = True) -> str:
    _serial["n"] += 1
    seq = _serial["n"] * 2 + (1 if male else 0)
    first17 = f"510903{birth:%Y%m%d}{seq % 1000:03d}"
    return first17 + citizen_id_check_char(first17)


def person(
    region, name: str, birth: dt.date, *, household=None, unit=None, account: User | None = None, **extra
):
    data = {"name": name, "id_number": citizen_id(birth), "address": "马宗岭路18号"} | extra
    resident = people.register_resident(SYSTEM, region, data, household=household, unit=unit)
    if account is not None:
        people.link_account(SYSTEM, resident, account)
    return resident


@dataclass
class Community:
    tree: Tree
    clerk: User  # community staff A: enters paper ballots
    checker: User  # community staff A: confirms them
    outsider_staff: User  # community staff of community B
    leader: User
    units: dict[str, Unit]
    zhang: Resident  # owns 101 and 102 (100 + 80 m²)
    wang: Resident  # co-owns 201 with li
    li: Resident
    zhao: Resident  # owns 202 (60 m²)
    sun: Resident  # tenant, adult, owns nothing, party member
    child: Resident  # 10 years old
    neighbour: Resident  # lives in community B
    users: dict[str, User]  # resident logins by short name


def build_community() -> Community:
    tree = build_tree()
    building = people.create_building(
        SYSTEM, tree.grid_a1, name="1栋", address="马宗岭路18号1栋", compound="阳光小区", floors=6
    )
    areas = {"101": "100.00", "102": "80.00", "201": "120.00", "202": "60.00", "底商": "140.00"}
    units = {
        label: people.create_unit(SYSTEM, building, label=label, exclusive_area=Decimal(area))
        for label, area in areas.items()
    }
    household = people.create_household(SYSTEM, tree.grid_a1, number="H101", unit=units["101"])
    users = {
        name: user_with(Role.RESIDENT, tree.community_a, username=name)
        for name in ("zhang", "wang", "li", "zhao", "sun")
    }
    zhang = person(tree.grid_a1, "张三", dt.date(1970, 5, 1), household=household, account=users["zhang"])
    wang = person(tree.grid_a1, "王芳", dt.date(1980, 1, 2), account=users["wang"])
    li = person(tree.grid_a2, "李明", dt.date(1982, 3, 4), account=users["li"])
    zhao = person(tree.grid_a2, "赵六", dt.date(1965, 7, 8), account=users["zhao"])
    sun = person(tree.grid_a2, "孙七", dt.date(1990, 9, 9), account=users["sun"], political_status="中共党员")
    child = person(tree.grid_a1, "张小宝", dt.date(2016, 6, 1), household=household)
    users["neighbour"] = user_with(Role.RESIDENT, tree.community_b, username="neighbour")
    neighbour = person(tree.grid_b1, "周八", dt.date(1975, 2, 2), account=users["neighbour"])
    for owner, label, share in (
        (zhang, "101", 1),
        (zhang, "102", 1),
        (wang, "201", "0.5"),
        (li, "201", "0.5"),
        (zhao, "202", 1),
    ):
        people.add_ownership(SYSTEM, owner, units[label], share=Decimal(share))
    return Community(
        tree=tree,
        clerk=user_with(Role.COMMUNITY_STAFF, tree.community_a, username="clerk"),
        checker=user_with(Role.COMMUNITY_STAFF, tree.community_a, username="checker"),
        outsider_staff=user_with(Role.COMMUNITY_STAFF, tree.community_b, username="outsider"),
        leader=user_with(Role.LEADER, tree.street, username="leader"),
        units=units,
        zhang=zhang,
        wang=wang,
        li=li,
        zhao=zhao,
        sun=sun,
        child=child,
        neighbour=neighbour,
        users=users,
    )


@pytest.fixture
def town(db) -> Community:
    return build_community()


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded photos go to a throw-away directory."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }


# ---------------------------------------------------------------- matters, votes and ballots


def matter_at(
    town,
    process: str,
    *,
    upto: tuple[str, ...] = (),
    compound: str = "",
    title: str = "议题",
    minutes: str = "会议记录",
):
    """A matter of community A whose steps `upto` are recorded today."""
    matter = matters.create_matter(
        town.clerk, region=town.tree.community_a, title=title, process=process, compound=compound
    )
    for code in upto:
        matters.record_step(town.clerk, matter, code=code, held_on=clock.today(), minutes=minutes)
    return matter


def new_vote(
    town,
    matter,
    rule: str,
    *,
    title: str = "表决事项",
    step: str = "decide",
    questions=None,
    days: int = 10,
    closes_at: dt.datetime | None = None,
    **options,
) -> Vote:
    """A vote in preparation closing in `days` (or at `closes_at`), on one yes/no question unless given."""
    return votes.create_vote(
        town.clerk,
        matter,
        title=title,
        rule=rule,
        step_code=step,
        closes_at=closes_at or clock.now() + dt.timedelta(days=days),
        questions=questions or [{"text": "是否同意", "kind": "yes_no"}],
        **options,
    )


def owners_vote(
    town,
    *,
    rule: str = VoteRule.OWNERS_SPECIAL,
    title: str = "筹集维修资金",
    questions=None,
    days: int = 15,
    open_: bool = True,
    **options,
) -> Vote:
    """A vote of the owners of 阳光小区 on the announced matter 增设电梯, opened unless `open_` is false.
    Its electors: 张三 (180 m²), 王芳 and 李明 together (120 m²), 赵六 (60 m²) and the developer (140 m²)."""
    matter = matter_at(
        town,
        Process.OWNERS_ASSEMBLY,
        upto=("announce",),
        compound="阳光小区",
        title="增设电梯",
        minutes="会议公告已张贴",
    )
    questions = questions or [{"text": "是否同意筹集维修资金", "kind": "yes_no"}]
    vote = new_vote(town, matter, rule, title=title, questions=questions, days=days, **options)
    return votes.open_vote(town.clerk, vote) if open_ else vote


def residents_vote(town, *, rule: str = VoteRule.RESIDENTS, open_: bool = True, **options) -> Vote:
    """A vote of a convened residents' meeting of community A, opened unless `open_` is false:
    张三 王芳 李明 赵六 孙七 may vote, the child 张小宝 is listed without a vote."""
    matter = matter_at(town, Process.RESIDENTS_MEETING, upto=("convene",))
    vote = new_vote(town, matter, rule, **options)
    return votes.open_vote(town.clerk, vote) if open_ else vote


def yes_no(vote, code: str = "yes") -> dict:
    """The choices of a ballot answering the vote's only question with the option `code`."""
    question = vote.questions.get()
    return {question.pk: [question.options.get(code=code).pk]}


def cast(vote, user, code: str = "yes"):
    """`user` votes `code` online; returns the receipt code."""
    return votes.cast_online(user, vote, yes_no(vote, code))


def paper_ballot(town, vote, name: str, code: str):
    """The named paper ballot of the elector `name`, entered by the clerk and confirmed by the checker."""
    elector = Elector.objects.get(vote=vote, name=name)
    entry = votes.enter_paper_ballot(town.clerk, vote, elector=elector, choices=yes_no(vote, code))
    return votes.confirm_paper_ballot(town.checker, entry, choices=yes_no(vote, code))
