"""The text of a catalog file, from disk or given directly.

Both parsers accept a ``Path`` or the content itself; this turns either into
text (UTF-8, byte-order mark dropped) and the name to use in error messages,
or a ``CatalogError`` when the file cannot be read.
"""

from __future__ import annotations

from pathlib import Path

from e360.catalog_files.records import CatalogError


def read_source(source: Path | str, name: str | None) -> tuple[str | None, str, CatalogError | None]:
    """(text, display name, error). A Path is read from disk; a str is the content itself."""
    if isinstance(source, Path):
        display = name or str(source)
        try:
            return source.read_bytes().decode("utf-8-sig"), display, None
        except OSError as exc:
            return None, display, CatalogError(f"cannot be read: {exc.strerror or exc}", file=display)
        except UnicodeDecodeError:
            return None, display, CatalogError("is not UTF-8 text", file=display)
    return source.removeprefix("\ufeff"), name or "<text>", None
