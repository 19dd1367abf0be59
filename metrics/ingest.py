"""Inbound events (raw webhook payloads) → normalised records.

Two halves:

- ``devlake_deployments`` and ``devlake_issue`` read the bodies of Apache
  DevLake's webhook plugin (current camelCase and legacy snake_case) into
  ``DeploymentInput`` / ``IncidentInput`` through the JSON API's input schemas, so
  the same rules hold on every way in (times, order, text, lengths), and take at
  most the API's bulk limit of items. They touch no database and no settings,
  so the webhook view can use them to answer 4xx at once, and tests can feed
  them anything.
- ``inbound_process`` is the service the background task calls (through
  ``inbound_drain``, which takes a source's waiting events in order): it loads a
  stored ``InboundEvent``, parses it, upserts through ``metrics.services`` inside a
  transaction and records the outcome (processed / ignored / failed with the
  reason, attempts). Running it twice changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import Count, F, Q
from django.utils import timezone
from django_q.tasks import async_task
from pydantic import ValidationError, model_validator

from metrics.inputs import DeploymentInput, IncidentInput, PipelineRunInput, PullRequestInput, PushInput
from metrics.models import Deployment, InboundEvent, Incident, Source
from metrics.schemas import MAX_BULK_ITEMS, DeploymentIn, In, IncidentIn, PipelineRunIn, PullRequestIn, PushIn
from metrics.services import (
    Dirty,
    UnknownService,
    deployments_upsert,
    incident_resolve,
    incidents_upsert,
)
from metrics.sql import column
from metrics.storable import LONE_SURROGATE

logger = logging.getLogger(__name__)

KIND_DEPLOYMENT = "devlake.deployment"
KIND_ISSUE = "devlake.issue"
KIND_ISSUE_CLOSE = "devlake.issue_close"

DRAIN_TASK = "metrics.tasks.inbound_drain"
Status = InboundEvent.Status

# Processing of the events of other senders (GitHub, GitLab, PagerDuty: ``integrations``), by the
# first part of their kind (``github.pull_request`` → "github"): (event, dirty) → (status, note).
PROCESSORS: dict[str, Callable[[InboundEvent, Dirty], tuple[str, str]]] = {}


def register_processor(prefix: str, process: Callable[[InboundEvent, Dirty], tuple[str, str]]) -> None:
    PROCESSORS[prefix] = process


class PayloadError(ValueError):
    """The body does not describe a DevLake record we can store."""


class TooManyItems(PayloadError):
    """The body lists more items than one delivery may carry (the JSON API's bulk limit)."""


# --- Parsing (no database) ---------------------------------------------------------------

# DevLake's results, and the spellings CI scripts send for them, case-insensitive.
RESULTS = {
    "SUCCESS": Deployment.Status.SUCCESS,
    "SUCCEEDED": Deployment.Status.SUCCESS,
    "SUCCESSFUL": Deployment.Status.SUCCESS,
    "FAILURE": Deployment.Status.FAILURE,
    "FAILED": Deployment.Status.FAILURE,
    "ERROR": Deployment.Status.ERROR,
    "ABORT": Deployment.Status.CANCELLED,
    "ABORTED": Deployment.Status.CANCELLED,
    "CANCELLED": Deployment.Status.CANCELLED,
    "CANCELED": Deployment.Status.CANCELLED,
    "MANUAL": Deployment.Status.CANCELLED,
    "SKIPPED": Deployment.Status.CANCELLED,
    "IN_PROGRESS": Deployment.Status.IN_PROGRESS,
    "RUNNING": Deployment.Status.IN_PROGRESS,
}
DEFAULT_ENVIRONMENT = "PRODUCTION"  # DevLake's default when a body names none
MAX_EXTERNAL_ID = 200


def _pick(body: Mapping[str, Any], *names: str) -> Any:
    """The first of ``names`` present with a value (camelCase first, then the legacy snake_case)."""
    for name in names:
        value = body.get(name)
        if value is not None and value != "":
            return value
    return None


def _text(body: Mapping[str, Any], *names: str, max_length: int = 500) -> str:
    value = _pick(body, *names)
    if value is None:
        return ""
    # DevLake decodes weakly typed: a number where a string is expected is fine (ids often are).
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(f"{names[0]} must be a string")
    return str(value).strip()[:max_length]


def parse_timestamp(value: Any, field: str) -> datetime | None:
    """An ISO 8601 / RFC 3339 time; one without a zone is UTC, as DevLake reads it."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field} must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PayloadError(f"{field} is not an ISO 8601 date-time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _time(body: Mapping[str, Any], *names: str) -> datetime | None:
    return parse_timestamp(_pick(body, *names), names[0])


_SCP_LIKE = re.compile(r"^[\w.+-]+@(?P<host>[\w.-]+):(?!//)(?P<path>.+)$")


def repository_name(url: str) -> str:
    """``owner/name`` for a GitHub repository URL, ``host/path`` for other hosts.

    Handles https and ssh URLs, scp-like ``git@host:owner/name.git``, a trailing
    ``.git`` or slash, and drops credentials and ports; a bare name (DevLake's
    examples send ``"devlake"``) is kept as it is.
    """
    text = url.strip()
    match = _SCP_LIKE.match(text)
    if match:
        host, path = match["host"], match["path"]
    else:
        parts = urlsplit(text)
        if parts.scheme and parts.netloc:
            host, path = parts.hostname or "", parts.path
        else:
            host, path = "", text
    path = path.strip("/")
    path = path.removesuffix(".git").rstrip("/")
    host = host.lower()
    if host in ("github.com", "www.github.com"):
        return path
    if not host:
        return path
    return f"{host}/{path}" if path else host


def _status(value: str, field: str) -> str:
    if not value:
        return Deployment.Status.SUCCESS  # DevLake's default
    status = RESULTS.get(value.upper())
    if status is None:
        known = ", ".join(sorted({"SUCCESS", "FAILURE", "ERROR", "ABORT", "CANCELLED", "MANUAL", "IN_PROGRESS"}))
        raise PayloadError(f"{field} {value[:40]!r} is not one of {known}")
    return status


def _external_id(deployment_id: str, repository: str) -> str:
    """``<id>:<repository>``: one record per repository a DevLake deployment names."""
    external_id = f"{deployment_id}:{repository}"
    if len(external_id) > MAX_EXTERNAL_ID:
        external_id = "sha256:" + hashlib.sha256(external_id.encode()).hexdigest()
    return external_id


# The JSON API's field names, as a DevLake body names them (for messages).
DEPLOYMENT_FIELDS = {
    "external_id": "id",
    "status": "result",
    "started_at": "startedDate",
    "finished_at": "finishedDate",
    "repository": "repoUrl",
    "sha": "commitSha",
    "ref": "refName",
    "title": "displayTitle",
}
ISSUE_FIELDS = {"external_id": "issueKey", "started_at": "createdDate", "resolved_at": "resolutionDate"}
CLOSE_FIELDS = {"external_id": "the issue key", "started_at": "its createdDate", "resolved_at": "the close"}


@cache
def _plain[S: In](schema: type[S]) -> type[S]:
    """The schema with every rule of its own, less ninja's wrapper that reads Django objects (and
    validates a dict twice): half the cost, on the webhook's receiving path. Were ninja to rename
    the wrapper, both would run: slower, not wrong."""

    class Plain(schema):  # type: ignore[valid-type,misc]  # a subclass of the argument: beyond mypy
        @model_validator(mode="wrap")
        @classmethod
        def _run_root_validator(cls, values: Any, handler: Any, info: Any) -> Any:
            return handler(values)

    return Plain


def validated[S: In](schema: type[S], fields: Mapping[str, Any], names: Mapping[str, str] | None = None) -> S:
    """``fields`` checked by the JSON API's schema, so every way in keeps the same rules (text the
    database can store, lengths, time range, a finish not before its start…); otherwise a
    ``PayloadError`` naming the field as the sender names it (``names``: the API's name → theirs)."""
    names = names or {}
    try:
        return _plain(schema).model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        field = ".".join(names.get(part, part) for part in loc)
        message = {"string_unicode": LONE_SURROGATE, "string_too_short": "is required"}.get(
            error["type"], str(error["msg"]).removeprefix("Value error, ")
        )
        message = re.sub(r"\b[a-z]+_[a-z_]+\b", lambda m: names.get(m.group(), m.group()), message)
        raise PayloadError(f"{field} {message}".strip()) from None


# The JSON API's schema of each record a sender's parser builds.
SCHEMAS: dict[type, type[In]] = {
    DeploymentInput: DeploymentIn,
    IncidentInput: IncidentIn,
    PipelineRunInput: PipelineRunIn,
    PullRequestInput: PullRequestIn,
    PushInput: PushIn,
}


def checked[I: (DeploymentInput, IncidentInput, PipelineRunInput, PullRequestInput, PushInput)](
    data: I, names: Mapping[str, str] | None = None
) -> I:
    """A record a sender's parser built (GitHub's, GitLab's…) held to the JSON API's rules, as
    ``validated``: the one check every way in shares, whoever maps the sender's fields."""
    return validated(SCHEMAS[type(data)], _as_fields(data), names).to_input()


def _as_fields(data: Any) -> dict[str, Any]:
    return {field.name: _as_value(getattr(data, field.name)) for field in fields(data)}


def _as_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_as_value(item) for item in value]
    return _as_fields(value) if is_dataclass(value) else value


