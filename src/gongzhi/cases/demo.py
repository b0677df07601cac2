"""`gongzhi demo` for the closed loop: units, routing rules and ~400 cases of 南强街道 in every state.

Units are the street's dispatch centre (综治中心), each community's residents' committee, the district
departments and utilities a street works with, and two property companies. The routing rules (权责清单)
send street-scene matters to 综合执法局 at district level, property matters to the property company
where a community has one, disputes and everyday services to the community itself; a few categories
deliberately have no rule so "无匹配规则" shows in the dispatcher's queue.

The cases are not written into tables: each one is played through the real services under a frozen
clock at past times, in time order across all cases, with the deadline sweep running twice every
working day. So every number, deadline, event, audit entry, notification and KPI is exactly
what the running system would have produced: late acceptances, overdue replies marked red by the
sweep, automatic escalations, returns, 吹哨 to departments, suspensions, failed verifications and
reopened cases, dissatisfied ratings with callbacks. Each case has its own seeded random generator,
so the demo is the same on every machine (dates move with the day it is loaded). Loading again over
existing cases adds nothing.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from gongzhi.cases import rules, services
from gongzhi.cases.models import (
    AttributeType,
    Case,
    Category,
    CategoryAttribute,
    Rating,
    RequestType,
    RoutingRule,
    Source,
    Status,
    Unit,
    UnitKind,
    UnitMember,
)
from gongzhi.core import audit, calendar, clock, demo, geo
from gongzhi.core import services as core_services
from gongzhi.core.demo import STREET_CODE
from gongzhi.core.models import ApiKey, Level, Region, User
from gongzhi.core.principals import SYSTEM
from gongzhi.core.roles import Role

SEED = 20251122
RANDOM_CASES = 340  # spread over the window, played as far as "now" allows
DAYS = 120  # about four months
HOTLINE_KEY = "12345市民服务热线"
RESIDENT_ACCOUNT_GRID = "510903014006001"
FIRST_COMMUNITY = "510903014006"  # 马宗岭社区: the demo accounts' community gets more cases
SWEEP_TIMES = (dt.time(9, 5), dt.time(14, 35))  # the real task runs every minute; twice a day is enough here

# ---------------------------------------------------------------- units and people

STREET_UNIT = "南强街道综治中心"
# key → (name, kind, phone); departments and utilities sit at the district, property companies in the street.
UNITS = {
    "zfj": ("船山区综合行政执法局", UnitKind.DEPARTMENT, "0825-2226319"),
    "zjj": ("船山区住房和城乡建设局", UnitKind.DEPARTMENT, "0825-2225860"),
    "sthj": ("船山生态环境分局", UnitKind.DEPARTMENT, "0825-2236512"),
    "scjg": ("船山区市场监督管理局", UnitKind.DEPARTMENT, "0825-2245315"),
    "gaj": ("船山公安分局", UnitKind.DEPARTMENT, "0825-2221110"),
    "gd": ("遂宁供电公司船山供电中心", UnitKind.UTILITY, "0825-95598"),
    "zls": ("遂宁市自来水公司", UnitKind.UTILITY, "0825-2223330"),
    "rq": ("遂宁市燃气公司", UnitKind.UTILITY, "0825-2228111"),
    "jinhua": ("遂宁锦华物业服务有限公司", UnitKind.PROPERTY, "0825-2651188"),
    "anju": ("遂宁安居物业管理有限公司", UnitKind.PROPERTY, "0825-2652266"),
}
# Staff who work a unit's queue besides the demo accounts: username, name, title, unit, district role.
UNIT_STAFF = [
    ("dept_zjj", "黄志强", "住建局城建股", "zjj", Role.DEPARTMENT_STAFF),
    ("dept_sthj", "邓丽娟", "生态环境分局执法大队", "sthj", Role.DEPARTMENT_STAFF),
    ("dept_scjg", "何建平", "市场监管所", "scjg", Role.DEPARTMENT_STAFF),
    ("dept_gaj", "罗军", "南强派出所", "gaj", Role.DEPARTMENT_STAFF),
    ("gd_staff", "唐海涛", "供电抢修班", "gd", None),
    ("zls_staff", "蒋文斌", "供水服务站", "zls", None),
    ("rq_staff", "曾小燕", "燃气客服中心", "rq", None),
    ("wy_jinhua", "谢婷", "锦华物业客服", "jinhua", None),
    ("wy_anju", "彭勇", "安居物业客服", "anju", None),
]
COMMUNITY_STAFF_NAMES = "李晓燕 陈红梅 刘丽华 周静 吴敏 徐丽 孙霞 马琴 朱红英 胡春梅 郭玉梅".split()
# Communities whose property matters go to a property company; the others' to the community itself.
PROPERTY_OF = {
    "510903014006": "jinhua",
    "510903014008": "jinhua",
    "510903014010": "anju",
    "510903014012": "anju",
}
RESIDENT_ACCOUNTS_PER_COMMUNITY = 2

# Routing rules (权责清单). "street" and "community" name the street's and the community's own unit.
DISTRICT_RULES = [
    ("SJ01", "zfj"), ("SJ02", "zfj"), ("SJ04", "zfj"), ("SJ0405", "gaj"), ("SJ03", "zjj"),
    ("SJ0301", "sthj"), ("SJ0303", "zfj"), ("BJ03", "zfj"), ("BJ0502", "zfj"), ("BJ02", "zjj"),
    ("BJ0202", "gaj"), ("BJ04", "zjj"), ("BJ0501", "zjj"), ("BJ0101", "zls"), ("BJ0106", "zls"),
    ("BJ0102", "zjj"), ("BJ0103", "zjj"), ("BJ0104", "rq"), ("BJ0105", "gd"), ("SJ0501", "zjj"),
    ("SJ0504", "zjj"), ("SJ0502", "zls"), ("SJ0503", "rq"), ("SJ1004", "rq"),
]  # fmt: skip
STREET_RULES = [("SJ0803", "street")]
COMMUNITY_RULES = ["SJ06", "SJ0801", "SJ0802", "SJ0804", "SJ0901", "SJ0902", "SJ0903", "SJ1002", "SJ07"]
# Left without a rule on purpose, the dispatcher decides: 火情, 消防通道, 高空坠物, 水电气暖, 通信设施…

ROADS = "南强路 明月路 凯旋南路 遂州南路 嘉禾东路 南津路 广德路 滨江南路 开善路 金鱼街".split()
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林蒋唐邓曾谢彭蒲文杜袁"
GIVEN = (
    "建国 秀英 志强 丽 红梅 伟 敏 军 静 海涛 小燕 德明 玉兰 俊 婷 勇 淑珍 晓丽 文斌 春梅 国华 雪 鹏".split()
)


@dataclass(frozen=True)
class Template:
    code: str  # category
    title: str
    text: str
    kind: str = RequestType.COMPLAINT
    fallback: str = "community"  # where the dispatcher sends it when no rule matches
    alt: str = "community"  # where it goes after the first unit returns it
    whistle: str = "zfj"  # the department the street calls in (吹哨) after an escalation


T = Template
TEMPLATES = [
    T(
        "SJ0101",
        "{road}路边垃圾堆积无人清运",
        "{road}与{road2}交叉口人行道上堆了好几袋生活垃圾，已经两三天了，天热味道很大，苍蝇很多。",
    ),
    T(
        "SJ0101",
        "{compound}大门外垃圾桶满溢",
        "{compound}大门外的垃圾桶已经装满溢出，垃圾散落一地，请尽快清运。",
    ),
    T(
        "SJ0102",
        "{road}空地被倾倒建筑渣土",
        "有人晚上在{road}旁边的空地上倾倒装修渣土，已经堆成小山，下雨后泥水流到路上。",
    ),
    T(
        "SJ0103",
        "{road}菜市场门口路面油污",
        "{road}菜市场门口路面油污、菜叶很多，行人容易滑倒，希望加强清扫。",
    ),
    T(
        "SJ0104",
        "{compound}外墙被乱涂乱画",
        "{compound}临街外墙上被人喷涂了大量办证、开锁的电话号码，影响市容。",
    ),
    T(
        "SJ0105",
        "{compound}{building}底楼私搭彩钢棚",
        "{compound}{building}一楼住户在公共绿地上搭建彩钢棚，占用公共空间，其他住户意见很大。",
    ),
    T(
        "SJ0201",
        "{compound}单元门贴满小广告",
        "{compound}各单元门和楼道墙面贴满疏通下水道、办证的小广告，清了又贴。",
    ),
    T(
        "SJ0202",
        "{road}商铺广告牌松动",
        "{road}一家商铺的门头广告牌一角已经松动，风大时晃动，担心掉下来砸到行人。",
        alt="zjj",
    ),
    T(
        "SJ0301",
        "{road}工地夜间施工噪音大",
        "{road}附近工地晚上十一点以后还在打桩、浇筑混凝土，噪音很大，周边居民无法休息。",
        alt="zjj",
        whistle="sthj",
    ),
    T(
        "SJ0302",
        "{road}施工围挡占用人行道",
        "{road}管网施工围挡把人行道全部占了，行人只能走机动车道，很危险。",
        alt="zfj",
    ),
    T("SJ0303", "渣土车在{road}沿途遗撒", "渣土车经过{road}时沿途撒落泥土，晴天扬尘、雨天泥泞。", alt="zjj"),
    T("SJ0401", "{road}早市占道经营", "每天早上{road}两侧摆满菜摊水果摊，占用车行道，上班高峰堵车严重。"),
    T("SJ0401", "{road}流动摊贩堵塞路口", "{road}路口傍晚聚集很多流动摊贩，车辆和行人通行困难。"),
    T(
        "SJ0402",
        "{road}餐馆在人行道摆桌",
        "{road}几家烧烤店晚上把桌椅摆到人行道上，油烟大，行人无法通行。",
        alt="scjg",
        whistle="scjg",
    ),
    T(
        "SJ0403",
        "{road}人行道停满机动车",
        "{road}人行道上长期停满私家车，轮椅和婴儿车都过不去。",
        alt="gaj",
        whistle="gaj",
    ),
    T("SJ0404", "{road}公交站共享单车乱停放", "{road}公交站旁边共享单车乱停乱放，挡住了盲道和候车区域。"),
    T(
        "SJ0405",
        "{road}广场舞音响声音过大",
        "每晚{road}小广场跳广场舞的音响开得很大，持续到十点以后，影响老人孩子休息。",
        alt="community",
        whistle="gaj",
    ),
    T(
        "SJ0405",
        "{road}商铺高音喇叭促销",
        "{road}一家服装店门口的喇叭整天循环播放促销广告，声音刺耳。",
        alt="zfj",
        whistle="zfj",
    ),
    T(
        "SJ0501",
        "{road}路面出现塌陷坑",
        "{road}靠近{compound}一侧路面出现直径约一米的塌陷坑，已有电动车差点摔倒，请尽快处置。",
        alt="zls",
    ),
    T(
        "SJ0502",
        "{road}地下水管爆裂冒水",
        "{road}路边有自来水从地面冒出，水流很大，附近小区已经停水。",
        alt="zjj",
    ),
    T(
        "SJ0503",
        "{compound}楼道闻到燃气味",
        "{compound}{building}二单元楼道里有明显的燃气味，住户担心泄漏，请燃气公司尽快来检查。",
    ),
    T("SJ0504", "暴雨后{road}积水严重", "昨晚下大雨后{road}下穿通道积水有半米深，车辆无法通行。", alt="zfj"),
    T(
        "SJ0505",
        "{compound}后面有人焚烧垃圾",
        "{compound}后面的空地上有人焚烧垃圾，火苗窜得很高，浓烟很大。",
        fallback="zfj",
        alt="sthj",
    ),
    T(
        "SJ0601",
        "{compound}垃圾分类投放点混投",
        "{compound}的分类垃圾桶基本都是混投，厨余垃圾和其他垃圾混在一起，希望加强宣传和督导。",
    ),
    T(
        "SJ0602",
        "{compound}{building}楼道堆放杂物",
        "{compound}{building}三楼楼道被住户堆满纸箱和旧家具，影响通行，存在消防隐患。",
    ),
    T(
        "SJ0602",
        "{compound}{building}楼道被占用",
        "{compound}{building}有住户在楼道里放鞋柜、晾衣架，还有人在楼梯间堆放废品。",
    ),
    T("SJ0603", "{compound}老鼠蟑螂多", "{compound}地下室和垃圾房附近老鼠很多，希望组织灭鼠消杀。"),
    T(
        "SJ0701",
        "{compound}{building}电梯经常停运",
        "{compound}{building}的电梯这个月已经坏了三次，老人上下楼很困难，一直没人来修。",
        whistle="scjg",
    ),
    T(
        "SJ0702",
        "{compound}自来水发黄有异味",
        "{compound}这几天自来水发黄有异味，怀疑二次供水水箱没有清洗。",
        alt="zls",
        whistle="zls",
    ),
    T(
        "SJ0703",
        "{compound}外来车辆占用车位",
        "{compound}外来车辆随便进出乱停，业主自己的车位被占，门岗不管。",
        whistle="gaj",
    ),
    T(
        "SJ0704",
        "{compound}物业服务不到位",
        "{compound}绿化没人修剪、楼道灯坏了很久没人修，物业费照收，服务很差。",
        whistle="zjj",
    ),
    T(
        "SJ0801",
        "楼上漏水引发邻里纠纷",
        "{compound}{building}楼上卫生间漏水到我家，多次协商楼上住户不愿维修，请社区帮忙调解。",
        kind=RequestType.HELP,
        whistle="zjj",
    ),
    T(
        "SJ0801",
        "邻居在楼道养狗扰民",
        "{compound}{building}有邻居在楼道里养大型犬，晚上狂吠，还随地便溺，沟通没有结果。",
        whistle="gaj",
    ),
    T(
        "SJ0802",
        "业主与物业因停车费发生纠纷",
        "{compound}物业突然上调停车费，业主不认可，双方争执不下，请社区协调。",
        kind=RequestType.HELP,
        whistle="zjj",
    ),
    T(
        "SJ0803",
        "装修工人被拖欠工资",
        "我们几个工人在{compound}做装修，包工头拖欠工资两个多月共一万六千元，请帮忙协调。",
        kind=RequestType.HELP,
    ),
    T(
        "SJ0804",
        "家庭赡养矛盾请求调解",
        "老人与儿子因赡养问题发生争吵，老人独居在{compound}，希望社区出面调解。",
        kind=RequestType.HELP,
    ),
    T(
        "SJ0901",
        "咨询城乡居民医保缴费",
        "想了解今年城乡居民医保的缴费标准和截止时间，可以在社区办理吗？",
        kind=RequestType.ENQUIRY,
    ),
    T(
        "SJ0901",
        "咨询高龄津贴申领",
        "家里老人今年满八十岁，想问问高龄津贴怎么申请，需要带什么材料。",
        kind=RequestType.ENQUIRY,
    ),
    T(
        "SJ0902",
        "困难家庭申请临时救助",
        "{compound}一户居民家中主要劳动力因病住院，生活困难，希望申请临时救助。",
        kind=RequestType.HELP,
    ),
    T(
        "SJ0903",
        "独居老人需要助餐服务",
        "{compound}{building}有位独居老人行动不便，希望社区能提供助餐或上门照料。",
        kind=RequestType.HELP,
    ),
    T(
        "SJ0904",
        "{compound}突然停电",
        "{compound}{building}从今天下午开始停电，没有收到任何通知，冰箱里的东西都要坏了。",
        fallback="gd",
        alt="jinhua",
    ),
    T(
        "SJ0904",
        "{compound}停水两天没有通知",
        "{compound}已经停水两天，既没有通知也没有送水，老人小孩生活很不方便。",
        fallback="zls",
        alt="community",
    ),
    T(
        "SJ1001",
        "{compound}消防通道被占用",
        "{compound}消防通道长期停满车辆，还有住户放了石墩，一旦发生火灾消防车进不来。",
        whistle="gaj",
    ),
    T(
        "SJ1002",
        "{compound}有人飞线充电",
        "{compound}{building}有住户从窗户拉电线到楼下给电动车充电，电线横跨人行道，很危险。",
        whistle="gd",
    ),
    T(
        "SJ1003",
        "{compound}外墙瓷砖脱落",
        "{compound}{building}外墙瓷砖有脱落，下面就是小孩玩耍的地方，请尽快处理。",
        fallback="zjj",
        whistle="zjj",
    ),
    T(
        "SJ1004",
        "{road}餐馆液化气罐存放不规范",
        "{road}一家小餐馆在店内堆放多个液化气罐，后厨还在用老化的软管。",
        alt="scjg",
    ),
    T("BJ0101", "{road}自来水井盖破损", "{road}人行道上的自来水井盖破了一个洞，晚上很容易踩空。", alt="zjj"),
    T("BJ0102", "{road}污水井盖缺失", "{road}路口的污水井盖不见了，只放了一个锥桶，很危险。", alt="zls"),
    T("BJ0103", "{road}雨水箅子松动", "{road}的雨水箅子松动，车辆压过时哐哐响，晚上很吵。"),
    T("BJ0104", "{compound}燃气立管锈蚀", "{compound}{building}外墙的燃气立管锈蚀严重，固定卡子也脱落了。"),
    T("BJ0105", "{road}电线杆倾斜", "{road}有根电线杆明显倾斜，电线垂得很低。", alt="zjj"),
    T("BJ0106", "{road}消防栓漏水", "{road}路边的消防栓一直在漏水，地面长期湿滑。"),
    T(
        "BJ0107",
        "{compound}门口通信线缆垂落",
        "{compound}门口的通信线缆脱落垂到地面，容易绊倒行人。",
        fallback="zjj",
    ),
    T(
        "BJ0201",
        "{road}路灯不亮",
        "{road}从{compound}到路口一段有五六盏路灯晚上不亮，已经一个多星期了。",
        alt="gd",
    ),
    T("BJ0201", "{road}路灯白天常亮", "{road}的路灯白天也一直亮着，浪费电。", alt="gd"),
    T("BJ0202", "{road}路口信号灯故障", "{road}十字路口的红绿灯一直黄灯闪烁，早高峰很混乱。", alt="zjj"),
    T("BJ0204", "{road}路面坑洼破损", "{road}靠近公交站一段路面破损坑洼，下雨积水，车辆经过溅了行人一身。"),
    T("BJ0301", "{road}果皮箱损坏", "{road}人行道上的果皮箱被撞坏了，垃圾散落。"),
    T("BJ0401", "{road}行道树遮挡路灯", "{road}的行道树长得太茂盛，枝叶遮住了路灯和交通标志，请修剪。"),
    T(
        "BJ0402",
        "{compound}旁绿地被毁种菜",
        "{compound}旁边的公共绿地被人挖开种菜，还浇粪水，很臭。",
        alt="zfj",
    ),
    T(
        "BJ0501",
        "{compound}老房子墙体开裂",
        "{compound}{building}是八十年代的老房子，最近墙体出现明显裂缝，住户很担心。",
    ),
    T(
        "BJ0502",
        "{compound}楼顶违章加盖",
        "{compound}{building}顶楼住户在楼顶加盖彩钢房，正在施工。",
        alt="zjj",
    ),
    T(
        "BJ0601",
        "{compound}健身器材损坏",
        "{compound}小广场的健身器材有两件损坏，螺丝外露，小孩玩耍容易受伤。",
    ),
    T(
        "BJ0602",
        "希望{compound}增设电动车充电桩",
        "{compound}电动车很多但没有集中充电桩，大家只能飞线充电，希望增设。",
        kind=RequestType.SUGGESTION,
    ),
]
# Some matters come up far more often than others.
WEIGHTS = {
    "SJ0101": 3,
    "SJ0401": 3,
    "SJ0602": 3,
    "SJ0405": 2,
    "BJ0201": 3,
    "SJ0801": 2,
    "SJ0701": 2,
    "SJ1002": 2,
}

REPLIES = {
    "SJ01": [
        "已安排环卫工人现场清运完毕，并对周边路面进行了冲洗。",
        "执法队员已到现场责令当事人清理，并纳入日常巡查。",
    ],
    "SJ02": [
        "已组织人员清除小广告，并对张贴的号码进行停机处理。",
        "已责令商户对广告牌进行加固整改，现场已消除隐患。",
    ],
    "SJ03": ["已对施工单位下达整改通知，夜间施工已停止。", "已责令施工单位规范围挡、清理遗撒路面。"],
    "SJ04": ["执法队员到场劝离占道摊贩，已责令整改并加强早晚巡查。", "已对当事人进行教育，现场秩序已恢复。"],
    "SJ05": ["抢修人员已到达现场，设置警示并完成抢修。", "已组织抢险，险情已排除，正在跟踪观察。"],
    "SJ06": ["社区已组织志愿者清理楼道杂物，并张贴了告知书。", "已联系物业和住户，完成清理和消杀。"],
    "SJ07": ["已督促物业完成维修，运行恢复正常。", "已约谈物业负责人，明确整改时限并已整改到位。"],
    "SJ08": ["已组织双方调解，达成一致意见，签订了调解协议。", "社区调解委员会已上门调解，双方矛盾已化解。"],
    "SJ09": ["已向反映人详细解答相关政策，并告知办理流程。", "已上门了解情况，协助办理了相关申请。"],
    "SJ10": ["已上门告知住户整改，现场隐患已消除。", "已联合相关单位现场检查，责令立即整改。"],
    "BJ": ["已安排维修人员现场更换维修，设施恢复正常。", "已完成维修并设置警示标志，后续纳入巡查。"],
}
REJECT_REASONS = [
    "经核实，该问题属于民事纠纷，已告知反映人通过法律途径解决。",
    "与此前工单反映的是同一问题，已在原工单中办理。",
    "反映内容不清楚，多次联系反映人未接通。",
    "不属于本街道管辖范围，已告知反映人向有关部门反映。",
]
RETURN_REASONS = [
    "经现场核实，该处不属于本单位管养范围，请改派。",
    "该设施产权属于小区物业，不属于本单位职责。",
    "不属于本单位职责，建议派往属地社区。",
]
ESCALATE_REASONS = [
    "涉及违法建设，社区无执法权，请街道协调执法部门。",
    "当事人拒不配合，社区多次协调无果，请求街道吹哨。",
    "问题涉及多个部门职责，需要街道统筹。",
]
SUSPEND_REASONS = [
    "请反映人补充具体位置和现场照片。",
    "需反映人提供相关证明材料。",
    "需与反映人约定上门时间。",
]
VERIFY_FAIL_NOTES = ["现场复核问题依旧存在，未整改到位。", "整改不彻底，仍有部分问题未处理。"]
COMMENTS = {
    Rating.SATISFIED: ["处理很及时，谢谢！", "工作人员态度很好。", ""],
    Rating.BASIC: ["问题解决了，就是时间有点长。", ""],
    Rating.DISSATISFIED: ["问题没有根本解决，过两天又出现了。", "处理人员拍了照片就走了，问题还在。"],
}

# Cases of the last few days stopped on purpose at each open step, so every queue has work:
# (status, grid or community code, categories to choose from, reporter is the demo resident).
STOP_PLAN = [
    ("submitted", "510903014006001", ["SJ0101", "SJ0602", "BJ0201"], False),
    ("submitted", "510903014006002", ["SJ0904", "SJ1001"], False),
    ("submitted", None, ["SJ0401", "SJ0405", "SJ0701"], False),
    ("submitted", None, ["BJ0601", "SJ1003"], False),
    ("accepted", "510903014006002", ["SJ0401", "BJ0102"], False),
    ("accepted", None, ["SJ0904", "BJ0107", "SJ1001"], False),
    ("accepted", None, ["SJ0101", "BJ0204"], False),
    ("dispatched", "510903014006", ["SJ0601", "SJ0603", "SJ0801"], False),
    ("dispatched", "510903014006", ["SJ0901", "SJ0903"], False),
    ("dispatched", None, ["SJ0401", "SJ0101", "BJ0301"], False),
    ("dispatched", None, ["SJ0401", "SJ0402"], False),
    ("dispatched", None, ["SJ0803"], False),
    ("in_progress", "510903014006001", ["SJ0602", "SJ0801"], True),
    ("in_progress", "510903014006", ["SJ0801", "SJ0902"], False),
    ("in_progress", None, ["SJ0101", "SJ0404", "BJ0502"], False),
    ("in_progress", None, ["SJ0803"], False),
    ("in_progress", None, ["BJ0201", "BJ0104"], False),
    ("replied", "510903014006001", ["SJ0101", "SJ0602", "BJ0201"], True),
    ("replied", "510903014006001", ["SJ0401", "BJ0102"], False),
    ("replied", "510903014006002", ["SJ0603", "SJ0103"], False),
    ("replied", "510903014006002", ["BJ0201", "SJ0404"], False),
    ("replied", None, ["SJ0801", "SJ0901"], False),
    ("suspended", "510903014006", ["SJ0803", "SJ0902"], False),
    ("suspended", None, ["SJ0801", "SJ0101"], False),
    ("returned", None, ["SJ0202", "BJ0105", "SJ0303"], False),
    ("returned", None, ["SJ0402", "BJ0101"], False),
    ("escalated", "510903014006", ["SJ0801", "SJ0602"], False),
    ("escalated", None, ["SJ0801", "SJ0802", "SJ0603"], False),
]


# ---------------------------------------------------------------- the world the cases happen in


@dataclass
class Place:
    grid: Region
    community: Region
    box: tuple[float, float, float, float]
    buildings: list[str]  # residential building numbers "3栋"
    compounds: list[str]
    lanes: list[str]


@dataclass
class World:
    street: Region
    county: Region
    places: dict[str, Place]  # grid code → place
    units: dict[str, Unit]  # key → unit; "street" and community codes included
    actors: dict[int, User]  # unit id → the member who works its queue
    community_staff: dict[str, User]  # community code → staff
    grid_workers: dict[str, User]
    accounts: dict[str, User]  # demo accounts by username
    residents: dict[str, list[User]]  # community code → resident accounts
    key: ApiKey
    categories: dict[str, Category]
    by_code: dict[str, list[Template]] = field(default_factory=dict)
    communities: dict[str, Region] = field(default_factory=dict)  # path → community
    units_by_id: dict[int, Unit] = field(default_factory=dict)
    escalations: int = 0  # cases the sweep has escalated so far

    def unit(self, key: str, case: Case | None = None) -> Unit:
        if key == "community":
            community = self.community_of(case)
            return self.units[community.code] if community else self.units["street"]
        return self.units[key]

    def community_of(self, case: Case | None) -> Region | None:
        """The community a case lies in, or None for a case located only to the street."""
        if case is None:
            return None
        parts = case.region_path.rstrip("/").split("/")
        return self.communities.get("/".join(parts[:5]) + "/") if len(parts) >= 5 else None


def _box(region: Region) -> tuple[float, float, float, float]:
    ring = region.boundary["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return min(lons), min(lats), max(lons), max(lats)


def _user(username: str, real_name: str, title: str, phone: str = "") -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = core_services.create_user(
            SYSTEM, username=username, password=None, real_name=real_name, title=title, phone=phone
        )
    return user


def _unit(name: str, kind: str, region: Region, phone: str) -> Unit:
    unit = Unit.objects.filter(region=region, name=name).first()
    return unit or services.save_unit(SYSTEM, name=name, kind=kind, region=region, phone=phone)


def _member(unit: Unit, user: User, *, head: bool) -> None:
    if not UnitMember.objects.filter(unit=unit, user=user).exists():
        services.set_unit_member(SYSTEM, unit, user, member=True, is_head=head)


def _rule(categories: dict[str, Category], code: str, region: Region, unit: Unit) -> None:
    category = categories[code]
    if not RoutingRule.objects.filter(category=category, region=region).exists():
        services.save_routing_rule(SYSTEM, category=category, region=region, unit=unit, note="演示权责清单")


def build_world(street: Region) -> World:
    """Units, their staff, the routing rules, resident accounts and the hotline's key (idempotent)."""
    county = street.parent
    categories = {c.code: c for c in Category.objects.all()}
    communities = list(street.children.filter(level=Level.COMMUNITY).order_by("code"))
    accounts = {
        u.username: u
        for u in User.objects.filter(
            username__in=["street", "community", "dept", "grid1", "grid2", "resident"]
        )
    }

    units = {"street": _unit(STREET_UNIT, UnitKind.STREET, street, "0825-2613110")}
    for community in communities:
        units[community.code] = _unit(community.name, UnitKind.COMMUNITY, community, "")
    for key, (name, kind, phone) in UNITS.items():
        units[key] = _unit(name, kind, street if kind == UnitKind.PROPERTY else county, phone)

    actors: dict[int, User] = {}
    community_staff: dict[str, User] = {}
    if "street" in accounts:
        _member(units["street"], accounts["street"], head=True)
        actors[units["street"].pk] = accounts["street"]
    if "dept" in accounts:
        _member(units["zfj"], accounts["dept"], head=False)
        actors[units["zfj"].pk] = accounts["dept"]
    for username, real_name, title, key, role in UNIT_STAFF:
        user = _user(username, real_name, title)
        if role:
            core_services.grant_role(SYSTEM, user, role, county)
        _member(units[key], user, head=True)
        actors[units[key].pk] = user
    names = iter(COMMUNITY_STAFF_NAMES)
    for community in communities:
        if community.code == FIRST_COMMUNITY and "community" in accounts:
            user = accounts["community"]
        else:
            user = _user(f"community{community.code[-3:]}", next(names, "社区干部"), "社区网格长")
            core_services.grant_role(SYSTEM, user, Role.COMMUNITY_STAFF, community)
        _member(units[community.code], user, head=True)
        actors[units[community.code].pk] = user
        community_staff[community.code] = user

    for code, key in DISTRICT_RULES:
        _rule(categories, code, county, units[key])
    for code, key in STREET_RULES:
        _rule(categories, code, street, units[key])
    for community in communities:
        for code in COMMUNITY_RULES:
            key = PROPERTY_OF.get(community.code, community.code) if code == "SJ07" else community.code
            _rule(categories, code, community, units[key])

    key = ApiKey.objects.filter(name=HOTLINE_KEY).first()
    if key is None:
        key, _token = core_services.create_api_key(
            SYSTEM, name=HOTLINE_KEY, region=street, actions=["cases.submit", "cases.view"]
        )

    places = {}
    grids = Region.objects.filter(path__startswith=street.path, level=Level.GRID).select_related("parent")
    buildings = _buildings(street)
    for grid in grids.order_by("code"):
        if not grid.boundary:
            continue
        mine = buildings.get(grid.pk, [])
        compounds = sorted({c for c, _n in mine if c}) or [grid.parent.name.removesuffix("居委会") + "小区"]
        places[grid.code] = Place(
            grid=grid,
            community=grid.parent,
            box=_box(grid),
            buildings=sorted({n for c, n in mine if c}) or ["1栋", "2栋", "3栋"],
            compounds=compounds,
            lanes=sorted({n.rstrip("0123456789号") for c, n in mine if not c}),
        )
    grid_workers = {}
    for username in ("grid1", "grid2"):
        user = accounts.get(username)
        grant = user.grants.filter(role=Role.GRID_WORKER).select_related("region").first() if user else None
        if grant:
            grid_workers[grant.region.code] = user
    world = World(
        street=street,
        county=county,
        places=places,
        units=units,
        actors=actors,
        community_staff=community_staff,
        grid_workers=grid_workers,
        accounts=accounts,
        residents=_resident_accounts(street, communities, accounts.get("resident")),
        key=key,
        categories=categories,
    )
    for template in TEMPLATES:
        world.by_code.setdefault(template.code, []).append(template)
    world.communities = {c.path: c for c in communities}
    world.units_by_id = {u.pk: u for u in units.values()}
    return world


