"""How personal data looks on screen and in exports unless someone with permission reveals it."""

from __future__ import annotations

import re

# Citizen ID numbers and mainland mobile numbers written inside free text (not part of a longer number).
_ID_IN_TEXT = re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{2}[01][0-9][0-3][0-9]{4}[0-9Xx](?![0-9])")
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])")


def mask_citizen_id(number: str | None) -> str:
    """510903********1234: region code and last four stay, birth date and sequence hidden."""
    if not number:
        return ""
    if len(number) <= 10:
        return mask_generic(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_phone(number: str | None) -> str:
    """138****5678 for mobiles; landlines keep the area code and the last four digits."""
    if not number:
        return ""
    digits = number.replace("-", "")
    if len(digits) == 11 and digits.startswith("1"):
        return digits[:3] + "****" + digits[-4:]
    if "-" in number:
        area, local = number.split("-", 1)
        return area + "-" + "*" * max(len(local) - 4, 0) + local[-4:]
    return mask_generic(number)


def mask_name(name: str | None) -> str:
    """张*, 欧阳** : the family name (first character) stays."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else name


def mask_generic(value: str | None) -> str:
    if not value:
        return ""
    keep = max(1, len(value) // 4)
    return (
        value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:] if len(value) > 2 else "*" * len(value)
    )


def redact_contacts(text: str | None) -> str:
    """Free text for the public (Open311, 已有人反映): ID and mobile numbers someone typed into it masked."""
    if not text:
        return ""
    text = _ID_IN_TEXT.sub(lambda m: mask_citizen_id(m.group()), text)
    return _MOBILE_IN_TEXT.sub(lambda m: mask_phone(re.sub(r"[- ]", "", m.group())), text)


MASKERS = {"citizen_id": mask_citizen_id, "phone": mask_phone, "name": mask_name}