@dataclass(frozen=True)
class _Commit:
    repo_url: str
    sha: str
    ref: str
    title: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None


def _commits(body: Mapping[str, Any]) -> list[_Commit]:
    listed = _pick(body, "deploymentCommits", "deployment_commits")
    if listed is None:
        # The older single-repository form: the repository and commit at the top level.
        repo_url = _text(body, "repoUrl", "repo_url")
        sha = _text(body, "commitSha", "commit_sha", max_length=64)
        if not repo_url:
            raise PayloadError("repoUrl (or deploymentCommits) is required")
        return [_Commit(repo_url, sha, _text(body, "refName", "ref_name", max_length=200), "", "", None, None)]
    if not isinstance(listed, list) or not listed:
        raise PayloadError("deploymentCommits must be a non-empty list")
    if len(listed) > MAX_BULK_ITEMS:
        raise TooManyItems(
            f"deploymentCommits lists {len(listed)} commits; a delivery takes at most {MAX_BULK_ITEMS} "
            "(the JSON API's bulk limit): send the rest in another delivery"
        )
    commits = []
    for index, item in enumerate(listed):
        if not isinstance(item, Mapping):
            raise PayloadError(f"deploymentCommits[{index}] must be an object")
        repo_url = _text(item, "repoUrl", "repo_url")
        if not repo_url:
            raise PayloadError(f"deploymentCommits[{index}].repoUrl is required")
        commits.append(
            _Commit(
                repo_url=repo_url,
                sha=_text(item, "commitSha", "commit_sha", max_length=64),
                ref=_text(item, "refName", "ref_name", max_length=200),
                title=_text(item, "displayTitle", "display_title", "name")
                or _first_line(_text(item, "commitMsg", "commit_msg")),
                status=_status(_text(item, "result"), f"deploymentCommits[{index}].result")
                if item.get("result")
                else "",
                started_at=_time(item, "startedDate", "started_date", "start_time"),
                finished_at=_time(item, "finishedDate", "finished_date", "end_time"),
            )
        )
    return commits


