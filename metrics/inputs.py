"""What every way in hands to the write services: one frozen dataclass per delivery record.

The JSON API's input schemas (``metrics.schemas``, whose fields carry the same names and
defaults: ``In.to_input``), the DevLake webhook's parser (``metrics.ingest``), the demo and
the senders to come (GitHub, GitLab, PagerDuty) all produce these; the upserts in
``metrics.services`` take them. A field is named as the JSON API names it, and the model
field that stores it carries the same name.

Conventions: text that was not sent is ``""``; a reference that was not sent (a service, a
repository, the deployment an incident names) is ``None``; a number or a time not sent is
``None`` (unknown, never 0). Lists are tuples, so an input stays immutable.

This module holds declarations only, so a parser can import it without the write path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from metrics.models import Deployment, Review


@dataclass(frozen=True, slots=True)
class DeploymentInput:
    external_id: str
    environment: str
    finished_at: datetime
    status: str = Deployment.Status.SUCCESS
    service: str | None = None  # the service's slug; found from the repository when None
    repository: str | None = None  # owner/name
    started_at: datetime | None = None
    sha: str = ""
    ref: str = ""  # branch or tag deployed
    title: str = ""
    url: str = ""
    is_rollback: bool = False
    is_hotfix: bool = False
    # Linking rule 1: the external ids of the pull requests, or commit shas, the deployment ships.
    # None: no list was sent; empty: the sender said it ships no change.
    changes: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class IncidentInput:
    external_id: str
    started_at: datetime
    service: str | None = None
    repository: str | None = None
    title: str = ""
    severity: str = ""
    url: str = ""
    resolved_at: datetime | None = None
    caused_by: str | None = None  # the external id of a deployment of the same source
    root_cause_sha: str = ""


@dataclass(frozen=True, slots=True)
class ReviewInput:
    external_id: str
    author: str  # a login
    submitted_at: datetime
    state: str = Review.State.COMMENTED


@dataclass(frozen=True, slots=True)
class CommitInput:
    sha: str
    authored_at: datetime


@dataclass(frozen=True, slots=True)
class PullRequestInput:
    external_id: str
    repository: str
    opened_at: datetime
    service: str | None = None
    number: int | None = None
    title: str = ""
    url: str = ""
    author: str = ""  # a login (GitHub or GitLab)
    base_branch: str = ""
    is_direct_push: bool = False
    first_commit_at: datetime | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    merge_sha: str = ""
    additions: int | None = None  # None: not sent (unknown), never taken as 0
    deletions: int | None = None
    reviews: tuple[ReviewInput, ...] = ()
    commits: tuple[CommitInput, ...] = ()


@dataclass(frozen=True, slots=True)
class PipelineRunInput:
    external_id: str
    workflow: str
    status: str
    service: str | None = None
    repository: str | None = None
    branch: str = ""
    is_default_branch: bool = True
    sha: str = ""
    attempt: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    url: str = ""


@dataclass(frozen=True, slots=True)
class PushInput:
    """A push to a branch: GitHub's push event (``before``, ``after``, the ids of ``commits``)."""

    external_id: str
    repository: str
    before: str
    after: str
    service: str | None = None
    branch: str = ""
    commits: tuple[str, ...] = ()  # shas, in push order
    pushed_at: datetime | None = None
