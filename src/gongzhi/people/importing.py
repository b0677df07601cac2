"""台账导入: residents, households, buildings/units and organisations from the spreadsheets communities keep.

How an import runs (`run_job`):

1. **Validate** — stream the file once. Every row is checked (people with `validation.check_person`, so
   the messages match the forms); cross-row facts are checked as we go: the same ID number twice in
   the file, an ID already registered (looked up a batch of rows at a time), unknown grids and grids
   outside the importer's scope. Rows that pass are turned into database-ready records (encrypted,
   indexed, search keys derived) and spooled to a temporary file. Nothing is written to the tables.
   The only per-row state kept in memory is a compact record of the ID blind indexes seen
   (`SeenKeys`, ~20 bytes a row); everything else is per batch. For big resident files the checking
   and sealing (the CPU-heavy part) runs in worker processes, a few chunks in flight at a time.
2. **Reject or write** — if any row is bad, the job is rejected with the full report (row, the user's
   own column title, a specific Chinese message) and nothing is written. Otherwise the spool is
   written in ONE transaction: on PostgreSQL with COPY, elsewhere with batched INSERTs; one
   `ResidentEvent(register)` per new person (INSERT … SELECT from the new rows), one audit entry for
   the whole file. A conflict that appears between the passes (someone registers the same number
   meanwhile) rolls the whole write back and rejects the file.

Progress: the job's `done_rows`/`total_rows` are written every `PROGRESS_EVERY` rows. Validation runs
outside any transaction, so its progress is visible at once. The write runs inside the import
transaction, where an update of the job row would stay invisible until commit; on PostgreSQL write
progress therefore goes through a second, autocommit connection. SQLite allows one writer at a time,
so there the write phase reports when it ends (the command-line progress bar still moves).
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import io
import logging
import multiprocessing
import os
import pickle
import shutil
import tempfile
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    IntegrityError,
    connection,
    connections,
    transaction,
)
from django.db.models import Exists, OuterRef, Subquery
from django.utils import translation
from django.utils.translation import gettext as _

from gongzhi.core import audit, clock, crypto, scopes
from gongzhi.core.errors import DomainError
from gongzhi.core.models import Level, Region, User
from gongzhi.core.validators import citizen_id_check_char, validate_credit_code, validate_phone
from gongzhi.people import services
from gongzhi.people.models import (
    Building,
    BuildingType,
    Household,
    HouseholdKind,
    IdType,
    ImportJob,
    ImportKind,
    ImportStatus,
    Organisation,
    OrganisationKind,
    PoliticalStatus,
    Relation,
    ResidenceType,
    Resident,
    ResidentEvent,
    ResidentEventKind,
    ResidentStatus,
    Unit,
    UnitStatus,
    UnitUse,
)
from gongzhi.people.sheets import (
    Header,
    SheetError,
    SheetReader,
    cell_text,
    normalise_title,
    number_lost_to_excel,
)
from gongzhi.people.validation import check_person

logger = logging.getLogger(__name__)

BATCH = 1000  # rows looked up in the database together, and written together
PROGRESS_EVERY = 1000
MAX_STORED_ERRORS = 1000
PARALLEL_MIN_ROWS = 20_000  # from about here, worker processes repay their start-up (~1 s)


def imports_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------- columns


@dataclass(frozen=True)
class Column:
    """One column of a 台账 as communities title it. `title` is what the template writes."""

    key: str
    title: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    values: str = ""  # the accepted values, for the 填写说明 sheet
    note: str = ""
    example: object = ""
    text: bool = False  # format as text in the template, so Excel keeps long digit strings


def _labels(choices) -> str:
    return "、".join(str(label) for _value, label in choices)


def _example_citizen_id() -> str:
    first17 = "51090319900307123"  # 1990-03-07, odd sequence digit: male
    return first17 + citizen_id_check_char(first17)


GRID_NOTE = "15 位网格编码，或导入范围内的网格名称；导入范围本身是一个网格时可不填"
PLACE_NOTE = "须是系统中已有的楼栋和房号（可先导入楼栋房屋台账）；同一网格内楼栋重名时须填小区"
GRID_COLUMN = Column(
    "grid",
    "网格",
    ("所属网格", "网格编码", "网格名称", "网格代码"),
    note=GRID_NOTE,
    example="510903014006001",
    text=True,
)
DATE_VALUES = "1990-01-01、1990/1/1、1990.1.1、1990年1月1日、19900101，或 Excel 日期单元格"

RESIDENT_COLUMNS = (
    Column("name", "姓名", ("名字", "人员姓名"), required=True, example="张三"),
    Column(
        "id_type",
        "证件类型",
        ("证件种类",),
        values=_labels(IdType.choices),
        note="不填时：填了证件号码即为居民身份证，否则为无证件",
        example="居民身份证",
    ),
    Column(
        "id_number",
        "证件号码",
        ("身份证号", "身份证号码", "公民身份号码", "公民身份证号", "公民身份证号码", "身份证", "证件号"),
        note="居民身份证为 18 位（末位可为 X）；同一证件号码只能登记一人。请把该列设为“文本”格式，"
        "否则 Excel 会把号码改成科学计数、丢掉末几位",
        example=_example_citizen_id(),
        text=True,
    ),
    Column("sex", "性别", values="男、女", note="有居民身份证号码时可不填，按号码推算", example="男"),
    Column(
        "birth_date", "出生日期", values=DATE_VALUES, note="有居民身份证号码时可不填", example="1990-03-07"
    ),
    Column(
        "phone",
        "联系电话",
        ("手机号", "手机号码", "电话", "手机", "联系方式", "电话号码", "联系电话(手机)"),
        values="11 位手机号码，或带区号的固定电话（0825-1234567）",
        example="13800138000",
        text=True,
    ),
    Column(
        "ethnicity", "民族", values="56 个民族名称（“族”字可省略），其他，外国血统中国籍人士", example="汉族"
    ),
    Column("political_status", "政治面貌", values=_labels(PoliticalStatus.choices), example="群众"),
    Column(
        "residence_type",
        "人口类型",
        ("户籍类型", "人员类型", "人口性质", "人员类别"),
        values=_labels(ResidenceType.choices),
        note="不填为户籍人口",
        example="户籍人口",
    ),
    Column(
        "relation",
        "与户主关系",
        ("与户主的关系", "家庭关系", "关系"),
        values=_labels(Relation.choices) + "；也可写 户主、本人、妻、夫、长子、长女 等",
        example="户主",
    ),
    Column(
        "address",
        "现住址",
        ("居住地址", "地址", "住址", "现居住地址", "现居地址", "实际居住地址"),
        example="南强街道马宗岭路 12 号 3 栋 2 单元 301",
    ),
    Column(
        "moved_in_on",
        "迁入日期",
        ("入住日期", "迁入时间", "入住时间"),
        values=DATE_VALUES,
        example="2020-05-01",
    ),
    GRID_COLUMN,
    Column(
        "household",
        "户号",
        ("户编号", "家庭户号"),
        note="同一网格内户号相同的人员归为一户；该户不存在时自动建立，“与户主关系”为户主者设为户主",
        example="A0012",
        text=True,
    ),
    Column("compound", "小区", ("小区名称", "院落", "小区(院落)"), note=PLACE_NOTE, example="马宗岭小区"),
    Column("building", "楼栋", ("楼号", "楼栋号", "幢号", "楼栋名称"), note=PLACE_NOTE, example="3栋"),
    Column(
        "unit", "房号", ("门牌号", "房间号", "室号", "房屋"), note=PLACE_NOTE, example="2单元301", text=True
    ),
)

HOUSEHOLD_COLUMNS = (
    GRID_COLUMN,
    Column(
        "household",
        "户号",
        ("户编号", "家庭户号"),
        required=True,
        note="同一网格内不能重复",
        example="A0012",
        text=True,
    ),
    Column(
        "household_kind",
        "户类型",
        ("户别", "户口类型"),
        values=_labels(HouseholdKind.choices),
        note="不填为居住户",
        example="居住户",
    ),
    Column(
        "address", "地址", ("住址", "家庭住址", "现住址"), example="南强街道马宗岭路 12 号 3 栋 2 单元 301"
    ),
    Column("compound", "小区", ("小区名称", "院落"), note=PLACE_NOTE, example="马宗岭小区"),
    Column("building", "楼栋", ("楼号", "楼栋号", "幢号"), note=PLACE_NOTE, example="3栋"),
    Column("unit", "房号", ("门牌号", "房间号", "室号"), note=PLACE_NOTE, example="2单元301", text=True),
)

BUILDING_COLUMNS = (
    GRID_COLUMN,
    Column(
        "compound",
        "小区",
        ("小区名称", "院落"),
        note="同一网格内楼栋按“小区 + 楼栋”区分",
        example="马宗岭小区",
    ),
    Column("building", "楼栋", ("楼号", "楼栋号", "幢号", "楼栋名称"), required=True, example="3栋"),
    Column("address", "地址", ("楼栋地址", "门牌地址"), note="新楼栋必填", example="南强街道马宗岭路 12 号"),
    Column(
        "building_kind",
        "楼栋类型",
        ("建筑类型", "房屋类型"),
        values=_labels(BuildingType.choices),
        note="不填为住宅楼",
        example="住宅楼",
    ),
    Column("floors", "层数", ("楼层数", "总层数"), values="1–200 的整数", example=18),
    Column("lon", "经度", (), values="WGS-84 经度", example=""),
    Column("lat", "纬度", (), values="WGS-84 纬度", example=""),
    Column(
        "unit",
        "房号",
        ("门牌号", "房间号", "室号"),
        note="每行一套房屋；只登记楼栋时可不填",
        example="2单元301",
        text=True,
    ),
    Column(
        "building_area",
        "建筑面积",
        ("房屋面积", "面积"),
        values="平方米，大于 0，最多两位小数",
        example="89.50",
    ),
    Column(
        "exclusive_area",
        "专有部分面积",
        ("专有面积", "套内面积", "套内建筑面积"),
        values="平方米，大于 0，不大于建筑面积",
        note="业主大会表决按专有部分面积计算",
        example="72.30",
    ),
    Column("use", "用途", ("房屋用途",), values=_labels(UnitUse.choices), note="不填为住宅", example="住宅"),
    Column(
        "unit_status",
        "使用状态",
        ("房屋状态", "居住状态"),
        values=_labels(UnitStatus.choices),
        note="不填为自住",
        example="自住",
    ),
)

ORGANISATION_COLUMNS = (
    Column(
        "name",
        "名称",
        ("单位名称", "组织名称", "企业名称"),
        required=True,
        example="遂宁市船山区马宗岭社区志愿者协会",
    ),
    Column(
        "org_kind",
        "类别",
        ("单位类别", "组织类别", "类型", "单位类型"),
        required=True,
        values=_labels(OrganisationKind.choices),
        example="社会组织",
    ),
    Column(
        "credit_code",
        "统一社会信用代码",
        ("信用代码", "社会信用代码", "统一代码"),
        note="18 位；同一代码只能登记一次",
        example="51510903MJ0000000X",
        text=True,
    ),
    Column("contact_name", "联系人", ("负责人", "法定代表人"), example="李四"),
    Column("contact_phone", "联系电话", ("电话", "手机号", "联系方式"), example="0825-1234567", text=True),
    Column("address", "地址", ("住所", "办公地址", "单位地址"), example="南强街道马宗岭路 1 号"),
    Column(
        "grid",
        "网格",
        ("所属网格", "所属区域", "所属社区", "网格编码", "区域编码"),
        note="网格或社区的编码或名称；不填为导入范围本身",
        example="510903014006",
        text=True,
    ),
)

COLUMNS = {
    ImportKind.RESIDENTS: RESIDENT_COLUMNS,
    ImportKind.HOUSEHOLDS: HOUSEHOLD_COLUMNS,
    ImportKind.BUILDINGS: BUILDING_COLUMNS,
    ImportKind.ORGANISATIONS: ORGANISATION_COLUMNS,
}


def aliases_for(columns: Iterable[Column]) -> dict[str, str]:
    """Normalised title -> key, for the canonical title, every alias, and the English key."""
    table = {}
    for column in columns:
        for title in (column.title, *column.aliases, column.key):
            table.setdefault(normalise_title(title), column.key)
    return table


# ---------------------------------------------------------------- errors


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        where = _("第 %(row)s 行") % {"row": self.row} if self.row else _("文件")
        return f"{where} {self.column}：{self.message}" if self.column else f"{where}：{self.message}"


class ErrorLog:
    """Every problem found is counted; the first `keep` (by row, then column) are kept for the report.

    A heap keeps memory bounded however bad the file is.
    """

    def __init__(self, header: Header, columns: Iterable[Column], keep: int = MAX_STORED_ERRORS):
        self.header = header
        self.titles = {c.key: c.title for c in columns}
        self.keep = keep
        self.total = 0
        self._heap: list[tuple] = []  # max-heap by (row, column position) via negated keys
        self._seq = 0

    def add(self, row: int, key: str, message: str) -> None:
        """`key` is a column key (shown with the user's own title) or, failing that, a label."""
        self.total += 1
        self._seq += 1
        position = self.header.positions.get(key, 10_000)
        title = self.header.title_of(key) or self.titles.get(key, key)
        item = (-row, -position, -self._seq, RowError(row, title, str(message)))
        if len(self._heap) < self.keep:
            heapq.heappush(self._heap, item)
        elif item > self._heap[0]:
            heapq.heapreplace(self._heap, item)

    def sorted(self) -> list[RowError]:
        return [item[3] for item in sorted(self._heap, reverse=True)]


# ---------------------------------------------------------------- cross-row state


class SeenKeys:
    """Blind indexes a file has used, and the row each first appeared on, in about 20 bytes a row.

    A set of the 64-character hex strings would take ~150 bytes a row (1,000,000 rows: 150 MB).
    Here each index keeps 136 of its 256 bits: the first byte picks one of 256 buckets, and two
    64-bit words beside the row number go into flat arrays. Duplicates are found at the end, one
    bucket at a time. A false match would need two HMAC outputs to agree on 136 bits.
    """

    def __init__(self):
        self._hi = [array("Q") for _ in range(256)]
        self._lo = [array("Q") for _ in range(256)]
        self._rows = [array("I") for _ in range(256)]

    def add(self, index_hex: str, row: int) -> None:
        bucket = int(index_hex[:2], 16)
        self._hi[bucket].append(int(index_hex[2:18], 16))
        self._lo[bucket].append(int(index_hex[18:34], 16))
        self._rows[bucket].append(row)

    def duplicates(self) -> Iterator[tuple[int, int]]:
        """(row, first row with the same index) for every repeat, in no particular order."""
        for hi, lo, rows in zip(self._hi, self._lo, self._rows, strict=True):
            first: dict[tuple[int, int], int] = {}
            for key, row in zip(zip(hi, lo), rows):  # noqa: B905 - arrays grow together
                earlier = first.setdefault(key, row)
                if earlier != row:
                    yield row, earlier


class Spool:
    """Validated records waiting for the write pass: pickled in batches to temporary files.

    The records may hold personal data (already encrypted where the table encrypts it); the files
    live under var/imports and are removed when the import ends, whatever the outcome.
    """

    def __init__(self, directory: Path, batch: int = 2000):
        self.dir = Path(tempfile.mkdtemp(prefix="spool-", dir=directory))
        self.batch = batch
        self._buffers: dict[str, list] = {}
        self._files: dict[str, io.BufferedWriter] = {}
        self.counts: Counter = Counter()

    def add(self, stream: str, record) -> None:
        buffer = self._buffers.setdefault(stream, [])
        buffer.append(record)
        self.counts[stream] += 1
        if len(buffer) >= self.batch:
            self._flush(stream)

    def _flush(self, stream: str) -> None:
        buffer = self._buffers.get(stream)
        if not buffer:
            return
        f = self._files.get(stream)
        if f is None:
            f = self._files[stream] = open(self.dir / stream, "wb")  # noqa: SIM115 - closed in batches()
        pickle.dump(buffer, f, protocol=pickle.HIGHEST_PROTOCOL)
        buffer.clear()

    def batches(self, stream: str) -> Iterator[list]:
        self._flush(stream)
        f = self._files.pop(stream, None)
        if f is None:
            return
        f.close()
        with open(self.dir / stream, "rb") as source:
            while True:
                try:
                    yield pickle.load(source)
                except EOFError:
                    return

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- progress


class Progress:
    """Rows done / total for the job page and the command-line bar.

    During validation (no transaction open) the job row is updated directly. During the write the
    import transaction is open: on PostgreSQL progress goes through a separate autocommit connection
    so other sessions see it; on SQLite, which allows one writer, it is reported when the write ends.
    """

    def __init__(self, job_id: int, callback: Callable[[str, int, int], None] | None = None):
        self.job_id = job_id
        self.callback = callback
        self.phase = ""
        self.total = 0
        self.done = 0
        self._last_saved = 0
        self._side = None
        self._writing = False
        # Called inside someone else's transaction (a test, a caller's atomic block), the job row may be
        # locked by that transaction: a second connection would wait on it for ever. Report at the end.
        self._side_allowed = connection.vendor == "postgresql" and not connection.in_atomic_block

    def start(self, phase: str, total: int, *, writing: bool = False) -> None:
        self.phase, self.total, self.done, self._last_saved = phase, total, 0, 0
        self._writing = writing
        counts = dict(ImportJob.objects.filter(pk=self.job_id).values_list("counts", flat=True).first() or {})
        counts["phase"] = phase
        ImportJob.objects.filter(pk=self.job_id).update(total_rows=total, done_rows=0, counts=counts)
        self._report()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.done > self.total:
            self.total = self.done  # the estimate was short
        if self.done - self._last_saved >= PROGRESS_EVERY:
            self._last_saved = self.done
            self._save()
            self._report()

    def end(self) -> None:
        self._report(final=True)
        if self._side is not None:
            self._side.close()
            self._side = None

    def _report(self, final: bool = False) -> None:
        if self.callback:
            self.callback(self.phase, self.done, self.total if not final else max(self.total, self.done))

    def _save(self) -> None:
        if not self._writing:
            ImportJob.objects.filter(pk=self.job_id).update(done_rows=self.done, total_rows=self.total)
            return
        if not self._side_allowed:
            return
        table = connection.ops.quote_name(ImportJob._meta.db_table)
        try:
            if self._side is None:
                self._side = connections.create_connection(DEFAULT_DB_ALIAS)
                with self._side.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '2s'")
            with self._side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET done_rows = %s, total_rows = %s WHERE id = %s",  # noqa: S608
                    [self.done, self.total, self.job_id],
                )
        except DatabaseError:  # progress is a courtesy: never let it stop the import
            logger.warning("could not report import progress for job %s", self.job_id, exc_info=True)
            self._side_allowed = False


