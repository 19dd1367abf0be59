"""DORA delivery metrics as pure functions: the rules of docs/metrics.md, one function each.

Standard library only, no Django. The Django side loads rows into the frozen
records below (``DeploymentRec``, ``ChangeRec``, ``IncidentRec``,
``PipelineRunRec``; ``from_row`` on each is the one way from a stored row), calls
these functions, and stores or renders what they return. Nothing here reads a
clock, a setting or a database, so every rule can be tested exhaustively and
reused from tasks, views and the API.

Three layers, in the order the Django side calls them:

1. **Linking** (``derive_facts`` runs them all): which changes each production
   deployment contains (``link_changes``), which deployment caused each incident
   (``link_incidents``), which deployments failed and when they recovered
   (``failed_deployments``), which deployments were rework (``rework_deployments``),
   and the per-change lead time and its components (``change_lead_times``).
2. **Metrics over a window** ``[start, end)`` cut in the org time zone:
   ``deployment_frequency``, ``lead_time``, ``change_failure_rate``, ``recovery``,
   ``rework_rate``, ``pipeline_reliability``, ``review_health``, ``data_quality``,
   and their ``levels``.
3. **Summaries**: ``dora_summary`` (everything for a scope and window),
   ``compare_summaries`` with ``previous_window``, and ``weekly_series``.

Conventions: datetimes are timezone-aware; durations are ``timedelta``; "no
data" is ``None``, never 0; percentiles follow ``Profile.median_kind``.

The package re-exports every public name, so ``from metrics import definitions as d``
then ``d.<name>`` is the way in. Its modules, each importing only those above it:
``vocabulary`` (named values, status words), ``records``, ``profile``, ``windows``
(org-zone time), ``stats`` (duration percentiles, spans; ``percentile`` and ``median`` are
``e360.stats``'s, the project's one statistics toolkit, re-exported here),
``histogram`` (percentiles within 1% from merged counts), ``production``; the linking layer
``linking``, ``lead_times``, ``failures``, ``rework`` and ``facts``; the window metrics
``frequency``, ``pipeline``, ``review``, ``quality`` and ``bands`` (DORA levels); and
``summary``.
"""

from __future__ import annotations

from e360.stats import median, percentile
from metrics.definitions.bands import (
    Levels,
    change_failure_rate_level,
    deployment_frequency_level,
    lead_time_level,
    levels,
    recovery_level,
)
from metrics.definitions.facts import DeliveryFacts, derive_facts
from metrics.definitions.failures import (
    ChangeFailureRate,
    DeploymentFailure,
    Recovery,
    change_failure_rate,
    failed_deployments,
    recovery,
)
from metrics.definitions.frequency import (
    DAYS_PER_MONTH,
    DAYS_PER_SIX_MONTHS,
    DeploymentFrequency,
    deployment_frequency,
    deployment_frequency_from_days,
    deployments_by_day,
)
from metrics.definitions.histogram import Histogram
from metrics.definitions.lead_times import ChangeLeadTime, LeadTime, change_lead_times, lead_time
from metrics.definitions.linking import (
    ChainKey,
    ChangeLinks,
    DeploymentChanges,
    IncidentLink,
    link_changes,
    link_incidents,
    previous_success_deployments,
)
from metrics.definitions.pipeline import (
    CommitBuild,
    FailingWorkflow,
    PipelineReliability,
    commit_builds,
    failing_workflows,
    judged_runs,
    pipeline_reliability,
    run_duration,
    run_verdict,
)
from metrics.definitions.production import is_failed_attempt, is_production_deployment, production_deployments
from metrics.definitions.profile import Profile
from metrics.definitions.quality import DataQuality, data_quality
from metrics.definitions.records import ChangeRec, DeploymentRec, IncidentRec, PipelineRunRec
from metrics.definitions.review import ReviewHealth, pickup_time, review_health, review_time, waiting_for_review
from metrics.definitions.rework import ReworkRate, rework_deployments, rework_rate
from metrics.definitions.stats import DurationStats, duration_percentile, span
from metrics.definitions.summary import (
    Delta,
    DoraSummary,
    Number,
    WeekPoint,
    compare,
    compare_summaries,
    dora_summary,
    weekly_series,
)
from metrics.definitions.vocabulary import (
    CAUSE_HOTFIX,
    CAUSE_INCIDENT,
    CAUSE_ROLLBACK,
    INCIDENT_EXPLICIT,
    INCIDENT_WINDOW,
    LINK_COMMIT_RANGE,
    LINK_MERGED_BETWEEN,
    LINK_NONE,
    LINK_SENT,
    MEDIAN_KINDS,
    REWORK_HOTFIX,
    REWORK_INCIDENT_OPEN,
    REWORK_ROLLBACK,
    BandsYear,
    LeadTimeFormula,
    Level,
    MedianKind,
    Trend,
)
from metrics.definitions.windows import (
    Window,
    bucket_day,
    iso_week,
    local_midnight,
    previous_window,
    week_start,
    whole_iso_weeks,
    whole_months,
)

__all__ = [
    "CAUSE_HOTFIX",
    "CAUSE_INCIDENT",
    "CAUSE_ROLLBACK",
    "DAYS_PER_MONTH",
    "DAYS_PER_SIX_MONTHS",
    "INCIDENT_EXPLICIT",
    "INCIDENT_WINDOW",
    "LINK_COMMIT_RANGE",
    "LINK_MERGED_BETWEEN",
    "LINK_NONE",
    "LINK_SENT",
    "MEDIAN_KINDS",
    "REWORK_HOTFIX",
    "REWORK_INCIDENT_OPEN",
    "REWORK_ROLLBACK",
    "BandsYear",
    "ChainKey",
    "ChangeFailureRate",
    "ChangeLeadTime",
    "ChangeLinks",
    "ChangeRec",
    "CommitBuild",
    "DataQuality",
    "DeliveryFacts",
    "Delta",
    "DeploymentChanges",
    "DeploymentFailure",
    "DeploymentFrequency",
    "DeploymentRec",
    "DoraSummary",
    "DurationStats",
    "FailingWorkflow",
    "Histogram",
    "IncidentLink",
    "IncidentRec",
    "LeadTime",
    "LeadTimeFormula",
    "Level",
    "Levels",
    "MedianKind",
    "Number",
    "PipelineReliability",
    "PipelineRunRec",
    "Profile",
    "Recovery",
    "ReviewHealth",
    "ReworkRate",
    "Trend",
    "WeekPoint",
    "Window",
    "bucket_day",
    "change_failure_rate",
    "change_failure_rate_level",
    "change_lead_times",
    "commit_builds",
    "compare",
    "compare_summaries",
    "data_quality",
    "deployment_frequency",
    "deployment_frequency_from_days",
    "deployment_frequency_level",
    "deployments_by_day",
    "derive_facts",
    "dora_summary",
    "duration_percentile",
    "failed_deployments",
    "failing_workflows",
    "is_failed_attempt",
    "is_production_deployment",
    "iso_week",
    "judged_runs",
    "lead_time",
    "lead_time_level",
    "levels",
    "link_changes",
    "link_incidents",
    "local_midnight",
    "median",
    "percentile",
    "pickup_time",
    "pipeline_reliability",
    "previous_success_deployments",
    "previous_window",
    "production_deployments",
    "recovery",
    "recovery_level",
    "review_health",
    "review_time",
    "rework_deployments",
    "rework_rate",
    "run_duration",
    "run_verdict",
    "span",
    "waiting_for_review",
    "week_start",
    "weekly_series",
    "whole_iso_weeks",
    "whole_months",
]
