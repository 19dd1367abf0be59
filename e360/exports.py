"""What every CSV export shares (survey results, an initiative's estimates, the velocity gains)."""

from __future__ import annotations

# A cell starting with one of these is run as a formula by spreadsheets (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula: names and questions come from people."""
    return f"'{text}" if text[:1] in FORMULA_STARTS else text
