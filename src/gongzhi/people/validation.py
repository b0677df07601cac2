"""Checking one person's data as people type it or keep it in spreadsheets.

The same checks serve the forms, the API and the 台账 import, so a message reads the same wherever
the mistake is made. Input values may be text (from a spreadsheet cell) or already typed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gongzhi.core import clock
from gongzhi.core.validators import validate_citizen_id, validate_phone
from gongzhi.people.models import IdType, PoliticalStatus, Relation, ResidenceType, Sex

# GB/T 3304: the 56 ethnic groups, plus the two entries the standard adds.
ETHNICITIES = (
    "汉族 蒙古族 回族 藏族 维吾尔族 苗族 彝族 壮族 布依族 朝鲜族 满族 侗族 瑶族 白族 土家族 "
    "哈尼族 哈萨克族 傣族 黎族 傈僳族 佤族 畲族 高山族 拉祜族 水族 东乡族 纳西族 景颇族 "
    "柯尔克孜族 土族 达斡尔族 仫佬族 羌族 布朗族 撒拉族 毛南族 仡佬族 锡伯族 阿昌族 普米族 "
    "塔吉克族 怒族 乌孜别克族 俄罗斯族 鄂温克族 德昂族 保安族 裕固族 京族 塔塔尔族 独龙族 "
    "鄂伦春族 赫哲族 门巴族 珞巴族 基诺族 其他 外国血统中国籍人士"
).split()


def _choice_lookup(choices, aliases: dict[str, str] | None = None) -> dict[str, str]:
    table = {}
    for value, label in choices:
        table[str(value).lower()] = value
        table[str(label)] = value
    for alias, value in (aliases or {}).items():
        table[alias] = value
    return table


ID_TYPES = _choice_lookup(
    IdType.choices,
    {
        "身份证": IdType.CITIZEN_ID,
        "居民身份证号码": IdType.CITIZEN_ID,
        "港澳通行证": IdType.HK_MACAO,
        "台胞证": IdType.TAIWAN,
        "永久居留证": IdType.FOREIGN_PR,
        "出生证": IdType.BIRTH_CERT,
        "无": IdType.NONE,
    },
)
SEXES = _choice_lookup(Sex.choices, {"男性": Sex.MALE, "女性": Sex.FEMALE, "1": Sex.MALE, "2": Sex.FEMALE})
POLITICAL = _choice_lookup(
    PoliticalStatus.choices,
    {
        "党员": PoliticalStatus.CPC_MEMBER,
        "预备党员": PoliticalStatus.CPC_PROBATIONARY,
        "团员": PoliticalStatus.LEAGUE_MEMBER,
        "无党派": PoliticalStatus.NON_PARTISAN,
    },
)
RESIDENCE = _choice_lookup(
    ResidenceType.choices,
    {
        "户籍": ResidenceType.REGISTERED,
        "常住": ResidenceType.REGISTERED,
        "流动": ResidenceType.FLOATING,
        "境外": ResidenceType.FOREIGN,
    },
)
RELATIONS = _choice_lookup(
    Relation.choices,
    {
        "户主": Relation.SELF,
        "本人": Relation.SELF,
        "妻": Relation.SPOUSE,
        "夫": Relation.SPOUSE,
        "妻子": Relation.SPOUSE,
        "丈夫": Relation.SPOUSE,
        "长子": Relation.SON,
        "次子": Relation.SON,
        "儿子": Relation.SON,
        "长女": Relation.DAUGHTER,
        "次女": Relation.DAUGHTER,
        "女儿": Relation.DAUGHTER,
        "父亲": Relation.PARENT,
        "母亲": Relation.PARENT,
        "孙子": Relation.GRANDCHILD,
        "孙女": Relation.GRANDCHILD,
        "儿媳": Relation.CHILD_IN_LAW,
        "女婿": Relation.CHILD_IN_LAW,
    },
)

_DATE_PATTERNS = [
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
]


def parse_date(value) -> dt.date:
    """Dates as Chinese spreadsheets hold them: 1990-01-01, 1990/1/1, 1990.1.1, 1990年1月1日, 19900101,
    or a real date cell. Raises ValueError with a Chinese message."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if " " in text:  # "1990-01-01 00:00:00" from a date cell saved as text
        text = text.split(" ", 1)[0]
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            try:
                return dt.date(*(int(g) for g in match.groups()))
            except ValueError:
                raise ValueError(_("日期“%(v)s”不存在") % {"v": text}) from None
    raise ValueError(_("无法识别的日期“%(v)s”，请写成 1990-01-01 或 1990年1月1日") % {"v": text})


# Field labels are lazy: translated only when a row has a problem to report, not for every row.
LABELS = {
    "name": gettext_lazy("姓名"),
    "id_type": gettext_lazy("证件类型"),
    "id_number": gettext_lazy("证件号码"),
    "sex": gettext_lazy("性别"),
    "birth_date": gettext_lazy("出生日期"),
    "phone": gettext_lazy("联系电话"),
    "ethnicity": gettext_lazy("民族"),
    "political_status": gettext_lazy("政治面貌"),
    "residence_type": gettext_lazy("人口类型"),
    "relation": gettext_lazy("与户主关系"),
    "moved_in_on": gettext_lazy("迁入日期"),
}


