"""Writes of delivery data: upserts from the API and webhooks, tokens and sources.

Each upsert is idempotent on ``(source, external_id)``. Writers collect the
services they touched in a :class:`Dirty` and call :meth:`Dirty.schedule`, which
queues one background refresh (re-linking and rollups) per service once the
transaction commits, so late data re-links the records it relates to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any, Protocol

from django.db import transaction
from django.db.models import Model, Q
from django.db.models.functions import Lower
from django.utils import timezone

from e360.models import Person, Service
from e360.tree import TeamTree
from metrics.inputs import (
    CommitInput,
    DeploymentInput,
    IncidentInput,
    PipelineRunInput,
    PullRequestInput,
    PushInput,
    ReviewInput,
)
from metrics.models import (
    ApiToken,
    Commit,
    Deployment,
    Incident,
    PipelineRun,
    PullRequest,
    Push,
    Repository,
    Review,
    Source,
)


class UnknownService(ValueError):
    """A record names no service we know, and its source may not create one.

    In a batch, ``index`` is the position of the record that named it.
    """

    index: int | None = None


class OutOfScope(UnknownService):
    """A record its source may not write: a service outside the source's scope, a repository the
    catalog gives only to such services, or a commit of another source's pull request.

    A kind of ``UnknownService`` so that every way in refuses it the same way (nothing of the
    batch is written; a delivery fails with the reason); the JSON API answers 403.
    """


class SourceScope:
    """The services a source may write to: every service when an admin says so
    (``may_write_every_service``), else its team's and its sub-teams', those of its repository
    map, and its default service. Read once per batch, on first use."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._team_ids: set[int] | None = None

    def allows(self, service: Service) -> bool:
        source = self.source
        if source.may_write_every_service or service.pk == source.default_service_id:
            return True
        if source.team_id is not None and service.owner_id == source.team_id:
            return True  # the common case, without reading the team tree
        if service.slug in (source.repo_service_map or {}).values():
            return True
        if self._team_ids is None:
            self._team_ids = TeamTree.load().subtree([source.team_id]) if source.team_id else set()
        return service.owner_id in self._team_ids

    def check(self, service: Service) -> Service:
        if not self.allows(service):
            raise OutOfScope(f'this source may not write to service "{service.slug}" (outside its scope)')
        return service


@dataclass
class Dirty:
    """Services touched by a write, with the earliest time touched for each."""

    since: dict[int, datetime] = field(default_factory=dict)
    sources: set[int] = field(default_factory=set)

    def add(self, service_id: int, moment: datetime | None) -> None:
        moment = moment or timezone.now()
        current = self.since.get(service_id)
        if current is None or moment < current:
            self.since[service_id] = moment

    def schedule(self) -> None:
        """Queue one refresh per service after the surrounding transaction commits."""
        from metrics.tasks import queue_service_refresh

        if self.sources:
            # The sources' last event, to the minute: busy sources' writers do not queue on their row.
            now = timezone.now()
            stale = Q(last_event_at__isnull=True) | Q(last_event_at__lt=now - timedelta(minutes=1))
            Source.objects.filter(stale, pk__in=self.sources).update(last_event_at=now)
        for service_id, moment in self.since.items():
            transaction.on_commit(partial(queue_service_refresh, service_id, moment))


# --- Services and repositories --------------------------------------------------------