def _first_line(text: str) -> str:
    return text.splitlines()[0][:500] if text else ""


def devlake_deployments(body: Mapping[str, Any], *, received_at: datetime) -> list[DeploymentInput]:
    """The deployments a DevLake deployment body describes: one per repository.

    Missing values take DevLake's defaults: result SUCCESS, environment
    PRODUCTION, finished "now" (the time the event was received, so parsing
    the same event twice gives the same records).
    """
    if not isinstance(body, Mapping):
        raise PayloadError("the body must be a JSON object")
    commits = _commits(body)
    deployment_id = _text(body, "id", "pipeline_id", "pipelineId", max_length=MAX_EXTERNAL_ID)
    if not deployment_id:
        # The oldest DevLake form had no id: the deployed commit identified it.
        deployment_id = commits[0].sha
    if not deployment_id:
        raise PayloadError("id is required")
    status = _status(_text(body, "result"), "result")
    environment = _text(body, "environment", max_length=100) or DEFAULT_ENVIRONMENT
    started_at = _time(body, "startedDate", "started_date", "start_time")
    finished_at = _time(body, "finishedDate", "finished_date", "end_time") or received_at
    if started_at is None:
        started_at = _time(body, "createdDate", "created_date", "create_time")
    title = _text(body, "displayTitle", "display_title", "name") or _first_line(_text(body, "commitMsg", "commit_msg"))
    url = _text(body, "url")

    by_repository: dict[str, list[_Commit]] = {}
    for commit in commits:
        by_repository.setdefault(repository_name(commit.repo_url), []).append(commit)

    deployments = []
    for repository, repo_commits in by_repository.items():
        last = repo_commits[-1]
        starts = [c.started_at for c in repo_commits if c.started_at] or ([started_at] if started_at else [])
        finishes = [c.finished_at for c in repo_commits if c.finished_at] or [finished_at]
        # A repository fails when any of its commits failed: the first non-success result wins.
        statuses = [c.status for c in repo_commits if c.status and c.status != Deployment.Status.SUCCESS]
        fields = {
            "external_id": _external_id(deployment_id, repository),
            "environment": environment,
            "finished_at": max(finishes),
            "status": statuses[0] if statuses else status,
            "repository": repository[:300] or None,
            "started_at": min(starts) if starts else None,
            "sha": last.sha,
            "ref": last.ref or _text(body, "refName", "ref_name", max_length=200),
            "title": title or last.title,
            "url": url,
            # No "changes": deploymentCommits name the commit deployed per repository, not
            # the changes it carries; linking finds those from the previous deployment.
        }
        deployments.append(validated(DeploymentIn, fields, DEPLOYMENT_FIELDS).to_input())
    return deployments


