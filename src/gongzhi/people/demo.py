"""`gongzhi demo` for the people ledger: a realistic, reproducible population for 南强街道.

For each of the street's 48 grids: residential compounds (小区) and self-built houses (自建房) with
their units, the households living in them and about 5,000 residents in all — an ageing Sichuan
urban community: many people aged 50–70, few children, some renters from elsewhere (流动人口).
Citizen ID numbers are synthetic but valid (GB 11643), credit codes too (GB 32100). Also owners,
tags, organisations, a few people who moved out or died, and a few people entered twice without an
ID number so the likely-duplicates page has work to show.

Everything comes from one seeded random generator and one reference date, so every machine gets the
same demo. Rows are written with bulk_create (5,000 per-row service calls would take minutes) and
the load is audited once as a whole. Loading again over an existing population adds nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import OuterRef, Subquery

from gongzhi.core import audit, clock, demo
from gongzhi.core.demo import ACCOUNTS, STREET_CODE
from gongzhi.core.models import Level, Region
from gongzhi.core.principals import SYSTEM
from gongzhi.core.validators import citizen_id_check_char, credit_code_check_char
from gongzhi.people.models import (
    Building,
    BuildingType,
    Household,
    HouseholdKind,
    IdType,
    Organisation,
    OrganisationKind,
    Ownership,
    PoliticalStatus,
    Relation,
    ResidenceType,
    Resident,
    ResidentEvent,
    ResidentEventKind,
    ResidentStatus,
    ResidentTag,
    Sex,
    Tag,
    Unit,
    UnitStatus,
    UnitUse,
)
from gongzhi.people.services import derive_search_keys

SEED = 20250630
# Ages, birth dates and event dates are reckoned from this fixed day (a 统计 reference date), not from
# today, so the generated ID numbers are the same wherever and whenever the demo is loaded.
DEMO_DATE = dt.date(2025, 6, 30)
UNITS_PER_GRID = 50  # about 2,300 units → about 2,000 households → about 5,000 people
BATCH = 500

STREET_NAME = "南强街道"
LOCAL_CODE = "510903"  # 船山区
OLD_LOCAL_CODE = "510902"  # 遂宁市市中区, split into 船山区 and 安居区 in 2003 (verify): still on older IDs
SICHUAN_CODES = [
    "510904",  # 遂宁市安居区
    "510921",  # 蓬溪县
    "510922",  # 射洪县 (now 射洪市 510981; IDs keep the old code)
    "510923",  # 大英县
    "511321",  # 南充市南部县
    "511302",  # 南充市顺庆区
    "511621",  # 广安市岳池县
    "512021",  # 资阳市安岳县
    "512022",  # 资阳市乐至县
    "510722",  # 绵阳市三台县
    "510107",  # 成都市武侯区
]
OTHER_PROVINCE_CODES = [
    "500152",  # 重庆市潼南区
    "500151",  # 重庆市铜梁区
    "500113",  # 重庆市巴南区
    "500101",  # 重庆市万州区
    "520102",  # 贵阳市南明区
    "530102",  # 昆明市五华区
    "420102",  # 武汉市江岸区
    "430102",  # 长沙市芙蓉区
    "411302",  # 南阳市宛城区
    "610102",  # 西安市新城区
    "620102",  # 兰州市城关区
    "360102",  # 南昌市东湖区
]
MOVED_TO = ["成都市武侯区", "成都市高新区", "重庆市渝北区", "深圳市南山区", "广州市天河区", "绵阳市涪城区"]

SURNAMES = {
    "王": 70, "李": 75, "张": 65, "刘": 55, "陈": 50, "杨": 45, "黄": 23, "赵": 22, "吴": 20, "周": 20,
    "徐": 13, "孙": 10, "马": 10, "朱": 10, "胡": 13, "郭": 10, "何": 15, "罗": 15, "高": 10, "林": 8,
    "蒋": 12, "唐": 14, "邓": 13, "冯": 8, "曾": 12, "谢": 12, "彭": 10, "蒲": 8, "文": 6, "杜": 7,
    "袁": 8, "任": 7, "向": 5, "廖": 7, "付": 6, "雷": 5, "余": 8, "钟": 6, "蔡": 5, "龚": 4,
}  # fmt: skip
# Given names by birth decade: what parents chose then.
GIVEN_NAMES = {
    1930: (
        "德明 福林 学文 文华 永富 长生 树林 光明 正华 国良 德才 志成 世荣 绍华 明清 炳南 少华 金山".split(),
        "秀英 淑珍 玉兰 桂芳 素华 秀兰 凤英 翠华 玉珍 桂英 淑芬 兰芳 秀珍 素芬 德芳 琼英 玉华 菊英".split(),
    ),
    1950: (
        "建国 建华 国强 志强 国庆 卫国 建设 跃进 德明 永红 长江 建民 振华 国平 胜利 光荣 朝阳 明 军".split(),
        "秀英 桂兰 玉梅 淑华 秀芳 凤英 桂珍 秀华 素琴 玉兰 春兰 建英 红英 翠英 淑英 琼 英 华".split(),
    ),
    1960: (
        "伟 勇 军 强 斌 平 刚 明 建军 建平 小平 红兵 卫东 志刚 海军 永红 建明 国华 文斌 德华".split(),
        "丽 红 敏 燕 霞 琴 萍 英 静 红梅 小琴 丽华 晓燕 春梅 玉梅 秀琼 素华 红英 利 蓉".split(),
    ),
    1980: (
        "杰 磊 涛 鹏 浩 超 波 俊 宇 伟 亮 鑫 凯 文杰 俊杰 志强 建波 海涛 小龙 林 勇 刚 斌 飞".split(),
        "婷 倩 雪 娟 丹 芳 琳 莉 佳 颖 丽娟 雪梅 晓丽 婷婷 小燕 蓉 静 敏 霞 玲 艳 燕".split(),
    ),
    2000: (
        "浩然 子轩 梓豪 宇航 俊熙 睿 博文 一鸣 子墨 浩宇 天佑 奕辰 铭 梓睿 皓轩 宇轩 思远 嘉豪 俊宇".split(),
        "子涵 欣怡 梓涵 雨桐 诗涵 可馨 语嫣 一诺 思琪 佳怡 欣妍 若曦 梦瑶 梓萱 雨萱 紫涵 悦 馨月".split(),
    ),
}
# Characters combined into other given names of the same era.
NAME_CHARS = {
    1930: (
        "德福学文永长树光正国世绍明炳金玉家兴富贵清全成荣华才山林生",
        "秀淑玉桂素凤翠兰珍英芬芳琼菊华贞芝莲香群",
    ),
    1950: ("建国志卫跃永长振胜光朝红德明军民华强平庆文东", "秀桂玉淑素春建红翠英兰梅芳华琴珍琼萍"),
    1960: ("伟勇军强斌平刚明建小红卫志海永国文德华兵东峰林波", "丽红敏燕霞琴萍英静梅小晓春玉秀华利蓉琼芳"),
    1980: (
        "杰磊涛鹏浩超波俊宇伟亮鑫凯文志建海小龙林勇刚斌飞强军",
        "婷倩雪娟丹芳琳莉佳颖丽晓小燕蓉静敏霞玲艳梅",
    ),
    2000: (
        "浩子梓宇俊睿博一天佑奕辰铭皓轩思远嘉豪航然泽阳",
        "子欣梓雨诗可语一思佳若梦紫悦馨涵怡桐琪萱妍瑶曦诺",
    ),
}
_SURNAME_LIST = list(SURNAMES)
_SURNAME_CUM_WEIGHTS = list(itertools.accumulate(SURNAMES.values()))
COMPOUND_PREFIXES = (
    "阳光 涪江 金色 锦绣 翠湖 滨江 明月 南湖 桂花 紫薇 银杏 书香 康乐 和平 幸福 民生 嘉禾 丽景 "
    "富康 德胜 龙凤 天鹅 怡和 盛世 百合 观音湖 东方 华府 御景 水岸 新城 南强 锦江 春晖 福源 瑞祥"
).split()
COMPOUND_SUFFIXES = "花园 苑 小区 家园 华庭 名居 雅居 公寓 花苑 新村".split()
WORK_UNIT_COMPOUNDS = (
    "棉纺厂宿舍 粮食局宿舍 供销社宿舍 电力公司宿舍 农机厂家属院 糖酒公司宿舍 航运公司宿舍 "
    "建司宿舍 交通局宿舍 食品公司宿舍 教师宿舍 卫生局宿舍"
).split()
LANE_SUFFIXES = ["一巷", "二巷", "三巷", "老街", "北巷", "南巷", "新街"]
MOBILE_PREFIXES = (
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 173 177 "
    "180 181 182 183 185 186 187 188 189 198 199"
).split()
OTHER_ETHNICITIES_LOCAL = ["回族", "彝族", "藏族", "羌族", "土家族", "苗族"]
OTHER_ETHNICITIES_FLOATING = ["土家族", "苗族", "彝族", "回族", "壮族", "布依族"]
# Planted duplicates: the same person entered again without an ID, the address typed a little differently.
DUPLICATE_ADDRESS_VARIANTS = [
    lambda a: a.removeprefix(STREET_NAME),
    lambda a: a + "室",
    lambda a: a.replace("栋", "幢", 1),
    lambda a: a.removeprefix(STREET_NAME) + "室",
]
RESIDENT_ACCOUNT = next(a for a in ACCOUNTS if a.username == "resident")
RESIDENT_ACCOUNT_GRID = "510903014006001"  # grid1's grid; the resident account belongs to its community


def _bounding_box(grid: Region) -> tuple[float, float, float, float]:
    """The grid's boundary box (or its community's, if someone removed the grid's); zeros if none."""
    region = grid
    while region is not None and not region.boundary:
        region = region.parent
    if region is None:
        return (0.0, 0.0, 0.0, 0.0)
    ring = region.boundary["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return min(lons), min(lats), max(lons), max(lats)


@dataclass
class Plan:
    """One household before it is written: members with their relation, the unit, the template."""

    grid: Region
    unit: Unit
    kind: str  # the template name, e.g. "elderly_couple"
    floating: bool
    household: Household
    members: list[Resident] = field(default_factory=list)


class _Generator:
    """Plans the street in memory (unsaved model instances linked by reference), then writes it in bulk."""

    def __init__(self, street: Region):
        self.rng = random.Random(SEED)
        self.now = clock.now()
        self.street = street
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = {a.phone for a in ACCOUNTS}
        self.used_credit_codes: set[str] = set()
        self.used_compounds: set[str] = set()
        self.buildings: list[Building] = []
        self.units: list[Unit] = []
        self.unit_meta: dict[int, dict] = {}  # id(unit) → its full address and era
        self.plans: list[Plan] = []
        self.events: list[ResidentEvent] = []
        self.ownerships: list[Ownership] = []
        self.tags: list[ResidentTag] = []
        self.organisations: list[Organisation] = []
        self.duplicates: list[Resident] = []
        self.lanes: dict[str, str] = {}  # grid code → the lane its self-built houses are on

    # ------------------------------------------------------------------ small helpers

    def age(self, low: float, high: float, mode: float | None = None) -> int:
        return int(round(self.rng.triangular(low, high, mode)))

    def birth_date(self, age: int) -> dt.date:
        """A birth date giving exactly `age` completed years on DEMO_DATE (30 June exists every year)."""
        age = max(age, 0)
        last = DEMO_DATE.replace(year=DEMO_DATE.year - age)
        return last - dt.timedelta(days=self.rng.randrange(0, 365 if age else 300))

    def citizen_id(self, code: str, birth: dt.date, sex: str) -> str:
        while True:
            sequence = self.rng.randrange(1, 1000, 2) if sex == Sex.MALE else self.rng.randrange(2, 1000, 2)
            first17 = f"{code}{birth:%Y%m%d}{sequence:03d}"
            number = first17 + citizen_id_check_char(first17)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def mobile(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def surname(self) -> str:
        return self.rng.choices(_SURNAME_LIST, cum_weights=_SURNAME_CUM_WEIGHTS)[0]

    def given_name(self, sex: str, birth_year: int) -> str:
        decade = max(d for d in GIVEN_NAMES if d <= max(birth_year, 1930))
        names = GIVEN_NAMES[decade][0 if sex == Sex.MALE else 1]
        chars = NAME_CHARS[decade][0 if sex == Sex.MALE else 1]
        r = self.rng.random()
        if r < 0.3:
            return self.rng.choice(names)
        if r < 0.5:
            return self.rng.choice(chars)
        return "".join(self.rng.sample(chars, 2))

    def local_code(self, birth: dt.date) -> str:
        r = self.rng.random()
        if r < 0.12:
            return self.rng.choice(SICHUAN_CODES)
        if birth.year < 2003 and r < 0.30:
            return OLD_LOCAL_CODE
        return LOCAL_CODE

    def floating_code(self) -> str:
        r = self.rng.random()
        if r < 0.45:
            return self.rng.choice(SICHUAN_CODES)
        return self.rng.choice(OTHER_PROVINCE_CODES)

    def person(
        self, sex: str, age: int, *, surname: str | None = None, code: str | None = None, floating: bool
    ) -> Resident:
        age = max(age, 0)
        birth = self.birth_date(age)
        if code is None:
            code = self.floating_code() if floating else self.local_code(birth)
        name = (surname or self.surname()) + self.given_name(sex, birth.year)
        phone_chance = 0.0 if age < 14 else 0.4 if age < 18 else 0.55 if age >= 85 else 0.93
        ethnic_other = 0.03 if floating else 0.008
        resident = Resident(
            name=name,
            id_type=IdType.CITIZEN_ID,
            id_number=self.citizen_id(code, birth, sex),
            sex=sex,
            birth_date=birth,
            phone=self.mobile() if self.rng.random() < phone_chance else None,
            ethnicity=(
                self.rng.choice(OTHER_ETHNICITIES_FLOATING if floating else OTHER_ETHNICITIES_LOCAL)
                if self.rng.random() < ethnic_other
                else "汉族"
            ),
            political_status=self.political_status(age, sex),
            residence_type=ResidenceType.FLOATING if floating else ResidenceType.REGISTERED,
            status=ResidentStatus.LIVING_HERE,
            created_at=self.now,
            updated_at=self.now,
        )
        resident.age = age  # planning only, not a model field
        return resident

    def political_status(self, age: int, sex: str) -> str:
        if age < 14:
            return ""
        r = self.rng.random()
        if age >= 18:
            party = 0.04 if age <= 28 else 0.10 if age < 60 else 0.13
            if sex == Sex.FEMALE:
                party *= 0.75
            if r < party:
                return PoliticalStatus.CPC_MEMBER
            if 20 <= age <= 40 and r < party + 0.005:
                return PoliticalStatus.CPC_PROBATIONARY
        if 14 <= age <= 28 and self.rng.random() < (0.6 if age < 18 else 0.35):
            return PoliticalStatus.LEAGUE_MEMBER
        return PoliticalStatus.MASSES

    def area(self, low: float, high: float) -> tuple[Decimal, Decimal]:
        building = round(self.rng.uniform(low, high), 2)
        exclusive = round(building * self.rng.uniform(0.75, 0.85), 2)
        return Decimal(f"{building:.2f}"), Decimal(f"{exclusive:.2f}")

    # ------------------------------------------------------------------ places

    def compound_name(self, short: str) -> str:
        while True:
            r = self.rng.random()
            if r < 0.2:
                name = self.rng.choice(WORK_UNIT_COMPOUNDS)
            elif r < 0.3:
                name = f"{short}小区"
            else:
                name = self.rng.choice(COMPOUND_PREFIXES) + self.rng.choice(COMPOUND_SUFFIXES)
            if name not in self.used_compounds:
                self.used_compounds.add(name)
                return name

    def places(self, grid: Region, short: str) -> list[Unit]:
        """Self-built houses and compounds for one grid, until its unit budget is used."""
        box = _bounding_box(grid)
        w, h = box[2] - box[0], box[3] - box[1]

        def point(cx: float, cy: float, spread: float) -> tuple[float | None, float | None]:
            if not w:  # no boundary anywhere above the grid: no coordinates either
                return None, None
            x = min(max(cx + self.rng.uniform(-spread, spread) * w, box[0] + 0.03 * w), box[2] - 0.03 * w)
            y = min(max(cy + self.rng.uniform(-spread, spread) * h, box[1] + 0.03 * h), box[3] - 0.03 * h)
            return round(x, 6), round(y, 6)

        units: list[Unit] = []
        budget = int(round(self.rng.gauss(UNITS_PER_GRID, 6)))

        # 自建房: two to four storeys, one home per floor, often a shop at street level.
        lane = self.lanes[grid.code] = short + self.rng.choice(LANE_SUFFIXES)
        for i in range(self.rng.choice([0, 0, 1, 1, 2, 3])):
            floors = self.rng.randint(2, 4)
            lon, lat = point(box[0] + w / 2, box[1] + h / 2, 0.45)
            name = f"{lane}{self.rng.randint(1, 9) + 10 * i}号"
            building = self._building(grid, "", name, BuildingType.SELF_BUILT, floors, lon, lat, short)
            shop_below = self.rng.random() < 0.5
            for floor in range(1, floors + 1):
                shop = floor == 1 and shop_below
                units.append(self._unit(building, f"{floor}01", "self_built", shop=shop))

        # Compounds: old six/seven-storey walk-ups (老旧小区) or newer towers of up to 18 floors.
        while budget - len(units) >= 8:
            era = "old" if self.rng.random() < 0.6 else "new"
            compound = self.compound_name(short)
            cx, cy = point(box[0] + w / 2, box[1] + h / 2, 0.3)
            compound_budget = min(budget - len(units), self.rng.choice([24, 36, 48]))
            number = 0
            while compound_budget >= 8:
                number += 1
                if era == "old":
                    floors, entrances = self.rng.choice([6, 6, 7]), 2 if compound_budget >= 24 else 1
                else:
                    floors, entrances = self.rng.randint(11, 18), 1
                    floors = max(6, min(floors, compound_budget // 2))
                lon, lat = point(cx, cy, 0.1)
                building = self._building(
                    grid, compound, f"{number}栋", BuildingType.RESIDENTIAL, floors, lon, lat, short
                )
                shops = self.rng.random() < (0.25 if era == "old" else 0.15)
                for entrance in range(1, entrances + 1):
                    for floor in range(1, floors + 1):
                        for room in (1, 2):
                            shop = shops and floor == 1 and entrance == 1
                            label = f"{entrance}单元{floor}{room:02d}"
                            units.append(self._unit(building, label, era, shop=shop))
                compound_budget -= floors * entrances * 2
        return units

    def _building(self, grid, compound, name, kind, floors, lon, lat, short) -> Building:
        building = Building(
            region=grid,
            compound=compound,
            name=name,
            address=f"{STREET_NAME}{short}社区{compound}{name}",
            kind=kind,
            floors=floors,
            lon=lon,
            lat=lat,
            created_at=self.now,
        )
        self.buildings.append(building)
        return building

    def _unit(self, building: Building, label: str, era: str, *, shop: bool) -> Unit:
        if shop:
            building_area, exclusive = self.area(55, 120)
            status = self.rng.choices(
                [UnitStatus.RENTED, UnitStatus.OWNER_OCCUPIED, UnitStatus.VACANT], [60, 25, 15]
            )[0]
        else:
            low, high = {"old": (55, 100), "new": (80, 140), "self_built": (60, 130)}[era]
            building_area, exclusive = self.area(low, high)
            weights = {"old": [68, 22, 10], "new": [70, 14, 16], "self_built": [60, 35, 5]}[era]
            status = self.rng.choices(
                [UnitStatus.OWNER_OCCUPIED, UnitStatus.RENTED, UnitStatus.VACANT], weights
            )[0]
        unit = Unit(
            building=building,
            label=label,
            building_area=building_area,
            exclusive_area=exclusive,
            use=UnitUse.SHOP if shop else UnitUse.HOME,
            status=status,
        )
        self.units.append(unit)
        self.unit_meta[id(unit)] = {
            "address": building.address + label,
            "era": era,
        }
        return unit

    # ------------------------------------------------------------------ households

    LOCAL_KINDS = {
        "single_elderly": 11,
        "elderly_couple": 19,
        "middle_aged_couple": 13,
        "single_adult": 6,
        "young_couple": 3,
        "couple_one_child": 18,
        "couple_two_children": 6,
        "three_generations": 14,
        "couple_adult_child": 11,
        "elder_with_child": 5,
    }
    FLOATING_KINDS = {
        "floating_single": 35,
        "floating_couple": 22,
        "floating_family": 33,
        "floating_shared": 10,
    }

    def household(self, grid: Region, unit: Unit, *, floating: bool, registered: bool, number: str) -> Plan:
        table = self.FLOATING_KINDS if floating else self.LOCAL_KINDS
        kind = self.rng.choices(list(table), weights=list(table.values()))[0]
        meta = self.unit_meta[id(unit)]
        household = Household(
            region=grid,
            kind=HouseholdKind.REGISTERED if registered else HouseholdKind.RESIDENCE,
            number=number if registered else "",
            unit=unit,
            address=meta["address"],
            created_at=self.now,
        )
        plan = Plan(grid=grid, unit=unit, kind=kind, floating=floating, household=household)
        moved_in = self.move_in_date(meta["era"], floating)
        for resident, relation in getattr(self, f"_{kind}")(floating):
            resident.relation = relation
            resident.household = household
            resident.unit = unit
            resident.region = grid
            resident.address = meta["address"]
            resident.moved_in_on = max(moved_in, resident.birth_date)
            plan.members.append(resident)
        return plan

    def move_in_date(self, era: str, floating: bool) -> dt.date:
        if floating:
            return DEMO_DATE - dt.timedelta(days=self.rng.randint(30, 6 * 365))
        first_year = {"old": 1993, "new": 2010, "self_built": 1988}[era]
        start = dt.date(first_year, 1, 1) + dt.timedelta(days=self.rng.randint(0, 6 * 365))
        return start + dt.timedelta(days=self.rng.randint(0, max((DEMO_DATE - start).days - 60, 0)))

    def _couple(self, husband_age: int, floating: bool) -> tuple[Resident, Resident]:
        husband = self.person(Sex.MALE, husband_age, floating=floating)
        wife_age = husband_age - self.rng.choice([-2, -1, 0, 1, 1, 2, 2, 3, 3, 4, 5])
        # Couples from elsewhere share a home town more often than not.
        code = husband.id_number[:6] if floating and self.rng.random() < 0.6 else None
        return husband, self.person(Sex.FEMALE, wife_age, code=code, floating=floating)

    def _child(self, father: Resident, age: int, *, floating: bool) -> Resident:
        """A child of `father`: same surname; registered where the parents are (here if born since 2003)."""
        age = max(age, 0)
        if floating:
            code = father.id_number[:6]
        else:
            code = LOCAL_CODE if DEMO_DATE.year - age >= 2003 else None
        sex = self.rng.choice([Sex.MALE, Sex.FEMALE])
        return self.person(sex, age, surname=father.name[0], code=code, floating=floating)

    def _children(self, father: Resident, mother: Resident, *, second_chance: float, floating: bool):
        first = self._child(father, mother.age - self.rng.randint(23, 31), floating=floating)
        children = [first]
        if first.age >= 3 and self.rng.random() < second_chance:
            children.append(self._child(father, self.rng.randint(0, first.age - 2), floating=floating))
        return [(c, Relation.SON if c.sex == Sex.MALE else Relation.DAUGHTER) for c in children]

    def _single_elderly(self, floating):
        sex = Sex.FEMALE if self.rng.random() < 0.65 else Sex.MALE
        return [(self.person(sex, self.age(62, 95, 74), floating=floating), Relation.SELF)]

    def _elderly_couple(self, floating):
        husband, wife = self._couple(self.age(60, 88, 65), floating)
        return [(husband, Relation.SELF), (wife, Relation.SPOUSE)]

    def _middle_aged_couple(self, floating):  # the child has left home
        husband, wife = self._couple(self.age(46, 66, 57), floating)
        return [(husband, Relation.SELF), (wife, Relation.SPOUSE)]

    def _single_adult(self, floating):
        sex = self.rng.choice([Sex.MALE, Sex.FEMALE])
        return [(self.person(sex, self.age(24, 64, 50), floating=floating), Relation.SELF)]

    def _young_couple(self, floating):
        husband, wife = self._couple(self.age(24, 36, 29), floating)
        return [(husband, Relation.SELF), (wife, Relation.SPOUSE)]

    def _couple_one_child(self, floating):
        husband, wife = self._couple(self.age(32, 62, 53), floating)
        children = self._children(husband, wife, second_chance=0, floating=floating)
        return [(husband, Relation.SELF), (wife, Relation.SPOUSE), *children]

    def _couple_two_children(self, floating):
        husband, wife = self._couple(self.age(32, 52, 40), floating)
        children = self._children(husband, wife, second_chance=1, floating=floating)
        return [(husband, Relation.SELF), (wife, Relation.SPOUSE), *children]

    def _three_generations(self, floating):
        husband, wife = self._couple(self.age(32, 52, 42), floating)
        children = self._children(husband, wife, second_chance=0.35, floating=floating)
        grandpa_age = husband.age + self.rng.randint(23, 30)
        elders = []
        if self.rng.random() < 0.55:
            elders.append(self.person(Sex.MALE, grandpa_age, surname=husband.name[0], floating=floating))
        elders.append(self.person(Sex.FEMALE, grandpa_age - self.rng.randint(0, 4), floating=floating))
        if self.rng.random() < 0.4:  # the grandparents' flat: the eldest is householder
            members = [(elders[0], Relation.SELF), *[(e, Relation.SPOUSE) for e in elders[1:]]]
            members += [(husband, Relation.SON), (wife, Relation.CHILD_IN_LAW)]
            return members + [(c, Relation.GRANDCHILD) for c, _ in children]
        return [(husband, Relation.SELF), (wife, Relation.SPOUSE), *children] + [
            (e, Relation.PARENT) for e in elders
        ]

    def _couple_adult_child(self, floating):
        husband, wife = self._couple(self.age(48, 67, 58), floating)
        child = self._child(husband, wife.age - self.rng.randint(23, 30), floating=floating)
        relation = Relation.SON if child.sex == Sex.MALE else Relation.DAUGHTER
        return [(husband, Relation.SELF), (wife, Relation.SPOUSE), (child, relation)]

    def _elder_with_child(self, floating):
        elder_sex = Sex.FEMALE if self.rng.random() < 0.7 else Sex.MALE
        elder = self.person(elder_sex, self.age(72, 96, 82), floating=floating)
        child_age = elder.age - self.rng.randint(24, 34)
        surname = elder.name[0] if elder_sex == Sex.MALE else None
        child = self.person(
            self.rng.choice([Sex.MALE, Sex.FEMALE]), child_age, surname=surname, floating=floating
        )
        return [(child, Relation.SELF), (elder, Relation.PARENT)]

    # 流动人口 renting here: younger people; their children keep the parents' registration.
    def _floating_single(self, floating):
        sex = Sex.MALE if self.rng.random() < 0.6 else Sex.FEMALE
        return [(self.person(sex, self.age(18, 50, 27), floating=True), Relation.SELF)]

    def _floating_couple(self, floating):
        husband, wife = self._couple(self.age(22, 48, 30), True)
        return [(husband, Relation.SELF), (wife, Relation.SPOUSE)]

    def _floating_family(self, floating):
        husband, wife = self._couple(self.age(26, 46, 35), True)
        children = self._children(husband, wife, second_chance=0.35, floating=True)
        return [(husband, Relation.SELF), (wife, Relation.SPOUSE), *children]

    def _floating_shared(self, floating):
        sex = self.rng.choice([Sex.MALE, Sex.FEMALE])
        mates = [self.person(sex, self.age(19, 40, 25), floating=True) for _ in range(self.rng.randint(2, 3))]
        return [(mates[0], Relation.SELF), *[(m, Relation.OTHER) for m in mates[1:]]]

    # ------------------------------------------------------------------ the street

    def populate(self) -> None:
        communities = list(self.street.children.filter(level=Level.COMMUNITY).order_by("code"))
        for community in communities:
            short = community.name.removesuffix("居委会").removesuffix("社区")
            for grid in community.children.filter(level=Level.GRID).order_by("code"):
                self.populate_grid(grid, short)

    def populate_grid(self, grid: Region, short: str) -> None:
        for unit in self.places(grid, short):
            if unit.use != UnitUse.HOME or unit.status == UnitStatus.VACANT:
                continue
            rented = unit.status == UnitStatus.RENTED
            floating = rented and self.rng.random() < 0.7
            registered = not rented and self.rng.random() < 0.85
            number = f"{grid.code[-6:]}{len(self.plans) + 1:05d}"
            self.plans.append(
                self.household(grid, unit, floating=floating, registered=registered, number=number)
            )

    def owners(self) -> None:
        """自住: the householder, often with the spouse half and half. Rented, vacant and shop units belong
        to residents living elsewhere (maybe in another grid); a few landlords own several."""
        pool = [
            p.members[0]
            for p in self.plans
            if not p.floating and p.unit.status == UnitStatus.OWNER_OCCUPIED and p.members[0].age >= 35
        ]
        landlords = self.rng.sample(pool, 30)
        for plan in self.plans:
            if plan.floating or plan.unit.status != UnitStatus.OWNER_OCCUPIED:
                continue
            head = plan.members[0]
            spouse = next((m for m in plan.members if m.relation == Relation.SPOUSE), None)
            if spouse is not None and self.rng.random() < 0.6:
                self.own(head, plan.unit, "0.5")
                self.own(spouse, plan.unit, "0.5")
            else:
                self.own(head, plan.unit, "1")
        occupied = {id(p.unit) for p in self.plans}
        for unit in self.units:
            if unit.status == UnitStatus.OWNER_OCCUPIED and id(unit) in occupied:
                continue
            chance = {UnitStatus.RENTED: 0.85, UnitStatus.VACANT: 0.7}.get(unit.status, 0.6)
            if self.rng.random() < chance:
                owner = self.rng.choice(landlords if self.rng.random() < 0.2 else pool)
                self.own(owner, unit, "1")

    def own(self, resident: Resident, unit: Unit, share: str) -> None:
        self.ownerships.append(Ownership(resident=resident, unit=unit, share=Decimal(share)))

    def life_events(self) -> None:
        """A few people died (elderly spouses, leaving someone alone) or moved away (grown children)."""
        widowed = [
            p.members[1]
            for p in self.plans
            if p.kind == "elderly_couple" and p.members[1].age >= 75 and p.grid.code != RESIDENT_ACCOUNT_GRID
        ]
        for resident in self.rng.sample(widowed, 10):
            on = DEMO_DATE - dt.timedelta(days=self.rng.randint(20, 700))
            resident.status, resident.died_on = ResidentStatus.DECEASED, max(on, resident.moved_in_on)
            self.event(resident, ResidentEventKind.DEATH, on_date=resident.died_on, note="病故")
        grown = [
            p.members[2]
            for p in self.plans
            if p.kind == "couple_adult_child"
            and 20 <= p.members[2].age <= 35
            and p.grid.code != RESIDENT_ACCOUNT_GRID
        ]
        for resident in self.rng.sample(grown, 15):
            on = DEMO_DATE - dt.timedelta(days=self.rng.randint(10, 900))
            resident.status = ResidentStatus.MOVED_OUT
            resident.moved_out_on = max(on, resident.moved_in_on)
            self.event(
                resident,
                ResidentEventKind.MOVE_OUT,
                on_date=resident.moved_out_on,
                from_region=resident.region,
                from_address=resident.address,
                to_address=self.rng.choice(MOVED_TO),
                note="外出工作",
            )

    def event(self, resident: Resident, kind: str, **fields) -> None:
        self.events.append(
            ResidentEvent(resident=resident, kind=kind, actor_label="system", at=self.now, **fields)
        )

    def tag_people(self, tags: dict[str, Tag]) -> None:
        living = [r for p in self.plans for r in p.members if r.status == ResidentStatus.LIVING_HERE]
        chosen: dict[str, list[Resident]] = {}

        # 独居/空巢老人: about 15% of those aged 60+; the oldest living alone first.
        elderly = [r for r in living if r.age >= 60]
        alone: list[Resident] = []
        couples: list[list[Resident]] = []  # the members aged 60+ of each elderly couple
        for plan in self.plans:
            here = [m for m in plan.members if m.status == ResidentStatus.LIVING_HERE]
            if len(here) == 1 and here[0].age >= 60:
                alone.append(here[0])
            elif plan.kind == "elderly_couple" and len(here) == 2:
                couples.append([m for m in here if m.age >= 60])
        target = round(0.15 * len(elderly))
        alone.sort(key=lambda r: -r.age)
        chosen["elderly_alone"] = alone[: target // 2]
        self.rng.shuffle(couples)
        chosen["empty_nest"] = []
        for couple in couples:
            if len(chosen["elderly_alone"]) + len(chosen["empty_nest"]) + len(couple) > target:
                break
            chosen["empty_nest"] += couple

        poor = self.rng.sample([p for p in self.plans if not p.floating], 22)
        chosen["subsistence"] = [m for p in poor for m in p.members if m.status == ResidentStatus.LIVING_HERE]
        chosen["extreme_poverty"] = self.rng.sample(alone[target // 2 :], 5)
        chosen["disabled"] = self.rng.sample([r for r in living if r.age >= 18], 90)
        chosen["veteran"] = self.rng.sample([r for r in living if r.sex == Sex.MALE and r.age >= 35], 45)
        chosen["community_correction"] = self.rng.sample(
            [r for r in living if r.sex == Sex.MALE and 22 <= r.age <= 50], 4
        )
        chosen["released_prisoner"] = self.rng.sample(
            [r for r in living if r.sex == Sex.MALE and 28 <= r.age <= 62], 8
        )
        chosen["severe_mental_disorder"] = self.rng.sample([r for r in living if 20 <= r.age <= 75], 10)

        notes = {
            "community_correction": lambda: self.rng.choice(["缓刑", "假释", "暂予监外执行"]),
            "severe_mental_disorder": lambda: f"风险等级 {self.rng.choice([0, 0, 1, 1, 2, 3])} 级",
            "disabled": lambda: (
                f"{self.rng.choice(['肢体', '视力', '听力', '智力'])}残疾{self.rng.choice('一二三四')}级"
            ),
        }
        for code, people in chosen.items():
            tag = tags.get(code)
            if tag is None:  # an administrator removed a default tag: leave it out
                continue
            for resident in people:
                since = DEMO_DATE - dt.timedelta(days=self.rng.randint(60, 8 * 365))
                self.tags.append(
                    ResidentTag(
                        resident=resident,
                        tag=tag,
                        since=max(since, resident.birth_date),
                        note=notes[code]() if code in notes else "",
                        created_at=self.now,
                    )
                )

    def demo_account_resident(self) -> None:
        """周小梅, the demo resident account's person, lives in grid1's grid with her family."""
        candidates = [
            m
            for p in self.plans
            if p.grid.code == RESIDENT_ACCOUNT_GRID and not p.floating
            for m in p.members
            if m.relation == Relation.SPOUSE and m.sex == Sex.FEMALE and 30 <= m.age <= 50
        ]
        resident = candidates[0]
        resident.name = RESIDENT_ACCOUNT.real_name
        resident.phone = RESIDENT_ACCOUNT.phone

    def plant_duplicates(self) -> None:
        """The same person entered a second time without an ID number, address typed differently."""
        grids = [RESIDENT_ACCOUNT_GRID, "510903014006002"]
        others = sorted({p.grid.code for p in self.plans} - set(grids))
        grids += self.rng.sample(others, 2)
        for grid_code, variant in zip(grids, DUPLICATE_ADDRESS_VARIANTS, strict=True):
            original = next(
                m
                for p in self.plans
                if p.grid.code == grid_code and "栋" in p.household.address
                for m in p.members
                if m.age >= 30
                and m.status == ResidentStatus.LIVING_HERE
                and m.name != RESIDENT_ACCOUNT.real_name
            )
            copy = Resident(
                region=original.region,
                name=original.name,
                id_type=IdType.NONE,
                sex=original.sex,
                birth_date=original.birth_date,
                ethnicity=original.ethnicity,
                residence_type=original.residence_type,
                unit=original.unit,
                address=variant(original.address),
                moved_in_on=original.moved_in_on,
                status=ResidentStatus.LIVING_HERE,
                created_at=self.now + dt.timedelta(seconds=1),
                updated_at=self.now + dt.timedelta(seconds=1),
            )
            self.duplicates.append(copy)

    # ------------------------------------------------------------------ organisations

    def org_code(self, prefix: str) -> str:
        """9-character organisation code (GB 11714): 8 characters and a check character."""
        body = prefix + "".join(
            self.rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY" if prefix.isalpha() else "0123456789")
            for _ in range(8 - len(prefix))
        )
        total = sum(
            (int(c) if c.isdigit() else ord(c) - 55) * w
            for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)
        )
        check = 11 - total % 11
        return body + ("X" if check == 10 else "0" if check == 11 else str(check))

    def credit_code(self, head: str) -> str:
        """Unified social credit code: authority + type (`head`), division 510903, org code, check."""
        prefix = {"9": "MA6", "5": "MJ"}.get(head[0], self.rng.choice(["45", "00"]))
        while True:
            first17 = f"{head}{LOCAL_CODE}{self.org_code(prefix)}"
            code = first17 + credit_code_check_char(first17)
            if code not in self.used_credit_codes:
                self.used_credit_codes.add(code)
                return code

    def make_organisations(self) -> None:
        communities = {
            c.name.removesuffix("居委会"): c for c in self.street.children.filter(level=Level.COMMUNITY)
        }
        shops = [u for u in self.units if u.use == UnitUse.SHOP]
        for kind, name, head, where in ORGANISATIONS:
            if where in communities:
                region, address = communities[where], f"{STREET_NAME}{where}党群服务中心"
            elif where == "shop":  # 底商: a ground-floor shop unit
                unit = self.rng.choice(shops)
                region, address = unit.building.region, self.unit_meta[id(unit)]["address"]
            elif where == "grid":  # premises of its own on a lane of some grid
                building = self.rng.choice(self.buildings)
                region, community = building.region, building.region.parent.name.removesuffix("居委会")
                address = f"{STREET_NAME}{community}{self.lanes[region.code]}{self.rng.randint(30, 99)}号"
            else:  # street-level units: `where` is their address
                region, address = self.street, where
            phone = (
                f"0825-{self.rng.choice('2568')}{self.rng.randrange(10**6):06d}"
                if kind in (OrganisationKind.RESIDENT_UNIT, OrganisationKind.PARTY) or self.rng.random() < 0.3
                else self.mobile()
            )
            contact_sex = self.rng.choice([Sex.MALE, Sex.FEMALE])
            self.organisations.append(
                Organisation(
                    region=region,
                    kind=kind,
                    name=name,
                    credit_code=self.credit_code(head) if head else "",
                    contact_name=self.surname() + self.given_name(contact_sex, self.rng.randint(1965, 1995)),
                    contact_phone=phone,
                    address=address,
                    created_at=self.now,
                )
            )

    # ------------------------------------------------------------------ writing

    def write(self) -> dict[str, int]:
        Building.objects.bulk_create(self.buildings, batch_size=BATCH)
        Unit.objects.bulk_create(self.units, batch_size=BATCH)
        households = [p.household for p in self.plans]
        Household.objects.bulk_create(households, batch_size=BATCH)
        residents = [m for p in self.plans for m in p.members] + self.duplicates
        for resident in residents:
            derive_search_keys(resident)
        Resident.objects.bulk_create(residents, batch_size=BATCH)
        # One UPDATE instead of ~2,000: each household's householder is its member related as 本人.
        head = Resident.objects.filter(household=OuterRef("pk"), relation=Relation.SELF).values("pk")[:1]
        Household.objects.filter(region__path__startswith=self.street.path, householder=None).update(
            householder=Subquery(head)
        )
        for plan in self.plans:
            plan.household.householder = plan.members[0]
        register = [
            ResidentEvent(
                resident=r,
                kind=ResidentEventKind.REGISTER,
                on_date=r.moved_in_on,
                to_region=r.region,
                to_address=r.address,
                actor_label="system",
                at=r.created_at,
            )
            for r in residents
        ]
        ResidentEvent.objects.bulk_create(register + self.events, batch_size=BATCH)
        Ownership.objects.bulk_create(self.ownerships, batch_size=BATCH)
        ResidentTag.objects.bulk_create(self.tags, batch_size=BATCH)
        Organisation.objects.bulk_create(self.organisations, batch_size=BATCH)
        return {
            "buildings": len(self.buildings),
            "units": len(self.units),
            "households": len(households),
            "residents": len(residents),
            "floating": sum(r.residence_type == ResidenceType.FLOATING for r in residents),
            "moved_out": sum(r.status == ResidentStatus.MOVED_OUT for r in residents),
            "deceased": sum(r.status == ResidentStatus.DECEASED for r in residents),
            "ownerships": len(self.ownerships),
            "tags": len(self.tags),
            "planted_duplicates": len(self.duplicates),
            "organisations": len(self.organisations),
        }


# kind, name, credit-code head (registration authority + type; "" for none), and where: a community,
# "shop" (a ground-floor shop unit), "grid" (own premises in a random grid), or a street-level unit's address
ORGANISATIONS = [
    (OrganisationKind.ENTERPRISE, "遂宁市南强物业管理有限公司", "91", "grid"),
    (OrganisationKind.ENTERPRISE, "四川涪江建筑工程有限公司", "91", "grid"),
    (OrganisationKind.ENTERPRISE, "遂宁市船山区金鱼农贸市场管理有限公司", "91", "shop"),
    (OrganisationKind.ENTERPRISE, "遂宁市南强汽车维修服务有限公司", "91", "shop"),
    (OrganisationKind.ENTERPRISE, "四川天星坝食品有限公司", "91", "grid"),
    (OrganisationKind.ENTERPRISE, "遂宁市阳光家政服务有限公司", "91", "shop"),
    (OrganisationKind.ENTERPRISE, "遂宁市定觉院文化传媒有限公司", "91", "grid"),
    (OrganisationKind.ENTERPRISE, "遂宁市清净寺大药房有限公司", "91", "shop"),
    (OrganisationKind.ENTERPRISE, "遂宁市机场路物流有限公司", "91", "grid"),
    (OrganisationKind.ENTERPRISE, "遂宁市谢家店酒店管理有限公司", "91", "shop"),
    (OrganisationKind.SOLE_TRADER, "船山区老王面馆", "92", "shop"),
    (OrganisationKind.SOLE_TRADER, "船山区蒲记羊肉汤锅店", "92", "shop"),
    (OrganisationKind.SOLE_TRADER, "船山区佳佳便利店", "92", "shop"),
    (OrganisationKind.SOLE_TRADER, "船山区小李理发店", "92", "shop"),
    (OrganisationKind.SOLE_TRADER, "船山区张姐干洗店", "", "shop"),
    (OrganisationKind.SOLE_TRADER, "船山区刘氏五金店", "", "shop"),
    (OrganisationKind.SOLE_TRADER, "船山区川味小厨", "", "shop"),
    (OrganisationKind.SOCIAL, "遂宁市船山区南强街道老年协会", "51", "南强街道便民服务中心二楼"),
    (OrganisationKind.SOCIAL, "遂宁市船山区阳光社会工作服务中心", "52", "grid"),
    (OrganisationKind.SOCIAL, "遂宁市船山区涪江志愿服务协会", "51", "涪江社区"),
    (OrganisationKind.SOCIAL, "南强街道马宗岭社区邻里互助会", "", "马宗岭社区"),
    (OrganisationKind.SOCIAL, "遂宁市船山区金色童年幼儿园", "52", "grid"),
    (
        OrganisationKind.RESIDENT_UNIT,
        "遂宁市船山区南强街道社区卫生服务中心",
        "12",
        "南强街道便民服务中心东侧",
    ),
    (OrganisationKind.RESIDENT_UNIT, "遂宁市船山区南强小学校", "12", "grid"),
    (OrganisationKind.RESIDENT_UNIT, "遂宁市公安局船山区分局南强派出所", "11", "南强街道机场社区"),
    (OrganisationKind.RESIDENT_UNIT, "遂宁市船山区南强街道便民服务中心", "12", "南强街道办事处一楼"),
    (OrganisationKind.RESIDENT_UNIT, "国网遂宁供电公司南强供电所", "91", "grid"),
    (OrganisationKind.PARTY, "中共遂宁市船山区南强街道马宗岭社区委员会", "", "马宗岭社区"),
    (OrganisationKind.PARTY, "中共遂宁市船山区南强街道金鱼社区委员会", "", "金鱼社区"),
    (OrganisationKind.PARTY, "中共遂宁市船山区南强街道涪江社区委员会", "", "涪江社区"),
    (
        OrganisationKind.PARTY,
        "中共遂宁市船山区南强街道非公有制企业联合支部委员会",
        "",
        "南强街道党群服务中心",
    ),
    (OrganisationKind.PARTY, "中共遂宁市南强物业管理有限公司支部委员会", "", "grid"),
]


def _summary(street: Region) -> dict[str, int]:
    inside = {"region__path__startswith": street.path}
    return {
        "buildings": Building.objects.filter(**inside).count(),
        "units": Unit.objects.filter(building__region__path__startswith=street.path).count(),
        "households": Household.objects.filter(**inside).count(),
        "residents": Resident.objects.filter(**inside).count(),
        "organisations": Organisation.objects.filter(**inside).count(),
    }


def _line(counts: dict[str, int]) -> str:
    return (
        f"人房台账：楼栋 {counts['buildings']} 栋，房屋 {counts['units']} 套，户 {counts['households']} 户，"
        f"实有人口 {counts['residents']} 人，单位组织 {counts['organisations']} 个"
    )


@demo.loader(order=20)
def load_people() -> list[str]:
    """Buildings, units, households, ~5,000 residents, owners, tags and organisations for 南强街道."""
    street = Region.objects.filter(code=STREET_CODE).first()
    if street is None:
        return []
    inside = {"region__path__startswith": street.path}
    if Resident.objects.filter(**inside).exists() or Building.objects.filter(**inside).exists():
        return ["", _line(_summary(street)) + "（已存在，未重复加载）"]
    with transaction.atomic():
        generator = _Generator(street)
        generator.populate()
        generator.owners()
        generator.life_events()
        generator.demo_account_resident()
        generator.tag_people(Tag.objects.in_bulk(field_name="code"))
        generator.plant_duplicates()
        generator.make_organisations()
        counts = generator.write()
        audit.record(SYSTEM, "people.demo_load", None, region=street, after=counts)
    return [
        "",
        _line(counts),
        f"  其中流动人口 {counts['floating']} 人，已迁出 {counts['moved_out']} 人，"
        f"已死亡 {counts['deceased']} 人；产权 {counts['ownerships']} 条，人员标签 {counts['tags']} 条，"
        f"疑似重复 {counts['planted_duplicates']} 对（供演示合并）",
    ]