# ---------------------------------------------------------------- raw bulk writes


class RowShape:
    """Column order and database-ready defaults of one table, for raw bulk inserts.

    Built from the model, so a field added later is written with its default (or fails loudly
    when it has none) instead of being silently skipped.
    """

    def __init__(self, model, *, with_pk: bool):
        fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
        self.table = model._meta.db_table
        self.columns = [f.column for f in fields]
        self.attnames = [f.attname for f in fields]
        self.defaults = [
            None if f.primary_key else f.get_db_prep_save(f.get_default(), connection) for f in fields
        ]
        self.position = {name: i for i, name in enumerate(self.attnames)}

    def row(self, values: dict) -> list:
        return [values[a] if a in values else d for a, d in zip(self.attnames, self.defaults, strict=True)]


class BulkWriter:
    """Inserts many rows fast: COPY on PostgreSQL, executemany elsewhere; hands out primary keys first
    so related rows (events) can be written without reading the new rows back."""

    def __init__(self):
        self.vendor = connection.vendor
        if self.vendor not in ("postgresql", "sqlite"):
            raise NotImplementedError(f"bulk import is not implemented for {self.vendor}")
        self._next_id: dict[str, int] = {}

    def allocate_ids(self, model, n: int) -> list[int]:
        table = model._meta.db_table
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, n],
                )
                return [row[0] for row in cursor.fetchall()]
            # SQLite: the import transaction holds the database's only write lock, so the ids after
            # the highest one ever used (AUTOINCREMENT keeps it in sqlite_sequence) are ours.
            if table not in self._next_id:
                cursor.execute(f"SELECT MAX(id) FROM {connection.ops.quote_name(table)}")  # noqa: S608
                highest = cursor.fetchone()[0] or 0
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                row = cursor.fetchone()
                self._next_id[table] = max(highest, row[0] if row else 0) + 1
        start = self._next_id[table]
        self._next_id[table] = start + n
        return list(range(start, start + n))

    def insert(self, shape: RowShape, rows: list) -> None:
        if not rows:
            return
        qn = connection.ops.quote_name
        columns = ", ".join(qn(c) for c in shape.columns)
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {qn(shape.table)} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(shape.columns))
                cursor.executemany(f"INSERT INTO {qn(shape.table)} ({columns}) VALUES ({marks})", rows)  # noqa: S608


