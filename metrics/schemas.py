"""Bodies and query strings of the JSON API (``/api/v1/``), as ninja Schemas.

Input schemas check everything the database would otherwise reject (lengths,
integer ranges, text with NUL or a lone surrogate, out-of-range or naive
timestamps: ``metrics.storable``), so a bad request is a 422 naming the field,
never a 500. Each input schema declares the fields of its input type
(``metrics.inputs``), with the same names and defaults, and becomes one by
``In.to_input``, which the upserts in ``metrics.services`` take. The DevLake
webhook's parser (``metrics.ingest``) goes through the same schemas: one place for
the rules.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from ninja import Field, Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from metrics.inputs import (
    CommitInput,
    DeploymentInput,
    IncidentInput,
    PipelineRunInput,
    PullRequestInput,
    PushInput,
    ReviewInput,
)
from metrics.models import Commit, Deployment, Incident, PipelineRun, PullRequest, Push, Review
from metrics.storable import storable_text, time_problem

MAX_BULK_ITEMS = 1000
MAX_PUSH_COMMITS = 2048  # the most GitHub lists in one push event
MAX_LIST_LIMIT = 500
# Far beyond any real listing; bounds the OFFSET so no database sees an integer it cannot hold.
MAX_LIST_OFFSET = 1_000_000_000
# PostgreSQL's integer and smallint (PositiveIntegerField, PositiveSmallIntegerField).
MAX_INT = 2_147_483_647
MAX_SMALLINT = 32_767

_ISO_8601 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d")


def _iso_8601(value: object) -> object:
    # Pydantic also takes numbers, and numeric strings, as seconds since the epoch; the API promises ISO 8601.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_8601.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date and time with a time zone, e.g. 2025-05-01T12:00:00Z")


def _in_range_as_utc(value: datetime) -> datetime:
    if problem := time_problem(value):
        raise ValueError(problem)
    # In UTC, so a record written reads back the same as it does from the database.
    return value.astimezone(UTC)


def _http_url(value: str) -> str:
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


# Lengths are the model fields' max_length; text is also storable (``metrics.storable``). Spelt out, not made by a
# function, so that type checkers read them as the aliases they are.
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(storable_text)]
ServiceSlug = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[-a-zA-Z0-9_]+$")]
RepositoryName = Annotated[str, StringConstraints(min_length=1, max_length=300), AfterValidator(storable_text)]
Environment = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(storable_text)]
Sha = Annotated[str, StringConstraints(min_length=0, max_length=64), AfterValidator(storable_text)]
Name = Annotated[str, StringConstraints(min_length=0, max_length=200), AfterValidator(storable_text)]
Login = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(storable_text)]
Workflow = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(storable_text)]
CommitSha = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(storable_text)]
Title = Annotated[str, StringConstraints(min_length=0, max_length=500), AfterValidator(storable_text)]
Severity = Annotated[str, StringConstraints(min_length=0, max_length=40), AfterValidator(storable_text)]
Url = Annotated[str, StringConstraints(max_length=500), AfterValidator(storable_text), AfterValidator(_http_url)]
# Timezone-aware ISO 8601, e.g. 2025-05-01T12:00:00Z or 2025-05-01T14:00:00+02:00.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_8601), AfterValidator(_in_range_as_utc)]

# The models' choices, as plain strings in the OpenAPI schema (an enum there, not a reference). A Literal made from
# the choices at run time is beyond a type checker, which reads them as the strings they are.
if TYPE_CHECKING:
    DeploymentStatus = str
    PipelineRunStatus = str
    ReviewState = str
else:
    DeploymentStatus = Literal[tuple(Deployment.Status.values)]
    PipelineRunStatus = Literal[tuple(PipelineRun.Status.values)]
    ReviewState = Literal[tuple(Review.State.values)]


def _not_before(field: str, earlier: str):
    """A validator for ``field`` that rejects a value before the one in ``earlier`` (declared first)."""

    def check(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get(earlier)
        if value is not None and start is not None and value < start:
            raise ValueError(f"must not be before {earlier}")
        return value

    return field_validator(field)(classmethod(check))


class In(Schema):
    """An input schema. One with an ``input_type`` declares that type's fields, named alike."""

    # Unknown fields are refused, so a misspelt field is an error rather than silently lost.
    model_config = ConfigDict(extra="forbid")
    input_type: ClassVar[type | None] = None

    def to_input(self) -> Any:
        """The validated fields as the input type: lists become tuples, nested inputs theirs."""
        assert self.input_type is not None, f"{type(self).__name__} has no input type"
        return self.input_type(**{name: _input_value(value) for name, value in self.__dict__.items()})


