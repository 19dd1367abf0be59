"""GitLab's webhook events as e360's records.

``process`` hands a stored event to the handler of its event (``HANDLERS``); each reads the
payload with ``records`` (GitLab's documented shapes) and writes through ``metrics.services``.
Every record is keyed on GitLab's own ids, so a redelivery or a retry writes nothing new; the
fields an event does not carry keep their stored values (``stored_kept``), and the ``*_amend`` and
``*_advance`` writers keep what a fuller or a later report stored. The project of an event names
its repository, which the catalog maps to a service: an unmapped project, or one outside the
source's scope, fails the event with the reason (retryable once mapped).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from integrations.gitlab import records
from integrations.providers import Handler, dispatch
from metrics.inputs import PipelineRunInput, PullRequestInput, ReviewInput
from metrics.models import InboundEvent, PipelineRun, Review
from metrics.services import (
    Dirty,
    deployment_advance,
    incident_delete,
    incident_upsert,
    pipeline_run_advance,
    pull_request_amend,
    push_upsert,
    stored_kept,
)

Status = InboundEvent.Status


def _merge_request(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    partial = records.merge_request_from_hook(payload, received_at=event.received_at)
    record = partial.record
    action = payload["object_attributes"].get("action") or "event"
    if records.is_unapproval(payload):
        stored = Review.objects.filter(
            pull_request__source=event.source,
            pull_request__external_id=record.external_id,
            external_id=records.approval_id(payload.get("user") or {}),
        ).first()
        review = records.unapproved_review(
            payload, submitted_at=stored.submitted_at if stored is not None else event.received_at
        )
        if review is not None:
            record = _with_reviews(record, (review,))
    record = stored_kept(source=event.source, data=record, unknown=partial.unknown)
    pull_request_amend(source=event.source, data=record, dirty=dirty)
    return Status.PROCESSED, f"merge request !{record.number} of {record.repository}: {action}"


def _note(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    partial = records.note_from_hook(payload)
    if partial is None:
        attributes = payload.get("object_attributes") or {}
        what = (
            "a system note" if attributes.get("system") is True else f"a comment on {attributes.get('noteable_type')}"
        )
        return Status.IGNORED, f"{what}, not a merge request review"
    record = stored_kept(source=event.source, data=partial.record, unknown=partial.unknown)
    pull_request_amend(source=event.source, data=record, dirty=dirty)
    return Status.PROCESSED, f"a comment on merge request !{partial.record.number} of {partial.record.repository}"


def _deployment(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    partial = records.deployment_from_hook(payload)
    record = stored_kept(source=event.source, data=partial.record, unknown=partial.unknown)
    what = f"deployment to {record.environment} of {record.repository}: {payload.get('status')}"
    if not deployment_advance(source=event.source, data=record, dirty=dirty)[1]:
        return Status.IGNORED, f"{what}, older than the status stored"
    return Status.PROCESSED, what


def _stored_attempts(event: InboundEvent, pipeline_id: int) -> list[records.StoredAttempt]:
    prefix = records.pipeline_external_id(pipeline_id, 0)[:-1]
    rows = PipelineRun.objects.filter(source=event.source, external_id__startswith=prefix)
    return [records.StoredAttempt(*row) for row in rows.values_list("attempt", "status", "finished_at")]


def _pipeline(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    found = records.pipeline_from_hook(payload)
    attempt = records.pipeline_attempt(
        _stored_attempts(event, found.pipeline_id), finished_at=found.run.finished_at, active_at=found.active_at
    )
    if attempt is None:
        return Status.IGNORED, f"pipeline {found.pipeline_id}: an older state than the one stored"
    run = stored_kept(source=event.source, data=_attempt(found.run, found.pipeline_id, attempt), unknown=found.unknown)
    if not pipeline_run_advance(source=event.source, data=run, dirty=dirty)[1]:
        return Status.IGNORED, f"pipeline {found.pipeline_id} attempt {attempt}: still running, but stored finished"
    return Status.PROCESSED, f"pipeline {found.pipeline_id} attempt {attempt}: {run.status}"


def _job(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    """A job tells e360 one thing: that a finished pipeline was retried (a job came after its finish)."""
    job = records.job_from_hook(payload)
    stored = _stored_attempts(event, job.pipeline_id)
    if not stored:
        return Status.IGNORED, f"job {job.name} of pipeline {job.pipeline_id}, a pipeline e360 has not seen"
    latest = max(stored, key=lambda a: a.attempt)
    attempt = records.pipeline_attempt(stored, finished_at=None, active_at=job.active_at)
    if attempt is None or attempt <= latest.attempt:
        return Status.IGNORED, f"job {job.name} of pipeline {job.pipeline_id}: no new attempt"
    previous = PipelineRun.objects.select_related("repository").get(
        source=event.source, external_id=records.pipeline_external_id(job.pipeline_id, latest.attempt)
    )
    run = PipelineRunInput(
        external_id=records.pipeline_external_id(job.pipeline_id, attempt),
        workflow=previous.workflow,
        status=PipelineRun.Status.IN_PROGRESS,
        repository=previous.repository.name if previous.repository else None,
        branch=previous.branch,
        is_default_branch=previous.is_default_branch,
        sha=previous.sha,
        attempt=attempt,
        started_at=job.active_at,
        url=previous.url,
    )
    pipeline_run_advance(source=event.source, data=run, dirty=dirty)
    return Status.PROCESSED, f"job {job.name} retried pipeline {job.pipeline_id}: attempt {attempt} runs"


def _attempt(run: PipelineRunInput, pipeline_id: int, attempt: int) -> PipelineRunInput:
    return replace(run, external_id=records.pipeline_external_id(pipeline_id, attempt), attempt=attempt)


def _with_reviews(record: PullRequestInput, reviews: tuple[ReviewInput, ...]) -> PullRequestInput:
    return replace(record, reviews=reviews)


def _push(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    push = records.push_from_hook(payload, received_at=event.received_at)
    if isinstance(push, str):
        return Status.IGNORED, push
    push_upsert(source=event.source, data=push, dirty=dirty)
    return Status.PROCESSED, f"push of {len(push.commits)} commits to {push.branch} of {push.repository}"


def _issue(payload: dict[str, Any], event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    attributes = payload.get("object_attributes")
    if not isinstance(attributes, dict):
        return Status.FAILED, "object_attributes is missing or not an object"
    if not records.is_incident(attributes):
        kind = attributes.get("type") or attributes.get("issue_type") or "issue"
        external_id = f"issue:{attributes.get('id')}"
        if incident_delete(source=event.source, external_id=external_id, dirty=dirty):
            return Status.PROCESSED, f"#{attributes.get('iid')} is now of type {kind}: its incident is removed"
        return Status.IGNORED, f"#{attributes.get('iid')} is of type {kind}, not an incident"
    partial = records.incident_from_hook(payload)
    incident_upsert(
        source=event.source,
        data=stored_kept(source=event.source, data=partial.record, unknown=partial.unknown),
        dirty=dirty,
    )
    state = "resolved" if partial.record.resolved_at else ("open" if "resolved_at" not in partial.unknown else "closed")
    return Status.PROCESSED, f"incident #{attributes.get('iid')} of {partial.record.repository}: {state}"


HANDLERS: dict[str, Handler] = {
    "merge_request": _merge_request,
    "note": _note,
    "deployment": _deployment,
    "pipeline": _pipeline,
    "job": _job,
    "push": _push,
    "issue": _issue,
    "work_item": _issue,
}


def process(event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    return dispatch(HANDLERS, event, dirty)
