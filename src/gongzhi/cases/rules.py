"""Pure rules of the closed loop: which step may follow which, routing, deadlines and KPI ratios.

No database here: services pass plain values in and act on the answer.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.utils.translation import gettext_lazy as _

from gongzhi.cases.models import LimitUnit, Sla, Status
from gongzhi.core import calendar
from gongzhi.core.errors import Conflict

# Each step of the loop and the statuses it may start from (GB/T 30428 with 12345 practice).
STEPS: dict[str, frozenset[str]] = {
    "accept": frozenset({Status.SUBMITTED}),
    "reject": frozenset({Status.SUBMITTED}),
    "dispatch": frozenset({Status.ACCEPTED, Status.RETURNED, Status.ESCALATED}),
    "sign": frozenset({Status.DISPATCHED}),
    "return": frozenset({Status.DISPATCHED, Status.IN_PROGRESS}),
    "reply": frozenset({Status.IN_PROGRESS}),
    "assist_reply": frozenset({Status.DISPATCHED, Status.IN_PROGRESS}),
    "escalate": frozenset({Status.DISPATCHED, Status.IN_PROGRESS}),
    "suspend": frozenset({Status.SUBMITTED, Status.ACCEPTED, Status.IN_PROGRESS}),
    "resume": frozenset({Status.SUSPENDED}),
    "verify": frozenset({Status.REPLIED}),
    "close": frozenset({Status.REPLIED}),
    "evaluate": frozenset({Status.CLOSED}),
    "callback": frozenset({Status.CLOSED}),  # may reopen (返工) after a dissatisfied rating
}

STEP_NAMES = {
    "accept": _("立案"),
    "reject": _("不予受理"),
    "dispatch": _("派遣"),
    "sign": _("签收"),
    "return": _("退单"),
    "reply": _("处置反馈"),
    "assist_reply": _("协办意见"),
    "escalate": _("上报"),
    "suspend": _("转为待补充材料"),
    "resume": _("恢复办理"),
    "verify": _("核查"),
    "close": _("结案"),
    "evaluate": _("评价"),
    "callback": _("回访"),
}


def allowed(step: str, status: str) -> bool:
    return status in STEPS[step]


def ensure_step(step: str, status: str) -> None:
    """Raise a clear error when `step` cannot follow the case's current status."""
    if not allowed(step, status):
        raise Conflict(
            f"case.cannot_{step}",
            _("该事件当前状态为“%(status)s”，不能%(step)s")
            % {"status": Status(status).label, "step": STEP_NAMES[step]},
        )


def steps_from(status: str) -> list[str]:
    """Steps that may follow `status`, for pages that offer only what is possible."""
    return [step for step, sources in STEPS.items() if status in sources]


# --- Routing ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    category_code: str
    region_path: str
    unit_id: int


def pick_rule(rules: Iterable[Rule], category_codes: list[str], region_path: str) -> Rule | None:
    """The most specific rule for a case.

    `category_codes` runs from the case's own category to its major class. A rule matches when its
    category is in that chain and the case lies in its region subtree. The deepest region wins; at
    the same depth the more specific category (earlier in the chain) wins.
    """
    best: tuple[int, int] | None = None
    chosen = None
    for rule in rules:
        if rule.category_code not in category_codes or not region_path.startswith(rule.region_path):
            continue
        rank = (rule.region_path.count("/"), -category_codes.index(rule.category_code))
        if best is None or rank > best:
            best, chosen = rank, rule
    return chosen


# --- Deadlines --------------------------------------------------------------------------------------


def limit_as_working_time(amount: int | Decimal, unit: str) -> dt.timedelta:
    """A category's limit as working time: days are whole office days (7 h by default)."""
    if unit == LimitUnit.DAYS:
        return int(amount) * calendar.office_day_length()
    return dt.timedelta(microseconds=int((Decimal(amount) * 3_600_000_000).to_integral_value()))


@dataclass(frozen=True)
class Deadline:
    due: dt.datetime
    warn: dt.datetime


def deadline(start: dt.datetime, limit: dt.timedelta, warn_percent: int) -> Deadline:
    """Due time and warning time (黄灯) for a step of `limit` working time starting at `start`."""
    warn_part = limit * warn_percent / 100
    return Deadline(
        due=calendar.add_working_hours(start, limit),
        warn=calendar.add_working_hours(start, warn_part),
    )


def sla_state(now: dt.datetime, warn_at: dt.datetime | None, due_at: dt.datetime | None) -> str:
    if due_at is not None and now >= due_at:
        return Sla.RED
    if warn_at is not None and now >= warn_at:
        return Sla.YELLOW
    return Sla.GREEN


def time_left(now: dt.datetime, due_at: dt.datetime | None) -> dt.timedelta | None:
    """Working time left until the deadline; negative (working time overdue) once it has passed."""
    if due_at is None:
        return None
    if now <= due_at:
        return calendar.working_time_between(now, due_at)
    return -calendar.working_time_between(due_at, now)


def resume_deadline(now: dt.datetime, remaining: dt.timedelta) -> dt.datetime:
    """The deadline after a pause: the working time that was left, counted from now."""
    return calendar.add_working_hours(now, max(remaining, dt.timedelta(0)))


# --- KPIs -------------------------------------------------------------------------------------------

# The KPI window (page and API): bounded so date arithmetic never overflows and no one asks for a millennium.
KPI_FIRST_DAY, KPI_LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


