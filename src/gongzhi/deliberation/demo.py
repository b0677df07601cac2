"""`gongzhi demo` for deliberation: an owners' vote, a village matter mid-process, proposals and wishes.

All of it lives in 马宗岭社区, the demo accounts' community, and is played through the services
under a frozen clock at past times, as the cases demo does:

- 金桂苑, a small compound added to the people ledger: two buildings, units of different areas,
  co-owners, an owner of three units (the street-level shops) and one of two. Its owners' vote on
  raising the maintenance fund (筹集专项维修资金) is closed and fails on area but passes by
  headcount: the shop owner's "no" outweighs eight owners' "yes". Owners with a login vote online,
  the others on paper, entered by one staff member and confirmed by another.
- A 四议两公开 matter: the demo street has no village, so the community stands in for one. The
  Party members' review is a secret paper vote (ballots handed out by name before the deadline,
  entered from the box without one after it) and is recorded; the representatives' decision vote is open.
- A residents' meeting vote, open, on which the demo resident account can vote from her phone.
- Proposals (near the threshold, on the agenda, accepted, declined) and micro-wishes (open,
  claimed, fulfilled with a photo).

Loading again over existing deliberation data adds nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import random
from dataclasses import dataclass
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw

from gongzhi.core import clock, demo
from gongzhi.core import services as core_services
from gongzhi.core.demo import ACCOUNTS, STREET_CODE
from gongzhi.core.errors import DomainError
from gongzhi.core.models import Region, User
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role
from gongzhi.deliberation.models import (
    Elector,
    Matter,
    Process,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Result,
    Vote,
    VoteRule,
    VoteStatus,
)
from gongzhi.deliberation.services import matters, proposals, votes
from gongzhi.people import services as people
from gongzhi.people.models import BuildingType, Relation, Resident, ResidentStatus, Unit, UnitStatus, UnitUse
from gongzhi.people.rules import age_on

SEED = 20251201
COMMUNITY = "510903014006"  # 马宗岭社区: where the demo accounts work and live
GRID = "510903014006001"  # grid1's grid, where the demo resident lives
STREET_NAME = "南强街道"
COMPOUND = "金桂苑"
AGENDA_SUPPORTS = 8
RESIDENT_ACCOUNTS = 10  # resident logins in the community besides the demo resident's
REPRESENTATIVES = 15
RESIDENT_ACCOUNT = next(a for a in ACCOUNTS if a.username == "resident")


# ---------------------------------------------------------------- the compound and its owners' vote

# building → (kind, floors, [(unit, building area, exclusive area, use)])
BUILDINGS = {
    "1栋": (
        BuildingType.MIXED,
        6,
        [
            ("底商1", "215.00", "180.00", UnitUse.SHOP),
            ("底商2", "192.00", "160.00", UnitUse.SHOP),
            ("201", "118.00", "95.20", UnitUse.HOME),
            ("202", "118.00", "95.20", UnitUse.HOME),
            ("301", "127.00", "102.50", UnitUse.HOME),
            ("302", "127.00", "102.50", UnitUse.HOME),
            ("401", "146.00", "118.70", UnitUse.HOME),
            ("402", "146.00", "118.70", UnitUse.HOME),
            ("501", "158.00", "128.00", UnitUse.HOME),
            ("502", "158.00", "128.00", UnitUse.HOME),
            ("601", "158.00", "128.00", UnitUse.HOME),
            ("602", "158.00", "128.00", UnitUse.HOME),
        ],
    ),
    "2栋": (
        BuildingType.RESIDENTIAL,
        3,
        [
            ("101", "108.00", "87.40", UnitUse.HOME),
            ("102", "108.00", "87.40", UnitUse.HOME),
            ("201", "108.00", "87.40", UnitUse.HOME),
        ],
    ),
}
UNSOLD = [("1栋", "602")]  # still the developer's: counted together as one owner


@dataclass(frozen=True)
class Owner:
    key: str
    units: tuple[tuple[str, str], ...]
    choice: str  # yes / no / abstain, or "" for an owner who did not vote
    online: bool = False  # votes on the phone (an owner with a login)
    co_owned: bool = False  # the unit is held half and half with the spouse
    proxy: bool = False  # a paper ballot cast by a proxy with a signed authorisation


OWNERS = [
    Owner("shops", (("1栋", "底商1"), ("1栋", "底商2"), ("1栋", "601")), "no"),
    Owner("couple", (("1栋", "201"),), "yes", co_owned=True),
    Owner("owner_202", (("1栋", "202"),), "yes"),
    Owner("demo_resident", (("1栋", "301"),), "yes", online=True),
    Owner("proxy_302", (("1栋", "302"),), "yes", proxy=True),
    Owner("online_401", (("1栋", "401"),), "yes", online=True),
    Owner("two_units", (("1栋", "402"), ("2栋", "201")), "yes"),
    Owner("online_501", (("1栋", "501"),), "yes", online=True),
    Owner("owner_502", (("1栋", "502"),), "yes"),
    Owner("abstains", (("2栋", "101"),), "abstain"),
    Owner("absent", (("2栋", "102"),), ""),
]
OWNERS_MATTER = "金桂苑筹集专项维修资金"
OWNERS_VOTE = "关于筹集金桂苑专项维修资金的业主共同决定"
OWNERS_QUESTION = "是否同意按每平方米专有部分面积30元筹集专项维修资金，用于屋面防水和外墙维修"
# What the owners' vote must come to: valid, and failing on area alone.
OWNERS_THRESHOLDS = {
    "participation_area": True,
    "participation_owners": True,
    "yes_area": False,
    "yes_owners": True,
}

# ---------------------------------------------------------------- the village matter

VILLAGE_MATTER = "原三组集体闲置厂房公开招租"
VILLAGE_DESCRIPTION = (
    "原马宗岭村三组集体所有的闲置厂房（约1,200平方米）拟公开招租，租金收入纳入集体经济，"
    "按股份分配。南强街道没有建制村，本议题以马宗岭社区（村改居社区）演示四议两公开程序。"
)
REVIEW_VOTE = "党员大会审议：原三组集体闲置厂房公开招租方案"
DECIDE_VOTE = "村民代表会议决议：原三组集体闲置厂房公开招租方案"
TENDER_QUESTION = "是否同意原三组集体闲置厂房按方案公开招租（租期五年，底价每年18万元）"

# ---------------------------------------------------------------- the residents' vote

SQUARE_MATTER = "社区党群服务中心门前小广场改造"
SQUARE_VOTE = "居民会议表决：门前小广场改造方案"
SQUARE_QUESTIONS = [
    {"text": "是否同意使用社区公益金约8万元改造门前小广场", "kind": "yes_no"},
    {
        "text": "改造方案选择",
        "kind": "single",
        "options": ["方案一：增设休闲座椅和遮阳棚", "方案二：增设儿童游乐设施", "方案三：增设适老健身器材"],
    },
]

# ---------------------------------------------------------------- proposals and wishes

NEAR = (
    "马宗岭路与明月路口增设人行横道和减速带",
    "路口车速快又没有斑马线，老人和接送孩子的家长过马路很危险，建议增设人行横道、减速带和提示牌。",
)
AGENDA = (
    "金桂苑增设电动自行车集中充电棚",
    "小区里不少人从楼上拉线给电动车充电，存在火灾隐患，建议在2栋旁空地建集中充电棚，按次收费。",
)
SQUARE = (
    "改造社区门前小广场",
    "党群服务中心门前的小广场地面破损、没有座椅，晚上老人没地方歇脚，建议整体改造。",
)
DECLINED = (
    "在马宗岭小区内开设夜市",
    "小区晚上人少冷清，建议在小区主干道开设夜市，方便居民购物，也能增加收入。",
)
DECLINE_ANSWER = (
    "经社区两委研究，不予采纳：小区主干道是消防通道，不能摆摊占用；夜市的噪声和油烟会影响"
    "周边居民休息。附近金鱼街已设有便民夜市，社区将协调在小区门口增设前往夜市的指引。"
)
OWN = (
    "开设老年人智能手机培训班",
    "很多老人不会用手机挂号、扫码乘车，希望社区每周开一次培训课，请年轻志愿者手把手教。",
)
WISH_OPEN = (
    "希望有人陪同去医院复查",
    "代辖区独居老人登记：老人八十二岁，下月需去市中心医院复查眼睛，子女在外地，希望有志愿者陪同。",
)
WISH_CLAIMED = (
    "孩子想要一套课外读物",
    "家里孩子上三年级，喜欢看书，希望能有一套适合小学生的课外读物。",
)
WISH_FULFILLED = (
    "独居老人需要一个助行器",
    "代辖区独居老人登记：老人腿脚不便，上下楼困难，希望得到一个带座椅的助行器。",
)
VOLUNTEERS = "遂宁市船山区阳光社会工作服务中心"


# ---------------------------------------------------------------- building blocks


def _png(colour: tuple[int, int, int], name: str) -> ContentFile:
    """A small picture made in memory (a stand-in for a photo taken on a phone)."""
    image = Image.new("RGB", (320, 240), (236, 240, 244))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 60, 280, 200), fill=colour)
    draw.ellipse((130, 20, 190, 80), fill=(250, 200, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return ContentFile(buffer.getvalue(), name=name)


class Timeline:
    """Past moments counted back from the day of loading, in the deployment's time zone."""

    def __init__(self, now: dt.datetime):
        self.now = now
        self.today = timezone.localtime(now).date()
        self.zone = timezone.get_current_timezone()

    def at(self, days_ago: int, hour: int, minute: int = 0) -> dt.datetime:
        day = self.today - dt.timedelta(days=days_ago)
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=self.zone)