# ---------------------------------------------------------------- places


class RegionResolver:
    """The grid (or, for organisations, any region) a row names, by code or by name.

    Only regions inside the import's region where the actor may import are accepted; a region that
    exists elsewhere is reported as outside the scope, one that does not exist as unknown.
    """

    def __init__(self, actor, scope: Region, *, grids_only: bool = True):
        self.scope = scope
        self.grids_only = grids_only
        self.allowed = scopes.paths_for(actor, "people.import")  # None: everywhere
        self._cache: dict[str, tuple[Region | None, str | None]] = {}

    def resolve(self, text: str) -> tuple[Region | None, str | None]:
        if text not in self._cache:
            self._cache[text] = self._lookup(text)
        return self._cache[text]

    def _permitted(self, region: Region) -> bool:
        inside = region.path.startswith(self.scope.path)
        return inside and (self.allowed is None or any(region.path.startswith(p) for p in self.allowed))

    def _lookup(self, text: str) -> tuple[Region | None, str | None]:
        noun = _("网格") if self.grids_only else _("区域")
        if not text:
            if not self.grids_only or self.scope.level == Level.GRID:
                return self.scope, None
            return None, _("请填写网格（网格编码或名称）")
        region = Region.objects.filter(code=text).first()
        if region is None:
            named = Region.objects.filter(name=text)
            if self.grids_only:
                named = named.filter(level=Level.GRID)
            inside = list(named.filter(path__startswith=self.scope.path)[:2])
            if len(inside) > 1:
                return None, _("%(noun)s名称“%(v)s”在导入范围内不唯一，请改填编码") % {
                    "noun": noun,
                    "v": text,
                }
            region = inside[0] if inside else named.first()
        if region is None:
            return None, _("找不到%(noun)s“%(v)s”") % {"noun": noun, "v": text}
        if self.grids_only and region.level != Level.GRID:
            return None, _("“%(v)s”不是网格，人员、户和房屋须登记到网格") % {"v": text}
        if not self._permitted(region):
            return None, _("%(noun)s“%(v)s”不在您的导入范围内") % {"noun": noun, "v": text}
        return region, None


class PlaceResolver:
    """Existing buildings and units named by (小区, 楼栋, 房号) inside a grid; loaded a grid at a time."""

    MAX_CACHED_UNITS = 200_000

    def __init__(self):
        self._buildings: dict[int, dict[str, list[Building]]] = {}
        self._units: dict[int, dict[str, int]] = {}
        self._cached_units = 0

    def buildings_named(self, grid: Region, name: str) -> list[Building]:
        if grid.pk not in self._buildings:
            table: dict[str, list[Building]] = {}
            for b in Building.objects.filter(region=grid).only("id", "compound", "name", "region_id"):
                table.setdefault(b.name, []).append(b)
            self._buildings[grid.pk] = table
        return self._buildings[grid.pk].get(name, [])

    def building(self, grid: Region, compound: str, name: str) -> tuple[Building | None, str | None]:
        candidates = self.buildings_named(grid, name)
        if compound:
            candidates = [b for b in candidates if b.compound == compound]
        if len(candidates) == 1:
            return candidates[0], None
        shown = f"{compound}{name}"
        if not candidates:
            return None, _("网格“%(g)s”中找不到楼栋“%(b)s”（可先导入楼栋房屋台账）") % {
                "g": grid.name,
                "b": shown,
            }
        return None, _("网格“%(g)s”中有多个名为“%(b)s”的楼栋，请填写小区") % {"g": grid.name, "b": name}

    def units_of(self, building_id: int) -> dict[str, int]:
        if building_id not in self._units:
            if self._cached_units > self.MAX_CACHED_UNITS:
                self._units.clear()
                self._cached_units = 0
            units = dict(Unit.objects.filter(building_id=building_id).values_list("label", "id"))
            self._units[building_id] = units
            self._cached_units += len(units)
        return self._units[building_id]

    def unit(self, grid: Region, compound: str, name: str, label: str) -> tuple[int | None, str | None]:
        building, problem = self.building(grid, compound, name)
        if building is None:
            return None, problem
        unit_id = self.units_of(building.pk).get(label)
        if unit_id is None:
            return None, _("楼栋“%(b)s”中找不到房号“%(u)s”") % {"b": building, "u": label}
        return unit_id, None


def _lookup_choice(table: dict[str, str], text: str) -> str | None:
    return table.get(text.lower(), table.get(text))


def _choice_table(choices, aliases: dict[str, str] | None = None) -> dict[str, str]:
    table = {}
    for value, label in choices:
        table[str(value).lower()] = value
        table[str(label)] = value
    table.update(aliases or {})
    return table


# ---------------------------------------------------------------- importers


@dataclass
class Context:
    job: ImportJob
    actor: object
    region: Region
    header: Header
    errors: ErrorLog
    spool: Spool
    now: dt.datetime
    today: dt.date
    counts: Counter = field(default_factory=Counter)

    @property
    def update_existing(self) -> bool:
        return self.job.update_existing

    @property
    def note(self) -> str:
        return (_("台账导入：%(f)s") % {"f": self.job.file_name})[:200]

    @property
    def preparing(self) -> bool:
        """Whether records are still worth preparing for the write: not once the file is known bad."""
        return self.errors.total == 0


