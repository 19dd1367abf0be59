"""The named values the definitions share: DORA levels, trends, option kinds, link rules,
failure causes and rework reasons, and the status words that mean success or failure."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from e360.stats import Method


class Level(StrEnum):
    """A DORA performance level (``bands``), best first."""

    ELITE = "elite"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Trend(StrEnum):
    """A figure against the previous window (``summary.compare``), or a score against the previous wave."""

    BETTER = "better"
    WORSE = "worse"
    SAME = "same"


# The percentiles the profiles choose between (``Profile.median_kind``): e360's and DevLake's.
MedianKind = Literal[Method.INTERPOLATED, Method.LOWER]
MEDIAN_KINDS: tuple[MedianKind, ...] = (Method.INTERPOLATED, Method.LOWER)
BandsYear = Literal[2021, 2023]


class LeadTimeFormula(StrEnum):
    """How a change's lead time is measured (``Profile.lead_time_formula``)."""

    FIRST_COMMIT = "first_commit"  # deployed - first commit
    DEVLAKE_CYCLE = "devlake_cycle"  # coding + (merged - opened) + deploy, missing parts as 0


# How a production deployment's changes were found (stored on Deployment.link_rule).
LINK_NONE = 0
LINK_SENT = 1
LINK_COMMIT_RANGE = 2
LINK_MERGED_BETWEEN = 3

# How an incident was linked to a deployment (stored on Incident.link_rule).
INCIDENT_EXPLICIT = "explicit"
INCIDENT_WINDOW = "window"

# Why a production deployment failed (CFR) and why it counts as rework.
CAUSE_INCIDENT = "incident"
CAUSE_ROLLBACK = "rollback"
CAUSE_HOTFIX = "hotfix"
REWORK_ROLLBACK = "rollback"
REWORK_HOTFIX = "hotfix"
REWORK_INCIDENT_OPEN = "incident_open"

SUCCESS = frozenset({"success", "succeeded", "successful"})
_FAILURE = frozenset({"failure", "failed", "error", "errored", "timed_out", "timeout", "startup_failure"})


def is_success(status: str | None) -> bool:
    return (status or "").strip().lower() in SUCCESS


def is_failure(status: str | None) -> bool:
    return (status or "").strip().lower() in _FAILURE
