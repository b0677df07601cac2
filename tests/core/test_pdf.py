"""PDF rendering: Chinese text must be embedded in the file and come back out as the same characters."""

import io
from urllib.parse import quote

import pytest
from pypdf import PdfReader
from reportlab.platypus import Paragraph

from gongzhi.core import pdf


def _reader(content: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(content))


def _embedded_fonts(reader: PdfReader) -> set[str]:
    """Names of fonts whose program is inside the file (TrueType programs live in FontFile2).

    reportlab also lists its default Helvetica, a standard PDF font that is never embedded.
    """
    names = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if "/FontFile2" in font.get("/FontDescriptor", {}):
                names.add(str(font["/BaseFont"]))
    return names


def test_chinese_text_is_embedded_and_extracted_back():
    s = pdf.styles()
    content = pdf.build(
        [
            Paragraph("业主大会表决票", s["title"]),
            Paragraph("表决事项：<b>续聘物业服务企业</b>", s["body"]),
            pdf.table([["事项", "意见"], ["续聘物业", "同意"], ["A&B <1>", None]], col_widths=[80, 60]),
        ],
        title="业主大会表决票",
        author="幸福里社区",
    )

    assert content.startswith(b"%PDF")
    reader = _reader(content)
    text = reader.pages[0].extract_text()
    for expected in ("业主大会表决票", "续聘物业服务企业", "同意", "A&B <1>", "第 1 页"):
        assert expected in text
    assert reader.metadata.title == "业主大会表决票"
    assert reader.metadata.author == "幸福里社区"
    fonts = _embedded_fonts(reader)
    assert fonts and all(pdf.cjk_font_name() in name for name in fonts)


def test_every_page_is_numbered_and_table_header_repeats():
    rows = [["编号", "房号"]] + [[str(i), f"{i}号楼"] for i in range(1, 120)]
    reader = _reader(pdf.build([pdf.table(rows)], title="房屋清单"))

    assert len(reader.pages) >= 2
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"第 {number} 页" in text
        assert "房号" in text
    assert "119号楼" in reader.pages[-1].extract_text()


def test_styles_use_the_cjk_font_with_cjk_wrapping():
    s = pdf.styles()
    assert set(s) == {"title", "heading", "body", "small", "cell"}
    assert {style.fontName for style in s.values()} == {pdf.cjk_font_name()}
    assert {style.wordWrap for style in s.values()} == {"CJK"}


def test_response_is_inline_private_pdf_with_utf8_filename():
    response = pdf.pdf_response(b"%PDF-1.4 test", "业主大会表决票.pdf")

    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private"
    assert response["Content-Disposition"] == "inline; filename*=utf-8''" + quote("业主大会表决票.pdf")
    assert response.content == b"%PDF-1.4 test"


def test_missing_font_names_what_to_install(monkeypatch):
    monkeypatch.setattr(pdf, "_font_candidates", lambda: iter(()))
    pdf.cjk_font_name.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="paperang-p2-fonts-cjk"):
            pdf.cjk_font_name()
    finally:
        pdf.cjk_font_name.cache_clear()