class Importer:
    """One kind of 台账. `check` looks at a row on its own; `check_batch` does what needs the database
    for a batch of rows and spools what will be written; `finish` runs the whole-file checks; `write`
    (inside the import transaction) writes the spool."""

    kind: str
    required: frozenset[str] = frozenset()
    needs_grid = True

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.estimated_rows = 0

    @classmethod
    def columns(cls) -> tuple[Column, ...]:
        return COLUMNS[cls.kind]

    def check_header(self, header: Header) -> None:
        if "grid" not in header.positions and self.ctx.region.level != Level.GRID and self.needs_grid:
            raise SheetError(
                _("表格缺少“网格”列：导入范围“%(r)s”不是网格，每行须注明网格") % {"r": self.ctx.region.name}
            )

    def error(self, row: int, key: str, message: str) -> None:
        self.ctx.errors.add(row, key, message)

    def validate(self, rows: Iterator[tuple[int, dict]], progress: Progress) -> int:
        """Check every row (a batch at a time for the database checks); returns the number of rows."""
        count, pending = 0, []
        for number, values in rows:
            count += 1
            item = self.check(number, values)
            if item is not None:
                pending.append(item)
            if count % BATCH == 0:
                self.check_batch(pending)
                pending = []
            progress.advance()
        if pending:
            self.check_batch(pending)
        self.finish()
        return count

    def check(self, row: int, values: dict):
        raise NotImplementedError

    def check_batch(self, items: list) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        pass

    def write(self, progress: Progress) -> None:
        raise NotImplementedError

    @property
    def rows_to_write(self) -> int:
        return sum(self.ctx.spool.counts.values())


def _text(values: dict, key: str) -> str:
    return cell_text(values.get(key))


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _runs(ids: list[int]) -> Iterator[tuple[int, int]]:
    """Ascending ids as (first, last) runs of consecutive numbers."""
    start = prev = None
    for i in ids:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            yield start, prev
            start = prev = i
    if start is not None:
        yield start, prev


PERSON_KEYS = (
    "name",
    "id_type",
    "id_number",
    "sex",
    "birth_date",
    "phone",
    "ethnicity",
    "political_status",
    "residence_type",
    "relation",
    "address",
    "moved_in_on",
)


def _person_label_keys() -> dict[str, str]:
    """check_person names fields by their (translated) labels; errors go under the user's own column."""
    return {
        _("姓名"): "name",
        _("证件类型"): "id_type",
        _("证件号码"): "id_number",
        _("性别"): "sex",
        _("出生日期"): "birth_date",
        _("联系电话"): "phone",
        _("民族"): "ethnicity",
        _("政治面貌"): "political_status",
        _("人口类型"): "residence_type",
        _("与户主关系"): "relation",
        _("迁入日期"): "moved_in_on",
    }


@functools.cache
def _resident_shape() -> RowShape:
    return RowShape(Resident, with_pk=True)


def check_people(
    chunk: list[tuple[int, dict]], today: dt.date, seal_at: dt.datetime | None
) -> list[tuple[list, str | None, tuple | None]]:
    """Check the people in a chunk of rows; needs no database, so big files run it in worker processes.

    Returns, per row: the problems as (column key, message) pairs; the ID number's blind index; and,
    when the person is valid and `seal_at` (the import's time) is given, the finished table row —
    encrypted numbers, blind indexes, search keys — with its grid and home left for the caller.
    """
    labels = _person_label_keys()
    shape = _resident_shape()
    encrypt_id = Resident._meta.get_field("id_number").get_prep_value
    encrypt_phone = Resident._meta.get_field("phone").get_prep_value
    adapt_date = connection.ops.adapt_datefield_value
    at = connection.ops.adapt_datetimefield_value(seal_at) if seal_at else None
    out = []
    for _row, values in chunk:
        id_cell = values.get("id_number")
        if number_lost_to_excel(id_cell):
            message = _("证件号码被 Excel 存成了数字，末几位已丢失；请把该列设为“文本”格式后重新填写")
            out.append(([("id_number", message)], None, None))
            continue
        result = check_person(_person_raw(values), today=today)
        number = result.values.get("id_number")
        id_index = crypto.blind_index(number, purpose="citizen_id") if number else None
        if result.errors or at is None:
            out.append(([(labels.get(label, label), msg) for label, msg in result.errors], id_index, None))
            continue
        v = result.values
        keys = SimpleNamespace(name=v["name"], id_number=number)
        services.derive_search_keys(keys)  # the same search keys a saved Resident gets
        phone = v["phone"]
        row = shape.row(
            {
                "name": v["name"],
                "name_pinyin": keys.name_pinyin,
                "name_initials": keys.name_initials,
                "id_type": str(v["id_type"]),  # plain str, not the TextChoices member
                "id_number": encrypt_id(number),
                "id_index": id_index,
                "id_tail4": keys.id_tail4,
                "id_tail5": keys.id_tail5,
                "id_tail6": keys.id_tail6,
                "sex": str(v["sex"]),
                "birth_date": adapt_date(v["birth_date"]),
                "phone": encrypt_phone(phone),
                "phone_index": crypto.blind_index(phone, purpose="phone") if phone else None,
                "ethnicity": v["ethnicity"],
                "political_status": str(v["political_status"]),
                "residence_type": str(v["residence_type"]),
                "relation": str(v["relation"]),
                "address": v["address"],
                "status": ResidentStatus.LIVING_HERE.value,
                "moved_in_on": adapt_date(v["moved_in_on"]),
                "created_at": at,
                "updated_at": at,
            }
        )
        out.append(([], id_index, tuple(row)))
    return out


def _person_raw(values: dict) -> dict:
    raw = {key: values.get(key) for key in PERSON_KEYS}
    raw["id_number"] = cell_text(raw["id_number"])
    return raw


def _person_workers(estimated_rows: int) -> int:
    """Worker processes for checking people: none for small files, where start-up would dominate."""
    configured = os.environ.get("GONGZHI_IMPORT_WORKERS")
    if configured is not None:
        return max(0, int(configured))
    if estimated_rows < PARALLEL_MIN_ROWS:
        return 0
    cpus = os.cpu_count() or 1
    return min(cpus, 4) if cpus > 1 else 0


@dataclass
class PersonRow:
    row: int
    raw: dict  # the cells as read
    grid: Region
    unit_id: int | None
    household: str
    id_index: str | None
    table_row: tuple | None  # from check_people, when sealed


