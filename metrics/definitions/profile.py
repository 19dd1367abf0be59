"""Profile: the settings every definition reads (e360's defaults, or DevLake's choices)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from e360.stats import Method
from metrics.definitions.records import DeploymentRec
from metrics.definitions.vocabulary import (
    LINK_COMMIT_RANGE,
    LINK_MERGED_BETWEEN,
    LINK_SENT,
    MEDIAN_KINDS,
    BandsYear,
    LeadTimeFormula,
    MedianKind,
)

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class Profile:
    """The choices a definition depends on. ``Profile.default()`` is e360; ``Profile.devlake()`` reproduces DevLake.

    - ``production_patterns``: fnmatch patterns, case-insensitive (``prod-*`` works);
      ``service_production_patterns`` overrides them per service.
    - ``incident_link_window`` (W): how long after a deployment an incident, or a
      hotfix, is still blamed on it. ``None`` = no cap (DevLake).
    - ``devlake_compatible``: durations in whole minutes rounded up (a span that rounds
      to a negative number of minutes is empty), as DevLake stores them.
    - ``median_kind``: ``interpolated`` (PostgreSQL ``percentile_cont``) or ``lower``
      (DevLake's ``max(x) where percent_rank() <= q``).
    - ``lead_time_formula``: ``first_commit`` (deployed - first commit) or
      ``devlake_cycle`` (coding + (merged - opened) + deploy, missing parts as 0).
    - ``change_link_rules``: which of the three change-linking rules may be used.
    - ``service_groups``: service → group. Changes and incidents are matched to
      deployments within a group; a service not listed is its own group. DevLake's
      "project scope" is a group of CI scopes, repos and boards.
    """

    name: str = "e360"
    production_patterns: tuple[str, ...] = ("production", "prod", "prd")
    service_production_patterns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    incident_link_window: timedelta | None = timedelta(days=7)
    devlake_compatible: bool = False
    median_kind: MedianKind = Method.INTERPOLATED
    lead_time_formula: LeadTimeFormula = LeadTimeFormula.FIRST_COMMIT
    change_link_rules: tuple[int, ...] = (LINK_SENT, LINK_COMMIT_RANGE, LINK_MERGED_BETWEEN)
    hotfix_pattern: str = r"(?i)hotfix|revert"
    bands_year: BandsYear = 2023
    time_zone: str = "UTC"
    review_wait: timedelta = timedelta(hours=24)
    service_groups: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.median_kind not in MEDIAN_KINDS:
            raise ValueError(f"median_kind must be 'interpolated' or 'lower', not {self.median_kind!r}")
        if self.bands_year not in (2021, 2023):
            raise ValueError(f"bands_year must be 2021 or 2023, not {self.bands_year!r}")
        if self.lead_time_formula not in tuple(LeadTimeFormula):
            raise ValueError(f"unknown lead_time_formula {self.lead_time_formula!r}")
        if not set(self.change_link_rules) <= {LINK_SENT, LINK_COMMIT_RANGE, LINK_MERGED_BETWEEN}:
            raise ValueError(f"change_link_rules must be among 1, 2, 3, not {self.change_link_rules!r}")
        if self.incident_link_window is not None and self.incident_link_window < timedelta(0):
            raise ValueError("incident_link_window cannot be negative")
        re.compile(self.hotfix_pattern)
        ZoneInfo(self.time_zone)

    @classmethod
    def default(cls, **overrides: Any) -> Profile:
        """e360's definitions (docs/metrics.md#definitions)."""
        return cls(**overrides)

    @classmethod
    def devlake(cls, **overrides: Any) -> Profile:
        """Apache DevLake's choices: environment ``PRODUCTION``, no cap on incident linking,
        whole minutes rounded up, lower median, cycle-time lead time, commit ranges only
        (DevLake has no "merged between deployments" fallback), 2023 bands."""
        settings: dict[str, Any] = {
            "name": "devlake",
            "production_patterns": ("production",),
            "incident_link_window": None,
            "devlake_compatible": True,
            "median_kind": Method.LOWER,
            "lead_time_formula": LeadTimeFormula.DEVLAKE_CYCLE,
            "change_link_rules": (LINK_SENT, LINK_COMMIT_RANGE),
        }
        settings.update(overrides)
        return cls(**settings)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_production_environment(self, environment: str | None, service: str | None = None) -> bool:
        """Does ``environment`` match the service's production patterns (case-insensitive fnmatch)?"""
        if not environment or not environment.strip():
            return False
        patterns = self.production_patterns
        if service is not None and service in self.service_production_patterns:
            patterns = self.service_production_patterns[service]
        env = environment.strip().lower()
        return any(fnmatchcase(env, pattern.lower()) for pattern in patterns)

    def is_hotfix(self, deployment: DeploymentRec) -> bool:
        """Marked hotfix: the flag, or its ref (branch/tag) or title matching ``hotfix_pattern``."""
        if deployment.is_hotfix:
            return True
        return any(text and re.search(self.hotfix_pattern, text) for text in (deployment.ref, deployment.title))

    def group_of(self, service: str) -> str:
        """The linking group of a service (the service itself unless ``service_groups`` says otherwise)."""
        return self.service_groups.get(service, service)


_DEFAULT_PROFILE = Profile()


def _profile(profile: Profile | None) -> Profile:
    return profile if profile is not None else _DEFAULT_PROFILE