def _buildings(street: Region) -> dict[int, list[tuple[str, str]]]:
    from gongzhi.people.models import Building

    found: dict[int, list[tuple[str, str]]] = {}
    rows = Building.objects.filter(region__path__startswith=street.path).values_list(
        "region_id", "compound", "name"
    )
    for region_id, compound, name in rows.order_by("pk"):
        found.setdefault(region_id, []).append((compound, name))
    return found


def _resident_accounts(
    street: Region, communities: list[Region], account: User | None
) -> dict[str, list[User]]:
    """The demo resident account linked to her ledger entry, and a few more residents who registered."""
    from gongzhi.people import services as people_services
    from gongzhi.people.models import Resident, ResidentStatus

    found: dict[str, list[User]] = {c.code: [] for c in communities}
    living = Resident.objects.filter(status=ResidentStatus.LIVING_HERE)
    if account is not None:
        record = getattr(account, "resident_record", None)
        if record is None:
            in_grid = living.filter(region__code=RESIDENT_ACCOUNT_GRID, account__isnull=True).order_by("pk")
            record = in_grid.filter(name=account.real_name).first() or in_grid.first()
            if record is not None:
                people_services.link_account(SYSTEM, record, account)
        found.setdefault(FIRST_COMMUNITY, []).append(account)
    rng = random.Random(f"{SEED}:residents")
    for community in communities:
        existing = list(
            User.objects.filter(username__startswith=f"jm{community.code[-3:]}_").order_by("username")
        )
        if not existing:
            candidates = [
                r
                for r in living.filter(region__path__startswith=community.path, account__isnull=True)
                .exclude(birth_date__isnull=True)
                .order_by("pk")[:300]
                if r.phone and 1950 <= r.birth_date.year <= 2000
            ]
            for n, resident in enumerate(
                rng.sample(candidates, min(RESIDENT_ACCOUNTS_PER_COMMUNITY, len(candidates)))
            ):
                user = _user(f"jm{community.code[-3:]}_{n + 1}", resident.name, "", phone=resident.phone)
                core_services.grant_role(SYSTEM, user, Role.RESIDENT, community)
                people_services.link_account(SYSTEM, resident, user)
                existing.append(user)
        found[community.code].extend(existing)
    return found