class ResidentImporter(Importer):
    kind = ImportKind.RESIDENTS
    required = frozenset({"name"})

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.grids = RegionResolver(ctx.actor, ctx.region)
        self.places = PlaceResolver()
        self.seen = SeenKeys()
        self.import_paths = scopes.paths_for(ctx.actor, "people.import")  # None: everywhere
        self.shape = _resident_shape()

    # -- validation

    def validate(self, rows: Iterator[tuple[int, dict]], progress: Progress) -> int:
        count = 0
        for chunk, checks in self._person_checks(rows):
            pending = []
            for (row, values), check in zip(chunk, checks, strict=True):
                item = self._place(row, values, *check)
                if item is not None:
                    pending.append(item)
            self.check_batch(pending)
            count += len(chunk)
            progress.advance(len(chunk))
        self.finish()
        return count

    def _person_checks(self, rows: Iterator[tuple[int, dict]]) -> Iterator[tuple[list, list]]:
        """(chunk, `check_people` of it) for chunks of BATCH rows, in file order: inline, or in worker
        processes for big files. Only a few chunks are in flight, so memory stays bounded."""
        chunks = _chunks(rows, BATCH)
        today = self.ctx.today
        workers = _person_workers(self.estimated_rows)
        if not workers:
            for chunk in chunks:
                yield chunk, check_people(chunk, today, self.seal_at)
            return
        from gongzhi.people import import_worker

        # spawn, not fork: a forked child would share the parent's database connection. A pool that
        # loses a worker raises BrokenProcessPool (the job fails) instead of waiting for ever.
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=import_worker.init,
            initargs=(translation.get_language(),),
        )
        with pool:
            in_flight: deque = deque()
            for chunk in chunks:
                future = pool.submit(import_worker.check_people, chunk, today, self.seal_at)
                in_flight.append((chunk, future))
                if len(in_flight) >= 2 * workers:
                    chunk, future = in_flight.popleft()
                    yield chunk, future.result()
            while in_flight:
                chunk, future = in_flight.popleft()
                yield chunk, future.result()

    @property
    def seal_at(self) -> dt.datetime | None:
        """Rows are sealed for writing until the file is known to be bad; then they are only checked."""
        return self.ctx.now if self.ctx.preparing else None

    def _place(
        self, row: int, values: dict, errors: list, id_index: str | None, table_row
    ) -> PersonRow | None:
        """The database-backed checks of a row: its grid and home; collects errors, remembers the ID."""
        for key, message in errors:
            self.error(row, key, message)
        ok = not errors
        grid, problem = self.grids.resolve(_text(values, "grid"))
        if problem:
            self.error(row, "grid", problem)
            ok = False
        unit_id = None
        building, label = _text(values, "building"), _text(values, "unit")
        if grid is not None and (building or label):
            if not (building and label):
                self.error(row, "building" if not building else "unit", _("楼栋和房号须同时填写"))
                ok = False
            else:
                unit_id, problem = self.places.unit(grid, _text(values, "compound"), building, label)
                if problem:
                    self.error(row, "unit", problem)
                    ok = False
        if id_index:
            self.seen.add(id_index, row)
        if not ok:
            return None
        return PersonRow(row, values, grid, unit_id, _text(values, "household"), id_index, table_row)

    def check_batch(self, items: list[PersonRow]) -> None:
        indexes = [item.id_index for item in items if item.id_index]
        existing = {}
        if indexes:
            existing = {
                index: (pk, path)
                for index, pk, path in Resident.objects.filter(id_index__in=indexes).values_list(
                    "id_index", "pk", "region__path"
                )
            }
        allowed = self.import_paths
        region_at, unit_at = self.shape.position["region_id"], self.shape.position["unit_id"]
        for item in items:
            match = existing.get(item.id_index) if item.id_index else None
            if match is None:
                if self.ctx.preparing and item.table_row is not None:  # a file known bad is only checked
                    row = list(item.table_row)
                    row[region_at], row[unit_at] = item.grid.pk, item.unit_id
                    self.ctx.spool.add("new", (item.household, row))
                continue
            pk, path = match
            if not self.ctx.update_existing:
                self.error(
                    item.row,
                    "id_number",
                    _("该证件号码已登记（如需更新已登记人员，请选择“按证件号更新已有人员”）"),
                )
            elif allowed is not None and not any(path.startswith(p) for p in allowed):
                self.error(item.row, "id_number", _("该证件号码已登记在您的管辖范围之外，不能更新"))
            elif self.ctx.preparing:
                self.ctx.spool.add(
                    "update", (item.row, pk, self._changes(item), item.grid.pk, item.unit_id, item.household)
                )

    def _changes(self, item: PersonRow) -> dict:
        """What an update may change: the fields the row fills in (blank cells keep what is there)."""
        cleaned = check_person(_person_raw(item.raw), today=self.ctx.today).values
        provided = {k for k in PERSON_KEYS if cell_text(item.raw.get(k))} - {"moved_in_on"}
        if cleaned["id_type"] == IdType.CITIZEN_ID:
            provided |= {"sex", "birth_date"}  # derived from the number
        if "id_number" in provided:
            provided.add("id_type")
        return {k: v for k, v in cleaned.items() if k in provided}

    def finish(self) -> None:
        for row, first in self.seen.duplicates():
            self.error(row, "id_number", _("与第 %(row)s 行的证件号码重复") % {"row": first})

    @property
    def rows_to_write(self) -> int:
        return self.ctx.spool.counts["new"] + self.ctx.spool.counts["update"]

    # -- writing

    def write(self, progress: Progress) -> None:
        writer = BulkWriter()
        households = HouseholdMaker(self.ctx)
        events = RegisterEvents(self.ctx)
        pos = self.shape.position
        id_at, household_at = pos["id"], pos["household_id"]
        region_at, unit_at, address_at = pos["region_id"], pos["unit_id"], pos["address"]
        for batch in self.ctx.spool.batches("new"):
            ids = writer.allocate_ids(Resident, len(batch))
            wanted = {
                (values[region_at], number): (values[unit_at], values[address_at])
                for number, values in batch
                if number
            }
            household_ids = households.ids_for(wanted)
            rows = []
            for (number, values), new_id in zip(batch, ids, strict=True):
                values = list(values)
                values[id_at] = new_id
                if number:
                    values[household_at] = household_ids[(values[region_at], number)]
                rows.append(values)
            writer.insert(self.shape, rows)
            events.add(ids)
            self.ctx.counts["created"] += len(rows)
            progress.advance(len(rows))
        for batch in self.ctx.spool.batches("update"):
            self._update(batch, households)
            progress.advance(len(batch))
        self.ctx.counts["households_created"] = households.created
        self._set_householders()

    def _update(self, batch: list, households: HouseholdMaker) -> None:
        """update_existing: change what the row fills in. Changes are an UPDATE event, a new grid a move."""
        people = Resident.objects.select_for_update().in_bulk([pk for _row, pk, *_rest in batch])
        wanted = {
            (grid_id, number): (unit_id, values.get("address", ""))
            for _r, _pk, values, grid_id, unit_id, number in batch
            if number
        }
        household_ids = households.ids_for(wanted)
        changed, events = [], []
        for _row, pk, values, grid_id, unit_id, number in batch:
            resident = people[pk]
            changes = {}
            for key, new in values.items():
                old = getattr(resident, key)
                if old != new:
                    changes[key] = services._masked_change(key, old, new)
                    setattr(resident, key, new)
            for attname, new in (
                ("unit_id", unit_id),
                ("household_id", household_ids.get((grid_id, number))),
            ):
                if new is not None and getattr(resident, attname) != new:
                    changes[attname.removesuffix("_id")] = [getattr(resident, attname), new]
                    setattr(resident, attname, new)
            event = dict(
                resident=resident,
                actor=self.ctx.actor if isinstance(self.ctx.actor, User) else None,
                actor_label=audit.actor_label(self.ctx.actor),
                at=self.ctx.now,
                note=self.ctx.note,
            )
            moved = grid_id != resident.region_id
            if moved:
                events.append(
                    ResidentEvent(
                        kind=ResidentEventKind.MOVE_WITHIN,
                        from_region_id=resident.region_id,
                        to_region_id=grid_id,
                        from_address=resident.address,
                        to_address=values.get("address", resident.address),
                        on_date=self.ctx.today,
                        **event,
                    )
                )
                resident.region_id = grid_id
            if not changes and not moved:
                self.ctx.counts["unchanged"] += 1
                continue
            if changes:
                events.append(ResidentEvent(kind=ResidentEventKind.UPDATE, changes=changes, **event))
            services.derive_search_keys(resident)
            resident.updated_at = self.ctx.now
            changed.append(resident)
        Resident.objects.bulk_update(changed, UPDATE_FIELDS, batch_size=500)
        ResidentEvent.objects.bulk_create(events, batch_size=1000)
        self.ctx.counts["updated"] += len(changed)

    def _set_householders(self) -> None:
        """A household created or joined by this import gets its 户主 from the member marked as such."""
        heads = Resident.objects.filter(
            household=OuterRef("pk"),
            relation=Relation.SELF,
            status=ResidentStatus.LIVING_HERE,
            updated_at=self.ctx.now,  # registered or updated by this import
        ).order_by("pk")
        Household.objects.filter(
            householder__isnull=True, region__path__startswith=self.ctx.region.path
        ).filter(Exists(heads)).update(householder=Subquery(heads.values("pk")[:1]))


UPDATE_FIELDS = [
    "name",
    "name_pinyin",
    "name_initials",
    "id_type",
    "id_number",
    "id_index",
    "id_tail4",
    "id_tail5",
    "id_tail6",
    "sex",
    "birth_date",
    "phone",
    "phone_index",
    "ethnicity",
    "political_status",
    "residence_type",
    "relation",
    "address",
    "region",
    "unit",
    "household",
    "updated_at",
]


class RegisterEvents:
    """One REGISTER event per new resident, written by the database from the rows just inserted
    (INSERT … SELECT): a million events cost no Python work and no second transfer of the data."""

    FROM_RESIDENT = {
        "resident_id": "id",
        "on_date": "moved_in_on",
        "to_region_id": "region_id",
        "to_address": "address",
    }

    def __init__(self, ctx: Context):
        shape = RowShape(ResidentEvent, with_pk=False)
        fixed = {
            "kind": ResidentEventKind.REGISTER.value,
            "actor_label": audit.actor_label(ctx.actor),
            "actor_id": ctx.actor.pk if isinstance(ctx.actor, User) else None,
            "at": connection.ops.adapt_datetimefield_value(ctx.now),
            "note": ctx.note,
        }
        qn = connection.ops.quote_name
        selected, self.params = [], []
        for attname, default in zip(shape.attnames, shape.defaults, strict=True):
            if attname in self.FROM_RESIDENT:
                selected.append(qn(self.FROM_RESIDENT[attname]))
            else:
                selected.append("%s")
                self.params.append(fixed.get(attname, default))
        self.sql = (
            f"INSERT INTO {qn(shape.table)} ({', '.join(qn(c) for c in shape.columns)}) "  # noqa: S608
            f"SELECT {', '.join(selected)} FROM {qn(Resident._meta.db_table)} WHERE id BETWEEN %s AND %s"
        )

    def add(self, ids: list[int]) -> None:
        """Events for new residents with these ids. The ids were handed out to this import alone
        (BulkWriter.allocate_ids), so a range of consecutive ones holds no one else's rows."""
        with connection.cursor() as cursor:
            for first, last in _runs(sorted(ids)):
                cursor.execute(self.sql, [*self.params, first, last])


