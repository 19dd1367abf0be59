"""Records: what the Django side (or the DevLake adapter) loads rows into.

Frozen dataclasses of deployments, changes, incidents and pipeline runs; their
datetimes must be timezone-aware and are stored in UTC. A field is named as the
stored row's field (``metrics.models``) and the JSON API name it; text that is
absent is ``""``, a repository that is absent ``None``.

``from_row`` is the one way from a stored row to a record: it reads the row's
fields by name (a model instance, or any object with those attributes, such as
a named ``values_list`` row), so this module needs no Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar


def require_aware(record: object, *names: str) -> None:
    """Reject naive datetimes, and store aware ones in UTC.

    Python subtracts and compares two datetimes sharing a tzinfo on their wall-clock
    times, so a Berlin day with a DST change would last 24 hours; in UTC it lasts 23.
    """
    for name in names:
        value = getattr(record, name)
        if value is None:
            continue
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{type(record).__name__}.{name} must be timezone-aware, got {value!r}")
        if value.tzinfo is not UTC:
            object.__setattr__(record, name, value.astimezone(UTC))


@dataclass(frozen=True, slots=True)
class DeploymentRec:
    """A deployment of a service to an environment.

    ``status`` is compared case-insensitively (``success``, ``failure``/``error``, …).
    ``changes`` is linking rule 1: the PR ids or commit shas sent with the
    deployment. None when no list was sent; an empty tuple when the sender said the
    deployment ships no change.
    """

    id: str
    service: str
    environment: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    sha: str = ""
    repository: str | None = None
    is_rollback: bool = False
    is_hotfix: bool = False
    ref: str = ""
    title: str = ""
    changes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        require_aware(self, "started_at", "finished_at")

    @classmethod
    def from_row(cls, row: Any) -> DeploymentRec:
        """A stored deployment (its ``repository`` loaded with it), keyed by its id."""
        return cls(
            id=str(row.id),
            service=str(row.service_id),
            environment=row.environment,
            status=row.status,
            started_at=row.started_at,
            finished_at=row.finished_at,
            sha=row.sha,
            repository=row.repository.name if row.repository_id else None,
            is_rollback=row.is_rollback,
            is_hotfix=row.is_hotfix,
            ref=row.ref,
            title=row.title,
            changes=tuple(row.changes) if row.changes is not None else None,
        )


@dataclass(frozen=True, slots=True)
class ChangeRec:
    """A change: a pull request, or a direct push to the default branch.

    ``first_review_at`` is the first review *or comment* by someone other than
    the author. ``size`` is lines changed, None when unknown (never 0 for unknown).
    ``commit_shas`` lets a sent change list (rule 1) name the change by any of its commits.
    """

    id: str
    service: str
    repository: str | None
    merge_sha: str
    first_commit_at: datetime | None
    opened_at: datetime | None
    first_review_at: datetime | None = None
    approved_at: datetime | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    author: str = ""
    size: int | None = None
    is_direct_push: bool = False
    base_branch_is_default: bool = True
    commit_shas: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require_aware(self, "first_commit_at", "opened_at", "first_review_at", "approved_at", "merged_at", "closed_at")

    @classmethod
    def from_row(cls, row: Any, commit_shas: tuple[str, ...] = ()) -> ChangeRec:
        """A stored pull request (its ``repository`` loaded with it) and the shas of its commits,
        keyed by its external id (the id a deployment's change list names)."""
        return cls(
            id=row.external_id,
            service=str(row.service_id),
            repository=row.repository.name,
            merge_sha=row.merge_sha,
            first_commit_at=row.first_commit_at,
            opened_at=row.opened_at,
            first_review_at=row.first_review_at,
            approved_at=row.approved_at,
            merged_at=row.merged_at,
            closed_at=row.closed_at,
            author=row.author,
            size=row.size,
            is_direct_push=row.is_direct_push,
            base_branch_is_default=not row.base_branch or row.base_branch == row.repository.default_branch,
            commit_shas=commit_shas,
        )


@dataclass(frozen=True, slots=True)
class IncidentRec:
    """A production incident of a service.

    ``caused_by`` (a deployment id) or ``root_cause_sha`` are explicit
    links named by the sender; without them the linking rule applies.
    """

    id: str
    service: str
    started_at: datetime
    resolved_at: datetime | None = None
    severity: str = ""
    caused_by: str | None = None
    root_cause_sha: str = ""

    def __post_init__(self) -> None:
        require_aware(self, "started_at", "resolved_at")

    @classmethod
    def from_row(cls, row: Any) -> IncidentRec:
        """A stored incident, keyed by its id; ``caused_by`` is the id of the deployment it names."""
        return cls(
            id=str(row.id),
            service=str(row.service_id),
            started_at=row.started_at,
            resolved_at=row.resolved_at,
            severity=row.severity,
            caused_by=str(row.caused_by_id) if row.caused_by_id else None,
            root_cause_sha=row.root_cause_sha,
        )


@dataclass(frozen=True, slots=True)
class PipelineRunRec:
    """One attempt of a CI workflow on a commit. ``duration_seconds`` wins over finished - started."""

    # What ``from_row`` reads: for ``.only()`` and ``values_list(..., named=True)``.
    ROW_FIELDS: ClassVar[tuple[str, ...]] = (
        "id",
        "service_id",
        "workflow",
        "sha",
        "status",
        "attempt",
        "started_at",
        "finished_at",
        "branch",
        "is_default_branch",
        "duration_seconds",
    )

    id: str
    service: str
    workflow: str
    sha: str
    status: str
    attempt: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    branch: str = ""
    is_default_branch: bool = True
    repository: str | None = None
    duration_seconds: float | None = None

    def __post_init__(self) -> None:
        require_aware(self, "started_at", "finished_at")

    @classmethod
    def from_row(cls, row: Any) -> PipelineRunRec:
        """A stored run (``ROW_FIELDS``), keyed by its id. Its repository is not read: no
        definition asks for it."""
        return cls(
            id=str(row.id),
            service=str(row.service_id),
            workflow=row.workflow,
            sha=row.sha,
            status=row.status,
            attempt=row.attempt,
            started_at=row.started_at,
            finished_at=row.finished_at,
            branch=row.branch,
            is_default_branch=row.is_default_branch,
            duration_seconds=row.duration_seconds,
        )
