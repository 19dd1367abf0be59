"""Read teams, people and services from Backstage catalog files and CSV files.

Pure parsing and validation, no Django: the ``import_catalog`` command reads
files with these functions, and ``e360.services.catalog_import`` checks the
records against the database (``resolve``) and writes them.

Conventions (docs/catalog-import.md is the user-facing version):

- A value a file does not mention is left as it is on existing rows (and gets
  the model default on new ones): an absent annotation or CSV column is
  ``None`` in a record. A value that is present but empty clears the field.
- Backstage names become slugs and handles: lower-cased, dots turned into
  hyphens (``jane.doe`` → ``jane-doe``), because they appear in URLs.
- Entity references may carry a kind and a namespace (``user:default/alice``);
  the namespace is dropped, and a kind that contradicts the field is an error.
- Parsing never stops at the first problem: every ``CatalogError`` is
  collected so that one run reports them all.
"""

from __future__ import annotations

from e360.catalog_files.backstage import (
    BACKSTAGE_KINDS,
    GITHUB_LOGIN_ANNOTATION,
    GITHUB_PROJECT_ANNOTATION,
    GITLAB_INSTANCE_ANNOTATION,
    GITLAB_LOGIN_ANNOTATION,
    GITLAB_PROJECT_ANNOTATION,
    LEADS_ANNOTATION,
    PRODUCTION_ENVIRONMENTS_ANNOTATION,
    REPOSITORIES_ANNOTATION,
    TIER_ANNOTATION,
    TITLE_ANNOTATION,
    parse_backstage,
)
from e360.catalog_files.csv_files import PERSON_COLUMNS, SERVICE_COLUMNS, TEAM_COLUMNS, csv_kind, parse_csv
from e360.catalog_files.dispatch import read_catalog_file
from e360.catalog_files.fields import (
    EMAIL_RE,
    MAX_EMAIL,
    MAX_LIFECYCLE,
    MAX_LOGIN,
    MAX_NAME,
    MAX_SLUG,
    MAX_TITLE,
    SLUG_RE,
    TEAM_KINDS,
    backstage_slug,
    is_email,
    is_slug,
    parse_entity_ref,
    parse_tier,
    split_list,
    team_kind,
)
from e360.catalog_files.records import (
    CatalogError,
    CatalogInvalid,
    CatalogRecords,
    MembershipRecord,
    Origin,
    PersonRecord,
    Role,
    ServiceRecord,
    TeamRecord,
)
from e360.catalog_files.resolution import ExistingCatalog, ResolvedCatalog, resolve
from e360.catalog_files.summary import Counts, ImportSummary

__all__ = [
    "BACKSTAGE_KINDS",
    "EMAIL_RE",
    "GITHUB_LOGIN_ANNOTATION",
    "GITHUB_PROJECT_ANNOTATION",
    "GITLAB_INSTANCE_ANNOTATION",
    "GITLAB_LOGIN_ANNOTATION",
    "GITLAB_PROJECT_ANNOTATION",
    "LEADS_ANNOTATION",
    "MAX_EMAIL",
    "MAX_LIFECYCLE",
    "MAX_LOGIN",
    "MAX_NAME",
    "MAX_SLUG",
    "MAX_TITLE",
    "PERSON_COLUMNS",
    "PRODUCTION_ENVIRONMENTS_ANNOTATION",
    "REPOSITORIES_ANNOTATION",
    "SERVICE_COLUMNS",
    "SLUG_RE",
    "TEAM_COLUMNS",
    "TEAM_KINDS",
    "TIER_ANNOTATION",
    "TITLE_ANNOTATION",
    "CatalogError",
    "CatalogInvalid",
    "CatalogRecords",
    "Counts",
    "ExistingCatalog",
    "ImportSummary",
    "MembershipRecord",
    "Origin",
    "PersonRecord",
    "ResolvedCatalog",
    "Role",
    "ServiceRecord",
    "TeamRecord",
    "backstage_slug",
    "csv_kind",
    "is_email",
    "is_slug",
    "parse_backstage",
    "parse_csv",
    "parse_entity_ref",
    "parse_tier",
    "read_catalog_file",
    "resolve",
    "split_list",
    "team_kind",
]