class HouseholdMaker:
    """Households named by 户号 in a residents file: found in the grid, or created on first mention."""

    MAX_CACHED = 100_000

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.created = 0
        self._ids: dict[tuple[int, str], int] = {}

    def ids_for(self, wanted: dict[tuple[int, str], tuple]) -> dict[tuple[int, str], int]:
        """{(grid id, 户号): household id} for every key in `wanted` ({key: (unit id, address)})."""
        missing = [key for key in wanted if key not in self._ids]
        if missing:
            if len(self._ids) > self.MAX_CACHED:
                self._ids.clear()
            grids = {grid for grid, _n in missing}
            numbers = {number for _g, number in missing}
            for grid, number, pk in (
                Household.objects.filter(region_id__in=grids, number__in=numbers)
                .order_by("-pk")
                .values_list("region_id", "number", "pk")
            ):
                self._ids[(grid, number)] = pk  # the oldest wins: ordered newest first
            new = [key for key in missing if key not in self._ids]
            made = Household.objects.bulk_create(
                [
                    Household(
                        region_id=grid,
                        number=number,
                        kind=HouseholdKind.RESIDENCE,
                        unit_id=wanted[(grid, number)][0],
                        address=(wanted[(grid, number)][1] or "")[:200],
                        created_at=self.ctx.now,
                    )
                    for grid, number in new
                ]
            )
            for key, household in zip(new, made, strict=True):
                self._ids[key] = household.pk
            self.created += len(made)
        return {key: self._ids[key] for key in wanted}


HOUSEHOLD_KINDS = _choice_table(
    HouseholdKind.choices,
    {
        "户籍": HouseholdKind.REGISTERED,
        "家庭户": HouseholdKind.REGISTERED,
        "居住": HouseholdKind.RESIDENCE,
        "实住户": HouseholdKind.RESIDENCE,
    },
)


class HouseholdImporter(Importer):
    """户: one row per household, keyed by (网格, 户号)."""

    kind = ImportKind.HOUSEHOLDS
    required = frozenset({"household"})

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.grids = RegionResolver(ctx.actor, ctx.region)
        self.places = PlaceResolver()
        self.first_row: dict[tuple[int, str], int] = {}

    def check(self, row: int, values: dict):
        ok = True
        grid, problem = self.grids.resolve(_text(values, "grid"))
        if problem:
            self.error(row, "grid", problem)
            ok = False
        number = _text(values, "household")[:30]
        if not number:
            self.error(row, "household", _("户号不能为空"))
            ok = False
        kind_text = _text(values, "household_kind")
        kind = _lookup_choice(HOUSEHOLD_KINDS, kind_text) if kind_text else None
        if kind_text and kind is None:
            self.error(row, "household_kind", _("无法识别的户类型“%(v)s”") % {"v": kind_text})
            ok = False
        unit_id = None
        building, label = _text(values, "building"), _text(values, "unit")
        if grid is not None and building and label:
            unit_id, problem = self.places.unit(grid, _text(values, "compound"), building, label)
            if problem:
                self.error(row, "unit", problem)
                ok = False
        elif building or label:
            self.error(row, "building" if not building else "unit", _("楼栋和房号须同时填写"))
            ok = False
        if grid is not None and number:
            first = self.first_row.setdefault((grid.pk, number), row)
            if first != row:
                self.error(row, "household", _("与第 %(row)s 行的户号重复（同一网格）") % {"row": first})
                ok = False
        if not ok:
            return None
        data = {"kind": kind, "address": _text(values, "address")[:200], "unit_id": unit_id}
        return row, grid, number, data

    def check_batch(self, items: list) -> None:
        keys = {(grid.pk, number) for _row, grid, number, _data in items}
        existing = {
            (g, n): pk
            for g, n, pk in Household.objects.filter(
                region_id__in={g for g, _n in keys}, number__in={n for _g, n in keys}
            ).values_list("region_id", "number", "pk")
        }
        for row, grid, number, data in items:
            pk = existing.get((grid.pk, number))
            if pk is None:
                self.ctx.spool.add("new", (grid.pk, number, data))
            elif self.ctx.update_existing:
                self.ctx.spool.add("update", (pk, {k: v for k, v in data.items() if v}))
            else:
                self.error(row, "household", _("该网格已有户号“%(n)s”") % {"n": number})

    def write(self, progress: Progress) -> None:
        for batch in self.ctx.spool.batches("new"):
            Household.objects.bulk_create(
                [
                    Household(
                        region_id=grid,
                        number=number,
                        kind=data["kind"] or HouseholdKind.RESIDENCE,
                        address=data["address"],
                        unit_id=data["unit_id"],
                        created_at=self.ctx.now,
                    )
                    for grid, number, data in batch
                ]
            )
            self.ctx.counts["created"] += len(batch)
            progress.advance(len(batch))
        for batch in self.ctx.spool.batches("update"):
            self.ctx.counts["updated"] += _update_by_pk(Household, batch)
            progress.advance(len(batch))


def _update_by_pk(model, batch: list[tuple[int, dict]]) -> int:
    """Apply {field: value} changes to rows by primary key; returns how many actually changed."""
    objects = model.objects.select_for_update().in_bulk([pk for pk, _data in batch])
    changed, fields = [], set()
    for pk, data in batch:
        obj = objects[pk]
        diff = {k: v for k, v in data.items() if getattr(obj, k) != v}
        if diff:
            for k, v in diff.items():
                setattr(obj, k, v)
            fields |= diff.keys()
            changed.append(obj)
    if changed:
        model.objects.bulk_update(changed, sorted(fields), batch_size=500)
    return len(changed)


BUILDING_KINDS = _choice_table(
    BuildingType.choices, {"住宅": BuildingType.RESIDENTIAL, "商住": BuildingType.MIXED}
)
UNIT_USES = _choice_table(
    UnitUse.choices, {"商业": UnitUse.SHOP, "门面": UnitUse.SHOP, "车位": UnitUse.GARAGE}
)
UNIT_STATUSES = _choice_table(UnitStatus.choices, {"闲置": UnitStatus.VACANT, "租赁": UnitStatus.RENTED})
MAX_AREA = Decimal("99999999.99")


