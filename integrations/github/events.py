"""GitHub's webhook events as e360's records.

``process`` hands a stored event to the handler of its event (``HANDLERS``); each reads the
payload as GitHub documents it, turns GitHub's objects into records with ``records`` (the same
functions the REST backfill uses) and writes through ``metrics.services``, idempotently (every
record is keyed on GitHub's own id), so a redelivery changes nothing. An event reports one
change, in any order: the writers it uses never let a partial or late report erase what a fuller
or newer one stored (``pull_request_amend``, ``deployment_advance``, ``pipeline_run_advance``).
An action that changes nothing e360 keeps is ignored with the reason. What each event becomes is
in ``docs/integrations/github.md#webhook-events``.

A ``release`` event names its tag, not the commit: processing it makes one small GitHub API request
(``GitHub.commit_sha``), the only handler that does.

A repository that maps to no service fails the event with the repository's name: once it is
mapped, retrying the event (admin) stores it. A source never writes outside its scope: the write
services refuse it (``SourceScope``) and the event fails with the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import httpx

from integrations.github import records
from integrations.github.client import GitHub
from integrations.http import IntegrationError
from integrations.models import Connection
from integrations.providers import Handler, dispatch
from metrics.models import Deployment, InboundEvent, PullRequest
from metrics.services import (
    Dirty,
    OutOfScope,
    UnknownService,
    deployment_advance,
    deployments_upsert,
    incident_delete,
    incidents_upsert,
    pipeline_run_advance,
    pull_request_amend,
    pushes_upsert,
    repository_default_branch_set,
)

Status = InboundEvent.Status


def _object(obj: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = obj.get(name)
    if not isinstance(value, dict):
        raise records.Unreadable(f"the payload has no {name} object")
    return value


def _repository(payload: Mapping[str, Any]) -> str:
    name = _object(payload, "repository").get("full_name")
    if not name or not isinstance(name, str):
        raise records.Unreadable("the payload's repository has no full_name")
    return name


def _ignored(payload: Mapping[str, Any], event: InboundEvent) -> tuple[str, str]:
    return Status.IGNORED, f"{event.kind.removeprefix('github.')} {payload.get('action')}: changes nothing e360 keeps"


def _ping(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    hook = payload.get("hook") or {}
    listed = ", ".join(sorted(hook.get("events") or [])) or "none listed"
    return Status.PROCESSED, f"GitHub says hello (hook {hook.get('id', '?')}; events: {listed})"


# --- Pull requests and reviews ----------------------------------------------------------------

PULL_REQUEST_ACTIONS = frozenset(
    {"opened", "ready_for_review", "synchronize", "closed", "reopened", "converted_to_draft", "edited"}
)


def _pull_request(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    if payload.get("action") not in PULL_REQUEST_ACTIONS:
        return _ignored(payload, event)
    pr = _object(payload, "pull_request")
    data = records.pull_request(pr)
    name = f"pull request {data.repository}#{data.number}"
    if records.is_open_draft(pr) and not _stored(event, data.external_id):
        return Status.IGNORED, f"{name} is a draft: it is recorded once ready for review (or reviewed)"
    pull_request_amend(source=event.source, data=data, dirty=dirty)
    return Status.PROCESSED, f"{name} {payload['action']}"


def _stored(event: InboundEvent, external_id: str) -> bool:
    return PullRequest.objects.filter(source=event.source, external_id=external_id).exists()


def _pull_request_review(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    if payload.get("action") not in ("submitted", "edited", "dismissed"):
        return _ignored(payload, event)
    review = records.review(_object(payload, "review"))
    if review is None:
        return Status.IGNORED, "a pending review (not submitted)"
    # The pull request as the event embeds it (no sizes, reviews or commits): the amend keeps
    # what a fuller report stored, and creates the pull request if the review came first.
    data = records.pull_request(_object(payload, "pull_request"), reviews=[_object(payload, "review")])
    pull_request_amend(source=event.source, data=data, dirty=dirty)
    return (
        Status.PROCESSED,
        f"review {review.external_id} by {review.author or '?'} ({review.state}) {payload['action']}",
    )


def _pull_request_review_comment(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    """A comment on a pull request's diff counts toward its first review (``docs/metrics.md``:
    pickup ends at the first review *or comment* by someone other than the author). GitHub makes
    every such comment part of a review (``pull_request_review_id``): the comment stands for that
    review until the review's own event arrives, which then wins, whatever the order."""
    if payload.get("action") not in ("created", "edited"):
        return _ignored(payload, event)
    comment = _object(payload, "comment")
    review_id = comment.get("pull_request_review_id")
    review = {
        "id": review_id if review_id else f"comment-{comment.get('id')}",
        "user": comment.get("user"),
        "state": "COMMENTED",
        "submitted_at": comment.get("created_at"),
    }
    data = records.pull_request(_object(payload, "pull_request"), reviews=[review])
    pull_request_amend(source=event.source, data=data, dirty=dirty, keep_stored_reviews=True)
    return Status.PROCESSED, f"comment {comment.get('id')} on {data.repository}#{data.number} (review {review['id']})"


