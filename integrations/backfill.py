"""Filling a connection's history from its provider's REST API, and keeping it current: the
runner every provider's backfill shares (GitHub's, GitLab's).

A provider gives a ``Sync`` for a connection: the repositories to walk, and for each one its
``Walk``s (one per resource: pull requests, deployments, workflow runs...). A walk goes page by
page from the newest record back to ``since``; each ``Step`` is one page read (HTTP, no write),
and the runner writes it in one transaction together with the ``SyncCursor`` (the next page's
URL) and the ``Backfill``'s counters. So:

- a crash loses at most the page being read: the next run resumes from ``SyncCursor.next_url``,
  and a page written twice writes each record once (every upsert is keyed on the provider's id);
- ``RateLimited`` stops the run where it stands: the backfill is WAITING with ``resume_at`` and a
  one-off django-q2 schedule runs it again then. Nothing sleeps.
- A walk that ends stores its ``watermark`` (the newest change it saw) and the first page's ETag:
  the incremental sync (``connection_sync``) walks back to the watermark (less the walk's
  ``lookback``) only, and asks for its first page with ``If-None-Match``, so a resource with
  nothing new costs one 304.

Which cursor a backfill still has to walk: one it has not touched (``updated_at`` before the
backfill started) starts from its first page; one with a ``next_url`` goes on from it; one it
touched that has none is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import import_module
from time import monotonic
from typing import Any, Protocol

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from integrations.http import IntegrationError, RateLimited
from integrations.models import Backfill, Connection, SyncCursor
from integrations.providers import MODULES
from metrics.ingest import PayloadError
from metrics.models import Source
from metrics.services import Dirty, UnknownService, deployment_advance, pipeline_run_advance, service_resolve

logger = logging.getLogger(__name__)

# One run of the backfill task works this long, then queues the next run (tasks have a time limit).
RUN_SECONDS = 8 * 60
# An incremental sync re-reads records created this long before its watermark: a deployment's
# status or a workflow run's conclusion comes after the record was created.
LOOKBACK = timedelta(days=1)

Upsert = Callable[..., list[bool]]


@dataclass
class Step:
    """One page of a walk, read and mapped, not yet written."""

    inputs: list[Any] = field(default_factory=list)
    upsert: Upsert | None = None  # a ``metrics.services`` batch upsert for ``inputs``
    next_url: str = ""  # "" when the walk ends with this page
    newest: datetime | None = None  # the newest change on the page
    etag: str = ""
    not_modified: bool = False
    problems: list[str] = field(default_factory=list)  # records left out, and why

    @contextmanager
    def reading(self, what: str) -> Iterator[None]:
        """Map one record of the page (``what`` names it): one the mapping cannot read is left out, with why."""
        try:
            yield
        except (KeyError, PayloadError) as exc:
            self.problems.append(f"{what}: {exc}")


class Walk(Protocol):
    resource: str
    # How far before the watermark an incremental sync starts: nothing for a walk by update time
    # (what changed since the watermark; the record updated at the watermark itself is read
    # again), ``LOOKBACK`` for a walk by creation (a status comes after the record was created).
    lookback: timedelta

    def first_url(self, since: datetime) -> str: ...

    def step(self, url: str, *, since: datetime, etag: str = "") -> Step: ...


class Sync(Protocol):
    """A provider's reading of one connection (``<provider>.backfill.sync_for(connection)``)."""

    requests: int
    not_modified: int

    def repositories(self) -> list[str]: ...

    def walks(self, repository: str) -> list[Walk]: ...

    def close(self) -> None: ...


def sync_for(connection: Connection) -> Sync:
    module = MODULES.get(connection.kind)
    if module is None:
        raise IntegrationError(f"e360 cannot read {connection.source.get_kind_display()}'s API")
    return import_module(f"{module}.backfill").sync_for(connection)


# --- Writing a page ---------------------------------------------------------------------------


def one_by_one(advance: Callable[..., tuple[Any, bool]]) -> Upsert:
    """A page of deployments or runs written one by one through the webhook's own "advance" write:
    a status the webhook delivered while the page was read is newer, and is kept."""

    def upsert(*, source: Source, items: Sequence[Any], dirty: Dirty) -> list[bool]:
        return [advance(source=source, data=data, dirty=dirty)[1] for data in items]

    return upsert


deployments_write = one_by_one(deployment_advance)
pipeline_runs_write = one_by_one(pipeline_run_advance)


