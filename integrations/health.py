"""Source health: what a source sent lately, what failed and why, what it ignored, how its backfill is
going, and what it has not sent (the reads of the ``/sources/`` pages and the admin), and the connection
test behind the admin's "Test the connection".

Who may see a source's health: org viewers, and whoever sees the source's team (its members, its leads and
the leads above it: ``e360.access.sees_team``); a source without a team, org viewers only. Anyone else gets
404 (``get_source_for_user``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Count, Exists, Max, Model, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from e360.access import visible_team_ids
from e360.models import Service, User
from integrations.models import Backfill, Connection
from metrics.models import Deployment, InboundEvent, Incident, PipelineRun, PullRequest, Push, Repository, Source

WINDOW_DAYS = 30  # "what is missing" and the ignored events look back this far
FAILURES_SHOWN = 10
MISSING_SHOWN = 50
ACTIVE = (Backfill.Status.QUEUED, Backfill.Status.RUNNING, Backfill.Status.WAITING)
Status = InboundEvent.Status


# --- Testing a connection ----------------------------------------------------------------------------


def check_connection(connection: Connection) -> tuple[bool, str]:
    """A real API call with the connection's credentials, made by its provider's client
    (``integrations.<kind>.client.test_connection(connection) -> (ok, message)``). A provider without a
    client says so rather than pretending."""
    label = Source.Kind(connection.kind).label if connection.kind in Source.Kind.values else connection.kind
    name = f"integrations.{connection.kind}.client"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name not in (name, name.rpartition(".")[0]):
            raise  # the client is there, and broken: not a provider without a client
        module = None
    test = getattr(module, "test_connection", None)
    if test is None:
        return False, f"Testing the connection is not available for {label} yet."
    try:
        ok, message = test(connection)
    except Exception as exc:  # the client's errors name no secret (its rule); say what went wrong
        return False, f"The test failed: {type(exc).__name__}: {str(exc)[:300]}"
    return bool(ok), str(message)


# --- Who sees which source -------------------------------------------------------------------------


def visible_sources(user: User) -> QuerySet[Source]:
    ids = visible_team_ids(user)
    if ids is None:
        return Source.objects.all()
    return Source.objects.filter(team_id__in=ids)


def get_source_for_user(user: User, source_id: int) -> Source:
    source = visible_sources(user).select_related("team", "connection").filter(pk=source_id).first()
    if source is None:
        raise Http404("No such source.")
    return source


# --- The list ----------------------------------------------------------------------------------------


def today_start() -> datetime:
    """Midnight in the organisation's time zone (TIME_ZONE)."""
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def source_rows(user: User) -> QuerySet[Source]:
    """The sources ``user`` may see, each with ``events_today``, ``failed`` (events failed now) and
    ``backfill_status`` (its latest backfill's, if any): one query."""
    latest_backfill = Backfill.objects.filter(connection_id=OuterRef("pk")).order_by("-created_at", "-pk")
    return (
        visible_sources(user)
        .select_related("team")
        .annotate(
            events_today=Count("inbound_events", filter=Q(inbound_events__received_at__gte=today_start())),
            failed=Count("inbound_events", filter=Q(inbound_events__status=Status.FAILED)),
            backfill_status=Subquery(latest_backfill.values("status")[:1]),
        )
        .order_by("name")
    )


# --- One source --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackfillProgress:
    backfill: Backfill
    percent: int  # repositories done of the total
    rate_limit: int | None
    rate_remaining: int | None
    rate_reset_at: datetime | None
    paused_until: datetime | None
    eta: datetime | None  # from the pace so far; None until a repository is done

    @property
    def active(self) -> bool:
        return self.backfill.status in ACTIVE


def backfill_progress(connection: Connection, now: datetime | None = None) -> BackfillProgress | None:
    """The connection's latest backfill: repositories done of the total, records, requests, the rate-limit
    budget, and when it should end at the pace of the repositories done so far. One query."""
    backfill = Backfill.objects.filter(connection=connection).order_by("-created_at", "-pk").first()
    if backfill is None:
        return None
    now = now or timezone.now()
    total, done = backfill.repositories_total, backfill.repositories_done
    percent = min(100, round(100 * done / total)) if total else (100 if backfill.status == Backfill.Status.DONE else 0)
    eta = None
    if backfill.status in ACTIVE and backfill.started_at and 0 < done < total:
        elapsed = now - backfill.started_at
        eta = now + elapsed * (total - done) / done
    return BackfillProgress(
        backfill=backfill,
        percent=percent,
        rate_limit=connection.rate_limit,
        rate_remaining=connection.rate_remaining,
        rate_reset_at=connection.rate_reset_at,
        paused_until=connection.paused_until if connection.paused_until and connection.paused_until > now else None,
        eta=eta,
    )