@dataclass
class PersonCheck:
    """Cleaned values of one person and the problems found, as (field label, message) pairs."""

    values: dict = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(raw: dict, key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():  # numbers typed into spreadsheet cells
        value = int(value)
    return str(value).strip()


def check_person(raw: dict, *, today: dt.date | None = None) -> PersonCheck:
    """Validate one person's data. Keys: name, id_type, id_number, sex, birth_date, phone, ethnicity,
    political_status, residence_type, relation, address, moved_in_on. Unknown keys are ignored."""
    today = today or clock.today()
    check = PersonCheck()
    v, err = check.values, check.errors

    name = re.sub(r"\s+", "", _text(raw, "name"))
    if not name:
        err.append((LABELS["name"], _("姓名不能为空")))
    elif len(name) > 50:
        err.append((LABELS["name"], _("姓名过长（最多 50 个字）")))
    v["name"] = name

    id_type_text = _text(raw, "id_type")
    id_number = _text(raw, "id_number").replace(" ", "")
    id_type = ID_TYPES.get(id_type_text.lower(), ID_TYPES.get(id_type_text)) if id_type_text else None
    if id_type_text and id_type is None:
        err.append((LABELS["id_type"], _("无法识别的证件类型“%(v)s”") % {"v": id_type_text}))
    id_type = id_type or (IdType.CITIZEN_ID if id_number else IdType.NONE)
    v["id_type"] = id_type
    v["id_number"] = None
    derived_birth = derived_sex = None
    if id_type == IdType.CITIZEN_ID:
        if not id_number:
            err.append((LABELS["id_number"], _("证件类型为居民身份证时，证件号码不能为空")))
        else:
            try:
                parsed = validate_citizen_id(id_number)
            except ValidationError as exc:
                err.append((LABELS["id_number"], exc.messages[0]))
            else:
                v["id_number"] = parsed.number
                derived_birth, derived_sex = parsed.birth_date, parsed.sex
    elif id_type == IdType.NONE:
        if id_number:
            err.append((LABELS["id_number"], _("证件类型为“无证件”时不应填写证件号码")))
    else:
        if not re.fullmatch(r"[A-Za-z0-9\-]{5,30}", id_number or ""):
            err.append((LABELS["id_number"], _("证件号码应为 5–30 位字母或数字")))
        else:
            v["id_number"] = id_number.upper()

    sex_text = _text(raw, "sex")
    sex = SEXES.get(sex_text.lower(), SEXES.get(sex_text)) if sex_text else None
    if sex_text and sex is None:
        err.append((LABELS["sex"], _("性别应为“男”或“女”")))
    if derived_sex and sex and sex != derived_sex:
        shown = Sex(derived_sex).label
        err.append((LABELS["sex"], _("性别与身份证号码不符（号码显示为%(s)s）") % {"s": shown}))
    v["sex"] = derived_sex or sex or Sex.UNKNOWN

    birth_raw = raw.get("birth_date")
    birth = None
    if birth_raw not in (None, ""):
        try:
            birth = parse_date(birth_raw)
        except ValueError as exc:
            err.append((LABELS["birth_date"], str(exc)))
        else:
            if birth > today:
                err.append((LABELS["birth_date"], _("出生日期不能晚于今天")))
            elif derived_birth and birth != derived_birth:
                err.append(
                    (
                        LABELS["birth_date"],
                        _("出生日期与身份证号码不符（号码显示为 %(d)s）")
                        % {"d": f"{derived_birth:%Y-%m-%d}"},
                    )
                )
    v["birth_date"] = derived_birth or birth

    phone = _text(raw, "phone")
    v["phone"] = None
    if phone:
        try:
            v["phone"] = validate_phone(phone)
        except ValidationError as exc:
            err.append((LABELS["phone"], exc.messages[0]))

    for key, label, table in (
        ("political_status", LABELS["political_status"], POLITICAL),
        ("residence_type", LABELS["residence_type"], RESIDENCE),
        ("relation", LABELS["relation"], RELATIONS),
    ):
        text = _text(raw, key)
        value = table.get(text.lower(), table.get(text)) if text else ""
        if text and value is None:
            err.append((label, _("无法识别的%(label)s“%(v)s”") % {"label": label, "v": text}))
        v[key] = value or ""
    if not v["residence_type"]:
        v["residence_type"] = ResidenceType.REGISTERED

    ethnicity = _text(raw, "ethnicity")
    if ethnicity and not ethnicity.endswith(("族", "其他", "人士")):
        ethnicity += "族"  # "汉" → "汉族", as many sheets write it
    if ethnicity and ethnicity not in ETHNICITIES:
        err.append((LABELS["ethnicity"], _("无法识别的民族“%(v)s”") % {"v": _text(raw, "ethnicity")}))
    v["ethnicity"] = ethnicity

    v["address"] = _text(raw, "address")[:200]
    moved_in = raw.get("moved_in_on")
    v["moved_in_on"] = None
    if moved_in not in (None, ""):
        try:
            v["moved_in_on"] = parse_date(moved_in)
        except ValueError as exc:
            err.append((LABELS["moved_in_on"], str(exc)))
    return check
