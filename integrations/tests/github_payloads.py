"""The GitHub payload fixtures (``fixtures/github/``, written from GitHub's documented examples)."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "github"


@cache
def _read(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def payload(name: str) -> Any:
    """A fresh copy of ``fixtures/github/<name>.json``, free to change."""
    return copy.deepcopy(_read(name))