# ---------------------------------------------------------------- one case's story


@dataclass
class Plan:
    """What will happen to a case, decided up front from its own random generator."""

    created_at: dt.datetime
    place: Place
    template: Template
    source: str
    reporter: User | None  # a resident account for resident reports
    stop: str = ""  # leave the case at this status (the recent cases that fill the queues)
    reject: bool = False
    late_accept: bool = False
    late_reply: bool = False
    stuck: bool = False  # the unit never replies
    suspend_early: bool = False
    suspend_late: bool = False
    returns: bool = False
    escalates: bool = False
    assist: bool = False
    verify_fails: bool = False
    community_dispatches: bool = False
    evaluates: bool = True
    rating: str = Rating.SATISFIED
    callback_reopens: bool = False
    hurry: bool = False  # steps come quickly (the recent cases that must reach their status by now)
    category_known: bool = True
    point: bool = True


class Story:
    """Plays one case through the services; `wake(now)` acts once and says when to act next.

    The case object each service returns is kept for the next step; it is read again only when a
    sweep has escalated cases since (the one change made behind the story's back).
    """

    def __init__(self, world: World, plan: Plan, rng: random.Random):
        self.world, self.plan, self.rng = world, plan, rng
        self.case: Case | None = None
        self.seen_escalations = 0
        self.done: set[str] = set()
        self.returned_by: set[int] = set()
        self.steps = 0

    # -- who acts

    def dispatcher(self, case: Case):
        street = self.world.accounts.get("street", SYSTEM)
        if services.escalation_pending(case) or not self.plan.community_dispatches:
            return street
        community = self.world.community_of(case)
        return self.world.community_staff.get(community.code, street) if community else street

    def member(self, unit_id: int | None):
        return self.world.actors.get(unit_id, SYSTEM)

    def verifier(self, case: Case):
        worker = self.world.grid_workers.get(case.region.code)
        community = self.world.community_of(case)
        return worker or (self.world.community_staff.get(community.code) if community else None) or SYSTEM

    # -- time

    def later(self, now: dt.datetime, low: float, high: float) -> dt.datetime:
        """`low`–`high` working hours from now."""
        return calendar.add_working_hours(now, dt.timedelta(hours=self.rng.uniform(low, high)))

    # -- the story

    def wake(self, now: dt.datetime) -> dt.datetime | None:
        self.steps += 1
        if self.case is None:
            return self.submit(now)
        if self.seen_escalations != self.world.escalations:
            self.seen_escalations = self.world.escalations
            self.case = Case.objects.select_related("category", "region", "unit").get(pk=self.case.pk)
        case = self.case
        if self.plan.stop == case.status or self.steps > 40:
            return None
        return getattr(self, f"on_{case.status}")(case, now)

    def submit(self, now: dt.datetime) -> dt.datetime | None:
        plan, place, rng, world = self.plan, self.plan.place, self.rng, self.world
        road, road2 = rng.sample(ROADS + place.lanes, 2)
        words = {
            "road": road,
            "road2": road2,
            "compound": rng.choice(place.compounds),
            "building": rng.choice(place.buildings),
        }
        box = place.box
        margin_x, margin_y = (box[2] - box[0]) * 0.1, (box[3] - box[1]) * 0.1
        lon = rng.uniform(box[0] + margin_x, box[2] - margin_x)
        lat = rng.uniform(box[1] + margin_y, box[3] - margin_y)
        community = place.community.name.removesuffix("居委会")
        values = dict(
            source=plan.source,
            title=plan.template.title.format(**words)[:100],
            description=plan.template.text.format(**words),
            request_type=plan.template.kind,
            category=world.categories[plan.template.code] if plan.category_known else None,
            address=f"{world.street.name}{community}{words['compound']}",
        )
        if plan.point:
            values.update(lon=round(lon, 6), lat=round(lat, 6))
        if plan.source == Source.RESIDENT:
            actor = plan.reporter
            values["lon"], values["lat"] = geo.wgs84_to_gcj02(lon, lat)  # phones report GCJ-02
            values["coord_system"] = "gcj02"
        else:
            values.update(reporter_name=rng.choice(SURNAMES) + rng.choice(GIVEN), reporter_phone=self.phone())
            if plan.source == Source.API:
                actor = world.key
            elif plan.source == Source.PATROL:
                actor = world.grid_workers.get(place.grid.code) or world.community_staff[place.community.code]
                values.update(grid=place.grid, reporter_name="", reporter_phone="")
            elif plan.source == Source.REFERRAL:
                actor = world.accounts.get("dept", SYSTEM)
                values["grid"] = place.grid
            else:  # hotline, entered by the dispatch centre
                actor = world.accounts.get("street", SYSTEM)
                values["grid"] = place.grid
                values["anonymous"] = rng.random() < 0.1
        self.case = services.submit_case(actor, **values)
        category = self.case.category or world.categories[plan.template.code]
        limit = rules.limit_as_working_time(category.accept_hours, "hours").total_seconds() / 3600
        if plan.hurry:
            return self.later(now, 0.05, min(limit * 0.6, 1))
        if plan.late_accept:
            return self.later(now, limit * 1.3, limit * 3)
        return self.later(now, limit * 0.05, limit * 0.8)

    def phone(self) -> str:
        prefix = self.rng.choice(["138", "139", "158", "181", "189", "135"])
        return prefix + f"{self.rng.randrange(10**8):08d}"

    def on_submitted(self, case: Case, now: dt.datetime):
        actor = self.dispatcher(case)
        if self.plan.suspend_early and "suspend" not in self.done:
            self.done.add("suspend")
            self.case = services.suspend_case(actor, case, reason=self.rng.choice(SUSPEND_REASONS))
            return self.later(now, 3, 16)
        if self.plan.reject:
            self.case = services.reject_case(actor, case, reason=self.rng.choice(REJECT_REASONS))
            return None
        category = None if case.category_id else self.world.categories[self.plan.template.code]
        note = self.rng.choice(["", "", "情况属实，予以立案。"])
        self.case = services.accept_case(actor, case, category=category, note=note)
        return self.later(now, 0.05, 0.6)

    def on_suspended(self, case: Case, now: dt.datetime):
        if case.suspended_status == Status.IN_PROGRESS:
            actor = self.member(case.unit_id)
        else:
            actor = self.dispatcher(case)
        self.case = services.resume_case(actor, case, note="反映人已补充材料。")
        return self.later(now, 0.1, 1)

    def on_accepted(self, case: Case, now: dt.datetime):
        return self.dispatch(case, now)

    def on_returned(self, case: Case, now: dt.datetime):
        return self.dispatch(case, now)

    def on_escalated(self, case: Case, now: dt.datetime):
        return self.dispatch(case, now)

    def dispatch(self, case: Case, now: dt.datetime):
        """The dispatcher's choice: the rule's suggestion, else what the matter plainly needs."""
        template, world = self.plan.template, self.world
        if case.status == Status.ESCALATED:
            unit = world.unit("street") if self.rng.random() < 0.25 else world.unit(template.whistle)
        elif case.status == Status.RETURNED:
            unit = world.unit(template.alt, case)
            if unit.pk in self.returned_by:
                unit = world.unit("street")
        else:
            unit = world.units_by_id.get(case.suggested_unit_id) or world.unit(template.fallback, case)
        assists = []
        if self.plan.assist and unit.kind != UnitKind.COMMUNITY:
            community = world.unit("community", case)
            assists = [community] if community.pk != unit.pk else []
        self.case = services.dispatch_case(self.dispatcher(case), case, unit=unit, assist_units=assists)
        if self.plan.hurry:
            return self.later(now, 0.1, 1)
        if self.plan.returns and "return" not in self.done:
            return self.later(now, 0.5, 4)
        return self.later(now, 0.1, 2)

    def on_dispatched(self, case: Case, now: dt.datetime):
        actor = self.member(case.unit_id)
        if self.plan.returns and "return" not in self.done:
            self.done.add("return")
            self.returned_by.add(case.unit_id)
            self.case = services.return_case(actor, case, reason=self.rng.choice(RETURN_REASONS))
            return self.later(now, 0.2, 2)
        self.case = case = services.sign_case(actor, case)
        if self.plan.assist:
            for unit_id in case.assignments.filter(ended_at__isnull=True, role="assist").values_list(
                "unit_id", flat=True
            ):
                services.sign_case(self.member(unit_id), case)
        return self.next_handling(case, now)

    def _escalating(self, case: Case) -> bool:
        return (
            self.plan.escalates
            and "escalate" not in self.done
            and case.unit is not None
            and case.unit.kind in (UnitKind.COMMUNITY, UnitKind.PROPERTY)
        )

    def next_handling(self, case: Case, now: dt.datetime):
        """When the unit acts next: escalate, pause for material, or reply (on time or late)."""
        if self._escalating(case):
            return self.later(now, 0.3, 2) if self.plan.hurry else self.later(now, 1, 6)
        if self.plan.suspend_late and "suspend" not in self.done:
            return self.later(now, 0.3, 2) if self.plan.hurry else self.later(now, 0.5, 4)
        if self.plan.stuck:
            return None
        if self.plan.hurry:
            return self.later(now, 0.2, 2)
        left = rules.time_left(now, case.handle_due)
        hours = max(left.total_seconds() / 3600 if left else 7, 0.2)
        if self.plan.late_reply and "late" not in self.done:
            self.done.add("late")
            return self.later(now, hours * 1.2, hours * 2.5 + 2)
        return self.later(now, hours * 0.15, hours * 0.85)

    def on_in_progress(self, case: Case, now: dt.datetime):
        actor = self.member(case.unit_id)
        if self._escalating(case):
            self.done.add("escalate")
            self.case = services.escalate_case(actor, case, reason=self.rng.choice(ESCALATE_REASONS))
            return self.later(now, 0.3, 3)
        if self.plan.suspend_late and "suspend" not in self.done:
            self.done.add("suspend")
            self.case = services.suspend_case(actor, case, reason=self.rng.choice(SUSPEND_REASONS))
            return self.later(now, 4, 20)
        if self.plan.stuck:
            return None
        if self.plan.assist:
            for unit_id in case.assignments.filter(
                ended_at__isnull=True, role="assist", replied_at__isnull=True
            ).values_list("unit_id", flat=True):
                services.assist_reply_case(self.member(unit_id), case, note="已配合主办单位到现场处理。")
        family = case.category.code[:4] if case.category_id else "BJ"
        note = self.rng.choice(REPLIES.get(family, REPLIES["BJ"]))
        self.case = services.reply_case(actor, case, note=note)
        return self.later(now, 0.3, 5) if services.needs_verification(case) else self.later(now, 0.2, 3)

    def on_replied(self, case: Case, now: dt.datetime):
        if services.needs_verification(case):
            if self.plan.verify_fails and "verify_fail" not in self.done:
                self.done.add("verify_fail")
                note = self.rng.choice(VERIFY_FAIL_NOTES)
                self.case = services.verify_case(self.verifier(case), case, passed=False, note=note)
                return self.next_handling(self.case, now)
            note = "现场核查，已整改到位。"
            self.case = services.verify_case(self.verifier(case), case, passed=True, note=note)
        else:
            self.case = services.close_case(self.dispatcher(case), case, note="经电话确认，已办结。")
        if self.plan.reporter is None or not self.plan.evaluates:
            return None
        return now + dt.timedelta(hours=self.rng.uniform(1, 60))  # residents rate at any hour

    def on_closed(self, case: Case, now: dt.datetime):
        if case.callback_pending:
            reopen = self.plan.callback_reopens and "reopen" not in self.done
            if reopen:
                self.done.add("reopen")
                note = "回访核实反映人所述属实，退回承办单位重新处理。"
            else:
                note = "电话回访，已向反映人解释处理情况，反映人表示理解。"
            self.case = services.callback_case(self.dispatcher(case), case, note=note, reopen=reopen)
            return self.next_handling(self.case, now) if reopen else None
        if self.plan.reporter is None or (case.rated_at and case.rated_at >= case.closed_at):
            return None
        first = "rated" not in self.done
        rating = self.plan.rating if first else self.rng.choice([Rating.SATISFIED, Rating.BASIC])
        self.done.add("rated")
        comment = self.rng.choice(COMMENTS[rating])
        self.case = services.evaluate_case(self.plan.reporter, case, rating=rating, comment=comment)
        return self.later(now, 0.5, 8) if rating == Rating.DISSATISFIED else None

    def on_rejected(self, case: Case, now: dt.datetime):
        return None