def _write(source: Source, step: Step, dirty: Dirty) -> tuple[int, list[str]]:
    """Write the page's records in one batch; when the batch is refused (a record outside the
    source's scope), record by record, leaving out the refused ones with the reason."""
    if not step.inputs or step.upsert is None:
        return 0, []
    try:
        with transaction.atomic():
            step.upsert(source=source, items=list(step.inputs), dirty=dirty)
        return len(step.inputs), []
    except UnknownService:
        pass
    written, problems = 0, []
    for data in step.inputs:
        try:
            with transaction.atomic():
                step.upsert(source=source, items=[data], dirty=dirty)
            written += 1
        except UnknownService as exc:
            problems.append(f"{data.external_id}: {exc}")
    return written, problems


@dataclass
class _Counters:
    """What the backfill's row has been told of the client's counters so far."""

    requests: int = 0
    not_modified: int = 0

    def deltas(self, sync: Sync) -> dict[str, Any]:
        found = {"requests": sync.requests - self.requests, "not_modified": sync.not_modified - self.not_modified}
        self.requests, self.not_modified = sync.requests, sync.not_modified
        return {name: F(name) + value for name, value in found.items() if value}


def walk(
    *,
    sync: Sync,
    source: Source,
    cursor: SyncCursor,
    resource: Walk,
    since: datetime,
    etag: str = "",
    backfill: Backfill | None = None,
    counters: _Counters | None = None,
    deadline: float | None = None,
) -> bool:
    """Walk one cursor's pages from its ``next_url`` on; whether the walk ended (else the deadline came).

    ``etag`` is sent with the walk's first page (the incremental sync's conditional request)."""
    counters = counters or _Counters()
    first_etag = ""
    newest = cursor.watermark
    url = cursor.next_url
    first = resource.first_url(since)
    while url:
        step = resource.step(url, since=since, etag=etag if url == first else "")
        if url == first:
            first_etag = step.etag
        if step.newest and (newest is None or step.newest > newest):
            newest = step.newest
        dirty = Dirty()
        with transaction.atomic():
            written, problems = _write(source, step, dirty)
            cursor.next_url = step.next_url
            if not step.next_url:
                # The walk is over: the next sync starts from the newest change seen, and asks
                # for the first page again only if it changed.
                cursor.watermark, cursor.etag = newest, first_etag or step.etag
            cursor.save(update_fields=["next_url", "watermark", "etag", "updated_at"])
            if backfill is not None:
                problems = [*step.problems, *problems]
                updates = counters.deltas(sync)
                if written:
                    updates["records"] = F("records") + written
                if problems and not backfill.error:
                    backfill.error = f"{cursor.repository}: {problems[0]}" + (
                        f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                    )
                    updates["error"] = backfill.error
                if updates:
                    Backfill.objects.filter(pk=backfill.pk).update(**updates)
            dirty.schedule()
        url = step.next_url
        if url and deadline is not None and monotonic() > deadline:
            return False  # at least a page a run: every run moves the backfill on
    return True


# --- The backfill -------------------------------------------------------------------------------


def _maps_to_a_service(source: Source, repository: str) -> str:
    """ "" when the repository's records have a service to go to, else why not."""
    try:
        service_resolve(source=source, service=None, repository=repository)
    except UnknownService as exc:
        return str(exc)
    return ""