def _living_adults(community: Region, today: dt.date):
    living = (
        Resident.objects.filter(region__path__startswith=community.path, status=ResidentStatus.LIVING_HERE)
        .select_related("region")
        .order_by("pk")
    )
    return [r for r in living if (age_on(r.birth_date, today) or 0) >= 18]


def _resident_accounts(community: Region, adults: list[Resident], rng: random.Random) -> list[User]:
    """The demo resident linked to her ledger entry, and enough verified residents to support proposals.

    Accounts are named as the cases demo names them (jm006_1 …) and continue its numbering.
    """
    account = User.objects.filter(username=RESIDENT_ACCOUNT.username).first()
    if account is not None and getattr(account, "resident_record", None) is None:
        record = next(
            (
                r
                for r in adults
                if r.region.code == GRID and r.name == RESIDENT_ACCOUNT.real_name and r.account_id is None
            ),
            None,
        )
        if record is not None:
            people.link_account(SYSTEM, record, account)
    prefix = f"jm{community.code[-3:]}_"
    accounts = list(User.objects.filter(username__startswith=prefix).select_related("resident_record"))
    number = max((int(u.username.removeprefix(prefix)) for u in accounts), default=0)
    existing = sorted(
        (u for u in accounts if getattr(u, "resident_record", None) is not None),
        key=lambda u: int(u.username.removeprefix(prefix)),
    )
    candidates = [
        r
        for r in adults
        if r.account_id is None and r.phone and r.birth_date and 1950 <= r.birth_date.year <= 2000
    ]
    for resident in rng.sample(candidates, max(0, min(RESIDENT_ACCOUNTS - len(existing), len(candidates)))):
        number += 1
        user = core_services.create_user(
            SYSTEM, username=f"{prefix}{number}", password=None, real_name=resident.name, phone=resident.phone
        )
        core_services.grant_role(SYSTEM, user, Role.RESIDENT, community)
        people.link_account(SYSTEM, resident, user)
        existing.append(user)
    return existing


