"""Reading division lists (统计用区划代码) from CSV: parse and validate every row before anything is written.

Accepted columns (header names, Chinese or English): code, name, level, parent code, urban-rural class
code. Level may be 1-5 as in the NBS lists, an English level name or a Chinese one; when absent it is
inferred from the code length. 12-digit codes with trailing zero groups are shortened to their
natural length. Files may be gzip-compressed.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from gongzhi.core import rules

HEADER_ALIASES = {
    "code": {"code", "代码", "区划代码", "统计用区划代码", "id"},
    "name": {"name", "名称", "区划名称", "text"},
    "level": {"level", "层级", "级别"},
    "parent_code": {"parent_code", "parent", "上级代码", "父级代码", "pcode"},
    "urban_rural_code": {"class_code", "urban_rural_code", "城乡分类代码", "城乡分类"},
}


@dataclass
class RegionRow:
    line: int
    code: str
    name: str
    level: str
    parent_code: str
    urban_rural_code: str


@dataclass
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return _("第 %(line)s 行 %(column)s：%(message)s") % {
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class ParsedFile:
    rows: list[RegionRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _map_header(header: list[str]) -> dict[str, int]:
    mapping = {}
    for i, name in enumerate(header):
        key = name.strip().lower()
        for canonical, aliases in HEADER_ALIASES.items():
            if key in aliases and canonical not in mapping:
                mapping[canonical] = i
    return mapping


def parse(stream: io.TextIOBase, known_codes: set[str] | frozenset = frozenset()) -> ParsedFile:
    """Parse and validate; `known_codes` are codes already in the database (valid parents)."""
    result = ParsedFile()
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        result.errors.append(RowError(1, "", _("文件为空")))
        return result
    cols = _map_header(header)
    for required in ("code", "name"):
        if required not in cols:
            result.errors.append(RowError(1, required, _("缺少必需的列（代码、名称）")))
    if result.errors:
        return result

    def cell(row: list[str], key: str) -> str:
        i = cols.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""

    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        if not any(c.strip() for c in row):
            continue
        code = rules.normalise_division_code(cell(row, "code"))
        name = cell(row, "name")
        parent = rules.normalise_division_code(cell(row, "parent_code"))
        level_text = cell(row, "level")
        urban = cell(row, "urban_rural_code")
        errors = []
        if not code.isdigit() or len(code) not in rules.LEVEL_BY_LENGTH:
            errors.append(
                RowError(line, _("代码"), _("代码“%(code)s”应为 2、4、6、9 或 12 位数字") % {"code": code})
            )
        if not name:
            errors.append(RowError(line, _("名称"), _("名称不能为空")))
        level = rules.level_for(level_text) if level_text else rules.LEVEL_BY_LENGTH.get(len(code))
        if level_text and level is None:
            errors.append(RowError(line, _("层级"), _("无法识别的层级“%(level)s”") % {"level": level_text}))
        elif level and not errors and rules.CODE_LENGTHS.get(level) != len(code):
            errors.append(RowError(line, _("层级"), _("层级与代码长度不符")))
        if urban and (not urban.isdigit() or len(urban) != 3):
            errors.append(RowError(line, _("城乡分类代码"), _("城乡分类代码应为 3 位数字")))
        if code in seen:
            errors.append(
                RowError(
                    line,
                    _("代码"),
                    _("代码“%(code)s”与第 %(other)s 行重复") % {"code": code, "other": seen[code]},
                )
            )
        if not errors:
            if level != "province" and not parent:
                parent = _implied_parent(code, seen, known_codes)
            if level == "province":
                parent = ""
            elif not parent:
                errors.append(RowError(line, _("上级代码"), _("找不到上级区划")))
            elif not code.startswith(parent):
                errors.append(
                    RowError(
                        line,
                        _("上级代码"),
                        _("代码“%(code)s”不在上级“%(parent)s”之下") % {"code": code, "parent": parent},
                    )
                )
        if errors:
            result.errors.extend(errors)
            continue
        seen[code] = line
        result.rows.append(RegionRow(line, code, name, level, parent, urban))

    # Parents may appear after their children in a file; check once every row is known.
    for row in result.rows:
        if row.parent_code and row.parent_code not in seen and row.parent_code not in known_codes:
            result.errors.append(
                RowError(
                    row.line,
                    _("上级代码"),
                    _("上级区划“%(parent)s”既不在文件中也不在系统中") % {"parent": row.parent_code},
                )
            )
    return result


def _implied_parent(code: str, seen: dict, known: set) -> str:
    # Some cities have no county level (东莞, 中山, 儋州, 嘉峪关): their townships hang off the city.
    for length in (9, 6, 4, 2):
        if length < len(code) and (code[:length] in seen or code[:length] in known):
            return code[:length]
    return ""