# ---------------------------------------------------------------- planning and playing


def _weighted_templates() -> list[Template]:
    return [t for t in TEMPLATES for _ in range(WEIGHTS.get(t.code, 1))]


def _created_at(rng: random.Random, start: dt.datetime, days: float) -> dt.datetime:
    """A plausible report time: any day, mostly between 7:00 and 22:00, busiest in office hours."""
    day = timezone.localtime(start + dt.timedelta(days=rng.uniform(0, days)))
    hour = rng.choices(range(7, 22), weights=[2, 4, 6, 6, 6, 3, 3, 5, 6, 6, 5, 3, 3, 2, 2])[0]
    return day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60), microsecond=0)


def _plan(
    world: World, rng: random.Random, created_at: dt.datetime, place: Place, template: Template
) -> Plan:
    category = world.categories[template.code]
    verify_free = not category.requires_verification
    source = rng.choices(
        [Source.RESIDENT, Source.PATROL, Source.API, Source.HOTLINE, Source.REFERRAL],
        weights=[35, 22, 20, 15, 8],
    )[0]
    residents = world.residents.get(place.community.code) or []
    if source == Source.RESIDENT and not residents:
        source = Source.API
    reporter = None
    if source == Source.RESIDENT:
        demo_resident = world.accounts.get("resident")
        if place.grid.code == RESIDENT_ACCOUNT_GRID and demo_resident and rng.random() < 0.6:
            reporter = demo_resident
        else:
            reporter = rng.choice(residents)
    rating = rng.choices([Rating.SATISFIED, Rating.BASIC, Rating.DISSATISFIED], weights=[64, 23, 13])[0]
    return Plan(
        created_at=created_at,
        place=place,
        template=template,
        source=source,
        reporter=reporter,
        reject=rng.random() < 0.06,
        late_accept=rng.random() < 0.1,
        late_reply=rng.random() < 0.14,
        stuck=rng.random() < 0.02,
        suspend_early=rng.random() < 0.03,
        suspend_late=rng.random() < 0.04,
        returns=rng.random() < 0.08,
        escalates=rng.random() < 0.12,
        assist=rng.random() < 0.08,
        verify_fails=rng.random() < 0.09,
        community_dispatches=rng.random() < (0.4 if place.community.code == FIRST_COMMUNITY else 0.25),
        evaluates=rng.random() < 0.85,
        rating=rating,
        callback_reopens=rng.random() < 0.5,
        category_known=source != Source.RESIDENT or rng.random() < 0.6,
        # Hotline calls are placed by grid; a few hotline-platform cases come with an address only
        # (located to the street, flagged for the dispatcher).
        point=source != Source.HOTLINE and not (source == Source.API and verify_free and rng.random() < 0.3),
    )


