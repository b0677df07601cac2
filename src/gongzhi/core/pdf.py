"""PDF documents (certificates, reports) rendered with reportlab and an embedded Chinese font.

reportlab embeds only TrueType outlines (glyf), not CFF-flavoured OpenType such as the Noto CJK
.otf/.ttc files most Linux distributions ship, so the font comes from the `paperang-p2-fonts-cjk`
wheel (WenQuanYi Micro Hei, Apache-2.0) installed with the project; Debian's `fonts-wqy-microhei`
is the fallback. Fonts are subset on embedding, so a one-page document stays small.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

_SYSTEM_FONTS = (("WenQuanYiMicroHei", Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")),)


def _font_candidates() -> Iterator[tuple[str, Path]]:
    try:
        from importlib.resources import files

        yield "WenQuanYiMicroHei", Path(str(files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc"))
    except ModuleNotFoundError:
        pass
    yield from _SYSTEM_FONTS


@functools.cache
def cjk_font_name() -> str:
    """Register the Chinese TrueType font with reportlab (once per process) and return its name."""
    for name, path in _font_candidates():
        if path.is_file():
            pdfmetrics.registerFont(TTFont(name, str(path)))
            # The font has no bold or italic face; map them to the regular one so <b> and <i> still render.
            pdfmetrics.registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)
            return name
    raise RuntimeError(
        gettext(
            "未找到可嵌入 PDF 的中文 TrueType 字体：请安装 Python 包 paperang-p2-fonts-cjk，"
            "或 Debian 软件包 fonts-wqy-microhei"
        )
    )


def styles() -> dict[str, ParagraphStyle]:
    """Paragraph styles in the Chinese font; a fresh dict each call, so callers may adjust them."""
    font = cjk_font_name()

    def style(name: str, size: float, **extra) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=font, fontSize=size, leading=size * 1.5, wordWrap="CJK", **extra)

    return {
        "title": style("title", 18, alignment=TA_CENTER, spaceAfter=6 * mm),
        "heading": style("heading", 14, spaceBefore=4 * mm, spaceAfter=2 * mm),
        "body": style("body", 10.5, spaceAfter=2 * mm),
        "small": style("small", 8, textColor=colors.HexColor("#555555")),
        "cell": style("cell", 9),
    }


def table(rows: Iterable[Sequence], col_widths: Sequence[float] | None = None, header: bool = True) -> Table:
    """A grid table in the Chinese font; text cells wrap, flowables are kept as they are."""
    cell = styles()["cell"]

    def as_flowable(value) -> Flowable:
        if isinstance(value, Flowable):
            return value
        # Paragraph reads markup: data such as "A&B <1>" must come out literally.
        return Paragraph(escape("" if value is None else str(value)), cell)

    data = [[as_flowable(v) for v in row] for row in rows]
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e6e6e6")))
    return Table(data, colWidths=col_widths, repeatRows=1 if header else 0, style=TableStyle(commands))


def build(flowables: Iterable[Flowable], *, title: str, author: str = "Gongzhi", pagesize=A4) -> bytes:
    """Render `flowables` into a PDF with the title in its metadata and "第 N 页" in each footer."""
    font = cjk_font_name()

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        label = gettext("第 %(page)d 页") % {"page": canvas.getPageNumber()}
        canvas.drawCentredString(pagesize[0] / 2, 10 * mm, label)
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=pagesize,
        title=str(title),
        author=str(author),
        lang="zh-CN",
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
    )
    doc.build(list(flowables), onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    """Serve a PDF inline; Chinese file names go out as an RFC 5987 `filename*=utf-8''...` parameter."""
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, filename)
    # Documents usually carry personal data: no shared cache may keep them.
    response["Cache-Control"] = "private"
    return response