def _yes_no(vote: Vote) -> tuple[int, dict[str, int]]:
    question = vote.questions.get()
    return question.pk, {o.code: o.pk for o in question.options.all()}


def _paper(clerk: User, checker: User, vote: Vote, elector: Elector | None, choices: dict, **proxy) -> None:
    """A paper ballot typed in by one staff member and typed again by another (a secret vote's
    ballot names nobody)."""
    entry = votes.enter_paper_ballot(clerk, vote, choices=choices, elector=elector, **proxy)
    votes.confirm_paper_ballot(checker, entry, choices=choices)


def _outcome_error(what: str) -> DomainError:
    return DomainError(
        "deliberation.demo_outcome", _("演示数据的表决结果与设计不符：%(what)s") % {"what": what}
    )


# ---------------------------------------------------------------- the owners' vote


def _compound(grid: Region) -> dict[tuple[str, str], Unit]:
    """金桂苑's buildings and units, added to the people ledger."""
    ring = grid.boundary["coordinates"][0] if grid.boundary else None
    units = {}
    for i, (name, (kind, floors, rows)) in enumerate(BUILDINGS.items()):
        lon = lat = None
        if ring:  # near the grid's south-west corner, inside it
            lon = round(min(p[0] for p in ring) + 0.0012 + 0.0004 * i, 6)
            lat = round(min(p[1] for p in ring) + 0.0010, 6)
        building = people.create_building(
            SYSTEM,
            grid,
            name=name,
            address=f"{STREET_NAME}马宗岭社区{COMPOUND}{name}",
            compound=COMPOUND,
            kind=kind,
            floors=floors,
            lon=lon,
            lat=lat,
        )
        for label, building_area, exclusive, use in rows:
            status = UnitStatus.VACANT if (name, label) in UNSOLD else UnitStatus.OWNER_OCCUPIED
            if use == UnitUse.SHOP:
                status = UnitStatus.RENTED
            units[(name, label)] = people.create_unit(
                SYSTEM,
                building,
                label=label,
                building_area=Decimal(building_area),
                exclusive_area=Decimal(exclusive),
                use=use,
                status=status,
            )
    return units


