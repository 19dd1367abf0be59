"""``GET /api/v1/metrics/dora`` and ``/metrics/dora/weekly``: DORA figures of a team or service.

A token sees the metrics of its source's team and every team below it; a
source without a team is an organisation-wide integration and sees all. An
unknown or invisible team or service answers 404, never its figures.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import ValidationError

from e360.models import Service, Team
from e360.tree import TeamTree
from metrics import definitions as d
from metrics.rollups import Figures
from metrics.schemas import ErrorOut, ServiceSlug, ValidationErrorOut
from metrics.scope import Scope, service_scope, team_scope

router = Router(tags=["DORA metrics"])
MAX_DAYS = 731


class ScopeQuery(Schema):
    team: ServiceSlug | None = Field(None, description="A team's slug: its services and its sub-teams'.")
    service: ServiceSlug | None = Field(None, description="A service's slug.")
    start: date | None = Field(None, ge=date(1970, 1, 2), lt=date(2100, 1, 1), description="First day (org time zone).")
    end: date | None = Field(None, ge=date(1970, 1, 2), lt=date(2100, 1, 1), description="Day after the last one.")
    bands: int = Field(2023, description="DORA level bands: 2023 (default) or 2021.")


def _invalid(field: str, msg: str) -> ValidationError:
    return ValidationError([{"loc": ["query", field], "msg": msg, "type": "value_error"}])


def _scope(request: HttpRequest, query: ScopeQuery) -> Scope:
    if bool(query.team) == bool(query.service):
        raise _invalid("team", "give exactly one of team= or service=")
    source_team = request.auth.source.team  # type: ignore[attr-defined]  # TokenAuth's ApiToken, which ninja sets
    tree: TeamTree | None = None
    visible: set[int] | None = None
    if source_team is not None:  # the token's team and the teams below it: one read of the tree for both
        tree = TeamTree.load()
        visible = tree.subtree([source_team.id])
    if query.team:
        team = Team.objects.filter(slug=query.team).first()
        if team is None or (visible is not None and team.id not in visible):
            raise Http404(f'No team "{query.team}" for this token.')
        return team_scope(team, visible, tree)
    service = Service.objects.filter(slug=query.service).select_related("owner").first()
    if service is None or (visible is not None and service.owner_id not in visible):
        raise Http404(f'No service "{query.service}" for this token.')
    return service_scope(service)


def _window(query: ScopeQuery, profile: d.Profile) -> d.Window:
    """``[start, end)`` in org-zone days; by default the last 90 days, today included."""
    today = d.bucket_day(timezone.now(), profile)
    end = query.end or today + timedelta(days=1)
    start = query.start or end - timedelta(days=90)
    if start >= end:
        raise _invalid("start", "start must be before end")
    if (end - start).days > MAX_DAYS:
        raise _invalid("start", f"a window is at most {MAX_DAYS} days")
    return d.Window.from_days(start, end, profile)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _stats(stats: d.DurationStats) -> dict[str, Any]:
    return {
        "count": stats.count,
        "median_seconds": _seconds(stats.median),
        "p75_seconds": _seconds(stats.p75),
        "p90_seconds": _seconds(stats.p90),
    }


def _delta(delta: d.Delta) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        return _seconds(value) if isinstance(value, timedelta) else value

    return {"previous": plain(delta.previous), "relative": delta.relative, "trend": delta.trend}


def summary_json(current: d.DoraSummary, previous: d.DoraSummary) -> dict[str, Any]:
    levels = current.levels
    deltas = d.compare_summaries(current, previous)
    df, lt, cfr, rec = current.deployment_frequency, current.lead_time, current.change_failure_rate, current.recovery
    dq = current.data_quality
    return {
        "window": {"start": current.window.start.isoformat(), "end": current.window.end.isoformat()},
        "bands": current.bands_year,
        "deployment_frequency": {
            "deployments": df.deployments,
            "deployments_per_day": df.deployments_per_day,
            "deployment_days_per_week": df.deployment_days_per_week,
            "failed_attempts": df.failed_attempts,
            "level": levels.deployment_frequency,
            "change": _delta(deltas["deployments_per_day"]),
        },
        "lead_time": {
            "changes": lt.changes,
            **_stats(lt.lead_time),
            "components": {name: _stats(getattr(lt, name)) for name in ("coding", "pickup", "review", "deploy")},
            "level": levels.lead_time,
            "change": _delta(deltas["lead_time"]),
        },
        "change_failure_rate": {
            "failed": cfr.failed,
            "deployments": cfr.deployments,
            "value": cfr.value,
            "level": levels.change_failure_rate,
            "change": _delta(deltas["change_failure_rate"]),
        },
        "failed_deployment_recovery_time": {
            **_stats(rec.failed_deployment_recovery),
            "unrecovered": rec.unrecovered,
            "level": levels.recovery,
            "change": _delta(deltas["failed_deployment_recovery"]),
        },
        "time_to_restore": {**_stats(rec.time_to_restore), "change": _delta(deltas["time_to_restore"])},
        "rework_rate": {
            "rework": current.rework.rework,
            "deployments": current.rework.deployments,
            "value": current.rework.value,
            "change": _delta(deltas["rework_rate"]),
        },
        "pipeline": {
            "runs": current.pipeline.runs,
            "failed": current.pipeline.failed,
            "failure_rate": current.pipeline.failure_rate,
            "flaky_rate": current.pipeline.flaky_rate,
            "duration": _stats(current.pipeline.duration),
        },
        "review": {
            "pickup": _stats(current.review.pickup),
            "review": _stats(current.review.review),
            "median_size": current.review.size_median,
            "waiting_over_24h": current.review.waiting,
        },
        "data_quality": {
            "deployments": dq.deployments,
            "linked_change_share": dq.linked_change_share,
            "changes": dq.changes,
            "incidents": dq.incidents,
            "incident_link_share": dq.incident_link_share,
            "pipeline_runs": dq.pipeline_runs,
            "last_event_at": {name: at.isoformat() for name, at in dq.last_event_at.items()},
        },
    }


RESPONSES = {200: dict, 401: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}


@router.get("/dora", response=RESPONSES, summary="DORA metrics of a team or service")
def dora(request: HttpRequest, query: Query[ScopeQuery]) -> dict[str, Any]:
    """All five metrics with their levels, sample sizes, change against the previous window
    of the same length, pipeline and review health, and data quality. Durations are seconds;
    a figure without data is null, never 0."""
    scope = _scope(request, query)
    if query.bands not in (2021, 2023):
        raise _invalid("bands", "bands is 2023 (default) or 2021")
    profile = d.Profile.default(time_zone=scope.profile.time_zone, bands_year=query.bands)
    window = _window(query, profile)
    previous_window = d.previous_window(window, profile)
    figures = Figures(scope, [window], profile, compared=previous_window)
    current, previous = figures.summary(window), figures.summary(previous_window)
    return {"scope": {"kind": scope.kind, "slug": scope.slug, "services": len(scope.services)}} | summary_json(
        current, previous
    )


@router.get("/dora/weekly", response=RESPONSES, summary="Weekly deployments and lead time of a team or service")
def dora_weekly(request: HttpRequest, query: Query[ScopeQuery]) -> dict[str, Any]:
    """Per ISO week (org time zone): production deployments (ok and failed, and how many were rework),
    the median lead time and its components, in hours, of the changes deployed that week, and the
    median recovery time, in hours, of the failed deployments recovered that week."""
    scope = _scope(request, query)
    window = _window(query, scope.profile)
    return {
        "scope": {"kind": scope.kind, "slug": scope.slug, "services": len(scope.services)},
        "weeks": Figures(scope, [window]).weekly(window),
    }
