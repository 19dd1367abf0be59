"""Re-link a service's delivery records and rebuild its rollups.

This is where the pure definitions (``metrics.definitions``) meet the database:
load one service's records, derive every link (changes → deployments,
incidents → deployments, failures, rework, lead times), write back only what
changed, then have ``metrics.rollups`` recompute the service's rollups and write
only the rows that changed. A service's whole history is re-derived each time: a late record can
change links far back (a rollback blames the deployment before it, however
old), and one service's history is small enough (hundreds to a few thousand
rows) for this to take milliseconds.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q

from e360.models import DEFAULT_PRODUCTION_PATTERNS, Service
from metrics import definitions as d
from metrics import rollups
from metrics.models import (
    Commit,
    Deployment,
    Incident,
    PipelineRun,
    PullRequest,
    Push,
)
from metrics.ranges import PushRec, commit_ranges
from metrics.sql import update_rows
from metrics.storable import EARLIEST, LATEST

logger = logging.getLogger(__name__)


def profile_for(service: Service) -> d.Profile:
    """e360's default definitions with the organisation's time zone and the service's patterns."""
    patterns = tuple(service.production_environments or DEFAULT_PRODUCTION_PATTERNS)
    return d.Profile.default(time_zone=settings.TIME_ZONE, service_production_patterns={str(service.id): patterns})


@dataclass
class Loaded:
    deployments: list[Deployment]
    pull_requests: list[PullRequest]
    incidents: list[Incident]
    pipeline_runs: list[PipelineRun]
    deployment_recs: list[d.DeploymentRec] = field(default_factory=list)
    change_recs: list[d.ChangeRec] = field(default_factory=list)
    incident_recs: list[d.IncidentRec] = field(default_factory=list)
    run_recs: list[d.PipelineRunRec] = field(default_factory=list)
    skipped: dict[str, list[int]] = field(default_factory=dict)


def _readable(model: type[models.Model]) -> Q:
    """Rows whose every time lies in ``EARLIEST`` … ``LATEST`` (or is empty), as every way in now
    requires. A row stored before that (year 10000 in UTC, which PostgreSQL keeps and Python
    cannot read) is left out, so that it stops nothing but itself."""
    readable = Q()
    for column in model._meta.concrete_fields:
        if isinstance(column, models.DateTimeField):
            in_range = Q(**{f"{column.name}__gte": EARLIEST, f"{column.name}__lt": LATEST})
            readable &= in_range | Q(**{f"{column.name}__isnull": True}) if column.null else in_range
    return readable


def _unreadable_ids(service: Service) -> dict[str, list[int]]:
    """The ids of the service's records the refresh leaves out (``_readable``), by kind."""
    skipped = {}
    for model in (Deployment, PullRequest, Incident, PipelineRun):
        ids = list(model.objects.filter(service=service).exclude(_readable(model)).values_list("pk", flat=True))
        if ids:
            skipped[str(model._meta.verbose_name_plural)] = ids
    return skipped


def load_records(service: Service) -> Loaded:
    """Every delivery record of the service, as rows and as the definitions' records (``from_row``)."""
    deployments = list(Deployment.objects.filter(_readable(Deployment), service=service).select_related("repository"))
    pull_requests = list(
        PullRequest.objects.filter(_readable(PullRequest), service=service).select_related("repository")
    )
    incidents = list(Incident.objects.filter(_readable(Incident), service=service))
    runs = list(PipelineRun.objects.filter(_readable(PipelineRun), service=service))
    shas: dict[int, list[str]] = defaultdict(list)
    for pr_id, sha in Commit.objects.filter(pull_request__service=service).values_list("pull_request_id", "sha"):
        shas[pr_id].append(sha)
    loaded = Loaded(deployments, pull_requests, incidents, runs, skipped=_unreadable_ids(service))
    loaded.deployment_recs = [d.DeploymentRec.from_row(dep) for dep in deployments]
    loaded.change_recs = [d.ChangeRec.from_row(pr, tuple(shas.get(pr.pk, ()))) for pr in pull_requests]
    loaded.incident_recs = [d.IncidentRec.from_row(incident) for incident in incidents]
    loaded.run_recs = [d.PipelineRunRec.from_row(run) for run in runs]
    return loaded