def _area(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", "").replace("㎡", "").strip())
    except InvalidOperation:
        raise ValueError(_("面积应为数字（平方米）")) from None
    if not value.is_finite() or value <= 0:
        raise ValueError(_("面积必须大于 0"))
    if value > MAX_AREA:
        raise ValueError(_("面积过大"))
    return value.quantize(Decimal("0.01"))


class BuildingImporter(Importer):
    """楼栋房屋: one row per unit (房号), or a building alone. A building named on several rows is one
    building; a new one takes its address, type and floors from the first rows that give them."""

    kind = ImportKind.BUILDINGS
    required = frozenset({"building"})

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.grids = RegionResolver(ctx.actor, ctx.region)
        self.places = PlaceResolver()
        self.buildings: dict[tuple, dict] = {}  # (grid id, compound, name) -> what the file says of it
        self.unit_rows: dict[tuple, int] = {}

    def check(self, row: int, values: dict):
        ok = True
        grid, problem = self.grids.resolve(_text(values, "grid"))
        if problem:
            self.error(row, "grid", problem)
            ok = False
        name, compound = _text(values, "building")[:50], _text(values, "compound")[:100]
        if not name:
            self.error(row, "building", _("楼栋不能为空"))
            ok = False
        attrs = {"address": _text(values, "address")[:200]}
        kind_text = _text(values, "building_kind")
        if kind_text:
            attrs["kind"] = _lookup_choice(BUILDING_KINDS, kind_text)
            if attrs["kind"] is None:
                self.error(row, "building_kind", _("无法识别的楼栋类型“%(v)s”") % {"v": kind_text})
                ok = False
        for key, low, high, message in (
            ("floors", 1, 200, _("层数应为 1–200 的整数")),
            ("lon", -180, 180, _("经度应在 -180 到 180 之间")),
            ("lat", -90, 90, _("纬度应在 -90 到 90 之间")),
        ):
            text = _text(values, key)
            if not text:
                continue
            try:
                number = int(text) if key == "floors" else float(text)
                if not low <= number <= high:
                    raise ValueError
            except ValueError:
                self.error(row, key, message)
                ok = False
            else:
                attrs[key] = number

        label = _text(values, "unit")[:50]
        unit = {}
        for key in ("building_area", "exclusive_area"):
            text = _text(values, key)
            if text:
                try:
                    unit[key] = _area(text)
                except ValueError as exc:
                    self.error(row, key, str(exc))
                    ok = False
        if (
            "building_area" in unit
            and "exclusive_area" in unit
            and unit["exclusive_area"] > unit["building_area"]
        ):
            self.error(row, "exclusive_area", _("专有部分面积不能大于建筑面积"))
            ok = False
        for key, table, noun in (
            ("use", UNIT_USES, _("用途")),
            ("unit_status", UNIT_STATUSES, _("使用状态")),
        ):
            text = _text(values, key)
            if text:
                unit[key] = _lookup_choice(table, text)
                if unit[key] is None:
                    self.error(row, key, _("无法识别的%(noun)s“%(v)s”") % {"noun": noun, "v": text})
                    ok = False
        if unit and not label:
            self.error(row, "unit", _("填写了面积、用途或使用状态，但没有房号"))
            ok = False
        if not ok or grid is None:
            return None

        key = (grid.pk, compound, name)
        known = self.buildings.get(key)
        if known is None:
            existing = [b for b in self.places.buildings_named(grid, name) if b.compound == compound]
            pk = existing[0].pk if existing else None
            known = self.buildings[key] = {"row": row, "pk": pk, "existed": pk is not None, "attrs": {}}
        for k, v in attrs.items():
            if v not in ("", None):
                known["attrs"].setdefault(k, v)
        if label:
            first = self.unit_rows.setdefault((key, label), row)
            if first != row:
                self.error(row, "unit", _("与第 %(row)s 行的房号重复（同一楼栋）") % {"row": first})
                return None
        return row, key, label, unit

    def check_batch(self, items: list) -> None:
        for row, key, label, unit in items:
            if not label:
                continue
            building_pk = self.buildings[key]["pk"]
            unit_pk = None
            if building_pk is not None:
                unit_pk = self.places.units_of(building_pk).get(label)
            if unit_pk is None:
                self.ctx.spool.add("new", (key, label, unit))
            elif self.ctx.update_existing:
                self.ctx.spool.add("update", (unit_pk, _unit_fields(unit)))
            else:
                self.error(row, "unit", _("该楼栋已有房号“%(u)s”") % {"u": label})

    def finish(self) -> None:
        for key, known in self.buildings.items():
            if known["pk"] is None and not known["attrs"].get("address"):
                self.error(known["row"], "address", _("新楼栋“%(b)s”须填写地址") % {"b": key[1] + key[2]})

    @property
    def rows_to_write(self) -> int:
        return len(self.buildings) + self.ctx.spool.counts["new"] + self.ctx.spool.counts["update"]

    def write(self, progress: Progress) -> None:
        new = [(key, known) for key, known in self.buildings.items() if known["pk"] is None]
        for start in range(0, len(new), BATCH):
            chunk = new[start : start + BATCH]
            made = Building.objects.bulk_create(
                [
                    Building(
                        region_id=grid,
                        compound=compound,
                        name=name,
                        address=known["attrs"]["address"],
                        kind=known["attrs"].get("kind") or BuildingType.RESIDENTIAL,
                        floors=known["attrs"].get("floors"),
                        lon=known["attrs"].get("lon"),
                        lat=known["attrs"].get("lat"),
                        created_at=self.ctx.now,
                    )
                    for (grid, compound, name), known in chunk
                ]
            )
            for (_key, known), building in zip(chunk, made, strict=True):
                known["pk"] = building.pk
            progress.advance(len(chunk))
        self.ctx.counts["buildings_created"] = len(new)
        if self.ctx.update_existing:
            old = [(k["pk"], k["attrs"]) for k in self.buildings.values() if k["existed"] and k["attrs"]]
            self.ctx.counts["buildings_updated"] = _update_by_pk(Building, old)
        for batch in self.ctx.spool.batches("new"):
            Unit.objects.bulk_create(
                [
                    Unit(building_id=self.buildings[key]["pk"], label=label, **_unit_fields(unit))
                    for key, label, unit in batch
                ]
            )
            self.ctx.counts["created"] += len(batch)
            progress.advance(len(batch))
        for batch in self.ctx.spool.batches("update"):
            self.ctx.counts["updated"] += _update_by_pk(Unit, batch)
            progress.advance(len(batch))


def _unit_fields(unit: dict) -> dict:
    fields = {k: v for k, v in unit.items() if k in ("building_area", "exclusive_area", "use")}
    if "unit_status" in unit:
        fields["status"] = unit["unit_status"]
    return fields


ORG_KINDS = _choice_table(
    OrganisationKind.choices,
    {
        "公司": OrganisationKind.ENTERPRISE,
        "个体户": OrganisationKind.SOLE_TRADER,
        "个体": OrganisationKind.SOLE_TRADER,
        "机关单位": OrganisationKind.RESIDENT_UNIT,
        "事业单位": OrganisationKind.RESIDENT_UNIT,
        "党支部": OrganisationKind.PARTY,
        "党委": OrganisationKind.PARTY,
        "党总支": OrganisationKind.PARTY,
    },
)


class OrganisationImporter(Importer):
    """单位组织: matched by credit code when there is one, otherwise by name within the same region."""

    kind = ImportKind.ORGANISATIONS
    required = frozenset({"name", "org_kind"})
    needs_grid = False

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.regions = RegionResolver(ctx.actor, ctx.region, grids_only=False)
        self.first_row: dict[tuple, int] = {}

    def check(self, row: int, values: dict):
        ok = True
        region, problem = self.regions.resolve(_text(values, "grid"))
        if problem:
            self.error(row, "grid", problem)
            ok = False
        name = _text(values, "name")
        if not name:
            self.error(row, "name", _("单位名称不能为空"))
            ok = False
        elif len(name) > 150:
            self.error(row, "name", _("单位名称过长（最多 150 个字）"))
            ok = False
        kind_text = _text(values, "org_kind")
        kind = _lookup_choice(ORG_KINDS, kind_text) if kind_text else None
        if kind is None:
            message = _("无法识别的类别“%(v)s”") % {"v": kind_text} if kind_text else _("类别不能为空")
            self.error(row, "org_kind", message)
            ok = False
        data = {
            "name": name,
            "kind": kind,
            "contact_name": _text(values, "contact_name")[:50],
            "address": _text(values, "address")[:200],
        }
        for key, validate in (("credit_code", validate_credit_code), ("contact_phone", validate_phone)):
            text = _text(values, key)
            data[key] = ""
            if text:
                try:
                    data[key] = validate(text)
                except ValidationError as exc:
                    self.error(row, key, exc.messages[0])
                    ok = False
        if not ok:
            return None
        match = ("code", data["credit_code"]) if data["credit_code"] else ("name", region.pk, name)
        first = self.first_row.setdefault(match, row)
        if first != row:
            what = "credit_code" if data["credit_code"] else "name"
            self.error(row, what, _("与第 %(row)s 行是同一单位") % {"row": first})
            return None
        return row, region, match, data

    def check_batch(self, items: list) -> None:
        codes = [m[1] for _r, _g, m, _d in items if m[0] == "code"]
        names = [m[2] for _r, _g, m, _d in items if m[0] == "name"]
        by_code = dict(Organisation.objects.filter(credit_code__in=codes).values_list("credit_code", "pk"))
        by_name = {
            (region_id, name): pk
            for region_id, name, pk in Organisation.objects.filter(name__in=names).values_list(
                "region_id", "name", "pk"
            )
        }
        for row, region, match, data in items:
            pk = by_code.get(match[1]) if match[0] == "code" else by_name.get((region.pk, match[2]))
            if pk is None:
                self.ctx.spool.add("new", (region.pk, data))
            elif self.ctx.update_existing:
                changes = {k: v for k, v in data.items() if v not in ("", None)}
                self.ctx.spool.add("update", (pk, {**changes, "region_id": region.pk}))
            else:
                message = _("该统一社会信用代码已登记") if match[0] == "code" else _("该区域已有同名单位")
                self.error(row, "credit_code" if match[0] == "code" else "name", message)

    def write(self, progress: Progress) -> None:
        for batch in self.ctx.spool.batches("new"):
            Organisation.objects.bulk_create(
                [
                    Organisation(
                        region_id=region_id,
                        kind=d["kind"],
                        name=d["name"],
                        credit_code=d["credit_code"],
                        contact_name=d["contact_name"],
                        contact_phone=d["contact_phone"] or None,
                        address=d["address"],
                        created_at=self.ctx.now,
                    )
                    for region_id, d in batch
                ]
            )
            self.ctx.counts["created"] += len(batch)
            progress.advance(len(batch))
        for batch in self.ctx.spool.batches("update"):
            self.ctx.counts["updated"] += _update_by_pk(Organisation, batch)
            progress.advance(len(batch))


IMPORTERS: dict[str, type[Importer]] = {
    ImportKind.RESIDENTS: ResidentImporter,
    ImportKind.HOUSEHOLDS: HouseholdImporter,
    ImportKind.BUILDINGS: BuildingImporter,
    ImportKind.ORGANISATIONS: OrganisationImporter,
}


# ---------------------------------------------------------------- running a job


class ImportRejected(DomainError):
    """The file has problems; nothing was written. `errors` are the first ones, `total` all of them."""

    def __init__(self, errors: list[RowError], total: int, counts: dict | None = None):
        super().__init__(
            "import.rejected",
            _("文件有 %(n)s 处错误，未导入任何数据") % {"n": total},
            details=[e.as_dict() for e in errors],
        )
        self.errors = errors
        self.total = total
        self.counts = {**(counts or {}), "errors": total}


def run_job(
    job_id: int, *, actor=None, on_progress: Callable[[str, int, int], None] | None = None
) -> ImportJob:
    """Run a queued import job to its end (done, rejected or failed) and return it.

    `actor` defaults to the user who created the job; the command line passes SYSTEM. A job that is
    not queued any more (another worker took it) is returned untouched.
    """
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING
    )
    job = ImportJob.objects.select_related("region", "created_by").get(pk=job_id)
    if not claimed:
        return job
    progress = Progress(job.pk, on_progress)
    status, counts, errors = ImportStatus.FAILED, {}, []
    try:
        actor = actor or job.created_by
        if actor is None:
            raise DomainError("import.no_actor", _("导入人的账号已不存在"))
        scopes.require(actor, "people.import", job.region)
        counts = _execute(job, actor, progress)
        status = ImportStatus.DONE
    except ImportRejected as exc:
        status, errors, counts = ImportStatus.REJECTED, [e.as_dict() for e in exc.errors], exc.counts
    except DomainError as exc:  # the file as a whole (unreadable, no header) or the permission
        status, errors = ImportStatus.REJECTED, [RowError(0, "", exc.message).as_dict()]
        counts = {"errors": 1}
    except Exception:
        logger.exception("import job %s failed", job_id)
        errors = [RowError(0, "", _("导入时发生系统错误，未导入任何数据；请联系管理员查看日志")).as_dict()]
        counts = {"errors": 1}
    finally:
        progress.end()
        _discard_upload(job)
    if status == ImportStatus.REJECTED and actor is not None:
        with transaction.atomic():
            audit.record(
                actor,
                "people.import_rejected",
                job,
                region=job.region,
                object_repr=job.file_name,
                after={
                    "kind": job.kind,
                    "errors": counts.get("errors", len(errors)),
                    "rows": counts.get("rows"),
                },
            )
    ImportJob.objects.filter(pk=job.pk).update(
        status=status,
        counts=counts,
        errors=errors,
        total_rows=counts.get("rows", progress.total),
        done_rows=counts.get("rows", progress.done),
        finished_at=clock.now(),
    )
    job.refresh_from_db()
    return job