def service_resolve(
    *, source: Source, service: str | None, repository: str | None, scope: SourceScope | None = None
) -> Service:
    """The service a record belongs to, which must be in the source's scope.

    In order: the service named (by slug), the source's repository map, the
    repository's service, a service listing the repository, the source's
    default service. An unknown name is created only when the source allows it.
    A service outside the scope is refused when named, and passed over when found
    from the repository: the service a repository was first written with binds
    no other source. A repository the catalog lists only under services outside
    the scope is refused, whatever the service (unless the map names it).
    """
    scope = scope or SourceScope(source)
    mapped = (source.repo_service_map or {}).get(repository) if repository else None
    listed: list[Service] = []
    if repository and not mapped:
        # The JSON list as text contains the quoted name: one query on SQLite and PostgreSQL alike.
        candidates = Service.objects.filter(repositories__icontains=f'"{repository}"').order_by("pk")
        listed = [found for found in candidates if repository in found.repositories]
        if listed and not any(scope.allows(found) for found in listed):
            owners = ", ".join(f'"{found.slug}"' for found in listed)
            raise OutOfScope(
                f'repository "{repository}" belongs to service {owners}, which this source may not write to'
            )
    if service:
        found = Service.objects.filter(slug=service).first()
        if found is not None:
            return scope.check(found)
        if source.create_unknown_services and source.team_id:
            created, _ = Service.objects.get_or_create(
                slug=service, defaults={"name": service, "owner_id": source.team_id}
            )
            return scope.check(created)
        raise UnknownService(f'unknown service "{service}"')
    if repository:
        if mapped and (found := Service.objects.filter(slug=mapped).first()):
            return found
        repo = Repository.objects.filter(name=repository).select_related("service").first()
        if repo is not None and repo.service is not None and scope.allows(repo.service):
            return repo.service
        for found in listed:
            if scope.allows(found):
                return found
    if source.default_service is not None:
        return source.default_service
    if repository:
        raise UnknownService(f'repository "{repository}" belongs to no known service; name a service')
    raise UnknownService("no service given, and the source has no default service")


def repository_for(name: str | None, service: Service) -> Repository | None:
    if not name:
        return None
    repo, created = Repository.objects.get_or_create(name=name, defaults={"service": service})
    if not created and repo.service_id is None:
        repo.service = service
        repo.save(update_fields=["service"])
    return repo


def repository_default_branch_set(*, name: str, default_branch: str) -> bool:
    """Record a stored repository's default branch as its host reports it (GitHub sends it with
    every repository); whether it changed. Linking rule 3 and the pull requests' base branch read
    it. Only a repository already stored changes: a writer calls this after writing the
    repository's records, which checked the source's scope."""
    if not name or not default_branch:
        return False
    rows = Repository.objects.filter(name=name).exclude(default_branch=default_branch)
    return bool(rows.update(default_branch=default_branch[:200]))


# --- Upserts -----------------------------------------------------------------------------
#
# Each kind has one set-based writer (``deployments_upsert`` and so on) for a batch of
# records: the services, repositories and people the batch names are looked up once each,
# and the records are written in one INSERT ... ON CONFLICT (source, external_id) DO UPDATE.
# Only the fields the record carries are updated; what the refresh derives (links, lead
# times) is kept. The single-record writers are the batch of one, returning the row.


class _Lookups:
    """What a batch of records names, each looked up once: services, repositories, people."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.scope = SourceScope(source)
        self._services: dict[tuple[str | None, str | None], Service] = {}
        self._repositories: dict[str, Repository | None] = {}
        self._people: dict[str, Person | None] = {}

    def service(self, data: Any) -> Service:
        key = (data.service, data.repository)
        if key not in self._services:
            self._services[key] = service_resolve(
                source=self.source, service=data.service, repository=data.repository, scope=self.scope
            )
        return self._services[key]

    def repository(self, name: str | None, service: Service) -> Repository | None:
        if not name:
            return None
        if name not in self._repositories:
            self._repositories[name] = repository_for(name, service)
        return self._repositories[name]

    def people(self, logins: Iterable[str]) -> None:
        """Look the batch's logins up in one query; ``person`` then answers from what was found."""
        wanted = {login for login in logins if login and login not in self._people}
        if wanted:
            self._people.update(_people_for_logins(wanted, self.source.kind))

    def person(self, login: str) -> Person | None:
        if login not in self._people:
            self.people([login])
        return self._people.get(login)