def _owner_people(
    adults: list[Resident], logins: list[User], rng: random.Random
) -> dict[str, list[Resident]]:
    """Who owns what: the demo resident and residents with a login vote online, a couple co-owns a
    unit, and the others are picked from the community's ledger."""
    account = User.objects.filter(username=RESIDENT_ACCOUNT.username).first()
    demo_resident = getattr(account, "resident_record", None) if account else None
    online = iter(u.resident_record for u in logins)
    used = {u.resident_record.pk for u in logins} | ({demo_resident.pk} if demo_resident else set())
    spouses = {r.household_id: r for r in adults if r.relation == Relation.SPOUSE and r.pk not in used}
    couples = [
        (r, spouses[r.household_id])
        for r in adults
        if r.relation == Relation.SELF and r.pk not in used and r.household_id in spouses
    ]
    couple = rng.choice(couples)
    used.update(p.pk for p in couple)
    others = [
        r
        for r in adults
        if r.pk not in used and r.account_id is None and r.birth_date and 1950 <= r.birth_date.year <= 1990
    ]
    pool = iter(rng.sample(others, len(OWNERS)))
    chosen: dict[str, list[Resident]] = {}
    for owner in OWNERS:
        if owner.key == "demo_resident" and demo_resident is not None:
            chosen[owner.key] = [demo_resident]
        elif owner.co_owned:
            chosen[owner.key] = list(couple)
        elif owner.online:
            chosen[owner.key] = [next(online, None) or next(pool)]
        else:
            chosen[owner.key] = [next(pool)]
    return chosen


