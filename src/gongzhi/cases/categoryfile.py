"""Read a category file (the national defaults in data/categories.csv, or a city's own).

Columns: code, parent, name, kind (component|event), accept_hours, handle_limit, handle_unit
(hours|days), warn_percent, requires_verification (1/0), auto_escalate (1/0). A parent must come
before its children. Every problem is reported with its line number; nothing is loaded from a file
with problems.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

DEFAULT_FILE = Path(__file__).parent / "data" / "categories.csv"
COLUMNS = [
    "code",
    "parent",
    "name",
    "kind",
    "accept_hours",
    "handle_limit",
    "handle_unit",
    "warn_percent",
    "requires_verification",
    "auto_escalate",
]


@dataclass(frozen=True)
class CategoryRow:
    code: str
    parent: str
    name: str
    kind: str
    accept_hours: Decimal
    handle_limit: int
    handle_unit: str
    warn_percent: int
    requires_verification: bool
    auto_escalate: bool


class CategoryFileError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _flag(value: str) -> bool | None:
    return {"1": True, "0": False, "是": True, "否": False}.get(value.strip())


def read(path: Path = DEFAULT_FILE) -> list[CategoryRow]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if [c.strip() for c in reader.fieldnames or []] != COLUMNS:
            raise CategoryFileError([f"表头应为：{','.join(COLUMNS)}"])
        rows: list[CategoryRow] = []
        problems: list[str] = []
        seen: set[str] = set()
        for line, raw in enumerate(reader, start=2):
            values = {k: (v or "").strip() for k, v in raw.items()}
            where = f"第 {line} 行"
            code, parent = values["code"], values["parent"]
            if not code or len(code) > 12:
                problems.append(f"{where}：分类代码为空或超过 12 位")
                continue
            if code in seen:
                problems.append(f"{where}：分类代码 {code} 重复")
            if parent and parent not in seen:
                problems.append(f"{where}：上级分类 {parent} 须在前面出现")
            if values["kind"] not in ("component", "event"):
                problems.append(f"{where}：类型只能是 component（部件）或 event（事件）")
            if values["handle_unit"] not in ("hours", "days"):
                problems.append(f"{where}：时限单位只能是 hours 或 days")
            try:
                accept = Decimal(values["accept_hours"])
                limit, warn = int(values["handle_limit"]), int(values["warn_percent"])
            except (InvalidOperation, ValueError):
                problems.append(f"{where}：时限和预警阈值须为数字")
                continue
            if accept <= 0 or limit < 1 or not 1 <= warn <= 100:
                problems.append(f"{where}：时限须大于 0，预警阈值在 1–100 之间")
            verification, escalate = _flag(values["requires_verification"]), _flag(values["auto_escalate"])
            if verification is None or escalate is None:
                problems.append(f"{where}：是否核查、是否自动上报填 1 或 0")
                continue
            seen.add(code)
            rows.append(
                CategoryRow(
                    code,
                    parent,
                    values["name"],
                    values["kind"],
                    accept,
                    limit,
                    values["handle_unit"],
                    warn,
                    verification,
                    escalate,
                )
            )
        if problems:
            raise CategoryFileError(problems)
        return rows


def load(category_model, rows: list[CategoryRow], *, overwrite: bool = False) -> tuple[int, int]:
    """Create missing categories (and update existing ones when `overwrite`); returns (created, updated).

    Takes the model class so a data migration can pass its historical model.
    """
    created = updated = 0
    by_code = {c.code: c for c in category_model.objects.all()}
    for row in rows:
        fields = {
            "name": row.name,
            "kind": row.kind,
            "parent": by_code.get(row.parent) if row.parent else None,
            "accept_hours": row.accept_hours,
            "handle_limit": row.handle_limit,
            "handle_unit": row.handle_unit,
            "warn_percent": row.warn_percent,
            "requires_verification": row.requires_verification,
            "auto_escalate": row.auto_escalate,
        }
        existing = by_code.get(row.code)
        if existing is None:
            by_code[row.code] = category_model.objects.create(code=row.code, **fields)
            created += 1
        elif overwrite:
            for name, value in fields.items():
                setattr(existing, name, value)
            existing.save()
            updated += 1
    return created, updated
