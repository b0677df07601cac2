"""Pure rules of the people ledger: search keys, ages, likely duplicates. No database."""

from __future__ import annotations

import datetime as dt
import functools
import re

from pypinyin import Style, pinyin
from rapidfuzz import fuzz

_CJK = re.compile(r"[\u3400-\u9fff\U00020000-\U0002ffff]")
MAX_SPELLINGS = 6


@functools.lru_cache(maxsize=30_000)
def _readings(char: str) -> tuple[str, ...]:
    """Toneless readings of one character, most common first (曾 → zeng, ceng)."""
    if not _CJK.match(char):
        return (char.lower(),) if char.isalnum() else ("",)
    readings = pinyin(char, style=Style.NORMAL, heteronym=True)[0]
    return tuple(dict.fromkeys(r.replace("ü", "v") for r in readings))


# Names repeat (张伟, 王芳 …): a bulk import of a million people computes each spelling once.
@functools.lru_cache(maxsize=100_000)
def name_search_keys(name: str) -> tuple[str, str]:
    """Space-separated full spellings and initials of a name: 张三 → ("zhangsan", "zs").

    Heteronyms give several spellings so a search for any finds the person: every reading of the
    surname (单雄信 → danxiongxin, shanxiongxin …), and each given-name character's second reading
    one at a time.
    """
    chars = [c for c in name.strip() if not c.isspace() and c not in "·•."]
    if not chars:
        return "", ""
    readings = [_readings(c) for c in chars]
    first = [r[0] for r in readings]
    combos = [[r, *first[1:]] for r in readings[0][:3]]
    for i, alternatives in enumerate(readings[1:], start=1):
        for alt in alternatives[1:2]:
            combos.append([*first[:i], alt, *first[i + 1 :]])
    combos = combos[:MAX_SPELLINGS]
    spellings = dict.fromkeys("".join(c) for c in combos)
    initials = dict.fromkeys("".join(part[:1] for part in c) for c in combos)
    return " ".join(spellings), " ".join(initials)


def id_tails(number: str | None) -> tuple[str | None, str | None, str | None]:
    """The last 4, 5 and 6 characters of an ID number (what staff type to find someone)."""
    if not number or len(number) < 6:
        return None, None, None
    return number[-4:], number[-5:], number[-6:]


def age_on(birth_date: dt.date | None, on: dt.date) -> int | None:
    if birth_date is None:
        return None
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def classify_query(text: str) -> str:
    """What a search box entry is: 'id' (full ID), 'id_tail' (4-6 trailing characters), 'phone',
    'pinyin' (latin letters) or 'text' (a name or an address)."""
    q = text.strip().upper()
    if re.fullmatch(r"\d{17}[\dX]", q):
        return "id"
    if re.fullmatch(r"1[3-9]\d{9}", q):
        return "phone"
    if re.fullmatch(r"\d{3,5}[\dX]", q):
        return "id_tail"
    if re.fullmatch(r"[A-Z]+", q):
        return "pinyin"
    return "text"


def address_similarity(a: str, b: str) -> float:
    """0–100: how alike two addresses are, tolerant of word order and small typos."""
    if not a or not b:
        return 0.0
    return fuzz.token_set_ratio(a, b)


def likely_duplicate(a: dict, b: dict, *, threshold: float = 85.0) -> bool:
    """Two people without matching ID numbers that are probably the same person:
    same name, same birth date, and alike addresses."""
    return (
        a["name"] == b["name"]
        and a["birth_date"] is not None
        and a["birth_date"] == b["birth_date"]
        and address_similarity(a["address"], b["address"]) >= threshold
    )