def load_owners_vote(
    community: Region,
    grid: Region,
    staff: User,
    checker: User,
    owner_logins: list[User],
    adults: list[Resident],
    rng: random.Random,
    when: Timeline,
) -> Result:
    """金桂苑 in the ledger, and its owners' vote played from the announcement to the published result."""
    units = _compound(grid)
    owners = _owner_people(adults, owner_logins, rng)
    for owner in OWNERS:
        share = Decimal("0.5") if owner.co_owned else Decimal(1)
        for resident in owners[owner.key]:
            for key in owner.units:
                people.add_ownership(SYSTEM, resident, units[key], share=share)

    with clock.frozen(when.at(40, 9, 30)) as travel:
        matter = matters.create_matter(
            staff,
            region=community,
            title=OWNERS_MATTER,
            process=Process.OWNERS_ASSEMBLY,
            compound=COMPOUND,
            description="金桂苑建成十五年，1栋屋面渗水、外墙瓷砖脱落，专项维修资金余额不足，"
            "业主委员会提议按专有部分面积筹集。",
        )
        matters.record_step(
            staff,
            matter,
            code="announce",
            held_on=when.today - dt.timedelta(days=40),
            place="金桂苑1栋、2栋单元门公告栏",
            participants="金桂苑业主委员会、马宗岭社区居委会",
            minutes="张贴业主大会会议公告：表决事项、筹集标准（每平方米30元）、投票方式和截止时间。",
        )
        travel.to(when.at(25, 9, 0))
        vote = votes.create_vote(
            staff,
            matter,
            title=OWNERS_VOTE,
            rule=VoteRule.OWNERS_SPECIAL,
            closes_at=when.at(11, 18, 0),
            questions=[{"text": OWNERS_QUESTION, "kind": "yes_no"}],
        )
        votes.open_vote(staff, vote)
        question, options = _yes_no(vote)
        for day, owner in enumerate(o for o in OWNERS if o.choice):
            travel.to(when.at(24 - day, 19, 10 + 3 * day))
            choices = {question: [options[owner.choice]]}
            first = owners[owner.key][0]
            elector = Elector.objects.get(vote=vote, members=first)
            if owner.online and first.account_id:
                votes.cast_online(first.account, vote, choices, elector=elector)
            elif owner.proxy:
                authorisation = _png((150, 170, 190), "授权委托书.png")
                _paper(
                    staff,
                    checker,
                    vote,
                    elector,
                    choices,
                    proxy_name="业主之子（持授权委托书）",
                    proxy_authorisation=authorisation,
                )
            else:
                _paper(staff, checker, vote, elector, choices)
        travel.to(when.at(11, 18, 5))
        result = votes.close_vote(staff, vote)
        outcome = result.questions[0]
        met = {t["code"]: t["met"] for t in outcome["thresholds"]}
        if not outcome["valid"] or outcome["passed"] or met != OWNERS_THRESHOLDS:
            raise _outcome_error(OWNERS_VOTE)
        travel.to(when.at(10, 10, 0))
        matters.record_step(
            staff,
            matter,
            code="decide",
            held_on=when.today - dt.timedelta(days=11),
            place="马宗岭社区党群服务中心",
            participants="金桂苑业主委员会、马宗岭社区居委会（唱票、计票）",
            minutes="表决截止，现场开箱计票并录入纸质选票，与网上投票合并计算。",
        )
        matters.record_step(
            staff,
            matter,
            code="publish_decision",
            held_on=when.today - dt.timedelta(days=10),
            minutes=(
                f"参与表决的业主{result.participants}人，专有部分面积{result.participant_area}㎡，"
                "达到业主人数和面积的三分之二，表决有效。同意的业主人数达到参与人数的四分之三，"
                "但同意的专有部分面积未达到参与表决面积的四分之三，筹集专项维修资金的决定未通过。"
                "业主委员会将与临街商铺业主进一步协商后重新提请表决。"
            ),
        )
        matters.close_matter(staff, matter)
    return result