@dataclass(frozen=True)
class DevLakeIssue:
    key: str
    type: str
    incident: IncidentInput | None  # None unless the issue is an INCIDENT


def devlake_issue(body: Mapping[str, Any], *, received_at: datetime) -> DevLakeIssue:
    """A DevLake issue body. Only ``type == INCIDENT`` issues become incidents.

    The incident is resolved at ``resolutionDate``; an issue whose status is
    DONE without one is resolved at ``updatedDate`` (else when it was received).
    """
    if not isinstance(body, Mapping):
        raise PayloadError("the body must be a JSON object")
    key = _text(body, "issueKey", "issue_key", max_length=MAX_EXTERNAL_ID)
    if not key:
        raise PayloadError("issueKey is required")
    issue_type = _text(body, "type", max_length=60).upper()
    if issue_type != "INCIDENT":
        return DevLakeIssue(key=key, type=issue_type, incident=None)
    started_at = _time(body, "createdDate", "created_date")
    if started_at is None:
        raise PayloadError("createdDate is required")
    resolved_at = _time(body, "resolutionDate", "resolution_date")
    if resolved_at is None and _text(body, "status").upper() == "DONE":
        resolved_at = _time(body, "updatedDate", "updated_date") or received_at
    fields = {
        "external_id": key,
        "started_at": started_at,
        "title": _text(body, "title"),
        "severity": _text(body, "severity", "priority", max_length=40),
        "url": _text(body, "url"),
        "resolved_at": resolved_at,
    }
    incident = validated(IncidentIn, fields, ISSUE_FIELDS).to_input()
    return DevLakeIssue(key=key, type=issue_type, incident=incident)


def validate(kind: str, body: Any, *, received_at: datetime) -> None:
    """Raise ``PayloadError`` when a body of ``kind`` cannot become records."""
    if kind == KIND_DEPLOYMENT:
        devlake_deployments(body, received_at=received_at)
    elif kind == KIND_ISSUE:
        devlake_issue(body, received_at=received_at)


# --- Processing -------------------------------------------------------------------------

_DONE = (Status.PROCESSED, Status.IGNORED)