def plan_cases(world: World, start: dt.datetime, end: dt.datetime) -> list[tuple[Plan, random.Random]]:
    templates = _weighted_templates()
    grids = sorted(world.places)
    weights = [3 if code.startswith(FIRST_COMMUNITY) else 1 for code in grids]
    plans = []
    span = (end - start).total_seconds() / 86400
    for i in range(RANDOM_CASES):
        rng = random.Random(f"{SEED}:{i}")
        created = _created_at(rng, start, span - 1)
        place = world.places[rng.choices(grids, weights=weights)[0]]
        plans.append((_plan(world, rng, created, place, rng.choice(templates)), rng))
    # Recent cases stopped at each open step, reported within the last few working days.
    for i, (status, where, codes, by_demo_resident) in enumerate(STOP_PLAN * 2):
        rng = random.Random(f"{SEED}:stop:{i}")
        codes = [c for c in codes if c in world.by_code] or ["SJ0101"]
        template = rng.choice(world.by_code[rng.choice(codes)])
        if where and len(where) == 15:
            grid = where
        else:
            prefix = where or world.street.code
            grid = rng.choice([g for g in grids if g.startswith(prefix)])
        if grid not in world.places:
            continue
        hours = rng.uniform(0.2, 14) if status == Status.SUBMITTED else rng.uniform(6, 20)
        plan = _plan(world, rng, _working_hours_before(end, hours), world.places[grid], template)
        plan.stop, plan.hurry, plan.reject, plan.stuck = status, True, False, False
        plan.suspend_early = status == "suspended" and rng.random() < 0.5
        plan.suspend_late = status == "suspended" and not plan.suspend_early
        plan.returns = status == "returned"
        plan.escalates = status == "escalated"
        plan.point = True
        if by_demo_resident and world.accounts.get("resident"):
            plan.source, plan.reporter = Source.RESIDENT, world.accounts["resident"]
        if status == "escalated":
            plan.community_dispatches = False
        plans.append((plan, rng))
    return plans


