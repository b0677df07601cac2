"""Numbers as Chinese documents write them (the same on pages, in PDFs and in forms)."""

from __future__ import annotations

from decimal import Decimal


def area(value) -> str:
    """Square metres with thousands separators and two places: "1,747.00 ㎡"."""
    return f"{Decimal(value or 0):,.2f} ㎡"