def _input_value(value: object) -> object:
    if isinstance(value, list):
        return tuple(_input_value(item) for item in value)
    return value.to_input() if isinstance(value, In) else value


# --- Deployments ------------------------------------------------------------------------


class DeploymentIn(In):
    input_type = DeploymentInput
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "deploy-2025-05-01-1",
                    "service": "checkout",
                    "environment": "production",
                    "status": "success",
                    "started_at": "2025-05-01T12:00:00Z",
                    "finished_at": "2025-05-01T12:04:30Z",
                    "sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                    "ref": "main",
                    "changes": ["pr-1412", "pr-1415"],
                }
            ]
        },
    )

    external_id: ExternalId = Field(description="Your id for the deployment; sending it again updates the record.")
    service: ServiceSlug | None = Field(None, description="The service's slug. Give it, or `repository`.")
    repository: RepositoryName | None = Field(
        None, description="owner/name; names the service when `service` is not given."
    )
    environment: Environment
    status: DeploymentStatus = Deployment.Status.SUCCESS.value
    started_at: Timestamp | None = None
    finished_at: Timestamp
    sha: Sha = ""
    ref: Name = Field("", description="Branch or tag deployed.")
    title: Title = ""
    url: Url = ""
    is_rollback: StrictBool = False
    is_hotfix: StrictBool = False
    changes: list[ExternalId] | None = Field(
        None,
        max_length=MAX_BULK_ITEMS,
        description="External ids of the pull requests, or commit shas, this deployment ships.",
    )

    _finished_after_start = _not_before("finished_at", "started_at")


class DeploymentOut(Schema):
    external_id: str
    service: str
    repository: str | None
    environment: str
    is_production: bool
    status: str
    started_at: datetime | None
    finished_at: datetime
    sha: str
    ref: str
    title: str
    url: str
    is_rollback: bool
    is_hotfix: bool
    changes: list[str] | None = Field(description="The change ids sent with the deployment.")
    is_failed: bool = Field(description="Set by linking: the deployment failed or caused an incident.")
    recovered_at: datetime | None = Field(description="Set by linking: when the failure was recovered.")

    @staticmethod
    def resolve_service(obj: Deployment) -> str:
        return obj.service.slug

    @staticmethod
    def resolve_repository(obj: Deployment) -> str | None:
        return obj.repository.name if obj.repository is not None else None


class DeploymentFilters(Schema):
    service: ServiceSlug | None = None
    environment: Environment | None = None
    status: DeploymentStatus | None = None
    is_production: bool | None = None
    since: Timestamp | None = Field(None, description="finished_at on or after this time.")
    until: Timestamp | None = Field(None, description="finished_at before this time.")


# --- Incidents -------------------------------------------------------------------------------


class IncidentIn(In):
    input_type = IncidentInput
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "INC-204",
                    "service": "checkout",
                    "title": "Checkout returns 502",
                    "severity": "sev2",
                    "started_at": "2025-05-01T13:10:00Z",
                    "caused_by": "deploy-2025-05-01-1",
                }
            ]
        },
    )

    external_id: ExternalId
    service: ServiceSlug | None = None
    repository: RepositoryName | None = None
    title: Title = ""
    severity: Severity = ""
    url: Url = ""
    started_at: Timestamp
    resolved_at: Timestamp | None = None
    caused_by: ExternalId | None = Field(None, description="external_id of a deployment you sent that caused it.")
    root_cause_sha: Sha = ""

    _resolved_after_start = _not_before("resolved_at", "started_at")


class IncidentResolveIn(In):
    resolved_at: Timestamp


class IncidentOut(Schema):
    external_id: str
    service: str
    title: str
    severity: str
    url: str
    started_at: datetime
    resolved_at: datetime | None
    caused_by: str | None
    root_cause_sha: str

    @staticmethod
    def resolve_service(obj: Incident) -> str:
        return obj.service.slug

    @staticmethod
    def resolve_caused_by(obj: Incident) -> str | None:
        return obj.caused_by.external_id if obj.caused_by is not None else None


class IncidentFilters(Schema):
    service: ServiceSlug | None = None
    resolved: bool | None = None
    since: Timestamp | None = Field(None, description="started_at on or after this time.")
    until: Timestamp | None = Field(None, description="started_at before this time.")


# --- Pull requests ---------------------------------------------------------------------------


