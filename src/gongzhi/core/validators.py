"""Validators for Chinese identity numbers, unified social credit codes and phone numbers.

Each validator normalises its input and either returns the normalised value or raises
`django.core.exceptions.ValidationError` with a specific message and a machine `code`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from gongzhi.core import clock

# --- Citizen identity number (GB 11643-1999) -------------------------------------------------------

CITIZEN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CITIZEN_ID_CHECK_CHARS = "10X98765432"
EARLIEST_BIRTH_DATE = dt.date(1880, 1, 1)

_DIGITS = frozenset("0123456789")


def _normalise(text: object) -> str:
    # NFKC folds full-width digits and letters (common with Chinese input methods) to ASCII.
    if text is None:
        return ""
    return unicodedata.normalize("NFKC", str(text)).strip()


@dataclass(frozen=True)
class CitizenId:
    number: str
    address_code: str
    birth_date: dt.date
    sex: str  # "M" or "F"

    def age_on(self, on: dt.date) -> int:
        """Completed years on `on`; someone born on 29 February turns a year older on 1 March."""
        if on < self.birth_date:
            raise ValueError("date is before the birth date")
        before_birthday = (on.month, on.day) < (self.birth_date.month, self.birth_date.day)
        return on.year - self.birth_date.year - int(before_birthday)

    def __str__(self) -> str:
        return self.number


def citizen_id_check_char(first17: str) -> str:
    """The check character ('0'-'9' or 'X') for the first 17 digits of a citizen identity number."""
    if len(first17) != 17 or not set(first17) <= _DIGITS:
        raise ValueError("expected 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(first17, CITIZEN_ID_WEIGHTS, strict=True))
    return CITIZEN_ID_CHECK_CHARS[total % 11]


def validate_citizen_id(text: str) -> CitizenId:
    """Validate an 18-character resident identity number and return its parts.

    Address codes are not checked against the current division list: the code records the place
    of first registration and may be one that has since been abolished.
    """
    value = _normalise(text)
    if value.endswith("x"):
        value = value[:-1] + "X"

    if len(value) != 18:
        if len(value) == 15 and set(value) <= _DIGITS:
            raise ValidationError(
                gettext("这是 15 位旧版身份证号码，请填写 18 位居民身份证号码"),
                code="citizen_id_length",
            )
        raise ValidationError(
            gettext("身份证号码应为 18 位，当前为 %(length)d 位"),
            code="citizen_id_length",
            params={"length": len(value)},
        )

    for position, char in enumerate(value, start=1):
        allowed = char in _DIGITS or (position == 18 and char == "X")
        if not allowed:
            message = (
                gettext("身份证号码第 %(position)d 位“%(char)s”无效，最后一位只能是数字或 X")
                if position == 18
                else gettext("身份证号码第 %(position)d 位“%(char)s”无效，前 17 位必须是数字")
            )
            raise ValidationError(
                message, code="citizen_id_chars", params={"position": position, "char": char}
            )

    raw_date = value[6:14]
    shown_date = f"{raw_date[:4]}-{raw_date[4:6]}-{raw_date[6:]}"
    try:
        birth_date = dt.date(int(raw_date[:4]), int(raw_date[4:6]), int(raw_date[6:]))
    except ValueError:
        raise ValidationError(
            gettext("身份证号码中的出生日期 %(date)s 不存在"),
            code="citizen_id_birth_date",
            params={"date": shown_date},
        ) from None
    if birth_date < EARLIEST_BIRTH_DATE:
        raise ValidationError(
            gettext("身份证号码中的出生日期 %(date)s 早于 1880 年，不可能有效"),
            code="citizen_id_birth_date",
            params={"date": shown_date},
        )
    if birth_date > clock.today():
        raise ValidationError(
            gettext("身份证号码中的出生日期 %(date)s 晚于今天"),
            code="citizen_id_future",
            params={"date": shown_date},
        )

    expected = citizen_id_check_char(value[:17])
    if value[17] != expected:
        raise ValidationError(
            gettext("身份证号码校验位错误，应为 %(expected)s"),
            code="citizen_id_checksum",
            params={"expected": expected},
        )

    return CitizenId(
        number=value,
        address_code=value[:6],
        birth_date=birth_date,
        sex="M" if int(value[16]) % 2 else "F",
    )


# --- Unified social credit code (GB 32100-2015) ----------------------------------------------------

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_INDEX = {c: i for i, c in enumerate(CREDIT_CODE_ALPHABET)}


def credit_code_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a unified social credit code."""
    if len(first17) != 17 or any(c not in _CREDIT_INDEX for c in first17):
        raise ValueError("expected 17 characters from the credit code alphabet")
    total = sum(_CREDIT_INDEX[c] * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(text: str) -> str:
    """Validate a unified social credit code and return it in upper case.

    Layout: registration authority (1), organisation type (1), division code (6 digits),
    organisation code (9), check character (1).
    """
    value = _normalise(text).upper()
    if len(value) != 18:
        raise ValidationError(
            gettext("统一社会信用代码应为 18 位，当前为 %(length)d 位"),
            code="credit_code_length",
            params={"length": len(value)},
        )
    for position, char in enumerate(value, start=1):
        if char not in _CREDIT_INDEX:
            raise ValidationError(
                gettext(
                    "统一社会信用代码第 %(position)d 位“%(char)s”不是合法字符（代码不使用 I、O、S、V、Z）"
                ),
                code="credit_code_chars",
                params={"position": position, "char": char},
            )
    if not set(value[2:8]) <= _DIGITS:
        raise ValidationError(
            gettext("统一社会信用代码第 3 至 8 位是行政区划码，必须是 6 位数字"),
            code="credit_code_division",
        )
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        raise ValidationError(
            gettext("统一社会信用代码校验位错误，应为 %(expected)s"),
            code="credit_code_checksum",
            params={"expected": expected},
        )
    return value


# --- Phone numbers ----------------------------------------------------------------------------------

_MOBILE_RE = re.compile(r"1[3-9]\d{9}")
_AREA_CODE_RE = re.compile(r"0\d{2,3}")
_LOCAL_NUMBER_RE = re.compile(r"[1-9]\d{6,7}")  # a leading 0 would be a trunk prefix, not a number


def _landline_error() -> ValidationError:
    return ValidationError(
        gettext("固定电话号码应为 3 至 4 位区号加 7 至 8 位号码，例如 0825-1234567"),
        code="phone_landline",
    )


def validate_phone(text: str) -> str:
    """Normalise a mainland China phone number.

    Mobile numbers come back as 11 digits ("13800138000") with any +86/0086/86 prefix, spaces and
    hyphens removed. Landlines come back as "area-number" ("0825-1234567", "010-12345678").
    """
    compact = re.sub(r"\s", "", _normalise(text))
    if not compact:
        raise ValidationError(gettext("请填写电话号码"), code="phone_required")

    international = False
    for prefix in ("+86", "0086"):
        if compact.startswith(prefix):
            compact, international = compact[len(prefix) :], True
            break
    else:
        if compact.startswith("+"):
            raise ValidationError(gettext("仅支持中国大陆电话号码（+86）"), code="phone_country")

    # Hyphens or brackets typed by the user mark where the area code ends.
    parts = [p for p in re.split(r"[-()]", compact) if p]
    digits = "".join(parts)
    bad = next((c for c in digits if c not in _DIGITS), None)
    if bad is not None:
        raise ValidationError(
            gettext("电话号码中含有无效字符“%(char)s”"), code="phone_chars", params={"char": bad}
        )
    if not international and len(digits) == 13 and digits.startswith("861"):
        digits, parts = digits[2:], [digits[2:]]

    # After +86 a leading "10" is Beijing's area code without its 0; mobiles start 13-19.
    if digits.startswith("1") and not (international and digits.startswith("10")):
        if _MOBILE_RE.fullmatch(digits):
            return digits
        raise ValidationError(gettext("手机号码应为 11 位数字，并以 13 至 19 开头"), code="phone_mobile")

    if international and digits and not digits.startswith("0"):
        # Dialled with +86 the area code loses its leading trunk prefix 0.
        digits, parts = "0" + digits, ["0" + parts[0], *parts[1:]]
    if not digits.startswith("0"):
        raise ValidationError(
            gettext("请填写手机号码或带区号的固定电话号码，例如 13800138000 或 0825-1234567"),
            code="phone_invalid",
        )

    if len(parts) == 2:
        area, number = parts
    elif len(parts) == 1:
        # Only Beijing (010) and 02x have three-digit area codes; all others have four.
        area_length = 3 if digits.startswith(("010", "02")) else 4
        area, number = digits[:area_length], digits[area_length:]
    else:
        raise _landline_error()
    if _AREA_CODE_RE.fullmatch(area) and _LOCAL_NUMBER_RE.fullmatch(number):
        return f"{area}-{number}"
    raise _landline_error()