@dataclass(frozen=True)
class Missing:
    """A repository the source maps, and the kinds of records it sent none of in the window."""

    repository: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class SourceHealth:
    source: Source
    last_event_at: datetime | None
    events_today: int
    failed: int
    failures: list[InboundEvent]
    ignored: list[tuple[str, int]]  # (kind, count) in the window, the most first
    backfill: BackfillProgress | None
    expected: tuple[str, ...]  # the kinds of records the source should send
    missing: list[Missing]
    missing_total: int
    repositories: int
    window_days: int = WINDOW_DAYS


# The kinds of records each kind of source sends, per repository; (label, model, the record's time).
REPOSITORY_RECORDS: dict[str, tuple[type[Model], str]] = {
    "deployments": (Deployment, "finished_at"),
    "pull requests": (PullRequest, "opened_at"),
    "pipeline runs": (PipelineRun, "finished_at"),
    "pushes": (Push, "pushed_at"),
}
EXPECTED: dict[str, tuple[str, ...]] = {
    Source.Kind.GITHUB: ("deployments", "pull requests", "pipeline runs", "pushes"),
    Source.Kind.GITLAB: ("deployments", "pull requests", "pipeline runs", "pushes"),
    Source.Kind.DEVLAKE: ("deployments",),
}


def source_health(source: Source, now: datetime | None = None) -> SourceHealth:
    """Everything the health page shows of ``source``, in a fixed number of queries whatever its size."""
    now = now or timezone.now()
    since = now - timedelta(days=WINDOW_DAYS)
    events = InboundEvent.objects.filter(source=source)
    counts = events.aggregate(
        last=Max("received_at"),
        today=Count("pk", filter=Q(received_at__gte=today_start())),
        failed=Count("pk", filter=Q(status=Status.FAILED)),
    )
    failures = list(
        events.filter(status=Status.FAILED).only("pk", "kind", "error", "received_at", "attempts", "source_id")[
            :FAILURES_SHOWN
        ]
    )
    ignored = [
        (row["kind"], row["count"])
        for row in events.filter(status=Status.IGNORED, received_at__gte=since)
        .values("kind")
        .annotate(count=Count("pk"))
        .order_by("-count", "kind")
    ]
    connection = connection_of(source)
    expected = EXPECTED.get(source.kind, ())
    repositories = mapped_repositories(source, connection) if expected else []
    missing = _missing(source, repositories, expected, since)
    last = max((moment for moment in (counts["last"], source.last_event_at) if moment), default=None)
    return SourceHealth(
        source=source,
        last_event_at=last,
        events_today=counts["today"],
        failed=counts["failed"],
        failures=failures,
        ignored=ignored,
        backfill=backfill_progress(connection, now) if connection else None,
        expected=expected,
        missing=missing[:MISSING_SHOWN],
        missing_total=len(missing),
        repositories=len(repositories),
    )


def connection_of(source: Source) -> Connection | None:
    """The source's connection (GitHub, GitLab, PagerDuty), None for the others."""
    try:
        return source.connection
    except Connection.DoesNotExist:
        return None


_RECORDS = (Deployment, PullRequest, PipelineRun, Push, Incident)


def mapped_repositories(source: Source, connection: Connection | None) -> list[str]:
    """The repositories the source maps: its connection's list, its repository map, and the repositories of
    the services it wrote to (their ``Repository`` rows and the catalog's ``Service.repositories``). Two
    queries."""
    names = set(connection.repositories if connection else []) | set((source.repo_service_map or {}).keys())
    wrote = Q()
    for model in _RECORDS:
        wrote |= Q(Exists(model.objects.filter(source=source, service_id=OuterRef("pk"))))
    service_ids = []
    for service_id, listed in Service.objects.filter(wrote).values_list("pk", "repositories"):
        service_ids.append(service_id)
        names.update(name for name in listed or () if isinstance(name, str))
    if service_ids:
        names.update(Repository.objects.filter(service_id__in=service_ids).values_list("name", flat=True))
    return sorted(name for name in names if name)


def _missing(source: Source, repositories: list[str], expected: tuple[str, ...], since: datetime) -> list[Missing]:
    """For each repository, the expected kinds with no record from ``source`` since ``since``: a query per kind."""
    if not repositories:
        return []
    seen: dict[str, set[str]] = {}
    for label in expected:
        model, moment = REPOSITORY_RECORDS[label]
        names = (
            model._default_manager.filter(source=source, repository__name__in=repositories, **{f"{moment}__gte": since})
            .order_by()  # no ordering column in the DISTINCT
            .values_list("repository__name", flat=True)
            .distinct()
        )
        for name in names:
            seen.setdefault(name, set()).add(label)
    missing = []
    for name in repositories:
        kinds = tuple(label for label in expected if label not in seen.get(name, set()))
        if kinds:
            missing.append(Missing(repository=name, kinds=kinds))
    return missing
