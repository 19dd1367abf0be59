"""Field validation and normalisation shared by the Backstage and CSV parsers.

Slugs, emails, team kinds, tiers, dates, entity references and separated lists, with
the column sizes of the e360 models so that an over-long value is reported here
rather than truncated or refused by the database.
"""

from __future__ import annotations

import re
from datetime import date

TEAM_KINDS = ("organization", "group", "team")
# Backstage's spec.type is free-form; these are the usual names for levels above a team.
_KIND_ALIASES = {
    "organization": "organization",
    "organisation": "organization",
    "org": "organization",
    "group": "group",
    "department": "group",
    "division": "group",
    "area": "group",
    "team": "team",
}

# Deliberately loose: one @, no spaces, a dot in the domain. Mail delivery is the real test.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The same alphabet as Django's slug validator and URL converter.
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")
_TIER_RE = re.compile(r"^(?:tier[-_ ]?)?([1-4])$", re.IGNORECASE)

# Column sizes of the e360 models, checked here so that PostgreSQL never truncates or refuses.
MAX_SLUG = 100
MAX_NAME = 200
MAX_TITLE = 200
MAX_LOGIN = 100
MAX_LIFECYCLE = 40
MAX_EMAIL = 254


def is_email(value: str) -> bool:
    return bool(EMAIL_RE.match(value)) and len(value) <= MAX_EMAIL


def is_slug(value: str) -> bool:
    return bool(SLUG_RE.match(value)) and len(value) <= MAX_SLUG


def backstage_slug(name: str) -> str:
    """A Backstage name as an e360 slug: Backstage compares names case-insensitively,
    and dots (allowed there) are not valid in e360 URLs."""
    return name.strip().lower().replace(".", "-")


def team_kind(value: str) -> str | None:
    """The e360 kind for a Backstage group type or CSV kind, or None when unknown."""
    return _KIND_ALIASES.get(value.strip().lower())


def parse_tier(value: object) -> int | None:
    """1 to 4, also written ``tier-1``, ``tier1``, ``Tier 1``; None when not a tier."""
    if isinstance(value, bool):
        return None
    match = _TIER_RE.match(str(value).strip())
    return int(match.group(1)) if match else None


def parse_entity_ref(ref: str) -> tuple[str | None, str]:
    """Split ``[kind:][namespace/]name`` into (lower-cased kind or None, name)."""
    kind: str | None = None
    rest = ref.strip()
    if ":" in rest:
        kind, rest = rest.split(":", 1)
        kind = kind.strip().lower() or None
    if "/" in rest:
        rest = rest.rsplit("/", 1)[1]
    return kind, rest.strip()


def parse_date(value: str) -> date | None:
    """An ISO date (2026-11-30); None when it is not one."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def split_list(value: str, separator: str) -> tuple[str, ...]:
    """Items of a separated list, stripped, empty ones and repeats dropped, order kept."""
    items = (item.strip() for item in value.split(separator))
    return tuple(dict.fromkeys(item for item in items if item))