class ReviewIn(In):
    input_type = ReviewInput
    external_id: ExternalId
    author: Login
    state: ReviewState = Review.State.COMMENTED.value
    submitted_at: Timestamp


class CommitIn(In):
    input_type = CommitInput
    sha: CommitSha
    authored_at: Timestamp


class PullRequestIn(In):
    input_type = PullRequestInput
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "pr-1412",
                    "repository": "acme/checkout",
                    "number": 1412,
                    "title": "Retry card authorisation once",
                    "author": "ada",
                    "base_branch": "main",
                    "opened_at": "2025-04-30T09:00:00Z",
                    "merged_at": "2025-05-01T10:30:00Z",
                    "merge_sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                    "additions": 42,
                    "deletions": 7,
                    "reviews": [
                        {
                            "external_id": "r-1",
                            "author": "grace",
                            "state": "approved",
                            "submitted_at": "2025-04-30T15:00:00Z",
                        }
                    ],
                    "commits": [{"sha": "1b2c3d4", "authored_at": "2025-04-30T08:40:00Z"}],
                }
            ]
        },
    )

    external_id: ExternalId
    repository: RepositoryName = Field(description="owner/name.")
    service: ServiceSlug | None = Field(None, description="The service's slug; found from the repository if omitted.")
    number: StrictInt | None = Field(None, ge=1, le=MAX_INT)
    title: Title = ""
    url: Url = ""
    author: Name = Field("", description="The author's login (GitHub or GitLab).")
    base_branch: Name = ""
    is_direct_push: StrictBool = Field(False, description="A push straight to the default branch, not a pull request.")
    first_commit_at: Timestamp | None = None
    opened_at: Timestamp
    merged_at: Timestamp | None = None
    closed_at: Timestamp | None = None
    merge_sha: Sha = ""
    additions: StrictInt | None = Field(
        None, ge=0, le=MAX_INT, description="Lines added. Leave out (or null) when unknown: it is not taken as 0."
    )
    deletions: StrictInt | None = Field(
        None,
        ge=0,
        le=MAX_INT,
        validate_default=True,
        description="Lines deleted; send it with `additions`, or leave both out.",
    )
    reviews: list[ReviewIn] = Field([], max_length=MAX_BULK_ITEMS)
    commits: list[CommitIn] = Field([], max_length=MAX_BULK_ITEMS)

    _merged_after_open = _not_before("merged_at", "opened_at")
    _closed_after_open = _not_before("closed_at", "opened_at")

    @field_validator("deletions")
    @classmethod
    def _sized_together(cls, value: int | None, info: ValidationInfo) -> int | None:
        # The size is their sum: one of them alone would be a size half known. (An invalid
        # ``additions`` is reported on its own, and is absent from ``info.data``.)
        if "additions" in info.data and (info.data["additions"] is None) != (value is None):
            raise ValueError("send additions and deletions together, or neither when the size is unknown")
        return value


class ReviewOut(Schema):
    external_id: str
    author: str
    state: str
    submitted_at: datetime


class CommitOut(Schema):
    sha: str
    authored_at: datetime


class PullRequestOut(Schema):
    external_id: str
    repository: str
    service: str | None
    number: int | None
    title: str
    url: str
    author: str
    base_branch: str
    is_direct_push: bool
    first_commit_at: datetime | None
    opened_at: datetime
    first_review_at: datetime | None
    approved_at: datetime | None
    merged_at: datetime | None
    closed_at: datetime | None
    merge_sha: str
    additions: int | None = Field(description="None: not sent (unknown).")
    deletions: int | None
    deployed_at: datetime | None = Field(description="Set by linking: when the change reached production.")
    reviews: list[ReviewOut]
    commits: list[CommitOut]

    @staticmethod
    def resolve_repository(obj: PullRequest) -> str:
        return obj.repository.name

    @staticmethod
    def resolve_service(obj: PullRequest) -> str | None:
        return obj.service.slug if obj.service is not None else None

    @staticmethod
    def resolve_reviews(obj: PullRequest) -> list[Review]:
        return list(obj.reviews.all())

    @staticmethod
    def resolve_commits(obj: PullRequest) -> list[Commit]:
        return list(obj.commits.all())


class PullRequestFilters(Schema):
    service: ServiceSlug | None = None
    repository: RepositoryName | None = None
    merged: bool | None = None
    since: Timestamp | None = Field(None, description="opened_at on or after this time.")
    until: Timestamp | None = Field(None, description="opened_at before this time.")


# --- Pipeline runs ----------------------------------------------------------------------------


