"""PagerDuty's events read (``incident_event``) and folded into one incident (``incident_input``): no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations.pagerduty import delivery, records
from integrations.pagerduty.records import BadEvent, incident_event, incident_input

FIXTURES = Path(__file__).parent / "fixtures" / "pagerduty"
CREATED = datetime(2020, 4, 9, 15, 16, 27, tzinfo=UTC)


def fixture(event_type: str) -> dict:
    return json.loads((FIXTURES / f"{event_type}.json").read_text())


def read(event_type: str, **data) -> records.IncidentEvent:
    body = fixture(event_type)
    body["event"]["data"].update(data)
    return incident_event(body)


def test_it_reads_the_documented_priority_updated_example():
    event = read("incident.priority_updated")
    assert event == records.IncidentEvent(
        id="5ac64822-4adc-4fda-ade0-410becf0de4f",
        event_type="incident.priority_updated",
        occurred_at=datetime(2020, 10, 2, 18, 45, 22, 169000, tzinfo=UTC),
        incident_id="PGR0VU2",
        service_id="PF9KMXH",
        service_name="API Service",
        created_at=CREATED,
        title="A little bump in the road",
        url="https://acme.pagerduty.com/incidents/PGR0VU2",
        severity="P1",
    )


def test_the_severity_is_the_priority_and_without_one_the_urgency():
    assert read("incident.triggered").severity == "high"
    assert read("incident.triggered", urgency="low").severity == "low"
    assert read("incident.priority_updated", urgency="low").severity == "P1"
    assert read("incident.triggered", urgency=None).severity == ""


def test_long_text_is_cut_to_what_the_incident_stores():
    assert len(read("incident.triggered", title="x" * 1024).title) == 500


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "no event object"),
        ({"event": "x"}, "no event object"),
        ({"event": {"data": {"type": "incident_note"}}}, "event.data is not an incident"),
        ({"event": {"occurred_at": "2020-01-01T00:00:00Z", "data": {"type": "incident", "id": "P1"}}}, "service"),
    ],
)
def test_a_body_that_is_no_incident_event_is_refused_with_the_reason(body, message):
    with pytest.raises(BadEvent, match=message):
        incident_event(body)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id": ""}, "event.data.id is required"),
        ({"id": {"no": "object"}}, "id must be a string"),
        ({"html_url": "javascript:alert(1)"}, "event.data.html_url must be an http"),
        ({"created_at": "2020-04-09"}, "event.data.created_at"),
        ({"created_at": "2999-01-01T00:00:00Z"}, "event.data.created_at"),
        ({"service": {"id": "", "summary": "API Service"}}, "event.data.service.id is required"),
        ({"service": {"id": "P" * 201}}, "longer than 200"),
        ({"title": "a\ud800b"}, "event.data.title must not contain a lone surrogate"),
    ],
)
def test_a_field_the_incident_cannot_store_is_refused_naming_it(data, message):
    with pytest.raises(BadEvent, match=message):
        read("incident.triggered", **data)


def test_a_missing_or_unreadable_occurred_at_is_refused():
    body = fixture("incident.triggered")
    body["event"]["occurred_at"] = "2020-04-09 15:16"
    with pytest.raises(BadEvent, match="occurred_at"):
        incident_event(body)


# --- The fold --------------------------------------------------------------------------


def lifecycle() -> list[records.IncidentEvent]:
    names = ["triggered", "acknowledged", "priority_updated", "resolved", "reopened"]
    return [read(f"incident.{name}") for name in names]


def test_the_fold_of_a_lifecycle():
    events = lifecycle()
    assert incident_input(events[:1], service="checkout").resolved_at is None
    resolved = incident_input(events[:4], service="checkout")
    assert resolved.resolved_at == datetime(2020, 10, 2, 19, 2, 51, 204000, tzinfo=UTC)
    assert (resolved.external_id, resolved.service, resolved.started_at) == ("PGR0VU2", "checkout", CREATED)
    assert (resolved.title, resolved.severity, resolved.url) == (
        "A little bump in the road",
        "P1",
        "https://acme.pagerduty.com/incidents/PGR0VU2",
    )
    assert incident_input(events, service="checkout").resolved_at is None  # reopened last


@given(st.permutations(range(5)), st.integers(min_value=1, max_value=5))
def test_the_fold_does_not_depend_on_the_order_of_the_events(order, count):
    events = lifecycle()[:count]
    chosen = [events[i] for i in order if i < count]
    assert incident_input(chosen, service="checkout") == incident_input(events, service="checkout")


def test_the_latest_event_gives_the_title_and_severity():
    triggered = read("incident.triggered")
    renamed = read("incident.acknowledged", title="The road is gone")
    assert incident_input([renamed, triggered], service="s").title == "The road is gone"


def test_without_created_at_the_trigger_starts_it_and_nothing_else_can():
    triggered = read("incident.triggered", created_at=None)
    resolved = read("incident.resolved", created_at=None)
    with pytest.raises(BadEvent, match="no created_at"):
        incident_input([resolved], service="s")
    assert incident_input([resolved, triggered], service="s").started_at == triggered.occurred_at


def test_a_resolution_before_the_start_is_refused():
    resolved = read("incident.resolved", created_at=(CREATED + timedelta(days=400)).isoformat())
    with pytest.raises(BadEvent, match="must not be before its start"):
        incident_input([resolved], service="s")


# --- The delivery ----------------------------------------------------------------------


def test_the_delivery_is_the_events_id_and_type():
    found = delivery({}, fixture("incident.priority_updated"))
    assert (found.kind, found.delivery_id) == (
        "pagerduty.incident.priority_updated",
        "5ac64822-4adc-4fda-ade0-410becf0de4f",
    )


@pytest.mark.parametrize(
    "payload", [None, [], {"event": None}, {"event": {"event_type": 3, "id": True}}, {"event": {"event_type": " "}}]
)
def test_a_body_without_them_has_an_unknown_kind_and_no_id(payload):
    found = delivery({}, payload)
    assert (found.kind, found.delivery_id) == ("pagerduty.unknown", "")


def test_every_kind_used_fits_the_stored_kind_and_a_long_one_is_cut():
    assert all(len(f"pagerduty.{event_type}") <= 60 for event_type in records.EVENT_TYPES)
    assert len(delivery({}, {"event": {"event_type": "x" * 100}}).kind) == 60
