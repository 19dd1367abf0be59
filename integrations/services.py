"""Writes of the integrations' set-up: a connection and its source, a new webhook secret, a backfill started,
a repository mapped to a service (and the events that waited for it retried).

Keyword-only ``noun_verb`` functions in ``transaction.atomic``; the backfill's task is queued once the
transaction commits, by its dotted name (``integrations.tasks.backfill_run``).
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.db.models import Q
from django_q.tasks import async_task

from e360.broker import LONG_TASK
from e360.models import Service, Team
from integrations.models import Backfill, Connection
from metrics.ingest import inbound_retry
from metrics.models import InboundEvent, Source
from metrics.services import SourceScope

BACKFILL_TASK = "integrations.tasks.backfill_run"
ACTIVE_BACKFILL = (Backfill.Status.QUEUED, Backfill.Status.RUNNING, Backfill.Status.WAITING)
# metrics.services.service_resolve's words for a repository no service claims.
UNMAPPED_PREFIX = 'repository "'
UNMAPPED_SUFFIX = '" belongs to no known service; name a service'


class BackfillRunning(Exception):
    """The connection has a backfill queued or running: one at a time."""


def webhook_secret_new() -> str:
    return secrets.token_urlsafe(32)


@transaction.atomic
def connection_create(*, name: str, kind: str, team: Team | None, connection: Connection) -> str | None:
    """Make the source ``name`` of ``kind`` (GitHub, GitLab, PagerDuty) for ``team``, and ``connection``
    (unsaved, its settings filled in) as its connection: see ``connection_attach``."""
    source = Source.objects.create(name=name, kind=kind, team=team)
    return connection_attach(source=source, connection=connection)


@transaction.atomic
def connection_attach(*, source: Source, connection: Connection) -> str | None:
    """Save ``connection`` as ``source``'s. Without a webhook secret, one is generated and returned, to be shown
    once; a secret given (PagerDuty makes its own) returns None."""
    generated = None
    if not connection.webhook_secret:
        generated = connection.webhook_secret = webhook_secret_new()
    connection.source = source
    connection.save(force_insert=True)
    return generated


@transaction.atomic
def webhook_secret_rotate(*, connection: Connection) -> str:
    """A new webhook secret, returned to be shown once: the old one stops working at once."""
    connection.webhook_secret = webhook_secret_new()
    connection.save(update_fields=["webhook_secret"])
    return connection.webhook_secret


@transaction.atomic
def backfill_start(*, connection: Connection, days: int) -> Backfill:
    """Queue filling ``days`` of history; refused while another backfill of the connection is under way."""
    # The lock makes two admins' clicks start one backfill, not two.
    Connection.objects.select_for_update().filter(pk=connection.pk).first()
    if Backfill.objects.filter(connection=connection, status__in=ACTIVE_BACKFILL).exists():
        raise BackfillRunning(f"{connection} has a backfill under way: wait for it to end.")
    backfill = Backfill.objects.create(connection=connection, days=days)
    transaction.on_commit(
        lambda: async_task(BACKFILL_TASK, backfill.pk, group="integrations-backfill", timeout=LONG_TASK)
    )
    return backfill


def unmapped_error(repository: str) -> str:
    return f"{UNMAPPED_PREFIX}{repository}{UNMAPPED_SUFFIX}"


def unmapped_events() -> Q:
    """Failed inbound events whose repository no service claims (``service_resolve``'s refusal)."""
    return Q(status=InboundEvent.Status.FAILED, error__startswith=UNMAPPED_PREFIX, error__endswith=UNMAPPED_SUFFIX)


@transaction.atomic
def repository_map(*, repository: str, service: Service) -> tuple[int, list[Source]]:
    """Add ``repository`` to ``service``'s repositories in the catalog (``Service.repositories``) and retry
    the events that failed for want of it. Returns how many were retried, and the sources that may not write
    to ``service``: their events are left as they are (they would fail again) until their scope allows it."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    if repository not in service.repositories:
        service.repositories = [*service.repositories, repository]
        service.save(update_fields=["repositories"])
    waiting = InboundEvent.objects.filter(status=InboundEvent.Status.FAILED, error=unmapped_error(repository))
    sources = Source.objects.filter(pk__in=waiting.values("source_id")).order_by("name")
    refused = [source for source in sources if not SourceScope(source).allows(service)]
    allowed = waiting.exclude(source_id__in=[source.pk for source in refused])
    retried = inbound_retry(event_ids=list(allowed.values_list("pk", flat=True)))
    return retried, refused