@cache
def _stored_names(input_type: type, resolved: frozenset[str]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(input_type) if f.name not in resolved)


def _as_sent(data: Any, *resolved: str) -> dict[str, Any]:
    """The input's fields stored as sent, under their own names (the model's): all but the
    ``external_id`` and those in ``resolved``, which the writer looks up or derives. A field
    added to an input type and its model is thus written with no change here."""
    # A class is hashable; mypy's Hashable check misreads type.__hash__ as unbound.
    names = _stored_names(type(data), frozenset(("external_id", *resolved)))  # type: ignore[arg-type]
    return {name: getattr(data, name) for name in names}


class _Identified(Protocol):
    @property
    def external_id(self) -> str: ...


def _rows[D: _Identified](items: Sequence[D], row: Callable[[D], dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """``(external_id, fields)`` for each item; an unknown service names the item's index."""
    rows = []
    for index, data in enumerate(items):
        try:
            rows.append((data.external_id, row(data)))
        except UnknownService as exc:
            exc.index = index
            raise
    return rows


def _write(model: type[Model], source: Source, rows: list[tuple[str, dict[str, Any]]]) -> list[bool]:
    """Insert or update ``rows`` on ``(source, external_id)`` in one statement; whether each was new.

    An external id sent twice in one batch is written once, with its last fields (as two
    writes one after the other would leave it), and only its first mention counts as created.
    """
    if not rows:
        return []
    ids = [external_id for external_id, _ in rows]
    manager = model._default_manager
    existing = set(manager.filter(source=source, external_id__in=ids).values_list("external_id", flat=True))
    latest = dict(rows)
    fields = list(rows[0][1])
    fields += [f.name for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
    objects = [model(source=source, external_id=external_id, **values) for external_id, values in latest.items()]
    _upsert_objects(model, objects, ["source", "external_id"], fields)
    created, seen = [], set()
    for external_id in ids:
        created.append(external_id not in existing and external_id not in seen)
        seen.add(external_id)
    return created


def _upsert_objects(model: type[Model], objects: Iterable[Model], unique: list[str], fields: list[str]) -> None:
    """Insert ``objects``, or update ``fields`` of the rows they collide with on ``unique``: one statement."""
    if objects := list(objects):
        model._default_manager.bulk_create(objects, update_conflicts=True, unique_fields=unique, update_fields=fields)


def deployments_upsert(*, source: Source, items: Sequence[DeploymentInput], dirty: Dirty) -> list[bool]:
    lookups = _Lookups(source)

    def row(data: DeploymentInput) -> dict[str, Any]:
        service = lookups.service(data)
        dirty.add(service.id, data.started_at or data.finished_at)
        return {
            **_as_sent(data, "service", "repository", "changes"),
            "service": service,
            "repository": lookups.repository(data.repository, service),
            "is_production": service.is_production(data.environment),
            "changes": list(data.changes) if data.changes is not None else None,
        }

    dirty.sources.add(source.id)
    return _write(Deployment, source, _rows(items, row))


def deployment_upsert(*, source: Source, data: DeploymentInput, dirty: Dirty) -> tuple[Deployment, bool]:
    (created,) = deployments_upsert(source=source, items=[data], dirty=dirty)
    return Deployment.objects.get(source=source, external_id=data.external_id), created


def incidents_upsert(*, source: Source, items: Sequence[IncidentInput], dirty: Dirty) -> list[bool]:
    lookups = _Lookups(source)
    named = {data.caused_by for data in items if data.caused_by}
    causes = dict(Deployment.objects.filter(source=source, external_id__in=named).values_list("external_id", "pk"))

    def row(data: IncidentInput) -> dict[str, Any]:
        service = lookups.service(data)
        if data.caused_by and data.caused_by not in causes:
            raise UnknownService(f'caused_by names no deployment "{data.caused_by}" of this source')
        dirty.add(service.id, data.started_at)
        return {
            **_as_sent(data, "service", "repository", "caused_by"),
            "service": service,
            "caused_by_id": causes.get(data.caused_by) if data.caused_by else None,
        }

    dirty.sources.add(source.id)
    return _write(Incident, source, _rows(items, row))


def incident_upsert(*, source: Source, data: IncidentInput, dirty: Dirty) -> tuple[Incident, bool]:
    (created,) = incidents_upsert(source=source, items=[data], dirty=dirty)
    return Incident.objects.get(source=source, external_id=data.external_id), created


def incident_resolve(*, source: Source, external_id: str, resolved_at: datetime, dirty: Dirty) -> Incident:
    incident = Incident.objects.get(source=source, external_id=external_id)
    incident.resolved_at = resolved_at
    incident.save(update_fields=["resolved_at"])
    dirty.add(incident.service_id, incident.started_at)
    return incident


def pull_requests_upsert(*, source: Source, items: Sequence[PullRequestInput], dirty: Dirty) -> list[bool]:
    """Pull requests with their reviews and commits: three statements for the batch, and the lookups."""
    lookups = _Lookups(source)
    lookups.people([data.author for data in items] + [review.author for data in items for review in data.reviews])
    repositories: dict[str, Repository | None] = {}

    def row(data: PullRequestInput) -> dict[str, Any]:
        service = lookups.service(data)
        repositories[data.external_id] = repository = lookups.repository(data.repository, service)
        first_commit_at = min(
            [c.authored_at for c in data.commits] + ([data.first_commit_at] if data.first_commit_at else []),
            default=None,
        )
        if data.is_direct_push and first_commit_at is None:
            first_commit_at = data.merged_at
        others = [r for r in data.reviews if r.author != data.author]
        approvals = [r.submitted_at for r in others if r.state == Review.State.APPROVED]
        dirty.add(service.id, data.merged_at or data.opened_at)
        return {
            **_as_sent(data, "service", "repository", "reviews", "commits", "first_commit_at"),
            "repository": repository,
            "service": service,
            "person": lookups.person(data.author),
            "first_commit_at": first_commit_at,
            "first_review_at": min((r.submitted_at for r in others), default=None),
            "approved_at": min(approvals, default=None),
        }

    dirty.sources.add(source.id)
    rows = _rows(items, row)
    _refuse_commits_of_other_sources(source, items, repositories)
    created = _write(PullRequest, source, rows)
    latest = {data.external_id: data for data in items}
    ids = dict(PullRequest.objects.filter(source=source, external_id__in=latest).values_list("external_id", "pk"))
    reviews = {
        (ids[data.external_id], review.external_id): Review(
            pull_request_id=ids[data.external_id],
            external_id=review.external_id,
            person=lookups.person(review.author),
            **_as_sent(review),
        )
        for data in latest.values()
        for review in data.reviews
    }
    _upsert_objects(
        Review, reviews.values(), ["pull_request", "external_id"], ["author", "person", "state", "submitted_at"]
    )
    commits = {
        (repositories[data.external_id].pk, commit.sha): Commit(  # type: ignore[union-attr]  # a PR names its repository
            repository=repositories[data.external_id], pull_request_id=ids[data.external_id], **_as_sent(commit)
        )
        for data in latest.values()
        for commit in data.commits
    }
    _upsert_objects(Commit, commits.values(), ["repository", "sha"], ["authored_at", "pull_request"])
    return created


def _refuse_commits_of_other_sources(
    source: Source, items: Sequence[PullRequestInput], repositories: dict[str, Repository | None]
) -> None:
    """A commit in a pull request of another source stays there: naming it refuses the batch."""
    wanted: dict[tuple[int, str], int] = {}
    for index, data in enumerate(items):
        if (repository := repositories[data.external_id]) is not None:
            for commit in data.commits:
                wanted.setdefault((repository.pk, commit.sha), index)
    if not wanted:
        return
    taken = (
        Commit.objects.filter(
            repository__in={pk for pk, _ in wanted}, sha__in={sha for _, sha in wanted}, pull_request__isnull=False
        )
        .exclude(pull_request__source=source)
        .values_list("repository_id", "sha", "repository__name")
    )
    for repository_id, sha, name in taken:
        if (repository_id, sha) in wanted:
            exc = OutOfScope(f'commit {sha} of repository "{name}" is in a pull request of another source')
            exc.index = wanted[repository_id, sha]
            raise exc


def pull_request_upsert(*, source: Source, data: PullRequestInput, dirty: Dirty) -> tuple[PullRequest, bool]:
    (created,) = pull_requests_upsert(source=source, items=[data], dirty=dirty)
    return PullRequest.objects.get(source=source, external_id=data.external_id), created


def _people_for_logins(logins: set[str], kind: str) -> dict[str, Person | None]:
    """The catalog person of each login, case-insensitively: a GitHub source's logins are GitHub
    logins, a GitLab source's GitLab logins (the same name on both may be two people); other
    senders' either. The first person by id when two share a login."""
    by_kind: dict[str, list[str]] = {Source.Kind.GITHUB: ["github_login"], Source.Kind.GITLAB: ["gitlab_login"]}
    names = by_kind.get(kind, ["github_login", "gitlab_login"])
    lowered = {login.lower() for login in logins}
    found: dict[str, Person] = {}
    matches = Q()
    for name in names:
        matches |= Q(**{f"{name}_lowered__in": lowered})
    people = Person.objects.annotate(**{f"{name}_lowered": Lower(name) for name in names})
    for person in people.filter(matches).order_by("-pk"):
        for name in names:
            if (value := getattr(person, name).lower()) in lowered:
                found[value] = person  # by descending id: the first person wins
    return {login: found.get(login.lower()) for login in logins}


def pipeline_runs_upsert(*, source: Source, items: Sequence[PipelineRunInput], dirty: Dirty) -> list[bool]:
    lookups = _Lookups(source)

    def row(data: PipelineRunInput) -> dict[str, Any]:
        service = lookups.service(data)
        duration = None
        if data.started_at and data.finished_at and data.finished_at >= data.started_at:
            duration = round((data.finished_at - data.started_at).total_seconds())
        dirty.add(service.id, data.finished_at or data.started_at)
        return {
            **_as_sent(data, "service", "repository"),
            "service": service,
            "repository": lookups.repository(data.repository, service),
            "duration_seconds": duration,
        }

    dirty.sources.add(source.id)
    return _write(PipelineRun, source, _rows(items, row))


def pipeline_run_upsert(*, source: Source, data: PipelineRunInput, dirty: Dirty) -> tuple[PipelineRun, bool]:
    (created,) = pipeline_runs_upsert(source=source, items=[data], dirty=dirty)
    return PipelineRun.objects.get(source=source, external_id=data.external_id), created


def pushes_upsert(*, source: Source, items: Sequence[PushInput], dirty: Dirty) -> list[bool]:
    lookups = _Lookups(source)

    def row(data: PushInput) -> dict[str, Any]:
        service = lookups.service(data)
        dirty.add(service.id, data.pushed_at)
        return {
            **_as_sent(data, "service", "repository", "commits"),
            "service": service,
            "repository": lookups.repository(data.repository, service),
            "commits": list(data.commits),
        }

    dirty.sources.add(source.id)
    return _write(Push, source, _rows(items, row))


def push_upsert(*, source: Source, data: PushInput, dirty: Dirty) -> tuple[Push, bool]:
    (created,) = pushes_upsert(source=source, items=[data], dirty=dirty)
    return Push.objects.get(source=source, external_id=data.external_id), created


# --- Partial and out-of-order reports ------------------------------------------------------
#
# A provider's webhook reports one change at a time, in any order: a review without the pull
# request's sizes or its other reviews, a deployment's status without its earlier ones, a run
# still in progress delivered after it finished. These writers upsert such a report without
# erasing what a fuller or a later one stored; each falls back on the upsert above.


def pull_request_amend(
    *, source: Source, data: PullRequestInput, dirty: Dirty, keep_stored_reviews: bool = False
) -> tuple[PullRequest, bool]:
    """Upsert a pull request from a partial report: what ``data`` leaves unknown keeps its stored value.

    - Its reviews and commits are added to the stored ones; a review it names replaces that
      stored review, unless ``keep_stored_reviews`` (then only new reviews are added: a review
      comment stands for its review until the review itself arrives, and never overwrites it).
    - Sizes sent as None keep the stored sizes; an earlier stored first commit time is kept.
    - A merge is final: a stored merge (its time, sha and close) is kept when ``data`` has none
      (a report from before the merge, delivered late).

    The first review and the approval are then those of all its reviews, as in
    ``pull_requests_upsert``. Returns the row and whether it was created.
    """
    stored = (
        PullRequest.objects.filter(source=source, external_id=data.external_id)
        .prefetch_related("reviews", "commits")
        .first()
    )
    if stored is not None:
        kept = {
            r.external_id: ReviewInput(r.external_id, r.author, r.submitted_at, r.state) for r in stored.reviews.all()
        }
        sent = {r.external_id: r for r in data.reviews}
        reviews = {**sent, **kept} if keep_stored_reviews else {**kept, **sent}
        commits = {c.sha: CommitInput(c.sha, c.authored_at) for c in stored.commits.all()}
        commits.update((c.sha, c) for c in data.commits)
        merge_kept = stored.merged_at is not None and data.merged_at is None
        data = dataclasses.replace(
            data,
            reviews=tuple(sorted(reviews.values(), key=lambda r: (r.submitted_at, r.external_id))),
            commits=tuple(commits.values()),
            additions=stored.additions if data.additions is None else data.additions,
            deletions=stored.deletions if data.deletions is None else data.deletions,
            first_commit_at=min(filter(None, (data.first_commit_at, stored.first_commit_at)), default=None),
            merged_at=stored.merged_at if merge_kept else data.merged_at,
            merge_sha=stored.merge_sha if merge_kept else data.merge_sha,
            closed_at=stored.closed_at if merge_kept else data.closed_at,
        )
    return pull_request_upsert(source=source, data=data, dirty=dirty)


def deployment_advance(*, source: Source, data: DeploymentInput, dirty: Dirty) -> tuple[Deployment, bool]:
    """Upsert a deployment from one status report (GitHub's ``deployment_status``), unless the
    stored deployment comes from a later report: statuses are delivered in any order.

    Reports are ordered by their time (``finished_at``: when the status was set) and, at the same
    time, a finished status after a running one. Returns the row and whether ``data`` was written.
    """
    stored = Deployment.objects.filter(source=source, external_id=data.external_id).first()
    if stored is not None and _report_rank(stored.finished_at, stored.status) > _report_rank(
        data.finished_at, data.status
    ):
        return stored, False
    return deployment_upsert(source=source, data=data, dirty=dirty)[0], True


def _report_rank(at: datetime, status: str) -> tuple[datetime, bool]:
    return at, status != Deployment.Status.IN_PROGRESS


def pipeline_run_advance(*, source: Source, data: PipelineRunInput, dirty: Dirty) -> tuple[PipelineRun, bool]:
    """Upsert a pipeline run (an attempt) unless ``data`` reports it running and it is stored
    finished: a late "in progress" never reopens a finished run. Returns the row and whether
    ``data`` was written."""
    stored = PipelineRun.objects.filter(source=source, external_id=data.external_id).first()
    if (
        stored is not None
        and data.status == PipelineRun.Status.IN_PROGRESS
        and stored.status != PipelineRun.Status.IN_PROGRESS
    ):
        return stored, False
    return pipeline_run_upsert(source=source, data=data, dirty=dirty)[0], True


def incident_delete(*, source: Source, external_id: str, dirty: Dirty) -> bool:
    """Remove a source's incident that stopped being one (a label taken off, an issue deleted);
    whether there was one. Its service is refreshed, so nothing stays linked to it."""
    incident = Incident.objects.filter(source=source, external_id=external_id).first()
    if incident is None:
        return False
    dirty.add(incident.service_id, incident.started_at)
    incident.delete()
    return True


# Where a report does not carry a field at all (GitLab's merge request hook names its author by id
# only and has no merge time, its deployment hook has no ref and a success no start), None or ""
# would be written as "none": ``stored_kept`` takes those fields from the stored record first.

_KEPT_MODELS: dict[type, type[Model]] = {
    DeploymentInput: Deployment,
    IncidentInput: Incident,
    PipelineRunInput: PipelineRun,
    PullRequestInput: PullRequest,
}
# References and lists are resolved or merged by the writers, never copied from a row.
_NEVER_KEPT = frozenset(("external_id", "service", "repository", "caused_by", "reviews", "commits", "changes"))


def stored_kept[D: (DeploymentInput, IncidentInput, PipelineRunInput, PullRequestInput)](
    *, source: Source, data: D, unknown: frozenset[str]
) -> D:
    """``data`` with the fields named in ``unknown`` (those its sender does not carry) taken from the
    source's stored record of the same external id; ``data`` itself when none is stored. Write the
    result with the upsert, ``*_amend`` or ``*_advance`` writer as for any report."""
    declared = {f.name for f in dataclasses.fields(data)}
    if stray := (unknown - declared) | (unknown & _NEVER_KEPT):
        raise ValueError(f"cannot keep the stored values of {sorted(stray)}")
    if not unknown:
        return data
    model = _KEPT_MODELS[type(data)]
    stored = model._default_manager.filter(source=source, external_id=data.external_id).values(*unknown).first()
    return dataclasses.replace(data, **stored) if stored is not None else data


# --- Sources and tokens -------------------------------------------------------------------


@transaction.atomic
def api_token_create(*, source: Source, name: str) -> tuple[ApiToken, str]:
    """Create a token and return it with its key, which is shown once and stored only hashed."""
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(source=source, name=name, key_hash=ApiToken.hash_key(key), hint=key[-6:])
    return token, key


# How long a rotated key keeps working next to its successor, unless revoked sooner.
ROTATION_OVERLAP = timedelta(hours=24)


@transaction.atomic
def api_token_rotate(*, token: ApiToken, overlap: timedelta = ROTATION_OVERLAP) -> tuple[ApiToken, str]:
    """A new key for the token's source and name, shown once; the old one works for ``overlap`` more
    (both are accepted meanwhile, so senders can switch), then is refused. Revoking it ends that sooner."""
    if not token.is_active:
        raise ValueError(f"{token} is revoked: add a new key instead")
    new, key = api_token_create(source=token.source, name=token.name)
    ends = timezone.now() + overlap
    token.revoked_at = min(token.revoked_at, ends) if token.revoked_at else ends
    token.save(update_fields=["revoked_at"])
    return new, key


def api_token_authenticate(key: str) -> ApiToken | None:
    """The active token for ``key``. The lookup is by hash, so no key is compared in clear: the
    index compares SHA-256 digests, and how long that takes tells nothing about a key's characters."""
    if not key:
        return None
    try:  # key_hash is unique: no ordering, no LIMIT to plan
        token = ApiToken.objects.active().select_related("source").get(key_hash=ApiToken.hash_key(key))
    except ApiToken.DoesNotExist:
        return None
    api_token_used(token.pk, token.last_used_at)
    return token


def api_token_used(token_id: int, last_used_at: datetime | None) -> None:
    """Record that a token was used; to the minute, so busy keys do not write on every request."""
    now = timezone.now()
    if last_used_at is None or (now - last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
