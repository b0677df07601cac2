"""Citizen identity numbers (GB 11643-1999), credit codes (GB 32100-2015) and phone numbers."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from gongzhi.core import clock
from gongzhi.core.validators import (
    CREDIT_CODE_ALPHABET,
    CitizenId,
    citizen_id_check_char,
    credit_code_check_char,
    validate_citizen_id,
    validate_credit_code,
    validate_phone,
)

FROZEN_NOW = "2026-11-22T10:00+08:00"


def with_check_char(first17: str) -> str:
    return first17 + citizen_id_check_char(first17)


def error_of(func, value) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        func(value)
    return info.value


# --- Citizen identity number --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "birth_date", "sex"),
    [
        ("11010519491231002X", dt.date(1949, 12, 31), "F"),
        ("440524188001010014", dt.date(1880, 1, 1), "M"),
        ("11010219840406970X", dt.date(1984, 4, 6), "F"),
        ("110101199003077838", dt.date(1990, 3, 7), "M"),
    ],
)
def test_known_valid_citizen_ids(number, birth_date, sex):
    parsed = validate_citizen_id(number)
    assert parsed == CitizenId(number=number, address_code=number[:6], birth_date=birth_date, sex=sex)


def test_citizen_id_normalises_lower_case_x_and_whitespace():
    assert validate_citizen_id("  11010519491231002x\n").number == "11010519491231002X"


def test_citizen_id_accepts_full_width_digits():
    assert validate_citizen_id("１１０１０１１９９００３０７７８３８").number == "110101199003077838"


def test_bad_check_char_names_the_right_one():
    error = error_of(validate_citizen_id, "110105194912310021")
    assert error.code == "citizen_id_checksum"
    assert error.messages == ["身份证号码校验位错误，应为 X"]


def test_check_char_function():
    assert citizen_id_check_char("11010519491231002") == "X"
    assert citizen_id_check_char("44052418800101001") == "4"
    with pytest.raises(ValueError):
        citizen_id_check_char("1234")


@pytest.mark.parametrize(
    ("value", "length"), [("", 0), ("11010519491231002", 17), ("11010519491231002XX", 19)]
)
def test_wrong_length(value, length):
    error = error_of(validate_citizen_id, value)
    assert error.code == "citizen_id_length"
    assert error.messages == [f"身份证号码应为 18 位，当前为 {length} 位"]


def test_old_15_digit_number_gets_its_own_message():
    error = error_of(validate_citizen_id, "110105491231002")
    assert error.code == "citizen_id_length"
    assert "15 位" in error.messages[0]


@pytest.mark.parametrize(
    ("value", "position", "char"), [("1101051949123100AX", 17, "A"), ("11010519491231002Y", 18, "Y")]
)
def test_illegal_characters(value, position, char):
    error = error_of(validate_citizen_id, value)
    assert error.code == "citizen_id_chars"
    assert error.params == {"position": position, "char": char}
    assert f"第 {position} 位“{char}”" in error.messages[0]


@pytest.mark.parametrize("birth", ["19990230", "19000229", "19991301", "19990100"])
def test_impossible_birth_dates(birth):
    error = error_of(validate_citizen_id, with_check_char("110105" + birth + "002"))
    assert error.code == "citizen_id_birth_date"
    assert "不存在" in error.messages[0]


def test_29_february_in_a_leap_year_is_fine():
    # 2000 is a leap year (divisible by 400); 1900 is not (see the test above).
    assert validate_citizen_id(with_check_char("11010520000229002")).birth_date == dt.date(2000, 2, 29)


def test_birth_before_1880_rejected():
    error = error_of(validate_citizen_id, with_check_char("11010518791231002"))
    assert error.code == "citizen_id_birth_date"


def test_birth_in_the_future_rejected():
    with clock.frozen(FROZEN_NOW):
        born_today = with_check_char("11010520261122002")
        assert validate_citizen_id(born_today).birth_date == dt.date(2026, 11, 22)
        error = error_of(validate_citizen_id, with_check_char("11010520261123002"))
    assert error.code == "citizen_id_future"
    assert error.messages == ["身份证号码中的出生日期 2026-11-23 晚于今天"]


def test_unknown_address_code_is_accepted():
    # First-registration codes may have been abolished since; only the structure is checked.
    assert validate_citizen_id(with_check_char("99999919900307783")).address_code == "999999"


def test_age_on():
    person = validate_citizen_id("11010519491231002X")
    assert person.age_on(dt.date(2026, 12, 30)) == 76
    assert person.age_on(dt.date(2026, 12, 31)) == 77
    leapling = validate_citizen_id(with_check_char("11010520000229002"))
    assert leapling.age_on(dt.date(2001, 2, 28)) == 0
    assert leapling.age_on(dt.date(2001, 3, 1)) == 1
    assert leapling.age_on(dt.date(2004, 2, 29)) == 4
    with pytest.raises(ValueError):
        person.age_on(dt.date(1949, 12, 30))


@given(
    address=st.text(alphabet="0123456789", min_size=6, max_size=6),
    birth=st.dates(min_value=dt.date(1880, 1, 1), max_value=dt.date(2026, 11, 22)),
    sequence=st.integers(min_value=0, max_value=999),
)
def test_property_check_char_round_trip(address, birth, sequence):
    first17 = f"{address}{birth:%Y%m%d}{sequence:03d}"
    expected = citizen_id_check_char(first17)
    with clock.frozen(FROZEN_NOW):
        parsed = validate_citizen_id(first17 + expected)
        assert parsed.birth_date == birth
        assert parsed.sex == ("M" if sequence % 2 else "F")
        for other in "0123456789X".replace(expected, ""):
            error = error_of(validate_citizen_id, first17 + other)
            assert error.code == "citizen_id_checksum"
            assert error.params == {"expected": expected}


# --- Unified social credit code ------------------------------------------------------------------

# Real published codes; test_credit_code_hand_computation works the first one through by hand.
KNOWN_CREDIT_CODES = ["91350100M000100Y43", "914403001922038216"]


@pytest.mark.parametrize("code", KNOWN_CREDIT_CODES)
def test_known_valid_credit_codes(code):
    assert validate_credit_code(code) == code
    assert validate_credit_code(f" {code.lower()} ") == code


def test_credit_code_hand_computation():
    # Independent of the module's tables: spell out GB 32100-2015 for 91350100M000100Y43.
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    values = [alphabet.index(c) for c in "91350100M000100Y4"]
    assert values == [9, 1, 3, 5, 0, 1, 0, 0, 21, 0, 0, 0, 1, 0, 0, 30, 4]
    total = sum(v * w for v, w in zip(values, weights, strict=True))
    assert total == 1640  # = 52 * 31 + 28
    assert 31 - total % 31 == 3
    assert credit_code_check_char("91350100M000100Y4") == "3"


def test_credit_code_bad_check_char():
    error = error_of(validate_credit_code, "91350100M000100Y44")
    assert error.code == "credit_code_checksum"
    assert error.messages == ["统一社会信用代码校验位错误，应为 3"]


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
@pytest.mark.parametrize("position", [1, 10, 18])
def test_credit_code_excluded_letters(letter, position):
    code = list("91350100M000100Y43")
    code[position - 1] = letter
    error = error_of(validate_credit_code, "".join(code))
    assert error.code == "credit_code_chars"
    assert error.params == {"position": position, "char": letter}
    assert f"第 {position} 位“{letter}”" in error.messages[0]


def test_credit_code_division_must_be_digits():
    code = "91AB0100M000100Y4"
    error = error_of(validate_credit_code, code + credit_code_check_char(code))
    assert error.code == "credit_code_division"


@pytest.mark.parametrize("value", ["", "91350100M000100Y4", "91350100M000100Y433"])
def test_credit_code_length(value):
    error = error_of(validate_credit_code, value)
    assert error.code == "credit_code_length"
    assert error.params == {"length": len(value)}


@given(
    head=st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=2, max_size=2),
    division=st.text(alphabet="0123456789", min_size=6, max_size=6),
    organisation=st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=9, max_size=9),
)
def test_property_credit_code_round_trip(head, division, organisation):
    first17 = head + division + organisation
    expected = credit_code_check_char(first17)
    assert validate_credit_code(first17 + expected) == first17 + expected
    for other in CREDIT_CODE_ALPHABET.replace(expected, ""):
        error = error_of(validate_credit_code, first17 + other)
        assert error.code == "credit_code_checksum"
        assert error.params == {"expected": expected}


# --- Phone numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13800138000", "13800138000"),
        (" 138 0013 8000 ", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("0086-13800138000", "13800138000"),
        ("19912345678", "19912345678"),
        ("0825-1234567", "0825-1234567"),
        ("08251234567", "0825-1234567"),
        ("0825 12345678", "0825-12345678"),
        ("010-12345678", "010-12345678"),
        ("01012345678", "010-12345678"),
        ("(010)12345678", "010-12345678"),
        ("02087654321", "020-87654321"),
        ("+86 10 1234 5678", "010-12345678"),
        ("+86-825-1234567", "0825-1234567"),
    ],
)
def test_valid_phones(value, expected):
    assert validate_phone(value) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "phone_required"),
        ("   ", "phone_required"),
        ("12812345678", "phone_mobile"),
        ("1380013800", "phone_mobile"),
        ("138001380001", "phone_mobile"),
        ("138-0013-800a", "phone_chars"),
        ("+1 202 555 0100", "phone_country"),
        ("0825-123456", "phone_landline"),
        ("0825-0123456", "phone_landline"),
        ("082512345", "phone_landline"),
        ("8123456", "phone_invalid"),
    ],
)
def test_invalid_phones(value, code):
    error = error_of(validate_phone, value)
    assert error.code == code
    assert error.messages[0]