def _working_hours_before(end: dt.datetime, hours: float) -> dt.datetime:
    """The moment `hours` of working time before `end` (to the quarter hour)."""
    target, moment = dt.timedelta(hours=hours), end
    while calendar.working_time_between(moment, end) < target:
        moment -= dt.timedelta(minutes=15)
    return moment


def play(world: World, plans: list[tuple[Plan, random.Random]], start: dt.datetime, end: dt.datetime) -> int:
    """Act every case's steps in time order, sweeping deadlines as the periodic task would."""
    sweeps = _sweep_times(start, end)
    stories = [Story(world, plan, rng) for plan, rng in plans]
    heap = [(plan.created_at, i) for i, (plan, _rng) in enumerate(plans) if plan.created_at < end]
    heapq.heapify(heap)
    while heap:
        at, i = heapq.heappop(heap)
        while sweeps and sweeps[0] <= at:
            world.escalations += _sweep(sweeps.pop(0))
        with clock.frozen(at):
            following = stories[i].wake(at)
        if following is not None and following < end:
            heapq.heappush(heap, (max(following, at), i))
    for moment in [*sweeps, end]:
        world.escalations += _sweep(moment)
    return world.escalations


def _sweep(moment: dt.datetime) -> int:
    with clock.frozen(moment):
        counts = services.sweep_deadlines(moment)
    return counts["escalated"]