def inbound_process(*, event_id: int) -> str:
    """Turn a stored event into records; record the outcome on the event.

    Idempotent: a processed or ignored event is left alone, and the upserts
    are keyed on ``(source, external_id)``. A failure (an unknown service, a
    body we cannot read) leaves no partial records, marks the event failed
    with the reason, and can be retried once the cause is fixed.
    """
    with transaction.atomic():
        event = (
            InboundEvent.objects.select_for_update(of=("self",)).select_related("source").filter(pk=event_id).first()
        )
        if event is None:
            return f"inbound event {event_id} does not exist"
        if event.status in _DONE:
            return f"inbound event {event_id} was {event.status} already"
        if event.kind == KIND_ISSUE_CLOSE:
            _process_pending_issues(event)
        event.attempts += 1
        dirty = Dirty()
        try:
            with transaction.atomic():
                status, note = _apply(event, dirty)
        except (PayloadError, UnknownService) as exc:
            status, note = Status.FAILED, str(exc)
        except Exception as exc:
            # Keep the raw event and say why; a crash would leave it "received" forever.
            logger.exception("Processing event %s failed", event_id)
            status, note = Status.FAILED, f"{type(exc).__name__}: {exc}"
        else:
            dirty.sources.add(event.source_id)  # an ignored event counts as its source's activity too
            dirty.schedule()
        event.status = status
        event.error = note
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "error", "attempts", "processed_at"])
    return f"inbound event {event_id} {status}" + (f": {note}" if note else "")


