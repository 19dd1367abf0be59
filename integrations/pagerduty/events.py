"""PagerDuty's v3 incident events as e360's incidents, in the e360 service each PagerDuty service maps to.

``process`` reads a stored event (``records.incident_event``) and:

1. records the incident's PagerDuty service as an ``ExternalService`` of the connection the first
   time it is seen (and keeps its name current), mapped or not;
2. fails the event, naming the PagerDuty service, while that service maps to no e360 service:
   mapped in the admin, the event is retried from there (*Retry the failed events* of the
   service, or the inbound event's own *Retry*);
3. writes the incident through ``metrics.services.incidents_upsert``, naming the mapped service,
   so the source's scope applies as on every way in (a mapping outside it fails the event);
   the refresh then links it to a deployment by the rules of docs/metrics.md.

The incident is written from every stored event of it (``records.incident_input``), not from
the one event alone, so events processed out of order (a resolve before its trigger, an old
event retried after a newer one) leave the incident as PagerDuty has it, and processing any of
them again changes nothing. Each event is linked to its incident (``ExternalIncident``, by the
incident's id) before anything can fail, and the incident's events are read through that link: two
index lookups, not a scan of the source's payloads. The incident's row is locked while its events
are read and written, so two events of one incident processed at once are folded one after the
other (the second sees the first), never each without the other.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from integrations.models import Connection, ExternalIncident, ExternalService
from integrations.pagerduty import records
from metrics.models import InboundEvent, Incident
from metrics.services import Dirty, UnknownService, incidents_upsert

Status = InboundEvent.Status
KINDS = tuple(f"pagerduty.{event_type}" for event_type in records.EVENT_TYPES)


def process(event: InboundEvent, dirty: Dirty) -> tuple[str, str]:
    event_type = event.kind.removeprefix("pagerduty.")
    if event_type not in records.EVENT_TYPES:
        return Status.IGNORED, f"e360 does not use {event.kind} events"
    try:
        current = records.incident_event(event.payload)
    except records.BadEvent as exc:
        return Status.FAILED, str(exc)
    connection = Connection.objects.filter(pk=event.source_id).first()
    if connection is None:
        return Status.FAILED, "this source has no PagerDuty connection"
    incident = _incident_linked(connection, event, current)
    # Recorded before anything can fail, and kept when the event fails: the admin lists it to map.
    external = external_service_seen(connection=connection, event=current)
    pagerduty_service = f'PagerDuty service "{external.name or external.external_id}" ({external.external_id})'
    if external.service is None:
        return Status.FAILED, (
            f"{pagerduty_service} maps to no e360 service: map it in the admin "
            "(Integrations, External services), then retry this event"
        )
    try:
        data = records.incident_input(
            [*_stored_events(incident, event, current), current], service=external.service.slug
        )
    except records.BadEvent as exc:
        return Status.FAILED, str(exc)
    before = Incident.objects.filter(source_id=event.source_id, external_id=data.external_id).first()
    try:
        with transaction.atomic():
            incidents_upsert(source=event.source, items=[data], dirty=dirty)
    except UnknownService as exc:
        return Status.FAILED, f"{pagerduty_service} maps to e360 service {external.service.slug!r}, but {exc}"
    if before is not None and before.service_id != external.service.pk:
        dirty.add(before.service_id, before.started_at)  # moved by a new mapping: its old service re-rolls
    return Status.PROCESSED, _note(current, data.resolved_at is not None, external.service.slug)


def external_service_seen(*, connection: Connection, event: records.IncidentEvent) -> ExternalService:
    external, created = ExternalService.objects.select_related("service").get_or_create(
        connection=connection, external_id=event.service_id, defaults={"name": event.service_name}
    )
    if not created and event.service_name and external.name != event.service_name:
        external.name = event.service_name  # renamed in PagerDuty
        external.save(update_fields=["name"])
    return external


def failed_event_ids(services: Iterable[ExternalService]) -> list[int]:
    """The failed incident events of these PagerDuty services: to retry once they are mapped."""
    ids: list[int] = []
    for external in services:
        ids += InboundEvent.objects.filter(
            source_id=external.connection_id,
            kind__in=KINDS,
            status=Status.FAILED,
            payload__event__data__service__id=external.external_id,
        ).values_list("pk", flat=True)
    return ids


def _incident_linked(connection: Connection, event: InboundEvent, current: records.IncidentEvent) -> ExternalIncident:
    """The event's incident, locked until the processing commits, with the event linked to it."""
    incident, _ = ExternalIncident.objects.select_for_update().get_or_create(
        connection=connection, external_id=current.incident_id
    )
    incident.events.add(event)
    return incident


def _stored_events(
    incident: ExternalIncident, event: InboundEvent, current: records.IncidentEvent
) -> list[records.IncidentEvent]:
    """The other stored events of the incident that read (a malformed one counts for nothing)."""
    stored = incident.events.exclude(pk=event.pk).order_by("pk").values_list("payload", flat=True)
    found = []
    for payload in stored:
        try:
            other = records.incident_event(payload)
        except records.BadEvent:
            continue
        if other.incident_id == current.incident_id:
            found.append(other)
    return found


def _note(event: records.IncidentEvent, resolved: bool, service: str) -> str:
    what = event.event_type.removeprefix("incident.").replace("_", " ")
    state = "resolved" if resolved else "open"
    note = f"incident {event.incident_id} {what} → {service}, {state}"
    if event.event_type == records.ACKNOWLEDGED:
        note += " (e360 keeps no acknowledgement time)"
    elif event.event_type == records.PRIORITY_UPDATED:
        note += f" (severity {event.severity or 'none'})"
    return note