class PipelineRunIn(In):
    input_type = PipelineRunInput
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "gha-run-9912-1",
                    "service": "checkout",
                    "repository": "acme/checkout",
                    "workflow": "ci",
                    "branch": "main",
                    "status": "failure",
                    "attempt": 1,
                    "started_at": "2025-05-01T11:50:00Z",
                    "finished_at": "2025-05-01T11:58:20Z",
                }
            ]
        },
    )

    external_id: ExternalId
    service: ServiceSlug | None = None
    repository: RepositoryName | None = None
    workflow: Workflow
    branch: Name = ""
    is_default_branch: StrictBool = True
    sha: Sha = ""
    status: PipelineRunStatus
    attempt: StrictInt = Field(1, ge=1, le=MAX_SMALLINT)
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    url: Url = ""

    _finished_after_start = _not_before("finished_at", "started_at")


class PipelineRunOut(Schema):
    external_id: str
    service: str
    repository: str | None
    workflow: str
    branch: str
    is_default_branch: bool
    sha: str
    status: str
    attempt: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: int | None
    url: str

    @staticmethod
    def resolve_service(obj: PipelineRun) -> str:
        return obj.service.slug

    @staticmethod
    def resolve_repository(obj: PipelineRun) -> str | None:
        return obj.repository.name if obj.repository is not None else None


class PipelineRunFilters(Schema):
    service: ServiceSlug | None = None
    workflow: Name | None = None
    branch: Name | None = None
    status: PipelineRunStatus | None = None
    since: Timestamp | None = Field(None, description="finished_at on or after this time.")
    until: Timestamp | None = Field(None, description="finished_at before this time.")


# --- Pushes -----------------------------------------------------------------------------------


def _branch_name(value: str) -> str:
    # GitHub's push event names the branch as a ref: "refs/heads/main" is the branch "main".
    return value.removeprefix("refs/heads/")


class PushIn(In):
    input_type = PushInput
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "9a1b6f10-2a43-11f0-8e1c-5d2f1a7c0b11",
                    "repository": "acme/checkout",
                    "branch": "main",
                    "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
                    "after": "9fceb02d0ae598e95dc970b74767f19372d61af8",
                    "commits": ["1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e", "9fceb02d0ae598e95dc970b74767f19372d61af8"],
                    "pushed_at": "2025-05-01T10:30:05Z",
                }
            ]
        },
    )

    external_id: ExternalId = Field(description="Your id for the push, e.g. GitHub's `X-GitHub-Delivery` header.")
    repository: RepositoryName = Field(description="owner/name (GitHub's `repository.full_name`).")
    service: ServiceSlug | None = Field(None, description="The service's slug; found from the repository if omitted.")
    branch: Annotated[Name, AfterValidator(_branch_name)] = Field(
        "", description='The branch pushed to; a GitHub `ref` such as "refs/heads/main" is taken as "main".'
    )
    before: CommitSha = Field(description="The branch's head before the push.")
    after: CommitSha = Field(description="The branch's head after the push.")
    commits: list[CommitSha] = Field(
        [],
        max_length=MAX_PUSH_COMMITS,
        description="The shas of the commits pushed, oldest first (the `id` of each of GitHub's `commits`).",
    )
    pushed_at: Timestamp | None = None


class PushOut(Schema):
    external_id: str
    service: str
    repository: str
    branch: str
    before: str
    after: str
    commits: list[str]
    pushed_at: datetime | None

    @staticmethod
    def resolve_service(obj: Push) -> str:
        return obj.service.slug

    @staticmethod
    def resolve_repository(obj: Push) -> str:
        return obj.repository.name


class PushFilters(Schema):
    service: ServiceSlug | None = None
    repository: RepositoryName | None = None
    branch: Name | None = None
    since: Timestamp | None = Field(None, description="pushed_at on or after this time.")
    until: Timestamp | None = Field(None, description="pushed_at before this time.")


# --- Shared -----------------------------------------------------------------------------------


class BulkItemOut(Schema):
    external_id: str
    created: bool


class BulkOut(Schema):
    created: int = Field(description="How many records the request created.")
    updated: int = Field(description="How many records it updated.")
    items: list[BulkItemOut] = Field(description="One per item sent, in order.")


class ErrorOut(Schema):
    detail: str


class FieldError(Schema):
    loc: list[str | int] = Field(description='Where: "body", then the item index (bulk) and the field.')
    msg: str
    type: str


class ValidationErrorOut(Schema):
    detail: list[FieldError]