def _apply(event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    source = event.source
    if event.kind == KIND_DEPLOYMENT:
        deployments = devlake_deployments(event.payload, received_at=event.received_at)
        deployments_upsert(source=source, items=list(deployments), dirty=dirty)
        return Status.PROCESSED, ""
    if event.kind == KIND_ISSUE:
        issue = devlake_issue(event.payload, received_at=event.received_at)
        if issue.incident is not None:
            incidents_upsert(source=source, items=[issue.incident], dirty=dirty)
            return Status.PROCESSED, ""
        # DevLake re-types an issue on update; one that stops being an INCIDENT leaves the metrics.
        existing = list(Incident.objects.filter(source=source, external_id=issue.key))
        for incident in existing:
            dirty.add(incident.service_id, incident.started_at)
            incident.delete()
        if existing:
            return Status.PROCESSED, f"issue {issue.key} is now {issue.type or 'untyped'}: incident removed"
        return Status.IGNORED, f"issue type {issue.type or '(none)'} is not INCIDENT"
    if event.kind == KIND_ISSUE_CLOSE:
        return _close(event, dirty)
    if (process := PROCESSORS.get(event.kind.partition(".")[0])) is not None:
        return process(event, dirty)
    return Status.IGNORED, f"no processing for events of kind {event.kind}"


def _issue_events(event: InboundEvent, key: str):
    return InboundEvent.objects.filter(source_id=event.source_id, kind=KIND_ISSUE).filter(
        Q(payload__issueKey=key) | Q(payload__issue_key=key)
    )


def _process_pending_issues(close: InboundEvent) -> None:
    """Process the issue a close names first, when its event is still waiting.

    Workers take tasks in no guaranteed order: a close can run before the issue it closes.
    """
    key = close.path_params.get("issue_key", "")
    pending = _issue_events(close, key).filter(status=Status.RECEIVED).order_by("received_at", "pk")
    for event_id in pending.values_list("pk", flat=True):
        inbound_process(event_id=event_id)


def _close(event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    key = event.path_params.get("issue_key", "")
    incident = Incident.objects.filter(source_id=event.source_id, external_id=key).first()
    if incident is None:
        if _issue_events(event, key).filter(status=Status.IGNORED).exists():
            return Status.IGNORED, f"issue {key} is not an incident"
        raise PayloadError(f"no incident {key} from this connection (yet): send the issue, then retry")
    if incident.resolved_at is not None:
        # Closing twice keeps the first resolution time.
        return Status.PROCESSED, ""
    # The API's rule for a resolution: not before the incident's start.
    validated(
        IncidentIn,
        {"external_id": key, "started_at": incident.started_at, "resolved_at": event.received_at},
        CLOSE_FIELDS,
    )
    incident_resolve(source=event.source, external_id=key, resolved_at=event.received_at, dirty=dirty)
    return Status.PROCESSED, ""


def _process_deployments(ids: list[int]) -> set[int]:
    """Process the waiting deployment events among ``ids`` together, one transaction per source,
    as ``inbound_process`` would one by one; the ids processed. A source's events are left
    to ``inbound_process`` when any of them fails, so it can say which and why.
    """
    waiting = InboundEvent.objects.filter(pk__in=ids, kind=KIND_DEPLOYMENT, status=Status.RECEIVED)
    by_source: dict[int, list[int]] = {}
    for event_id, source_id in waiting.order_by("pk").values_list("pk", "source_id"):
        by_source.setdefault(source_id, []).append(event_id)
    done: set[int] = set()
    for source_ids in by_source.values():
        dirty = Dirty()
        try:
            with transaction.atomic():
                events = list(
                    InboundEvent.objects.select_for_update(of=("self",), skip_locked=True)
                    .select_related("source")
                    .filter(pk__in=source_ids, status=Status.RECEIVED)
                    .order_by("pk")
                )
                if not events:
                    continue
                items = [
                    data
                    for event in events
                    for data in devlake_deployments(event.payload, received_at=event.received_at)
                ]
                deployments_upsert(source=events[0].source, items=items, dirty=dirty)
                InboundEvent.objects.filter(pk__in=[d.pk for d in events]).update(
                    status=Status.PROCESSED, error="", attempts=F("attempts") + 1, processed_at=timezone.now()
                )
        except Exception:
            # Whatever it is, inbound_process finds the event that fails and records why on it.
            logger.info("Deployment events %s: processed one by one", source_ids, exc_info=True)
            continue
        dirty.schedule()
        done.update(d.pk for d in events)
    return done


# --- Storing a received event (the webhooks' hot path) ------------------------------------------

EVENT_FIELDS = [field for field in InboundEvent._meta.concrete_fields if not field.primary_key]


def event_insert(event: InboundEvent) -> tuple[str, str, list[Any]]:
    """An INSERT of ``event`` as SQL pieces: its columns, their placeholders (each cast to its
    column's type) and the values. The columns are the model's, so statements follow its migrations."""
    columns, placeholders = _event_columns(db_connection.vendor)
    values = [field.get_db_prep_save(field.pre_save(event, add=True), db_connection) for field in EVENT_FIELDS]
    return columns, placeholders, values


@cache
def _event_columns(vendor: str) -> tuple[str, str]:
    """The columns of ``event_insert`` and their placeholders, made once per database kind (``vendor``)."""
    quote = db_connection.ops.quote_name
    columns = ", ".join(quote(column(field)) for field in EVENT_FIELDS)
    placeholders = ", ".join(f"%s::{field.cast_db_type(db_connection)}" for field in EVENT_FIELDS)
    return columns, placeholders


def inbound_store(event: InboundEvent, *, queue: bool = True) -> int | None:
    """Store a received event, unless its delivery is stored already (then None: a redelivery is
    absorbed), and, when ``queue``, have the worker drain its source once it commits.

    On PostgreSQL one statement stores it and sets the source's ``drain_queued``: one round trip
    and, in autocommit, one commit per delivery. Elsewhere the ORM: one INSERT (inside a caller's
    transaction, in a savepoint, so a duplicate's IntegrityError does not break it), then
    ``inbound_queue``."""
    if db_connection.vendor == "postgresql":
        columns, placeholders, values = event_insert(event)
        with db_connection.cursor() as cursor:
            cursor.execute(_store_sql(columns, placeholders), [*values, event.source_id, queue])
            pk, queued = cursor.fetchone()
        event.pk = pk
        if queued:
            transaction.on_commit(lambda: inbound_drain_task(event.source_id))
        return pk
    savepoint = transaction.atomic() if not transaction.get_autocommit() else nullcontext()
    try:
        with savepoint:
            event.save(force_insert=True)
    except IntegrityError:
        return None
    if queue:
        inbound_queue(event.source_id)
    return event.pk


@cache
def _store_sql(columns: str, placeholders: str) -> str:
    return f"""
        WITH stored AS (
            INSERT INTO {InboundEvent._meta.db_table} ({columns}) VALUES ({placeholders})
            ON CONFLICT (source_id, delivery_id) DO NOTHING RETURNING id
        ), queued AS (
            UPDATE {Source._meta.db_table} SET drain_queued = TRUE
            WHERE id = %s AND %s AND NOT drain_queued AND EXISTS (SELECT FROM stored) RETURNING id
        )
        SELECT (SELECT id FROM stored), EXISTS (SELECT FROM queued)
    """  # noqa: S608 - table and column names from the models; every value is a parameter


def inbound_queue(source_id: int) -> None:
    """Have the worker process the source's waiting events, once the surrounding transaction commits.

    One drain task per source (``inbound_drain``) takes every waiting event of
    the source in arrival order, so a burst queues one task, not one per event:
    ``Source.drain_queued`` says one is queued, and the drain clears it before its
    first read, so an event stored after that queues the next drain. The check
    is one UPDATE that matches no row while a drain is queued.
    """

    def queue() -> None:
        if Source.objects.filter(pk=source_id, drain_queued=False).update(drain_queued=True):
            inbound_drain_task(source_id)

    transaction.on_commit(queue)


def inbound_drain_task(source_id: int) -> None:
    """Queue the drain of a source's events, once its ``drain_queued`` is set."""
    async_task(DRAIN_TASK, source_id, group="metrics-inbound")


def inbound_drain(source_id: int | None = None, batch: int = 500, budget: float = 30.0) -> str:
    """Process every waiting event of the source (of all sources without one), oldest first,
    until none is left; a summary of outcomes.

    After ``budget`` seconds a drain stops at the end of its round, well inside the worker's
    timeout, and a source's drain queues the next one for the rest (the minute's sweep takes
    up the rest of a sweep).

    Events that arrive meanwhile are taken too, whatever their id: each round
    reads all that are still waiting. A round's deployments are written together, in
    one transaction per source; when any of them fails, and for the other kinds, each
    event is processed in its own transaction (``inbound_process``), so a failure
    stops nothing else.
    """
    sources = Source.objects.filter(drain_queued=True)
    (sources.filter(pk=source_id) if source_id is not None else sources).update(drain_queued=False)
    waiting = InboundEvent.objects.filter(status=Status.RECEIVED)
    if source_id is not None:
        waiting = waiting.filter(source_id=source_id)
    pks = waiting.order_by("pk").values_list("pk", flat=True)
    outcomes: Counter[str] = Counter()
    attempted: set[int] = set()  # an event still "received" after its turn is not taken again
    deadline = time.monotonic() + budget
    rest = ""
    while ids := [pk for pk in pks[:batch] if pk not in attempted]:
        together = _process_deployments(ids)
        for event_id in ids:
            if event_id not in together:
                inbound_process(event_id=event_id)
        attempted.update(ids)
        outcomes.update(dict(InboundEvent.objects.filter(pk__in=ids).values_list("status").annotate(Count("pk"))))
        if time.monotonic() > deadline:
            if source_id is not None:
                inbound_queue(source_id)
            rest = "; time is up, the rest is queued" if source_id is not None else "; time is up, the rest next sweep"
            break
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
    return (summary or "nothing to process") + rest


@transaction.atomic
def inbound_retry(*, event_ids: Iterable[int]) -> int:
    """Reset events to "received" and queue them again (after fixing a source's mapping, say)."""
    ids = list(event_ids)
    count = InboundEvent.objects.filter(pk__in=ids).update(status=Status.RECEIVED, error="", processed_at=None)
    for source_id in InboundEvent.objects.filter(pk__in=ids).values_list("source_id", flat=True).distinct():
        inbound_queue(source_id)
    return count


@transaction.atomic
def inbound_mark_ignored(*, event_ids: Iterable[int]) -> int:
    """Give up on events on purpose; they stay stored, and can still be retried."""
    return InboundEvent.objects.filter(pk__in=list(event_ids)).update(
        status=Status.IGNORED, processed_at=timezone.now()
    )
