"""GitLab's objects as e360's records (``metrics.inputs``): no database, no HTTP.

Two shapes of the same things reach e360: the **webhook payloads** (``*_from_hook``: an event's
``object_attributes`` and the objects beside it, as docs.gitlab.com's "Webhook events" page shows
them) and the **REST API's objects** (``*_from_rest``: ``GET /projects/:id/merge_requests``,
``/deployments``, ``/pipelines``, ``/issues``, for a backfill). They differ: a hook's merge request
names its author by id only and carries no ``merged_at``, a hook's pipeline has no ``started_at``,
a hook's deployment no ``ref``; the REST objects have those. So a hook gives a record in part: a
``Partial`` names the fields the event does not carry, which keep what a fuller event (or the
backfill) stored (``metrics.services.stored_kept``, then the writers of partial reports).

External ids are GitLab's global ids, unique on an instance (a source is one instance):
``merge_request:<id>``, ``deployment:<id>``, ``pipeline:<id>:<attempt>``, ``issue:<id>``,
``note:<id>``, ``approval:<user id>``; a push, which has no id, is keyed on its project, branch and
range. A repository is named as the catalog names GitLab projects: ``<host>/<path with namespace>``
(``metrics.ingest.repository_name`` of the project's web URL).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from metrics.ingest import PayloadError, checked, repository_name
from metrics.inputs import (
    CommitInput,
    DeploymentInput,
    IncidentInput,
    PipelineRunInput,
    PullRequestInput,
    PushInput,
    ReviewInput,
)
from metrics.models import Deployment, PipelineRun, Review

MAX_EXTERNAL_ID = 200
NO_SHA = "0" * 40  # a push's before (branch created) or after (branch deleted)

# --- Times ----------------------------------------------------------------------------------

# Every format in the documented examples: "2013-12-03T17:23:34Z", "2021-02-23T02:41:37.886Z",
# "2012-01-03T23:36:29+02:00", "2015-05-17 18:08:09 UTC", "2021-04-28 21:50:00 +0200", and the
# note example's "2015-04-08T21: 00:25-07:00" (a stray space after the hour).
_TIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<hour>\d{2}):\s?(?P<minute>\d{2}):(?P<second>\d{2})(?P<fraction>\.\d+)?"
    r"\s*(?P<zone>Z|UTC|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


def parse_time(value: Any, field: str) -> datetime | None:
    """A GitLab time in any of its documented formats, aware; None for null or "". A time without
    a zone is UTC (GitLab's own ``*_at`` values are UTC when they say nothing)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be a date-time string")
    match = _TIME.match(value.strip())
    if match is None:
        raise PayloadError(f"{field} is not a GitLab date-time: {value[:40]!r}")
    fraction = (match["fraction"] or ".0")[1:7].ljust(6, "0")
    try:
        moment = datetime.fromisoformat(
            f"{match['date']}T{match['hour']}:{match['minute']}:{match['second']}.{fraction}"
        )
    except ValueError:
        raise PayloadError(f"{field} is not a valid date-time: {value[:40]!r}") from None
    zone = (match["zone"] or "UTC").upper()
    if zone in ("Z", "UTC"):
        return moment.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if offset >= timedelta(hours=24):
        raise PayloadError(f"{field} has an impossible UTC offset: {value[:40]!r}")
    return moment.replace(tzinfo=timezone(sign * offset)).astimezone(UTC)


# --- Reading a payload ------------------------------------------------------------------------


def _object(body: Mapping[str, Any], name: str, *, required: bool = True) -> Mapping[str, Any]:
    value = body.get(name)
    if isinstance(value, Mapping):
        return value
    if value is None and not required:
        return {}
    raise PayloadError(f"{name} is missing or not an object")


def _text(body: Mapping[str, Any], name: str, *, max_length: int = 500) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(f"{name} must be a string")
    return str(value).strip()[:max_length]


def _id(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{name} must be an integer id")
    return value


def _number(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{name} must be a number")
    return float(value)


def _list(body: Mapping[str, Any], name: str) -> list[Any]:
    value = body.get(name)
    return value if isinstance(value, list) else []


def _time(body: Mapping[str, Any], name: str) -> datetime | None:
    return parse_time(body.get(name), name)


def _required_time(body: Mapping[str, Any], name: str) -> datetime:
    moment = _time(body, name)
    if moment is None:
        raise PayloadError(f"{name} is missing")
    return moment


def project_repository(project: Mapping[str, Any]) -> str:
    """``<host>/<path with namespace>`` of a hook's ``project`` (or a REST project): the name the
    catalog gives GitLab projects (Backstage ``gitlab.com/project-slug`` with its instance)."""
    url = _text(project, "web_url") or _text(project, "homepage")
    if not url:
        raise PayloadError("project.web_url is missing: e360 cannot tell which project this is")
    return repository_name(url)[:300]


def _username(user: Mapping[str, Any]) -> str:
    return _text(user, "username", max_length=200)


def _capped(external_id: str) -> str:
    if len(external_id) <= MAX_EXTERNAL_ID:
        return external_id
    return "sha256:" + hashlib.sha256(external_id.encode()).hexdigest()


@dataclass(frozen=True)
class Partial[R]:
    """A record from an event that carries only part of it: ``unknown`` names the fields the event
    does not carry (their defaults in ``record`` mean nothing), which keep their stored values."""

    record: R
    unknown: frozenset[str] = frozenset()


# The JSON API's fields GitLab names otherwise, for ``checked``'s messages.
NAMES = {"opened_at": "created_at", "base_branch": "target_branch", "merge_sha": "merge_commit_sha"}


def _known[R](record: R, unknown: Iterable[str]) -> Partial[R]:
    names = frozenset(unknown)
    declared = {f.name for f in fields(record)}  # type: ignore[arg-type]
    if stray := names - declared:
        raise ValueError(f"unknown fields not on {type(record).__name__}: {sorted(stray)}")
    return Partial(checked(record, NAMES), names)  # type: ignore[type-var]  # R is one of checked's inputs


# --- Event names -------------------------------------------------------------------------------

# X-Gitlab-Event's documented values → e360's event names (the kind is ``gitlab.<name>``).
HOOK_EVENTS = {
    "Push Hook": "push",
    "Tag Push Hook": "tag_push",
    "Issue Hook": "issue",
    "Confidential Issue Hook": "issue",
    "Work Item Hook": "work_item",
    "Note Hook": "note",
    "Confidential Note Hook": "note",
    "Merge Request Hook": "merge_request",
    "Wiki Page Hook": "wiki_page",
    "Pipeline Hook": "pipeline",
    "Job Hook": "job",
    "Deployment Hook": "deployment",
    "Feature Flag Hook": "feature_flag",
    "Release Hook": "release",
    "Milestone Hook": "milestone",
    "Emoji Hook": "emoji",
    "Resource Access Token Hook": "access_token",
    "Member Hook": "member",
    "Project Hook": "project",
    "Subgroup Hook": "subgroup",
    "Vulnerability Hook": "vulnerability",
    "System Hook": "system",
}
# A body's object_kind where it differs from the name above (a job's is "build").
OBJECT_KINDS = {"build": "job"}


def event_name(header: str, object_kind: Any) -> str:
    """The event a delivery carries: from ``X-Gitlab-Event``, else the body's ``object_kind``;
    an undocumented header value becomes its snake-case name without " Hook"."""
    header = header.strip()
    if header in HOOK_EVENTS:
        return HOOK_EVENTS[header]
    if isinstance(object_kind, str) and re.fullmatch(r"[a-z_]{1,40}", object_kind):
        return OBJECT_KINDS.get(object_kind, object_kind)
    if header:
        words = re.sub(r"[^a-z0-9]+", "_", header.lower().removesuffix(" hook")).strip("_")
        return words[:40] or "unknown"
    return "unknown"


# --- Merge requests ----------------------------------------------------------------------------


def _merge_request(
    attributes: Mapping[str, Any], repository: str, *, url: str = ""
) -> tuple[PullRequestInput, set[str]]:
    """What every shape of a merge request says (id, iid, title, branches, creation); the rest unknown."""
    record = PullRequestInput(
        external_id=f"merge_request:{_id(attributes, 'id')}",
        repository=repository,
        opened_at=_required_time(attributes, "created_at"),
        number=attributes.get("iid") if isinstance(attributes.get("iid"), int) else None,
        title=_text(attributes, "title"),
        url=url or _text(attributes, "url") or _text(attributes, "web_url"),
        base_branch=_text(attributes, "target_branch", max_length=200),
    )
    unknown = {
        "author",
        "first_commit_at",
        "merged_at",
        "closed_at",
        "merge_sha",
        "additions",
        "deletions",
    }
    if not record.url:
        unknown.add("url")
    return record, unknown


def merge_request_from_hook(payload: Mapping[str, Any], *, received_at: datetime) -> Partial[PullRequestInput]:
    """A Merge Request Hook: the merge request as the event leaves it, with an approval as a review.

    - ``author``: the hook names its author by id; the acting ``user`` is the author when its id is
      ``author_id`` (or, without ids, on ``open``). Otherwise unknown.
    - ``merged_at`` / ``closed_at``: the hook has neither; ``merge`` and ``close`` happen at the
      event's ``updated_at``. An ``opened`` merge request is neither merged nor closed; ``reopen``
      clears ``closed_at``. Any other case leaves them unknown.
    - ``last_commit`` is recorded as a commit of the merge request, and the first commit is the
      earliest known (the hook names only the newest; the backfill brings the others).
    - ``approval``/``approved`` by ``user``: an approving review keyed on the user, at receipt
      (the hook carries no approval time); ``unapproval``/``unapproved`` turns it into a comment
      (``unapproved_review``). Sizes are unknown (the hook has no line counts).
    """
    attributes = _object(payload, "object_attributes")
    project = _object(attributes, "target", required=False) or _object(payload, "project")
    record, unknown = _merge_request(attributes, project_repository(project))
    action = _text(attributes, "action")
    state = _text(attributes, "state")
    updated_at = _time(attributes, "updated_at") or received_at
    user = _object(payload, "user", required=False)
    values: dict[str, Any] = {}

    author_id = attributes.get("author_id")
    if _username(user) and (user.get("id") == author_id if "id" in user else action == "open"):
        values["author"] = _username(user)
        unknown.discard("author")
    if state == "opened" or action in ("open", "reopen"):
        values.update(merged_at=None, closed_at=None)
        unknown -= {"merged_at", "closed_at"}
    if action == "merge":
        values["merged_at"] = updated_at
        unknown.discard("merged_at")
    if action == "close":
        values["closed_at"] = updated_at
        unknown.discard("closed_at")
    if state == "closed" and action != "reopen":
        values["merged_at"] = None
        unknown.discard("merged_at")
    if sha := _text(attributes, "merge_commit_sha", max_length=64):
        values["merge_sha"] = sha
        unknown.discard("merge_sha")
    elif state == "opened":
        unknown.discard("merge_sha")

    last = _object(attributes, "last_commit", required=False)
    if last and _text(last, "id") and (authored := _time(last, "timestamp")):
        values["commits"] = (CommitInput(sha=_text(last, "id", max_length=64), authored_at=authored),)

    if action in ("approval", "approved") and _username(user):
        values["reviews"] = (
            ReviewInput(
                external_id=approval_id(user),
                author=_username(user),
                submitted_at=received_at,
                state=Review.State.APPROVED,
            ),
        )
    return _known(_replace(record, values), unknown)


def approval_id(user: Mapping[str, Any]) -> str:
    """The review an approval is: one per approver (GitLab keeps one approval per user)."""
    return f"approval:{user.get('id') or _username(user)}"


def is_unapproval(payload: Mapping[str, Any]) -> bool:
    attributes = payload.get("object_attributes")
    return isinstance(attributes, Mapping) and attributes.get("action") in ("unapproval", "unapproved")


def unapproved_review(payload: Mapping[str, Any], *, submitted_at: datetime) -> ReviewInput | None:
    """An approval withdrawn: the approver did look at it, so their review stays, as a comment
    (``approved_at`` is derived again from the approvals left), at the time of the approval."""
    user = _object(payload, "user", required=False)
    if not _username(user):
        return None
    return ReviewInput(
        external_id=approval_id(user), author=_username(user), submitted_at=submitted_at, state=Review.State.COMMENTED
    )


def note_from_hook(payload: Mapping[str, Any]) -> Partial[PullRequestInput] | None:
    """A Note Hook on a merge request: a comment (a review "commented" by its author, at its
    ``created_at``) on the merge request it names. None for other notes and for system notes."""
    attributes = _object(payload, "object_attributes")
    if attributes.get("noteable_type") != "MergeRequest" or attributes.get("system") is True:
        return None
    merge_request = _object(payload, "merge_request")
    record, unknown = _merge_request(merge_request, project_repository(_object(payload, "project")))
    unknown |= {name for name in ("title", "base_branch") if not getattr(record, name)}
    review = ReviewInput(
        external_id=f"note:{_id(attributes, 'id')}",
        author=_username(_object(payload, "user", required=False)),
        submitted_at=_required_time(attributes, "created_at"),
        state=Review.State.COMMENTED,
    )
    return _known(_replace(record, {"reviews": (review,)}), unknown)


def merge_request_from_rest(
    merge_request: Mapping[str, Any],
    *,
    repository: str,
    reviews: Sequence[ReviewInput] = (),
    commits: Sequence[CommitInput] = (),
) -> PullRequestInput:
    """``GET /projects/:id/merge_requests/:iid`` (or an item of the list): the whole merge request.
    Sizes stay unknown (the API's ``changes_count`` counts files, not lines). ``reviews`` from
    ``review_from_rest_note`` over its notes, ``commits`` from ``commit_from_rest`` over
    ``/merge_requests/:iid/commits``."""
    record, _ = _merge_request(merge_request, repository, url=_text(merge_request, "web_url"))
    return checked(
        _replace(
            record,
            {
                "author": _username(_object(merge_request, "author", required=False)),
                "merged_at": _time(merge_request, "merged_at"),
                "closed_at": _time(merge_request, "closed_at"),
                "merge_sha": _text(merge_request, "merge_commit_sha", max_length=64)
                or _text(merge_request, "squash_commit_sha", max_length=64),
                "reviews": tuple(reviews),
                "commits": tuple(commits),
            },
        ),
        NAMES,
    )


# GitLab's system notes for an approval given and withdrawn: the REST API's only approval times.
APPROVED_NOTE = "approved this merge request"


def review_from_rest_note(note: Mapping[str, Any]) -> ReviewInput | None:
    """An item of ``GET /projects/:id/merge_requests/:iid/notes``: a comment; the system note of an
    approval is that approver's approving review (keyed as the hook's ``approval``, dated exactly);
    other system notes (an unapproval's too: the backfill reads the approvals left, oldest first,
    and the hook's unapproval turns the review into a comment) are None."""
    author = _object(note, "author", required=False)
    if note.get("system") is True:
        if _text(note, "body") != APPROVED_NOTE:
            return None
        return ReviewInput(
            external_id=approval_id(author),
            author=_username(author),
            submitted_at=_required_time(note, "created_at"),
            state=Review.State.APPROVED,
        )
    return ReviewInput(
        external_id=f"note:{_id(note, 'id')}",
        author=_username(author),
        submitted_at=_required_time(note, "created_at"),
        state=Review.State.COMMENTED,
    )


UNAPPROVED_NOTE = "unapproved this merge request"


def reviews_from_rest_notes(notes: Iterable[Mapping[str, Any]]) -> list[ReviewInput]:
    """A merge request's notes, oldest first (``sort=asc``), as its reviews, ending where its
    webhooks would: each comment a review; an approval the approver's approving review; an
    approval withdrawn (its system note) turns that review into a comment at the approval's time,
    as the hook's ``unapproval`` does; approved again, it is approving again, at the new time."""
    reviews: dict[str, ReviewInput] = {}
    for note in notes:
        if note.get("system") is True and _text(note, "body") == UNAPPROVED_NOTE:
            key = approval_id(_object(note, "author", required=False))
            if key in reviews:
                reviews[key] = replace(reviews[key], state=Review.State.COMMENTED)
            continue
        if (review := review_from_rest_note(note)) is not None:
            reviews[review.external_id] = review
    return list(reviews.values())


def commit_from_rest(commit: Mapping[str, Any]) -> CommitInput:
    """An item of ``/merge_requests/:iid/commits`` (or ``/repository/commits``)."""
    authored = _time(commit, "authored_date") or _required_time(commit, "created_at")
    return CommitInput(sha=_text(commit, "id", max_length=64), authored_at=authored)


def _replace[R](record: R, values: Mapping[str, Any]) -> R:
    return replace(record, **values) if values else record  # type: ignore[type-var]


# --- Deployments -------------------------------------------------------------------------------

DEPLOYMENT_STATUSES = {
    "created": Deployment.Status.IN_PROGRESS,
    "running": Deployment.Status.IN_PROGRESS,
    "blocked": Deployment.Status.IN_PROGRESS,
    "success": Deployment.Status.SUCCESS,
    "failed": Deployment.Status.FAILURE,
    "canceled": Deployment.Status.CANCELLED,
    "skipped": Deployment.Status.CANCELLED,
}
_COMMIT_IN_URL = re.compile(r"/commit/(?P<sha>[0-9a-f]{40})(?:[/?#]|$)")


def _deployment_status(value: str) -> str:
    status = DEPLOYMENT_STATUSES.get(value.lower())
    if status is None:
        raise PayloadError(f"deployment status {value[:40]!r} is not one of {', '.join(DEPLOYMENT_STATUSES)}")
    return status


def deployment_from_hook(payload: Mapping[str, Any]) -> Partial[DeploymentInput]:
    """A Deployment Hook: one per status change (running, success, failed, canceled).

    ``status_changed_at`` is when it started (running) or finished (the others). A running
    deployment is stored with that time as ``finished_at`` too (the field is required; it counts
    only once it succeeds); its start stays when the finish arrives. The sha is the
    ``commit_url``'s (the hook also has ``short_sha``); the hook has no ref, so it keeps what the
    backfill stored.
    """
    status_text = _text(payload, "status")
    status = _deployment_status(status_text)
    changed_at = _required_time(payload, "status_changed_at")
    match = _COMMIT_IN_URL.search(_text(payload, "commit_url", max_length=2000))
    sha = match["sha"] if match else _text(payload, "short_sha", max_length=64)
    environment = _text(payload, "environment", max_length=100)
    if not environment:
        raise PayloadError("environment is missing")
    record = DeploymentInput(
        external_id=f"deployment:{_id(payload, 'deployment_id')}",
        environment=environment,
        finished_at=changed_at,
        status=status,
        repository=project_repository(_object(payload, "project")),
        started_at=changed_at if status_text == "running" else None,
        sha=sha,
        title=_text(payload, "commit_title"),
        url=_text(payload, "deployable_url"),
    )
    unknown = {"ref"}
    if record.started_at is None:
        unknown.add("started_at")
    if not record.url:
        unknown.add("url")
    return _known(record, unknown)


def deployment_from_rest(deployment: Mapping[str, Any], *, repository: str) -> DeploymentInput:
    """An item of ``GET /projects/:id/deployments``: its ``deployable`` (the job) gives the start
    and the finish where the deployment has no ``finished_at``."""
    job = _object(deployment, "deployable", required=False)
    environment = _object(deployment, "environment", required=False)
    finished_at = _time(deployment, "finished_at") or _time(job, "finished_at") or _time(deployment, "updated_at")
    if finished_at is None:
        raise PayloadError("the deployment has neither finished_at nor updated_at")
    return checked(
        DeploymentInput(
            external_id=f"deployment:{_id(deployment, 'id')}",
            environment=_text(environment, "name", max_length=100),
            finished_at=finished_at,
            status=_deployment_status(_text(deployment, "status")),
            repository=repository,
            started_at=_time(job, "started_at") or _time(deployment, "created_at"),
            sha=_text(deployment, "sha", max_length=64),
            ref=_text(deployment, "ref", max_length=200),
            title=_text(_object(job, "commit", required=False), "title"),
            url=_text(job, "web_url"),
        )
    )


# --- Pipelines ---------------------------------------------------------------------------------

PIPELINE_STATUSES = {
    "created": PipelineRun.Status.IN_PROGRESS,
    "waiting_for_resource": PipelineRun.Status.IN_PROGRESS,
    "preparing": PipelineRun.Status.IN_PROGRESS,
    "waiting_for_callback": PipelineRun.Status.IN_PROGRESS,
    "pending": PipelineRun.Status.IN_PROGRESS,
    "running": PipelineRun.Status.IN_PROGRESS,
    "scheduled": PipelineRun.Status.IN_PROGRESS,
    "manual": PipelineRun.Status.IN_PROGRESS,  # waiting for someone to start a job
    "canceling": PipelineRun.Status.CANCELLED,
    "success": PipelineRun.Status.SUCCESS,
    "failed": PipelineRun.Status.FAILURE,
    "canceled": PipelineRun.Status.CANCELLED,
    "skipped": PipelineRun.Status.CANCELLED,
}


def _pipeline_status(value: str) -> str:
    status = PIPELINE_STATUSES.get(value.lower())
    if status is None:
        raise PayloadError(f"pipeline status {value[:40]!r} is not one of {', '.join(PIPELINE_STATUSES)}")
    return status


def pipeline_workflow(repository: str, source: str) -> str:
    """A GitLab project has one pipeline definition; what it runs depends on what started it (a push,
    a schedule, a merge request), so a workflow is the project's pipelines of one source."""
    path = repository.split("/", 1)[-1]
    return f"{path}: {source or 'pipeline'}"[:200]


@dataclass(frozen=True)
class PipelineEvent:
    """A pipeline's state (``run``, attempt 1 until ``pipeline_attempt`` says which) and the last
    moment the event shows activity in it (a job created, started or finished)."""

    pipeline_id: int
    run: PipelineRunInput
    unknown: frozenset[str]
    active_at: datetime | None


def pipeline_external_id(pipeline_id: int, attempt: int) -> str:
    return f"pipeline:{pipeline_id}:{attempt}"


def pipeline_from_hook(payload: Mapping[str, Any]) -> PipelineEvent:
    """A Pipeline Hook. The hook has no ``started_at``: the start is ``finished_at − duration``
    (GitLab's own running time) once finished, and unknown before. Runs of merge request pipelines
    are never default-branch runs."""
    attributes = _object(payload, "object_attributes")
    project = _object(payload, "project")
    repository = project_repository(project)
    pipeline_id = _id(attributes, "id")
    status = _pipeline_status(_text(attributes, "status"))
    finished_at = _time(attributes, "finished_at") if status != PipelineRun.Status.IN_PROGRESS else None
    duration = _number(attributes, "duration")
    started_at = finished_at - timedelta(seconds=duration) if finished_at and duration is not None else None
    branch = _text(attributes, "ref", max_length=200)
    source = _text(attributes, "source", max_length=60)
    run = PipelineRunInput(
        external_id=pipeline_external_id(pipeline_id, 1),
        workflow=pipeline_workflow(repository, source),
        status=status,
        repository=repository,
        branch=branch,
        is_default_branch=(
            attributes.get("tag") is not True
            and source != "merge_request_event"
            and branch == _text(project, "default_branch", max_length=200)
        ),
        sha=_text(attributes, "sha", max_length=64),
        started_at=started_at,
        finished_at=finished_at,
        url=_text(attributes, "url"),
    )
    jobs = _list(payload, "builds")
    moments = [finished_at] + [
        _time(job, name) for job in jobs if isinstance(job, Mapping) for name in ("created_at", "started_at")
    ]
    unknown = {"started_at"} if started_at is None else set()
    return PipelineEvent(
        pipeline_id=pipeline_id,
        run=checked(run, NAMES),
        unknown=frozenset(unknown),
        active_at=max((m for m in moments if m is not None), default=None),
    )


@dataclass(frozen=True)
class JobEvent:
    pipeline_id: int
    name: str
    retries: int
    active_at: datetime | None


def job_from_hook(payload: Mapping[str, Any]) -> JobEvent:
    """A Job Hook: which pipeline it belongs to and when it last moved (created, started, finished).
    A job created after its pipeline finished is a retry: the pipeline's next attempt."""
    moments = [
        _time(payload, name)
        for name in ("build_created_at", "build_started_at", "build_finished_at")
        if payload.get(name) is not None
    ]
    retries = payload.get("retries_count")
    return JobEvent(
        pipeline_id=_id(payload, "pipeline_id"),
        name=_text(payload, "build_name", max_length=200),
        retries=retries if isinstance(retries, int) and not isinstance(retries, bool) else 0,
        active_at=max((m for m in moments if m is not None), default=None),
    )


@dataclass(frozen=True)
class StoredAttempt:
    attempt: int
    status: str
    finished_at: datetime | None


def pipeline_attempt(
    stored: Sequence[StoredAttempt], *, finished_at: datetime | None, active_at: datetime | None
) -> int | None:
    """Which attempt of a pipeline an event describes; None when it is older than what is stored.

    GitLab retries a pipeline in place (retried jobs join the same pipeline), so e360 numbers its
    attempts: the first event is attempt 1; while the latest attempt runs, events update it; once it
    has finished, an event showing activity after that finish (a job created or started again, a
    later finish) starts the next attempt. An event repeating a stored finish updates that attempt
    (even while a later one runs), and anything else is a stale event that changes nothing. So a
    failed run followed by a passing re-run of the same sha stays two runs: flakiness is seen.
    """
    if not stored:
        return 1
    if finished_at is not None:
        for attempt in stored:
            if attempt.finished_at == finished_at:
                return attempt.attempt  # a finish already stored, told again
    latest = max(stored, key=lambda a: a.attempt)
    if latest.status == PipelineRun.Status.IN_PROGRESS:
        return latest.attempt
    if active_at is not None and latest.finished_at is not None and active_at > latest.finished_at:
        return latest.attempt + 1
    if latest.finished_at is None:
        return latest.attempt
    return None


def pipeline_from_rest(
    pipeline: Mapping[str, Any], *, repository: str, default_branch: str, attempt: int = 1
) -> PipelineRunInput:
    """``GET /projects/:id/pipelines/:pipeline_id`` (the list lacks ``started_at``/``finished_at``
    and ``duration``: fetch each, or take them as unknown). The API shows a pipeline's last state
    only: it is the latest attempt, 1 unless webhooks stored more (``pipeline:<id>:<n>``), which a
    backfill must pass as ``attempt`` so as not to overwrite a first, failed attempt."""
    status = _pipeline_status(_text(pipeline, "status"))
    branch = _text(pipeline, "ref", max_length=200)
    source = _text(pipeline, "source", max_length=60)
    return checked(
        PipelineRunInput(
            external_id=pipeline_external_id(_id(pipeline, "id"), attempt),
            workflow=pipeline_workflow(repository, source),
            status=status,
            repository=repository,
            branch=branch,
            is_default_branch=pipeline.get("tag") is not True
            and source != "merge_request_event"
            and branch == default_branch,
            sha=_text(pipeline, "sha", max_length=64),
            started_at=_time(pipeline, "started_at") or _time(pipeline, "created_at"),
            finished_at=_time(pipeline, "finished_at") if status != PipelineRun.Status.IN_PROGRESS else None,
            url=_text(pipeline, "web_url"),
            attempt=attempt,
        )
    )


# --- Pushes ------------------------------------------------------------------------------------


def push_from_hook(payload: Mapping[str, Any], *, received_at: datetime) -> PushInput | str:
    """A Push Hook to the project's default branch; otherwise why it is not kept (a string).

    GitLab lists at most 20 commits (``total_commits_count`` has the real number): a push listed
    in part is not stored, since a range missing commits would link too few changes; without it
    the chain of pushes breaks there and linking falls back to rule 3 (docs/metrics.md). The hook
    carries no push time: the time of receipt stands for it.
    """
    project = _object(payload, "project")
    ref = _text(payload, "ref", max_length=300)
    default = _text(project, "default_branch", max_length=200)
    branch = ref.removeprefix("refs/heads/")
    if not ref.startswith("refs/heads/") or branch != default:
        return f"a push to {ref or 'no ref'}, not to the default branch ({default or 'unknown'})"
    before, after = _text(payload, "before", max_length=64), _text(payload, "after", max_length=64)
    if not after or after == NO_SHA:
        return f"the branch {branch} was deleted"
    commits = _list(payload, "commits")
    shas = tuple(_text(c, "id", max_length=64) for c in commits if isinstance(c, Mapping) and c.get("id"))
    total = payload.get("total_commits_count")
    if isinstance(total, int) and not isinstance(total, bool) and total > len(shas):
        return f"the hook lists {len(shas)} of the push's {total} commits: a partial range is not stored"
    project_id = project.get("id", payload.get("project_id"))
    return checked(
        PushInput(
            external_id=_capped(f"push:{project_id}:{branch}:{before}:{after}"),
            repository=project_repository(project),
            before=before or NO_SHA,
            after=after,
            branch=branch,
            commits=shas,
            pushed_at=received_at,
        )
    )


# --- Incidents ---------------------------------------------------------------------------------

GITLAB_SEVERITIES = {"critical", "high", "medium", "low"}  # and "unknown", which says nothing


def is_incident(attributes: Mapping[str, Any]) -> bool:
    """An issue or work item of type Incident: ``type`` "Incident" (hooks, GitLab 17.2+; the REST
    API says "INCIDENT") or ``issue_type`` "incident" (earlier hooks and the REST API)."""
    return any(str(attributes.get(name) or "").lower() == "incident" for name in ("type", "issue_type"))


def _severity(attributes: Mapping[str, Any]) -> str:
    value = _text(attributes, "severity", max_length=40).lower()
    return value if value in GITLAB_SEVERITIES else ""


def incident_from_hook(payload: Mapping[str, Any]) -> Partial[IncidentInput]:
    """An Issue (or Work Item) Hook of an incident. It started when created; it is resolved when
    closed: at ``closed_at`` where the hook has it, else at the ``close`` event's ``updated_at``.
    Opened or reopened, it is unresolved; a closed incident's other events keep the stored time."""
    attributes = _object(payload, "object_attributes")
    action, state = _text(attributes, "action"), _text(attributes, "state")
    record = IncidentInput(
        external_id=f"issue:{_id(attributes, 'id')}",
        started_at=_required_time(attributes, "created_at"),
        repository=project_repository(_object(payload, "project")),
        title=_text(attributes, "title"),
        severity=_severity(attributes),
        url=_text(attributes, "url"),
    )
    unknown: set[str] = set()
    if state == "closed" and action != "reopen":
        resolved = _time(attributes, "closed_at") or (_time(attributes, "updated_at") if action == "close" else None)
        if resolved is None:
            unknown.add("resolved_at")
        record = _replace(record, {"resolved_at": resolved})
    return _known(record, unknown)


def incident_from_rest(issue: Mapping[str, Any], *, repository: str) -> IncidentInput:
    """An item of ``GET /projects/:id/issues?issue_type=incident``."""
    return checked(
        IncidentInput(
            external_id=f"issue:{_id(issue, 'id')}",
            started_at=_required_time(issue, "created_at"),
            repository=repository,
            title=_text(issue, "title"),
            severity=_severity(issue),
            url=_text(issue, "web_url"),
            resolved_at=_time(issue, "closed_at") if _text(issue, "state") == "closed" else None,
        )
    )
