"""Pure rules about division codes and region paths (no database)."""

from __future__ import annotations

# Natural code length for each administrative level in the statistical division code.
CODE_LENGTHS = {"province": 2, "city": 4, "county": 6, "street": 9, "community": 12}
LEVEL_BY_LENGTH = {length: level for level, length in CODE_LENGTHS.items()}
# The NBS lists number levels 1-5; Chinese names appear in hand-made lists.
LEVEL_ALIASES = {
    "1": "province",
    "2": "city",
    "3": "county",
    "4": "street",
    "5": "community",
    "6": "grid",
    "省": "province",
    "市": "city",
    "县": "county",
    "区县": "county",
    "区": "county",
    "乡": "street",
    "镇": "street",
    "街道": "street",
    "乡镇": "street",
    "街道乡镇": "street",
    "村": "community",
    "社区": "community",
    "社区村": "community",
    "网格": "grid",
}


def division_code12(code: str) -> str:
    """Pad a natural-length division code to the 12-digit statistical code (2+2+2+3+3)."""
    return code.ljust(12, "0")


def normalise_division_code(code: str) -> str:
    """Strip trailing zero groups of a 12-digit code back to its natural length ('510000000000' → '51')."""
    code = code.strip()
    if len(code) != 12:
        return code
    for length in (2, 4, 6, 9):
        if code[length:] == "0" * (12 - length):
            return code[:length]
    return code


def level_for(value: str) -> str | None:
    value = value.strip().lower()
    if value in CODE_LENGTHS or value == "grid":
        return value
    return LEVEL_ALIASES.get(value)


def township_kind(code: str) -> str:
    """Digits 7-9 of a township code: 001-099 street, 100-199 town, 200-399 township, else other."""
    n = int(code[6:9])
    if 1 <= n <= 99:
        return "street"
    if 100 <= n <= 199:
        return "town"
    if 200 <= n <= 399:
        return "township"
    return "other"


def village_kind(code: str) -> str:
    """Digits 10-12: 001-199 residents' committee, 200-399 villagers' committee, else other."""
    n = int(code[9:12])
    if 1 <= n <= 199:
        return "community"
    if 200 <= n <= 399:
        return "village"
    return "other"


def child_path(parent_path: str, code: str) -> str:
    return f"{parent_path}{code}/"


def minimal_paths(paths: list[str]) -> list[str]:
    """Drop paths already covered by an ancestor in the list, so scope filters stay short."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path.startswith(k) for k in kept):
            kept.append(path)
    return kept


def grid_code(community_code: str, sequence: int) -> str:
    """15-digit grid code: 12-digit community code + 3-digit sequence (GB/T 30428 numbering)."""
    return f"{community_code}{sequence:03d}"


def ancestor_paths(path: str) -> list[str]:
    """A path and its ancestors': "51/5109/510903/" → ["51/", "51/5109/", "51/5109/510903/"]."""
    parts = path.rstrip("/").split("/")
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


# The largest primary key: beyond it SQLite raises OverflowError instead of matching nothing.
MAX_ID = 2**63 - 1


def parse_id(value) -> int | None:
    """A primary key from user input ("12"), or None for anything else ("abc", "²", 10**30)."""
    text = str(value if value is not None else "")
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None
