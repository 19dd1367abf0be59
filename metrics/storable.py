"""What the database can store and read back: one home for the rules every way in applies.

- Text: PostgreSQL's text and jsonb refuse the NUL character (SQLite would store it
  silently), and no database can encode a lone UTF-16 surrogate (``"\\ud800"``, which
  JSON can escape and Python's ``json`` decodes) as UTF-8. Input carrying either is
  refused with a 4xx: it will not become storable by being sent again.
- Times: outside ``EARLIEST`` … ``LATEST`` a timestamp is a mistake, and near year 1 or
  9999 a UTC offset takes it out of Python's datetime range (``9999-12-31T23:59:59-14:00``
  is year 10000 in UTC, which PostgreSQL stores and Python cannot read back).

No Django: the JSON API's schemas, the DevLake webhook and the refresh import it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

NUL = "must not contain NUL characters"
# Also what the JSON API says for pydantic's "string_unicode" error, which it raises first.
LONE_SURROGATE = "must not contain a lone surrogate (e.g. \\ud800): it is not valid Unicode text"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return NUL if found.group() == "\x00" else LONE_SURROGATE


def storable_text(value: str) -> str:
    """``value``, or ValueError saying why it cannot be stored (a validator for schemas)."""
    if problem := text_problem(value):
        raise ValueError(problem)
    return value


def json_text_problem(value: Any, where: str = "") -> str | None:
    """The first string (key or value) of a decoded JSON document that cannot be stored,
    as ``"<path> <problem>"`` (e.g. ``deploymentCommits[0].commitMsg must not contain …``)."""
    if isinstance(value, str):
        problem = text_problem(value)
        return f"{where or 'the body'} {problem}" if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else key
            if problem := text_problem(key):
                return f"a key of {where or 'the body'} {problem}"
            if problem := json_text_problem(item, path):
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if problem := json_text_problem(item, f"{where}[{index}]"):
                return problem
    return None


def time_problem(value: datetime) -> str | None:
    """Why an aware ``value`` is not a time e360 keeps, or None."""
    if EARLIEST <= value < LATEST:
        return None
    return f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"
