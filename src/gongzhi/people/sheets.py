"""Reading the spreadsheets communities keep (.xlsx and .csv), one row at a time.

Files are streamed: an .xlsx is opened read-only (openpyxl parses the sheet XML as it goes) and a
.csv is decoded incrementally, so memory does not grow with the file. Row numbers are the ones the
user sees in Excel: the first line of the file is row 1, whether or not it is the header.

Chinese Excel saves "CSV" in the system code page (GBK), so a CSV that is not UTF-8 (with or without
BOM) is read as GB18030, the superset of GBK.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from gongzhi.core.errors import DomainError

XLSX, CSV = "xlsx", "csv"
MAX_HEADER_SEARCH = 10  # title lines above the header ("马宗岭社区实有人口台账") are skipped
_SNIFF_BYTES = 64 * 1024


class SheetError(DomainError):
    """The file as a whole cannot be read (wrong type, broken, no header)."""

    def __init__(self, message: str):
        super().__init__("import.bad_file", message)


def sniff_format(path: Path) -> str:
    """XLSX or CSV, decided from the content (an upload's name and type can be anything)."""
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if head.startswith(b"PK\x03\x04"):
        if not zipfile.is_zipfile(path):
            raise SheetError(_("文件已损坏，无法打开"))
        return XLSX
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # the old binary .xls (OLE2) format
        raise SheetError(_("不支持旧版 .xls 文件，请在 Excel 中“另存为” .xlsx 后再导入"))
    if b"\x00" in head:
        raise SheetError(_("文件不是 .xlsx 或 .csv 表格"))
    return CSV


def detect_encoding(path: Path) -> str:
    """utf-8-sig (a BOM is dropped when present) if the file is UTF-8, otherwise gb18030."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return "gb18030"
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


@dataclass
class Header:
    """The header row: where it is, the user's own column titles, and which column holds each key."""

    row: int
    titles: list[str]
    positions: dict[str, int]  # key -> 0-based column index
    ignored: list[str]  # titles that match no known column (序号, 备注 …)

    def title_of(self, key: str) -> str:
        index = self.positions.get(key)
        return self.titles[index] if index is not None else ""


_NOISE = re.compile(r"[\s*＊:：]|[（(](?:必填|选填|可选|必须)[)）]")


def normalise_title(title) -> str:
    """How a column title is compared: no spaces, required-markers or colons; half-width brackets."""
    text = "" if title is None else str(title)
    text = _NOISE.sub("", text)
    return text.replace("（", "(").replace("）", ")").lower()


def match_header(cells: list, aliases: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    """Map a row of titles to column keys through `aliases` (normalised title -> key).

    The first column carrying a key wins; a later duplicate title is ignored like an unknown one.
    """
    positions: dict[str, int] = {}
    ignored = []
    for index, cell in enumerate(cells):
        title = normalise_title(cell)
        if not title:
            continue
        key = aliases.get(title)
        if key is None or key in positions:
            ignored.append(str(cell).strip())
        else:
            positions[key] = index
    return positions, ignored


class SheetReader:
    """Rows of one file: `header` first (found among the first lines), then `rows()`.

    `rows()` can be called again for a second pass; each call re-reads the file from the start.
    """

    def __init__(self, path: Path, aliases: dict[str, str], required: set[str]):
        self.path = Path(path)
        self.format = sniff_format(self.path)
        self.encoding = detect_encoding(self.path) if self.format == CSV else None
        self.aliases = aliases
        self.header = self._find_header(required)

    def _raw_rows(self) -> Iterator[tuple[int, list]]:
        """(row number, cell values) of every line, blank ones included."""
        if self.format == XLSX:
            yield from self._xlsx_rows()
        else:
            yield from self._csv_rows()

    def _open_workbook(self, f):
        from openpyxl import load_workbook

        try:
            # A file object, not the path: stored uploads have no ".xlsx" for openpyxl to check.
            return load_workbook(f, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for broken or foreign zip files
            raise SheetError(_("无法读取该 .xlsx 文件：文件已损坏或不是 Excel 表格")) from exc

    def _xlsx_rows(self) -> Iterator[tuple[int, list]]:
        with open(self.path, "rb") as f:
            wb = self._open_workbook(f)
            try:
                ws = wb.worksheets[0]
                # Some programs write a wrong sheet size; without it openpyxl reads to the real end.
                ws.reset_dimensions()
                for number, row in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
                    yield number, list(row)
            finally:
                wb.close()

    def _csv_rows(self) -> Iterator[tuple[int, list]]:
        number = 0
        with open(self.path, encoding=self.encoding, newline="") as f:
            first = f.readline()
            f.seek(0)
            # Tab-separated "CSV" (Excel's Unicode text export) is common enough to accept.
            delimiter = "\t" if first.count("\t") > first.count(",") else ","
            try:
                for number, row in enumerate(csv.reader(f, delimiter=delimiter), start=1):
                    yield number, row
            except (UnicodeDecodeError, csv.Error) as exc:
                raise SheetError(
                    _("文件第 %(n)s 行附近无法读取：%(e)s") % {"n": number + 1, "e": exc}
                ) from exc

    def _find_header(self, required: set[str]) -> Header:
        best = None
        for number, cells in self._raw_rows():
            if number > MAX_HEADER_SEARCH:
                break
            positions, ignored = match_header(cells, self.aliases)
            if not positions:
                continue
            if best is None or len(positions) > len(best.positions):
                titles = ["" if c is None else str(c).strip() for c in cells]
                best = Header(number, titles, positions, ignored)
            if required <= positions.keys():
                break
        if best is None:
            raise SheetError(
                _("找不到表头：前 %(n)s 行中没有可识别的列名，请使用导入模板") % {"n": MAX_HEADER_SEARCH}
            )
        missing = [key for key in required if key not in best.positions]
        if missing:
            names = "、".join(f"“{self._canonical_title(k)}”" for k in sorted(missing))
            raise SheetError(_("第 %(row)s 行表头缺少必填列 %(names)s") % {"row": best.row, "names": names})
        return best

    def _canonical_title(self, key: str) -> str:
        return next((t for t, k in self.aliases.items() if k == key), key)

    def rows(self) -> Iterator[tuple[int, dict]]:
        """(row number, {key: cell value}) of each data row below the header; blank rows skipped."""
        positions = list(self.header.positions.items())
        for number, cells in self._raw_rows():
            if number <= self.header.row:
                continue
            width = len(cells)
            values = {key: cells[i] for key, i in positions if i < width}
            if any(_filled(v) for v in values.values()):
                yield number, values

    def estimated_rows(self) -> int:
        """A quick estimate of the data rows, for progress before validation has counted them."""
        if self.format == XLSX:
            with open(self.path, "rb") as f:
                wb = self._open_workbook(f)
                try:
                    max_row = wb.worksheets[0].max_row or 0
                finally:
                    wb.close()
            return max(0, max_row - self.header.row)
        lines = 0
        with open(self.path, "rb") as f:
            while chunk := f.read(1 << 20):
                lines += chunk.count(b"\n")
        return max(0, lines - self.header.row + 1)


def _filled(value) -> bool:
    return value is not None and (not isinstance(value, str) or value.strip() != "")


def cell_text(value) -> str:
    """A cell as text: whole numbers without ".0" (Excel stores typed numbers as floats)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?[eE]\+?\d+$")


def number_lost_to_excel(value) -> bool:
    """An ID number Excel turned into a number (5.10903E+17): its last digits are gone for good."""
    if isinstance(value, float):
        return value >= 1e15
    return isinstance(value, str) and bool(_SCIENTIFIC.match(value.strip()))