def _sweep_times(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    zone = timezone.get_current_timezone()
    day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    moments = []
    while day <= last:
        if calendar.is_working_day(day):
            moments += [dt.datetime.combine(day, t, tzinfo=zone) for t in SWEEP_TIMES]
        day += dt.timedelta(days=1)
    return [m for m in moments if start <= m < end]


# ---------------------------------------------------------------- the loader


@demo.loader(order=40)
def load_cases() -> list[str]:
    """Units, routing rules and ~400 cases of 南强街道 over the past four months."""
    street = Region.objects.filter(code=STREET_CODE).first()
    if street is None or street.parent is None:
        return []
    existing = Case.objects.filter(region_path__startswith=street.path)
    if existing.exists():
        return ["", _line(existing) + "（已存在，未重复加载）"]
    began = time.monotonic()
    end = clock.now().replace(second=0, microsecond=0)
    start = end - dt.timedelta(days=DAYS)
    with transaction.atomic():
        world = build_world(street)
        plans = plan_cases(world, start, end)
        # The plan decides every step; a model left from an earlier demo must not route on its own.
        with override_settings(GONGZHI_CLASSIFIER_AUTO_ROUTE=None):
            play(world, plans, start, end)
        counts = Counter(existing.values_list("status", flat=True))
        audit.record(
            SYSTEM,
            "cases.demo_load",
            None,
            region=street,
            after={"cases": sum(counts.values()), **counts, "units": len(world.units)},
        )
    seconds = time.monotonic() - began
    rules_count = RoutingRule.objects.filter(unit__in=list(world.units.values())).count()
    return [
        "",
        _line(existing),
        f"  处置单位 {len(world.units)} 个，派遣规则 {rules_count} 条；12345 热线接口密钥“{HOTLINE_KEY}”；"
        f"用时 {seconds:.1f} 秒",
    ]


def _line(cases) -> str:
    counts = Counter(cases.values_list("status", flat=True))
    parts = "，".join(f"{Status(s).label} {counts[s]}" for s in Status.values if counts[s])
    return f"诉求事件：{sum(counts.values())} 件（{parts}）"


# ---------------------------------------------------------------- smart intake

# Extra fields some categories ask for (补充信息), also offered to Open311 clients.
DEMO_ATTRIBUTES = [
    ("BJ0101", "cover_no", AttributeType.STRING, False, "井盖编号（井盖上的数字，看不清可不填）", []),
    ("BJ0201", "pole_no", AttributeType.STRING, False, "路灯杆编号（灯杆上的牌子）", []),
    (
        "SJ0405",
        "period",
        AttributeType.SINGLE,
        True,
        "噪声出现的时段",
        [{"key": "day", "name": "白天（6:00—22:00）"}, {"key": "night", "name": "夜间（22:00—次日 6:00）"}],
    ),
]

# One problem reported three times in other words: two still separate for the dispatcher to merge,
# one already merged by the resident who was shown the first report.
DUPLICATES = [
    ("马宗岭小区门口路灯不亮", "小区大门口的路灯坏了好几天，晚上很黑，老人出门不方便。"),
    ("大门口路灯坏了", "马宗岭小区门口那盏路灯一直不亮，夜里走路看不清。"),
    ("小区门口的路灯晚上不亮", "门口路灯坏了，晚上出行很黑，希望尽快修好。"),
]


@demo.loader(order=45)
def load_smart_intake() -> list[str]:
    """Category extra fields, a classifier trained on the demo's closed cases, and likely duplicates."""
    from gongzhi.cases import classifier

    street = Region.objects.filter(code=STREET_CODE).first()
    if street is None or not Case.objects.filter(region_path__startswith=street.path).exists():
        return []
    if Case.objects.filter(title=DUPLICATES[0][0]).exists():
        return []  # loaded before: neither train again nor add the duplicates twice
    lines = [""]
    for code, field_code, datatype, required, question, values in DEMO_ATTRIBUTES:
        category = Category.objects.filter(code=code).first()
        if category is not None:
            CategoryAttribute.objects.get_or_create(
                category=category,
                code=field_code,
                defaults={
                    "datatype": datatype,
                    "required": required,
                    "description": question,
                    "values": values,
                },
            )
    data = classifier.training_set_from_cases()
    try:
        classifier.train_and_publish(data, settings.GONGZHI_CLASSIFIER_MODEL, source=classifier.SOURCE_CASES)
    except classifier.TrainingError:
        pass  # too few closed cases: intake works without suggestions
    else:
        lines.append(
            f"智能分拨：用 {len(data.texts)} 件已结案事件训练分类模型（{len(data.counts())} 个分类）"
        )
    grid = Region.objects.filter(code=RESIDENT_ACCOUNT_GRID).first()
    residents = (
        list(
            User.objects.filter(resident_record__region__path__startswith=grid.parent.path).order_by("pk")[:3]
        )
        if grid
        else []
    )
    if grid is not None and len(residents) == 3:
        lon, lat = grid.center_lon or _box(grid)[0], grid.center_lat or _box(grid)[1]
        cases = []
        for i, ((title, description), resident) in enumerate(zip(DUPLICATES, residents, strict=True)):
            with override_settings(GONGZHI_CLASSIFIER_AUTO_ROUTE=None):  # left for the dispatcher to see
                cases.append(
                    services.submit_case(
                        resident,
                        source=Source.RESIDENT,
                        title=title,
                        description=description,
                        lon=lon + 0.0002 * i,
                        lat=lat,
                    )
                )
        services.join_existing_case(residents[2], cases[2], cases[0])
        lines.append(
            f"疑似重复：{cases[0].number} 与 {cases[1].number} 待调度员并案，{cases[2].number} 已由居民合并"
        )
    return lines