def _relink(loaded: Loaded, facts: d.DeliveryFacts, profile: d.Profile) -> int:
    """Write the derived links back; returns the number of rows changed."""
    changed_deployments: list[tuple[int, dict]] = []
    for dep in loaded.deployments:
        key = str(dep.pk)
        links = facts.change_links.deployments.get(key)
        failure = facts.failures.get(key)
        values = {
            "is_production": profile.is_production_environment(dep.environment, str(dep.service_id)),
            "link_rule": links.rule if links else Deployment.LinkRule.NONE,
            "is_failed": failure is not None,
            "failure_causes": list(failure.causes) if failure else [],
            "recovered_at": failure.recovered_at if failure else None,
            "is_rework": key in facts.rework,
        }
        if _assign(dep, values):
            changed_deployments.append((dep.pk, values))
    update_rows(Deployment, changed_deployments)

    changed_prs: list[tuple[int, dict]] = []
    for pr in loaded.pull_requests:
        lead = facts.lead_times.get(pr.external_id)
        deployment_id = facts.change_links.deployed_by.get(pr.external_id)
        values = {
            "deployment_id": int(deployment_id) if deployment_id else None,
            "deployed_at": lead.deployed_at if lead else None,
        }
        if _assign(pr, values):
            changed_prs.append((pr.pk, values))
    update_rows(PullRequest, changed_prs)

    changed_incidents: list[tuple[int, dict]] = []
    for incident in loaded.incidents:
        link = facts.incident_links.get(str(incident.pk))
        values = {
            "deployment_id": int(link.deployment_id) if link else None,
            "link_rule": link.rule if link else Incident.LinkRule.NONE,
        }
        if _assign(incident, values):
            changed_incidents.append((incident.pk, values))
    update_rows(Incident, changed_incidents)
    return len(changed_deployments) + len(changed_prs) + len(changed_incidents)


def _assign(obj: object, values: dict[str, object]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


@transaction.atomic
def service_refresh(*, service_id: int, since: datetime | None = None, teams: bool = True) -> str:
    """Re-derive links and rollups of one service. Idempotent: a second run changes nothing.

    ``since`` is the earliest record time the writes that queued this refresh
    touched; it is reported, while the whole service is re-derived (see above).
    """
    started = time.perf_counter()
    service = Service.objects.select_for_update().filter(pk=service_id).first()
    if service is None:
        return f"service {service_id} no longer exists"
    profile = profile_for(service)
    loaded = load_records(service)
    # Linking rule 2: the service's pushes, and those of the repositories it deploys (a shared repository).
    repository_ids = {dep.repository_id for dep in loaded.deployments if dep.repository_id}
    pushes = Push.objects.filter(Q(service=service) | Q(repository_id__in=repository_ids)).values_list(
        "repository__name", "before", "after", "commits", "branch", "repository__default_branch"
    )
    ranges = commit_ranges(
        loaded.deployment_recs,
        [
            PushRec(repository, before, after, tuple(commits), branch == default)
            for repository, before, after, commits, branch, default in pushes
        ],
        profile,
    )
    facts = d.derive_facts(
        loaded.deployment_recs, loaded.change_recs, loaded.incident_recs, profile, commit_ranges=ranges
    )
    linked = _relink(loaded, facts, profile)
    # ``rebuild`` recomputes team rollups once, after every service.
    rolled = rollups.service_write(service, loaded, facts, profile, update_teams=teams)
    elapsed = time.perf_counter() - started
    after = f" after data from {since:%Y-%m-%d %H:%M}" if since else ""
    summary = f"{service.slug}{after}: {linked} records re-linked, {rolled} rollup rows written in {elapsed:.2f} s"
    if loaded.skipped:
        listed = "; ".join(
            f"{kind} {', '.join(map(str, ids[:20]))}" + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
            for kind, ids in loaded.skipped.items()
        )
        summary += f"; left out records with times outside {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}: {listed}"
        logger.warning("Refresh of service %s: %s", service.pk, summary)
    return summary


def rebuild(service_ids: Iterable[int] | None = None, progress: Callable[[int, int, str], None] | None = None) -> str:
    """Refresh every service (or the given ones); ``progress(number, total, summary)`` after each.
    Used by ``rebuild_rollups`` and the demo. Rebuilding every service recomputes the team
    rollups once at the end, instead of adding each service's change to them."""
    everything = service_ids is None
    ids = list(Service.objects.order_by("slug").values_list("id", flat=True) if service_ids is None else service_ids)
    started = time.perf_counter()
    for number, service_id in enumerate(ids, start=1):
        summary = service_refresh(service_id=service_id, teams=not everything)
        if progress is not None:
            progress(number, len(ids), summary)
    teams = f"; {rollups.teams.rebuild()}" if everything else ""
    if everything and connection.vendor == "postgresql":
        # Planner statistics that predate the rollups (or a bulk load) make PostgreSQL read a whole
        # day range through the day index instead of the services' rows, or hash-join whole tables.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return f"Rebuilt links and rollups of {len(ids)} services{teams} in {time.perf_counter() - started:.1f} s"