# --- Deployments ---------------------------------------------------------------------------------


def _deployment(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    """A deployment is created without a status: how it went comes with its ``deployment_status``
    events, each of which carries the whole deployment, so they record it (in any order)."""
    deployment = _object(payload, "deployment")
    return Status.IGNORED, (
        f"deployment {deployment.get('id')} has no status yet: it is recorded from its deployment_status events"
    )


def _deployment_status(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    if payload.get("action") != "created":
        return _ignored(payload, event)
    if (deploys_by := _connection(event).deploys_by) != Connection.DeploysBy.DEPLOYMENTS:
        return Status.IGNORED, f"this source deploys by {deploys_by}: GitHub deployments are not its deployments"
    status = _object(payload, "deployment_status")
    data = records.deployment(_object(payload, "deployment"), [status], _repository(payload))
    if data is None:
        return Status.IGNORED, f"deployment status {status.get('state')}: says nothing of how the deployment went"
    _, written = deployment_advance(source=event.source, data=data, dirty=dirty)
    if not written:
        return Status.PROCESSED, f"deployment {data.external_id}: {data.status} is older than its stored status, kept"
    return Status.PROCESSED, f"deployment {data.external_id} to {data.environment}: {data.status}"


# --- Releases and tags: deployments of a connection that deploys by them ----------------------------

RELEASE_ACTIONS = frozenset({"published", "released"})
# Reading a release's commit while its event is processed: once, briefly (``_release_sha``).
LOOKUP_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


def _release(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    """A published release is a production deployment of the commit its tag names, when the
    connection deploys by releases. ``published`` and ``released`` both come for a release (and
    ``released`` alone when a prerelease becomes one): the same record, written once. Drafts and
    prereleases are not deployments. A release deleted or unpublished later is ignored: the
    deployment happened, and its record stays."""
    connection = _connection(event)
    action = payload.get("action")
    if connection.deploys_by != Connection.DeploysBy.RELEASES:
        return Status.IGNORED, f"release {action}: this source deploys by {connection.deploys_by}, not by releases"
    if action in ("deleted", "unpublished"):
        return Status.IGNORED, f"release {action}: the deployment it made happened, and its record stays"
    if action not in RELEASE_ACTIONS:
        return _ignored(payload, event)
    release = _object(payload, "release")
    repository = _repository(payload)
    name = f"release {release.get('tag_name')} of {repository}"
    if release.get("draft") or release.get("prerelease"):
        return Status.IGNORED, f"{name} is a {'draft' if release.get('draft') else 'prerelease'}: not a deployment"
    data = records.release(release, repository=repository, sha="")
    assert data is not None  # neither a draft nor a prerelease
    sha, unknown = _release_sha(connection, repository, data.ref)
    if not sha:  # keep the commit an earlier delivery (or the sync) read
        stored = Deployment.objects.filter(source=event.source, external_id=data.external_id)
        sha = stored.values_list("sha", flat=True).first() or ""
    data = dataclasses.replace(data, sha=sha)
    deployments_upsert(source=event.source, items=[data], dirty=dirty)
    return Status.PROCESSED, f"{name} {action}: deployment {data.external_id}" + (f" ({unknown})" if unknown else "")


def _release_sha(connection: Connection, repository: str, tag: str) -> tuple[str, str]:
    """The commit a release's tag names, and "" or why it is unknown. A release names its tag, not
    the commit (``target_commitish`` is where a new tag was made, usually a branch, and means nothing
    for an existing tag): one small API request reads it, as the backfill does. Without credentials,
    or if GitHub does not answer, the deployment is recorded without a sha (it links its changes by
    time, rule 3) and the next sync fills it in. The request is short-fused (one try, a few
    seconds): events are processed within a worker's time limit, inside their transaction."""
    try:
        with GitHub(connection, retries=0, timeout=LOOKUP_TIMEOUT) as github:
            return github.commit_sha(repository, tag), ""
    except IntegrationError as exc:
        return "", f"its commit is not known yet: {exc}"


# --- Workflow runs -------------------------------------------------------------------------------


def _default_branch(payload: Mapping[str, Any]) -> str:
    return str(_object(payload, "repository").get("default_branch") or "")


def _workflow_run(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    if payload.get("action") not in ("in_progress", "completed"):
        return _ignored(payload, event)
    data = records.workflow_run(_object(payload, "workflow_run"), default_branch=_default_branch(payload))
    if data is None:
        return Status.IGNORED, "the workflow run has not started"
    if data.repository is None:  # a run names its repository; the event's is the same one
        data = dataclasses.replace(data, repository=_repository(payload))
    _, written = pipeline_run_advance(source=event.source, data=data, dirty=dirty)
    name = f"workflow {data.workflow!r} run {data.external_id}"
    return Status.PROCESSED, f"{name}: {data.status}" + ("" if written else " reported late, kept finished")


def _workflow_job(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    """Attempts are recorded from ``workflow_run`` events: every re-run (of all jobs or of the
    failed ones) is a new attempt of the run, reported with its ``run_attempt`` and conclusion, and
    each attempt is a record of its own (``<run id>/<attempt>``), which is what flakiness needs. A
    job's conclusion does not decide its run's (a job may be allowed to fail), so a job adds nothing."""
    job = _object(payload, "workflow_job")
    return Status.IGNORED, (
        f"job {job.get('name', '?')!r} of run {job.get('run_id')} attempt {job.get('run_attempt')}: "
        "runs and their attempts are recorded from workflow_run events"
    )


# --- Pushes ------------------------------------------------------------------------------------


def _push(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    """Pushes to the default branch only: they chain into the commit ranges of linking rule 2.
    Here, not in ``records.push``, so that the record can be read for any branch. A push of a tag
    is a deployment when the connection deploys by tags matching its pattern (``_tag_push``)."""
    if records.tag_of(payload.get("ref")):
        return _tag_push(payload, event, dirty)
    if not records.is_default_branch_push(payload):
        what = "a deletion of " if payload.get("deleted") else "a push to "
        return Status.IGNORED, f"{what}{payload.get('ref')}: only pushes to the default branch are kept"
    data = records.push(payload)
    pushes_upsert(source=event.source, items=[data], dirty=dirty)
    return Status.PROCESSED, f"push to {data.repository} {data.branch}: {len(data.commits)} commits"


def _tag_push(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    connection = _connection(event)
    name = records.tag_of(payload.get("ref"))
    if connection.deploys_by != Connection.DeploysBy.TAGS:
        return Status.IGNORED, f"a push of tag {name}: this source deploys by {connection.deploys_by}, not by tags"
    if not connection.deploys_by_tag(name):
        return Status.IGNORED, f"a push of tag {name}: not a deployment (the pattern is {connection.tag_pattern!r})"
    if payload.get("deleted"):
        return Status.IGNORED, f"tag {name} deleted: the deployment it made happened, and its record stays"
    data = records.tag_push(payload)
    deployments_upsert(source=event.source, items=[data], dirty=dirty)
    return Status.PROCESSED, f"tag {name} of {data.repository} pushed: deployment of {data.sha[:12]}"


# --- Incidents ---------------------------------------------------------------------------------

ISSUE_ACTIONS = frozenset({"opened", "edited", "labeled", "unlabeled", "closed", "reopened", "deleted"})


def _issues(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    if payload.get("action") not in ISSUE_ACTIONS:
        return _ignored(payload, event)
    label = _connection(event).incident_label
    if not label:
        return Status.IGNORED, "this source has no incident label: issues are not incidents"
    issue = _object(payload, "issue")
    repository = _repository(payload)
    name = f"issue {repository}#{issue.get('number')}"
    data = records.incident(issue, repository=repository, label=label)
    if data is None or payload["action"] == "deleted":
        if incident_delete(source=event.source, external_id=str(issue.get("id")), dirty=dirty):
            return Status.PROCESSED, f"{name} is no longer an incident ({payload['action']}): removed"
        return Status.IGNORED, f"{name} is not labelled {label!r}"
    incidents_upsert(source=event.source, items=[data], dirty=dirty)
    state = "resolved" if data.resolved_at else "open"
    return Status.PROCESSED, f"{name} {payload['action']}: incident {state}"


# --- The installation --------------------------------------------------------------------------


def _connection(event: InboundEvent) -> Connection:
    try:
        return event.source.connection
    except Connection.DoesNotExist:
        raise records.Unreadable("this source has no GitHub connection") from None


def _installation_id(payload: Mapping[str, Any]) -> int:
    found = _object(payload, "installation").get("id")
    if not isinstance(found, int) or isinstance(found, bool):
        raise records.Unreadable("the payload's installation has no id")
    return found


def _names(items: Any) -> list[str]:
    return [str(item["full_name"]) for item in items or [] if isinstance(item, dict) and item.get("full_name")]


def _installation(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    """The App installed (its repositories), uninstalled, or otherwise changed (ignored)."""
    connection = _connection(event)
    installation = _installation_id(payload)
    if connection.installation_id not in (None, installation):
        return Status.IGNORED, f"installation {installation} is not this source's ({connection.installation_id})"
    action = payload.get("action")
    if action == "created":
        names = sorted(set(_names(payload.get("repositories"))))
        Connection.objects.filter(pk=connection.pk).update(installation_id=installation, repositories=names)
        return Status.PROCESSED, f"installation {installation} created with {len(names)} repositories"
    if action == "deleted":
        Connection.objects.filter(pk=connection.pk).update(installation_id=None, repositories=[])
        return Status.PROCESSED, f"installation {installation} deleted: no repositories left"
    return _ignored(payload, event)


def _installation_repositories(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    connection = _connection(event)
    installation = _installation_id(payload)
    if connection.installation_id not in (None, installation):
        return Status.IGNORED, f"installation {installation} is not this source's ({connection.installation_id})"
    if payload.get("action") not in ("added", "removed"):
        return _ignored(payload, event)
    added, removed = _names(payload.get("repositories_added")), set(_names(payload.get("repositories_removed")))
    names = sorted((set(connection.repositories or []) | set(added)) - removed)
    Connection.objects.filter(pk=connection.pk).update(installation_id=installation, repositories=names)
    return Status.PROCESSED, f"installation {installation}: {len(added)} added, {len(removed)} removed"


HANDLERS: dict[str, Handler] = {
    "ping": _ping,
    "pull_request": _pull_request,
    "pull_request_review": _pull_request_review,
    "pull_request_review_comment": _pull_request_review_comment,
    "deployment": _deployment,
    "deployment_status": _deployment_status,
    "workflow_run": _workflow_run,
    "workflow_job": _workflow_job,
    "push": _push,
    "release": _release,
    "issues": _issues,
    "installation": _installation,
    "installation_repositories": _installation_repositories,
}


def process(event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    """An event's records, written; (status, note). ``records.Unreadable`` and the services'
    ``UnknownService`` propagate, so ``metrics.ingest`` rolls the event's writes back and marks it
    failed with the reason (retryable)."""
    try:
        status, note = dispatch(HANDLERS, event, dirty)
    except OutOfScope:
        raise
    except UnknownService as exc:
        repository = event.payload.get("repository")
        name = repository.get("full_name") if isinstance(repository, dict) else None
        if not name:
            raise
        raise UnknownService(
            f'repository "{name}" maps to no e360 service: map it (the source\'s repository map, or a '
            "service's repositories), then retry this event"
        ) from exc
    if status == Status.PROCESSED and isinstance(repository := event.payload.get("repository"), dict):
        # The records written name the repository: keep its default branch as GitHub says it.
        repository_default_branch_set(
            name=str(repository.get("full_name") or ""), default_branch=str(repository.get("default_branch") or "")
        )
    return status, note
