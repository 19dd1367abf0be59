"""Records: what the Django side (or the DevLake adapter) loads rows into.

Frozen dataclasses of deployments, changes, incidents and pipeline runs; their
datetimes must be timezone-aware and are stored in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


def _require_aware(record: object, *names: str) -> None:
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
    ``change_ids`` is linking rule 1: the PR ids or commit shas sent with the
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
    repo: str | None = None
    is_rollback: bool = False
    is_hotfix: bool = False
    ref: str | None = None
    title: str | None = None
    change_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _require_aware(self, "started_at", "finished_at")


@dataclass(frozen=True, slots=True)
class ChangeRec:
    """A change: a pull request, or a direct push to the default branch.

    ``first_review_at`` is the first review *or comment* by someone other than
    the author. ``size`` is lines changed, None when unknown (never 0 for unknown).
    ``commit_shas`` lets a sent change list (rule 1) name the change by any of its commits.
    """

    id: str
    service: str
    repo: str | None
    merge_sha: str | None
    first_commit_at: datetime | None
    opened_at: datetime | None
    first_review_at: datetime | None = None
    approved_at: datetime | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    author: str | None = None
    size: int | None = None
    is_direct_push: bool = False
    base_branch_is_default: bool = True
    commit_shas: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_aware(self, "first_commit_at", "opened_at", "first_review_at", "approved_at", "merged_at", "closed_at")

    @classmethod
    def direct_push(
        cls,
        *,
        id: str,
        service: str,
        repo: str | None,
        sha: str,
        committed_at: datetime,
        author: str | None = None,
        size: int | None = None,
    ) -> ChangeRec:
        """A push straight to the default branch: a change whose commit time is both first commit and merge."""
        return cls(
            id=id,
            service=service,
            repo=repo,
            merge_sha=sha,
            first_commit_at=committed_at,
            opened_at=committed_at,
            merged_at=committed_at,
            author=author,
            size=size,
            is_direct_push=True,
            commit_shas=(sha,),
        )


@dataclass(frozen=True, slots=True)
class IncidentRec:
    """A production incident of a service.

    ``caused_by_deployment`` (a deployment id) or ``root_cause_sha`` are explicit
    links named by the sender; without them the linking rule applies.
    """

    id: str
    service: str
    started_at: datetime
    resolved_at: datetime | None = None
    severity: str | None = None
    caused_by_deployment: str | None = None
    root_cause_sha: str | None = None

    def __post_init__(self) -> None:
        _require_aware(self, "started_at", "resolved_at")


@dataclass(frozen=True, slots=True)
class PipelineRunRec:
    """One attempt of a CI workflow on a commit. ``duration_seconds`` wins over finished - started."""

    id: str
    service: str
    workflow: str
    sha: str
    status: str
    attempt: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    branch: str | None = None
    is_default_branch: bool = True
    repo: str | None = None
    duration_seconds: float | None = None

    def __post_init__(self) -> None:
        _require_aware(self, "started_at", "finished_at")
