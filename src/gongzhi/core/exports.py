"""Spreadsheet exports (.xlsx). Personal data is masked unless the caller passes revealed values."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter


def xlsx_bytes(title: str, header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    wb = Workbook(write_only=False)
    ws = wb.active
    ws.title = title[:31]
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    widths = [len(str(h)) * 2 + 2 for h in header]
    for row in rows:
        # Codes stay text: Excel must not turn 510903014006 into 5.10903E+11.
        ws.append([str(v) if v is not None else "" for v in row])
        widths = [max(w, min(60, len(str(v)) * 2 + 2)) for w, v in zip(widths, row, strict=False)]
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_xlsx(
    target,
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence],
    *,
    widths: Sequence[int] | None = None,
) -> int:
    """Stream rows into an .xlsx at `target` (a path or a binary file); returns the number of rows.

    openpyxl's write-only mode keeps only the current row in memory, so exports of any size fit;
    column widths therefore come from the header (or `widths`), not from the data.
    """
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    for i, width in enumerate(widths or [max(10, len(str(h)) * 2 + 4) for h in header], start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    bold = []
    for h in header:
        cell = WriteOnlyCell(ws, value=str(h))
        cell.font = Font(bold=True)
        bold.append(cell)
    ws.append(bold)
    count = 0
    for row in rows:
        # Codes stay text: Excel must not turn 510903014006 into 5.10903E+11.
        ws.append([str(v) if v is not None else "" for v in row])
        count += 1
    wb.save(target)
    return count
