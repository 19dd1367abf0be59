"""The entry point for one file: choose the parser by the file's extension.

``.yaml`` and ``.yml`` go to the Backstage parser, ``.csv`` to the CSV parser;
any other extension is reported as a problem with the file.
"""

from __future__ import annotations

from pathlib import Path

from e360.catalog_files.backstage import parse_backstage
from e360.catalog_files.csv_files import parse_csv
from e360.catalog_files.records import CatalogError, CatalogRecords


def read_catalog_file(path: Path, name: str | None = None) -> CatalogRecords:
    """Parse ``path`` as Backstage YAML (``.yaml``, ``.yml``) or CSV (``.csv``)."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return parse_backstage(path, name)
    if suffix == ".csv":
        return parse_csv(path, name)
    records = CatalogRecords(files=[name or str(path)])
    records.errors.append(CatalogError("is neither .yaml, .yml nor .csv", file=name or str(path)))
    return records