def ratio(part: int, whole: int) -> Fraction | None:
    """An exact ratio, or None when there is nothing to divide by (shown as "—", never as 0 %)."""
    return Fraction(part, whole) if whole else None


def percent(value: Fraction | None, places: int = 2) -> Decimal | None:
    if value is None:
        return None
    scaled = Decimal(value.numerator) * 100 / Decimal(value.denominator)
    return scaled.quantize(Decimal(1).scaleb(-places))


# ---------------------------------------------------------------- category attributes (补充信息)


@dataclass(frozen=True)
class AttributeSpec:
    code: str
    datatype: str
    required: bool
    keys: tuple[str, ...] = ()


def check_attributes(
    specs: Iterable[AttributeSpec], values: dict[str, str | list[str]]
) -> tuple[dict[str, str | list[str]], list[tuple[str, str]]]:
    """Clean the extra fields a category asks for; return (cleaned, [(field, message)]).

    Values arrive as text (forms, Open311 `attribute[code]=`); lists for multivaluelist. Unknown
    codes are refused so that a client's typo is not silently dropped.
    """
    specs = list(specs)
    known = {spec.code: spec for spec in specs}
    cleaned: dict[str, str | list[str]] = {}
    errors: list[tuple[str, str]] = []
    for code in values:
        if code not in known:
            errors.append((f"attribute[{code}]", str(_("该分类没有这项补充信息"))))
    for spec in specs:
        field = f"attribute[{spec.code}]"
        raw = values.get(spec.code)
        items = [str(v).strip() for v in (raw if isinstance(raw, list | tuple) else [raw]) if v is not None]
        items = [v for v in items if v]
        if not items:
            if spec.required:
                errors.append((field, str(_("此项必填"))))
            continue
        if spec.datatype != "multivaluelist" and len(items) > 1:
            errors.append((field, str(_("此项只能填一个值"))))
            continue
        if spec.datatype in ("singlevaluelist", "multivaluelist"):
            wrong = [v for v in items if v not in spec.keys]
            if wrong:
                errors.append((field, str(_("不是可选值：%(v)s")) % {"v": "、".join(wrong)}))
                continue
            cleaned[spec.code] = items if spec.datatype == "multivaluelist" else items[0]
            continue
        value = items[0]
        if spec.datatype == "number":
            try:
                Decimal(value)
            except ArithmeticError:
                errors.append((field, str(_("须为数字"))))
                continue
            if not Decimal(value).is_finite():
                errors.append((field, str(_("须为数字"))))
                continue
        elif spec.datatype == "datetime":
            try:
                dt.datetime.fromisoformat(value)
            except ValueError:
                errors.append((field, str(_("须为日期时间，如 2026-11-22T09:30:00+08:00"))))
                continue
        elif len(value) > (2000 if spec.datatype == "text" else 200):
            errors.append((field, str(_("内容过长"))))
            continue
        cleaned[spec.code] = value
    return cleaned, errors


# ---------------------------------------------------------------- likely duplicates (疑似重复)

# Characters that carry no meaning for "is this the same problem" (particles, punctuation).
_IGNORED_CHARS = frozenset(
    "的了在是有我们你他她它这那就都也还和与及或被把给吗呢吧啊呀很请"
    "，。、；：？！…—（）()《》“”‘’\"' ,.;:?!-\n\t\u3000"
)
# Words that every report near a place shares (where, how long, please fix): they say nothing of *what*.
_FILLER_WORDS = frozenset(
    "小区 门口 大门 附近 旁边 对面 路口 楼下 楼上 单元 社区 街道 这里 那里 每天 一直 经常 问题 反映 希望 "
    "处理 解决 居民 业主 现在 已经 没有 不是 一个 时间 严重 影响 情况 麻烦 尽快 相关 部门".split()
)
# Cosine of character 1–2-grams at or above which two reports read as the same problem. Paraphrases of one
# problem score 0.17–0.35, different problems at the same spot below 0.07 (see the tests).
DUPLICATE_SIMILARITY = 0.15


def _grams(text: str) -> dict[str, int]:
    chars = [c for c in text.lower() if c not in _IGNORED_CHARS]
    pairs = [a + b for a, b in zip(chars, chars[1:], strict=False)]
    filler = {i + k for i, pair in enumerate(pairs) if pair in _FILLER_WORDS for k in (0, 1)}
    counts: dict[str, int] = {}
    for gram in [c for i, c in enumerate(chars) if i not in filler] + [
        p for p in pairs if p not in _FILLER_WORDS
    ]:
        counts[gram] = counts.get(gram, 0) + 1
    return counts


def text_similarity(a: str, b: str) -> float:
    """Cosine similarity of two texts' character unigrams and bigrams, 0–1, ignoring filler words."""
    ga, gb = _grams(a), _grams(b)
    dot = sum(n * gb.get(g, 0) for g, n in ga.items())
    if not dot:
        return 0.0
    norm = math.sqrt(sum(n * n for n in ga.values()) * sum(n * n for n in gb.values()))
    return dot / norm


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine; metres matter, not millimetres)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def categories_related(a: tuple[int, int | None] | None, b: tuple[int, int | None] | None) -> bool:
    """Same class or same major class (大类); an unknown class may be anything."""
    if a is None or b is None:
        return True
    major_a, major_b = a[1] or a[0], b[1] or b[0]
    return major_a == major_b