# ---------------------------------------------------------------- the village matter


def load_village_matter(
    community: Region,
    staff: User,
    checker: User,
    adults: list[Resident],
    rng: random.Random,
    when: Timeline,
) -> None:
    """Steps 1–3 of 四议两公开 recorded; the representatives' decision vote open (step 4)."""
    with clock.frozen(when.at(20, 9, 0)) as travel:
        matter = matters.create_matter(
            staff,
            region=community,
            title=VILLAGE_MATTER,
            process=Process.FOUR_TWO,
            description=VILLAGE_DESCRIPTION,
        )
        matters.record_step(
            staff,
            matter,
            code="propose",
            held_on=when.today - dt.timedelta(days=20),
            place="马宗岭社区党委会议室",
            participants="社区党委委员7人",
            minutes="党委会议研究提出：原三组闲置厂房公开招租，委托街道三资管理平台组织，租金收入按股份分配。",
        )
        travel.to(when.at(16, 15, 0))
        matters.record_step(
            staff,
            matter,
            code="discuss",
            held_on=when.today - dt.timedelta(days=16),
            place="马宗岭社区党群服务中心二楼会议室",
            participants="社区“两委”成员11人，街道联系领导列席",
            minutes="两委会议商议招租方案：租期五年，年租金底价18万元，不得用于污染性生产，同意提交党员大会审议。",
        )
        travel.to(when.at(12, 19, 0))
        review = votes.create_vote(
            staff,
            matter,
            title=REVIEW_VOTE,
            rule=VoteRule.PARTY_MEMBERS,
            step_code="review",
            secret=True,
            online=False,
            closes_at=when.at(12, 20, 30),
            questions=[{"text": TENDER_QUESTION, "kind": "yes_no"}],
        )
        votes.open_vote(staff, review)
        question, options = _yes_no(review)
        members = list(Elector.objects.filter(vote=review, eligible=True).order_by("pk"))
        present = members[: math.ceil(len(members) * 0.85)]
        for i, elector in enumerate(present):
            travel.to(when.at(12, 19, 5) + dt.timedelta(seconds=20 * i))
            matters.sign_in(staff, review, elector)
        for i, elector in enumerate(present):
            travel.to(when.at(12, 19, 40) + dt.timedelta(seconds=15 * i))
            votes.hand_out_paper_ballot(staff, review, elector=elector)
        # Secret: the box is opened once voting has ended and its ballots are entered without a name.
        for i in range(len(present)):
            travel.to(when.at(12, 20, 35) + dt.timedelta(seconds=30 * i))
            choice = "no" if i in (3, 11) else "abstain" if i == 7 else "yes"
            _paper(staff, checker, review, None, {question: [options[choice]]})
        travel.to(when.at(12, 21, 30))
        result = votes.close_vote(staff, review)
        if not (result.questions[0]["valid"] and result.questions[0]["passed"]):
            raise _outcome_error(REVIEW_VOTE)
        matters.record_step(
            staff,
            matter,
            code="review",
            held_on=when.today - dt.timedelta(days=12),
            place="马宗岭社区党群服务中心大会议室",
            participants=f"应到党员{result.electorate}人，实到{result.participants}人",
            minutes="党员大会无记名投票审议招租方案，同意提交村民代表会议决议。",
        )
        travel.to(when.at(1, 9, 0))
        decide = votes.create_vote(
            staff,
            matter,
            title=DECIDE_VOTE,
            rule=VoteRule.REPRESENTATIVES,
            step_code="decide",
            closes_at=when.at(-3, 21, 0),
            questions=[{"text": TENDER_QUESTION, "kind": "yes_no"}],
        )
        votes.open_vote(staff, decide)
        for resident in rng.sample([r for r in adults if r.birth_date.year <= 1985], REPRESENTATIVES):
            votes.add_elector(staff, decide, resident=resident, reason="当选村民代表")


