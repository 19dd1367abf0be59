"""Day rollups: per service, environment and org-zone day, what a service's figures are read from.

The service refresh computes every row of a service from its records and their derived facts
(``service_rows``) and writes the rows that changed (``write``); a read takes the rows of a
window's days (``read_days``). Durations are stored as sorted lists, so a service's figures
are exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from metrics import definitions as d
from metrics.models import COUNT_FIELDS, LIST_FIELDS, SERVICE_WIDE, DailyRollup

Rows = dict[tuple[str, date], dict]  # a service's rows by (environment, day)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 3)


class Records(Protocol):
    """All of a service's records as the definitions' records (``metrics.refresh.Loaded`` is one)."""

    @property
    def deployment_recs(self) -> Sequence[d.DeploymentRec]: ...
    @property
    def change_recs(self) -> Sequence[d.ChangeRec]: ...
    @property
    def incident_recs(self) -> Sequence[d.IncidentRec]: ...
    @property
    def run_recs(self) -> Sequence[d.PipelineRunRec]: ...


def service_rows(records: Records, facts: d.DeliveryFacts, profile: d.Profile) -> Rows:
    """Every rollup row of a service, from all its records and their facts, keyed by (environment, org-zone day)."""
    rows: Rows = defaultdict(lambda: {**dict.fromkeys(COUNT_FIELDS, 0), **{name: [] for name in LIST_FIELDS}})

    def row(environment: str, moment: datetime | None) -> dict:
        assert moment is not None  # production deployments and judged runs have finished
        return rows[(environment, d.bucket_day(moment, profile))]

    environment_of = {}
    for rec in records.deployment_recs:
        environment_of[rec.id] = rec.environment
        if d.is_production_deployment(rec, profile):
            r = row(rec.environment, rec.finished_at)
            r["deployments"] += 1
            r["failed_deployments"] += rec.id in facts.failures
            r["rework_deployments"] += rec.id in facts.rework
            links = facts.change_links.deployments.get(rec.id)
            r["deployments_with_changes"] += bool(links and links.change_ids)
        elif d.is_failed_attempt(rec, profile) and rec.finished_at:
            row(rec.environment, rec.finished_at)["failed_attempts"] += 1
    for lead in facts.lead_times.values():
        if lead.deployed_at is None or lead.deployment_id is None:
            continue
        r = row(environment_of[lead.deployment_id], lead.deployed_at)
        r["changes_deployed"] += 1
        for name, value in (
            ("lead_times", lead.lead_time),
            ("coding_times", lead.coding),
            ("pickup_times", lead.pickup),
            ("review_times", lead.review),
            ("deploy_times", lead.deploy),
        ):
            if (seconds := _seconds(value)) is not None:
                r[name].append(seconds)
    for failure in facts.failures.values():
        if failure.recovered_at is not None and failure.recovery_time is not None:
            row(environment_of[failure.deployment_id], failure.recovered_at)["recovery_times"].append(
                _seconds(failure.recovery_time)
            )
    for incident in records.incident_recs:
        r = row(SERVICE_WIDE, incident.started_at)
        r["incidents"] += 1
        r["incidents_linked"] += incident.id in facts.incident_links
        if incident.resolved_at is not None and (restore := d.span(incident.started_at, incident.resolved_at)):
            row(SERVICE_WIDE, incident.resolved_at)["restore_times"].append(_seconds(restore))
    for run, passed in d.judged_runs(records.run_recs):
        r = row(SERVICE_WIDE, run.finished_at)
        r["pipeline_runs"] += 1
        r["pipeline_failures"] += not passed
        if (seconds := _seconds(d.run_duration(run))) is not None:
            r["pipeline_durations"].append(seconds)
    for build in d.commit_builds(records.run_recs):
        r = row(SERVICE_WIDE, build.first_finished_at)
        r["pipeline_commits"] += 1
        r["pipeline_flaky_commits"] += build.flaky
    for change in records.change_recs:
        if change.merged_at is None or change.is_direct_push:
            continue
        r = row(SERVICE_WIDE, change.merged_at)
        for name, value in (
            ("pr_pickup_times", d.pickup_time(change, profile)),
            ("pr_review_times", d.review_time(change, profile)),
        ):
            if (seconds := _seconds(value)) is not None:
                r[name].append(seconds)
        if change.size is not None:
            r["pr_sizes"].append(float(change.size))
    return {key: _packed(values) for key, values in rows.items()}


def _packed(values: dict) -> dict:
    """A row as ``DailyRollup`` stores it: the counts, and the non-empty lists, sorted, in ``distributions``."""
    packed = {name: values[name] for name in COUNT_FIELDS}
    packed["distributions"] = {name: sorted(values[name]) for name in LIST_FIELDS if values[name]}
    return packed


def write(service_id: int, rows: Rows) -> tuple[int, Rows]:
    """Insert new rows, replace changed ones, delete days with nothing left.

    Returns the number of rows written and the rows as they were, keyed as ``rows``.
    """
    before: Rows = {}
    pks: dict[tuple[str, date], int] = {}
    for row in DailyRollup.objects.filter(service_id=service_id).values(
        "pk", "environment", "day", *COUNT_FIELDS, "distributions"
    ):
        key = (row.pop("environment"), row.pop("day"))
        pks[key] = row.pop("pk")
        before[key] = row
    # A changed row is replaced (delete + insert): two statements, instead of bulk_update's per-row CASE.
    delete = [pk for key, pk in pks.items() if rows.get(key) != before[key]]
    new = [
        DailyRollup(service_id=service_id, environment=environment, day=day, **values)
        for (environment, day), values in rows.items()
        if before.get((environment, day)) != values
    ]
    for start in range(0, len(delete), 500):
        DailyRollup.objects.filter(pk__in=delete[start : start + 500]).delete()
    DailyRollup.objects.bulk_create(new, batch_size=500)
    return len(new) + len(set(pks) - set(rows)), before


def read_days(
    service_ids: Collection[int], first: date, last: date, fields: Mapping[str, Any]
) -> Iterator[tuple[bool, date, dict]]:
    """The services' rows of ``first`` … ``last`` as (production, day, row), with ``fields`` (the distributions
    read, by name; ``figures._fields``); one query."""
    rows = DailyRollup.objects.filter(service__any=service_ids, day__gte=first, day__lte=last)
    for row in rows.values("environment", "day", *COUNT_FIELDS, **fields):
        yield row.pop("environment") != SERVICE_WIDE, row.pop("day"), row
