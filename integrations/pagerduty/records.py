"""PagerDuty's v3 webhook events as e360's incident record: no database.

A v3 webhook carries one event (``event``): its ``id``, ``event_type``, ``occurred_at`` and, for
the ``incident.*`` events e360 uses, the incident as it stands after the event (``data``, of
``type`` ``incident``). ``incident_event`` reads one event; ``incident_input`` folds every event
of one incident into its record, so the record is the same whatever order the events arrive,
are processed or are retried in (a resolve before its trigger, a retry of an old event):

- ``external_id``: the incident's ``id``; ``url``: its ``html_url``.
- ``started_at``: the incident's ``created_at``; when no event carries one (the docs' older
  example has none), the ``occurred_at`` of its ``incident.triggered`` event.
- ``title`` and ``severity``: as the latest event (by ``occurred_at``) shows the incident.
  The severity is the priority's name (its ``summary``, e.g. ``P1``) when the incident has a
  priority (accounts with priorities enabled), else its urgency (``high`` or ``low``).
- ``resolved_at``: the ``occurred_at`` of its latest ``incident.resolved`` when no
  ``incident.reopened`` came after it; open otherwise.

``incident.acknowledged`` changes no figure: docs/metrics.md measures restoring service from
start to resolution, and uses no acknowledgement time. Each field goes through the JSON API's
rules (``metrics.schemas.IncidentIn``: lengths, storable text, URLs, time range, a resolution
not before the start), so every way in keeps the same ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from metrics.ingest import PayloadError, validated
from metrics.inputs import IncidentInput
from metrics.schemas import IncidentIn

TRIGGERED = "incident.triggered"
ACKNOWLEDGED = "incident.acknowledged"
RESOLVED = "incident.resolved"
REOPENED = "incident.reopened"
PRIORITY_UPDATED = "incident.priority_updated"
# The event types e360 uses; the others are stored as ignored.
EVENT_TYPES = (TRIGGERED, ACKNOWLEDGED, RESOLVED, REOPENED, PRIORITY_UPDATED)

MAX_TITLE = 500  # Incident.title
MAX_SEVERITY = 40  # Incident.severity


class BadEvent(PayloadError):
    """The body is not a PagerDuty v3 incident event e360 can read (the message says why)."""


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """What one event says about its incident."""

    id: str
    event_type: str
    occurred_at: datetime
    incident_id: str
    service_id: str  # PagerDuty's service id, e.g. PF9KMXH
    service_name: str  # its summary, e.g. "API Service"
    created_at: datetime | None
    title: str
    url: str
    severity: str


def incident_event(payload: Any) -> IncidentEvent:
    """The event of a v3 webhook body whose data is an incident; ``BadEvent`` otherwise."""
    event = payload.get("event") if isinstance(payload, Mapping) else None
    if not isinstance(event, Mapping):
        raise BadEvent("the body has no event object: it is not a PagerDuty v3 webhook")
    data = event.get("data")
    if not isinstance(data, Mapping) or data.get("type") != "incident":
        raise BadEvent("event.data is not an incident")
    service = data.get("service")
    if not isinstance(service, Mapping):
        raise BadEvent("event.data.service is missing: PagerDuty names the incident's service")
    priority = data.get("priority")
    severity = _text(priority, "summary") if isinstance(priority, Mapping) else ""
    fields = {
        "external_id": _text(data, "id"),
        "started_at": event.get("occurred_at"),  # checked as a time here; the start comes from the fold
        "title": _text(data, "title")[:MAX_TITLE],
        "url": _text(data, "html_url"),
        "severity": (severity or _text(data, "urgency"))[:MAX_SEVERITY],
    }
    checked = _checked(fields, EVENT_NAMES, "event.")
    created_at = None
    if data.get("created_at") is not None:
        created_at = _checked({**fields, "started_at": data["created_at"]}, CREATED_NAMES, "event.").started_at
    return IncidentEvent(
        id=_text(event, "id"),
        event_type=_text(event, "event_type"),
        occurred_at=checked.started_at,
        incident_id=checked.external_id,
        service_id=_required(service, "id", "event.data.service.id"),
        service_name=_text(service, "summary")[:300],
        created_at=created_at,
        title=checked.title,
        url=checked.url,
        severity=checked.severity,
    )


def incident_input(events: Iterable[IncidentEvent], *, service: str) -> IncidentInput:
    """The incident the events (all of one incident, in any order) describe, in ``service``
    (an e360 service slug); ``BadEvent`` when none of them says when it started."""
    # By occurred_at; events of the same instant keep the order given (stored order).
    ordered = sorted(events, key=lambda e: e.occurred_at)
    if not ordered:
        raise BadEvent("no event of the incident")
    latest = ordered[-1]
    started_at = next((e.created_at for e in reversed(ordered) if e.created_at), None) or next(
        (e.occurred_at for e in ordered if e.event_type == TRIGGERED), None
    )
    if started_at is None:
        raise BadEvent(
            f"PagerDuty incident {latest.incident_id} has no created_at and its incident.triggered event is "
            "not here yet: this event is applied when it arrives"
        )
    last_change = next((e for e in reversed(ordered) if e.event_type in (RESOLVED, REOPENED)), None)
    resolved_at = last_change.occurred_at if last_change and last_change.event_type == RESOLVED else None
    fields = {
        "external_id": latest.incident_id,
        "service": service,
        "started_at": started_at,
        "resolved_at": resolved_at,
        "title": latest.title,
        "url": latest.url,
        "severity": latest.severity,
    }
    return _checked(fields, FOLD_NAMES, f"PagerDuty incident {latest.incident_id}: ").to_input()


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadEvent(f"{name} must be a string")
    return str(value).strip()


def _required(data: Mapping[str, Any], name: str, where: str) -> str:
    if not (value := _text(data, name)):
        raise BadEvent(f"{where} is required")
    if len(value) > 200:
        raise BadEvent(f"{where} is longer than 200 characters")
    return value


# The JSON API's field names as PagerDuty's event names them, for messages.
EVENT_NAMES = {
    "external_id": "data.id",
    "started_at": "occurred_at",
    "title": "data.title",
    "url": "data.html_url",
    "severity": "data.priority.summary (or data.urgency)",
}
CREATED_NAMES = {**EVENT_NAMES, "started_at": "data.created_at"}
FOLD_NAMES = {
    "started_at": "its start",
    "resolved_at": "its resolution (the incident.resolved event's occurred_at)",
    "service": "the e360 service",
}


def _checked(fields: dict[str, Any], names: dict[str, str], prefix: str) -> IncidentIn:
    """``fields`` held to the JSON API's rules (``metrics.ingest.validated``), naming PagerDuty's fields."""
    try:
        return validated(IncidentIn, fields, names)
    except PayloadError as exc:
        raise BadEvent(f"{prefix}{exc}") from None