def _execute(job: ImportJob, actor, progress: Progress) -> dict:
    importer_class = IMPORTERS[job.kind]
    columns = importer_class.columns()
    reader = SheetReader(Path(job.stored_path), aliases_for(columns), set(importer_class.required))
    spool = Spool(imports_dir())
    try:
        ctx = Context(
            job=job,
            actor=actor,
            region=job.region,
            header=reader.header,
            errors=ErrorLog(reader.header, columns),
            spool=spool,
            now=clock.now(),
            today=clock.today(),
        )
        importer = importer_class(ctx)
        importer.check_header(reader.header)

        importer.estimated_rows = reader.estimated_rows()
        progress.start("validating", importer.estimated_rows)
        rows = importer.validate(reader.rows(), progress)
        progress.total = rows

        counts = {"rows": rows, "ignored_columns": reader.header.ignored, "dry_run": job.dry_run}
        if ctx.errors.total:
            raise ImportRejected(ctx.errors.sorted(), ctx.errors.total, counts)
        if rows == 0:
            raise DomainError("import.empty", _("表格中没有数据行"))
        if job.dry_run:
            counts.update(
                {"to_create": spool.counts["new"], "to_update": spool.counts["update"], "errors": 0}
            )
            return counts

        progress.start("writing", importer.rows_to_write, writing=True)
        try:
            with transaction.atomic():
                importer.write(progress)
                counts.update(ctx.counts)
                counts["errors"] = 0
                audit.record(
                    actor,
                    "people.import",
                    job,
                    region=job.region,
                    object_repr=job.file_name,
                    after={
                        "kind": job.kind,
                        "file": job.file_name,
                        "update_existing": job.update_existing,
                        **{k: v for k, v in counts.items() if k not in ("ignored_columns", "dry_run")},
                    },
                )
        except IntegrityError as exc:
            # Validation ran outside the transaction; someone registered the same number meanwhile.
            logger.warning("import job %s hit a conflict while writing: %s", job.pk, exc)
            error = RowError(0, "", _("写入时发现其他人同时登记了相同的数据，本次未导入任何数据，请重新导入"))
            raise ImportRejected([error], 1, {"rows": rows}) from exc
        return counts
    finally:
        spool.close()


STALE_AFTER = dt.timedelta(hours=12)


def sweep_stale(now: dt.datetime | None = None) -> dict:
    """Clear up after imports whose process died (killed worker, restart): such a job never committed,
    so it is marked failed; files it left under var/imports (upload, spool) are removed."""
    now = now or clock.now()
    cutoff = now - STALE_AFTER
    message = _("导入中断（后台进程已停止），未导入任何数据；请重新上传")
    failed = ImportJob.objects.filter(
        status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING], created_at__lt=cutoff
    ).update(
        status=ImportStatus.FAILED,
        finished_at=now,
        errors=[RowError(0, "", message).as_dict()],
        counts={"errors": 1},
    )
    live = set(
        ImportJob.objects.filter(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]).values_list(
            "stored_path", flat=True
        )
    )
    removed = 0
    for path in imports_dir().iterdir():
        if str(path) in live or path.stat().st_mtime >= cutoff.timestamp():
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed += 1
    return {"failed": failed, "removed": removed}


def _discard_upload(job: ImportJob) -> None:
    """Uploaded sheets hold personal data in clear: keep them no longer than the import needs."""
    path = Path(job.stored_path)
    try:
        if path.resolve().is_relative_to(imports_dir().resolve()):
            path.unlink(missing_ok=True)
    except OSError:
        logger.warning("could not remove uploaded file %s", path)


# ---------------------------------------------------------------- the template


def template_xlsx(kind: str) -> bytes:
    """The downloadable template: the header, one example row, and a sheet "填写说明" for every column."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    if kind not in COLUMNS:
        raise DomainError("import.unknown_kind", _("未知的台账类型“%(k)s”") % {"k": kind})
    columns = COLUMNS[kind]
    wb = Workbook()
    ws = wb.active
    ws.title = str(ImportKind(kind).label)
    ws.append([c.title for c in columns])
    ws.append([c.example for c in columns])
    required_fill = PatternFill("solid", fgColor="FDE9E7")
    for i, column in enumerate(columns, start=1):
        head = ws.cell(row=1, column=i)
        head.font = Font(bold=True, color="C00000" if column.required else "000000")
        if column.required:
            head.fill = required_fill
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = max(10, len(column.title) * 2 + 4, len(str(column.example)) + 4)
        if column.text:
            # Text format for the column, so Excel keeps ID numbers and codes digit for digit.
            ws.column_dimensions[letter].number_format = "@"
            ws.cell(row=2, column=i).number_format = "@"
    ws.freeze_panes = "A2"

    notes = wb.create_sheet("填写说明")
    notes.append(["列名", "是否必填", "可填写的值", "说明", "也可用的列名"])
    for column in columns:
        notes.append(
            [
                column.title,
                "必填" if column.required else "选填",
                column.values,
                column.note,
                "、".join(column.aliases),
            ]
        )
    notes.append([])
    for line in (
        "第一行是列名，从第二行起每行一条记录；示例行请删除或改写。列的顺序不限，不需要的选填列可以删除。",
        "导入前会检查每一行：只要有一处错误，整个文件都不会导入，并列出每处错误的行号、列名和原因；改正后重新导入即可。",
        "可以先选择“仅校验”，只检查不写入。",
        "选择“按证件号更新已有人员”时，证件号码已登记的人员会被更新：只更新表中填写了内容的单元格，空白单元格不会清除原有信息。",
        "也可以导入 CSV 文件（UTF-8 或 Excel 默认的 GBK 编码均可）。",
    ):
        notes.append([line])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDE", (16, 10, 50, 60, 40), strict=True):
        notes.column_dimensions[letter].width = width
    for row in notes.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