# ---------------------------------------------------------------- the residents' vote and proposals


def load_proposals(
    community: Region, staff: User, logins: list[User], demo_resident: User | None, when: Timeline
) -> None:
    """Proposals in every state, micro-wishes, and the residents' vote that an accepted proposal became."""
    supporters = logins[1 : 1 + AGENDA_SUPPORTS]
    with clock.frozen(when.at(30, 10, 0)) as travel:
        proposals.set_agenda_threshold(staff, community, AGENDA_SUPPORTS)

        def raise_(author, kind, text, days, hour, region=None, compound=""):
            travel.to(when.at(days, hour, 17))
            return proposals.raise_proposal(
                author, kind=kind, title=text[0], body=text[1], region=region, compound=compound
            )

        def supported(proposal, users, days):
            for i, user in enumerate(users):
                travel.to(when.at(days, 8, 0) + dt.timedelta(hours=5 * i, minutes=13 * i))
                proposals.support(user, proposal)

        square = raise_(logins[0], ProposalKind.PROPOSAL, SQUARE, 28, 20)
        supported(square, supporters, 27)
        declined = raise_(logins[1], ProposalKind.PROPOSAL, DECLINED, 26, 21)
        supported(declined, supporters[:3], 25)
        travel.to(when.at(22, 16, 0))
        proposals.answer(staff, declined, decision=ProposalStatus.DECLINED, text=DECLINE_ANSWER)
        agenda = raise_(logins[2], ProposalKind.PROPOSAL, AGENDA, 15, 19, compound=COMPOUND)
        supported(agenda, [logins[0], *[u for u in supporters if u != logins[2]]][:AGENDA_SUPPORTS], 14)
        near = raise_(logins[3], ProposalKind.PROPOSAL, NEAR, 9, 12)
        supported(near, [u for u in logins if u != logins[3]][: AGENDA_SUPPORTS - 1], 8)
        if demo_resident is not None:
            own = raise_(demo_resident, ProposalKind.PROPOSAL, OWN, 6, 21)
            supported(own, logins[4:6], 5)

        raise_(staff, ProposalKind.WISH, WISH_OPEN, 4, 10, region=community)
        claimed = raise_(logins[5], ProposalKind.WISH, WISH_CLAIMED, 18, 20)
        travel.to(when.at(17, 9, 30))
        proposals.claim_wish(logins[6], claimed, claimant=logins[6].real_name)
        fulfilled = raise_(staff, ProposalKind.WISH, WISH_FULFILLED, 21, 11, region=community)
        travel.to(when.at(20, 15, 0))
        proposals.claim_wish(staff, fulfilled, claimant=VOLUNTEERS)
        travel.to(when.at(13, 16, 40))
        proposals.fulfil_wish(
            staff,
            fulfilled,
            photo=_png((70, 140, 90), "助行器送到老人家中.png"),
            note="社工和志愿者把助行器送到老人家中，并教老人调节高度和使用座椅。",
        )

        travel.to(when.at(7, 9, 0))
        matter = matters.create_matter(
            staff,
            region=community,
            title=SQUARE_MATTER,
            process=Process.RESIDENTS_MEETING,
            description="根据居民提议，拟使用社区公益金改造党群服务中心门前小广场，提请居民会议表决。",
        )
        proposals.answer(
            staff,
            square,
            decision=ProposalStatus.ACCEPTED,
            text="采纳。已转为议题，提请居民会议表决改造方案，欢迎居民在手机上投票。",
            matter=matter,
        )
        matters.record_step(
            staff,
            matter,
            code="convene",
            held_on=when.today - dt.timedelta(days=7),
            place="各小区公告栏、社区微信群",
            participants="马宗岭社区居委会",
            minutes="发布居民会议通知：表决内容、三个改造方案的效果图、网上投票和纸质投票方式。",
        )
        travel.to(when.at(3, 9, 0))
        vote = votes.create_vote(
            staff,
            matter,
            title=SQUARE_VOTE,
            rule=VoteRule.RESIDENTS,
            allow_change=True,
            closes_at=when.at(-7, 18, 0),
            questions=SQUARE_QUESTIONS,
        )
        votes.open_vote(staff, vote)
        approve, pick = list(vote.questions.prefetch_related("options"))
        yes = {o.code: o.pk for o in approve.options.all()}
        plans = [o.pk for o in pick.options.all()]
        for i, user in enumerate(logins):
            travel.to(when.at(3 - i // 4, 12 + i % 4 * 2, 7 * i % 60))
            choice = "no" if i == 4 else "yes"
            votes.cast_online(user, vote, {approve.pk: [yes[choice]], pick.pk: [plans[(0, 2, 0, 1)[i % 4]]]})


# ---------------------------------------------------------------- the loader


def _line(community: Region) -> str:
    inside = {"region__path__startswith": community.path}
    matter_count = Matter.objects.filter(**inside).count()
    vote_count = Vote.objects.filter(matter__region__path__startswith=community.path).count()
    open_votes = Vote.objects.filter(
        matter__region__path__startswith=community.path, status=VoteStatus.OPEN
    ).count()
    proposal_count = Proposal.objects.filter(**inside, kind=ProposalKind.PROPOSAL).count()
    wish_count = Proposal.objects.filter(**inside, kind=ProposalKind.WISH).count()
    return (
        f"协商议事（{community.name}）：议题 {matter_count} 个，表决 {vote_count} 次"
        f"（进行中 {open_votes} 次），民主提事 {proposal_count} 条，微心愿 {wish_count} 个"
    )


@demo.loader(order=50)
def load_deliberation() -> list[str]:
    """金桂苑's owners' vote, a 四议两公开 matter, a residents' vote, proposals and micro-wishes."""
    street = Region.objects.filter(code=STREET_CODE).first()
    community = Region.objects.filter(code=COMMUNITY).first()
    grid = Region.objects.filter(code=GRID).first()
    staff = User.objects.filter(username="community").first()
    if street is None or community is None or grid is None or staff is None:
        return []
    if not Resident.objects.filter(region__path__startswith=community.path).exists():
        return []  # no people ledger: no electorate, no owners
    inside = {"region__path__startswith": street.path}
    if Matter.objects.filter(**inside).exists() or Proposal.objects.filter(**inside).exists():
        return ["", _line(community) + "（已存在，未重复加载）"]
    rng = random.Random(SEED)
    when = Timeline(clock.now().replace(second=0, microsecond=0))
    with transaction.atomic():
        checker = User.objects.get(username="community2")
        logins = _resident_accounts(community, _living_adults(community, when.today), rng)
        account = User.objects.filter(username=RESIDENT_ACCOUNT.username).first()
        demo_resident = account if getattr(account, "resident_record", None) else None
        adults = _living_adults(community, when.today)  # again: accounts were linked just now
        result = load_owners_vote(community, grid, staff, checker, logins[:2], adults, rng, when)
        load_village_matter(community, staff, checker, adults, rng, when)
        load_proposals(community, staff, logins, demo_resident, when)
    return [
        "",
        _line(community),
        f"  {COMPOUND}业主大会“{OWNERS_MATTER}”：{result.participants}/{result.electorate} 名业主参与表决，"
        "同意人数达到四分之三而同意面积未达到，未通过",
        f"  四议两公开“{VILLAGE_MATTER}”：党员大会已审议，{REPRESENTATIVES} 名村民代表的决议表决进行中",
        f"  居民会议“{SQUARE_MATTER}”表决进行中，演示居民账号 {RESIDENT_ACCOUNT.username} 可在手机上投票",
        "  纸质选票由 community 录入、community2 确认",
    ]