def backfill_run(backfill: Backfill, *, seconds: float | None = None) -> str:
    """Go on with a backfill for ``seconds`` at most. Returns the status it left: DONE; WAITING for the
    rate limit (``resume_at`` set: the caller schedules the next run then); FAILED (the reason in
    ``error``); CANCELLED by an admin (checked before each repository); or RUNNING when the time
    was up (the caller queues the next run)."""
    deadline = monotonic() + (RUN_SECONDS if seconds is None else seconds)
    connection = backfill.connection
    source = connection.source
    now = timezone.now()
    started = backfill.started_at or now
    Backfill.objects.filter(pk=backfill.pk).update(status=Backfill.Status.RUNNING, started_at=started, resume_at=None)
    backfill.started_at = started
    since = backfill.created_at - timedelta(days=backfill.days)
    counters = _Counters()
    sync = None
    try:
        sync = sync_for(connection)
        repositories = sync.repositories()
        Backfill.objects.filter(pk=backfill.pk).update(repositories_total=len(repositories), **counters.deltas(sync))
        if not repositories and not backfill.error:
            _note(backfill, "no repositories to read: name them on the connection (a GitHub App: install it on some)")
        for index, repository in enumerate(repositories):
            if index < backfill.repositories_done:
                continue
            if Backfill.objects.filter(pk=backfill.pk, status=Backfill.Status.CANCELLED).exists():
                return Backfill.Status.CANCELLED  # an admin stopped it: what is written stays
            if unmapped := _maps_to_a_service(source, repository):
                _note(backfill, f"{repository} skipped: {unmapped}")
            else:
                for resource in sync.walks(repository):
                    cursor, created = SyncCursor.objects.get_or_create(
                        connection=connection,
                        repository=repository,
                        resource=resource.resource,
                        defaults={"next_url": resource.first_url(since)},
                    )
                    if not created and cursor.updated_at < started:  # not walked by this backfill yet
                        cursor.next_url = resource.first_url(since)
                        cursor.save(update_fields=["next_url", "updated_at"])
                    if not cursor.next_url:
                        continue  # walked by this backfill already
                    ended = walk(
                        sync=sync,
                        source=source,
                        cursor=cursor,
                        resource=resource,
                        since=since,
                        backfill=backfill,
                        counters=counters,
                        deadline=deadline,
                    )
                    if not ended:
                        return Backfill.Status.RUNNING
            backfill.repositories_done = index + 1
            Backfill.objects.filter(pk=backfill.pk).update(repositories_done=index + 1)
    except RateLimited as exc:
        _stop(backfill, sync, counters, status=Backfill.Status.WAITING, resume_at=exc.resume_at)
        logger.info("backfill %s waits until %s: %s", backfill.pk, exc.resume_at.isoformat(), exc)
        return Backfill.Status.WAITING
    except IntegrationError as exc:
        _stop(backfill, sync, counters, status=Backfill.Status.FAILED, error=str(exc), finished_at=timezone.now())
        return Backfill.Status.FAILED
    finally:
        if sync is not None:
            sync.close()
    _stop(backfill, sync, counters, status=Backfill.Status.DONE, finished_at=timezone.now())
    return Backfill.Status.DONE


def _note(backfill: Backfill, note: str) -> None:
    backfill.error = f"{backfill.error}\n{note}".strip() if backfill.error else note
    Backfill.objects.filter(pk=backfill.pk).update(error=backfill.error)


def _stop(backfill: Backfill, sync: Sync | None, counters: _Counters, **fields: Any) -> None:
    if "error" in fields and backfill.error:
        fields["error"] = f"{backfill.error}\n{fields['error']}"
    Backfill.objects.filter(pk=backfill.pk).update(**fields, **(counters.deltas(sync) if sync else {}))
    for name, value in fields.items():
        setattr(backfill, name, value)


# --- The incremental sync --------------------------------------------------------------------------


def connection_sync(connection: Connection) -> str:
    """Read what changed since each cursor's watermark, for the repositories a backfill has walked.

    Skipped while a backfill of the connection is under way (it walks the same cursors)."""
    active = (Backfill.Status.QUEUED, Backfill.Status.RUNNING, Backfill.Status.WAITING)
    if connection.backfills.filter(status__in=active).exists():
        return f"{connection}: a backfill is under way"
    walked = {(c.repository, c.resource): c for c in connection.cursors.filter(watermark__isnull=False)}
    if not walked:
        return f"{connection}: nothing to sync before a backfill"
    source = connection.source
    try:
        sync = sync_for(connection)
    except IntegrationError as exc:
        return f"{connection}: {exc}"
    try:
        for repository in sorted({repository for repository, _ in walked}):
            for resource in sync.walks(repository):
                cursor = walked.get((repository, resource.resource))
                if cursor is None or cursor.watermark is None:
                    continue
                since = cursor.watermark - resource.lookback
                etag = cursor.etag
                if not cursor.next_url:
                    cursor.next_url = resource.first_url(since)
                else:
                    etag = ""  # resuming a sync that stopped mid-way
                walk(sync=sync, source=source, cursor=cursor, resource=resource, since=since, etag=etag)
    except RateLimited as exc:
        return f"{connection}: waiting for the rate limit ({exc})"
    except IntegrationError as exc:
        logger.warning("sync of %s stopped: %s", connection, exc)
        return f"{connection}: {exc}"
    finally:
        sync.close()
    return f"{connection}: {sync.requests} requests, {sync.not_modified} not modified"
