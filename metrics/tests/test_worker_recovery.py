"""Background work survives a killed worker or a lost task: within about a minute it runs again,
and a service refresh requested at any moment is never dropped (issue 13, item 10)."""

from __future__ import annotations

import pydoc
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.db.models import F
from django_q.models import Schedule

from e360.tests.factories import ServiceFactory
from metrics import refresh as refresh_module
from metrics import tasks
from metrics.ingest import KIND_DEPLOYMENT, KIND_ISSUE, inbound_drain
from metrics.models import DailyRollup, InboundEvent, RefreshRequest, Source
from metrics.tests.factories import SourceFactory
from metrics.tests.histories import T0, deploy


@pytest.fixture
def api_source(service):
    return SourceFactory(name="ci", team=service.owner)


def _run_what_a_minute_runs() -> None:
    """Run what the cluster's scheduler starts within a minute: each schedule repeating every minute."""
    for schedule in Schedule.objects.filter(schedule_type=Schedule.MINUTES, minutes__lte=1).exclude(repeats=0):
        pydoc.locate(schedule.func)()


def _time_passes(**delta) -> None:
    RefreshRequest.objects.update(queued_at=F("queued_at") - timedelta(**delta))


def _deployments_rolled_up(service) -> int:
    return sum(DailyRollup.objects.filter(service=service).values_list("deployments", flat=True))


# --- Inbound events -------------------------------------------------------------------------------


def test_a_delivery_whose_drain_was_lost_is_processed_within_a_minute(source):
    source.default_service = ServiceFactory(slug="pager", owner=source.team)
    source.save()
    Source.objects.filter(pk=source.pk).update(drain_queued=True)  # its drain was queued, then lost (killed worker)
    body = {"issueKey": "INC-1", "type": "INCIDENT", "createdDate": "2025-03-01T10:00:00Z"}
    delivery = InboundEvent.objects.create(source=source, kind=KIND_ISSUE, delivery_id="d-1", payload=body)

    _run_what_a_minute_runs()

    assert InboundEvent.objects.get(pk=delivery.pk).status == InboundEvent.Status.PROCESSED


def test_a_drain_out_of_time_queues_the_next_for_the_rest(source, django_capture_on_commit_callbacks):
    body = {
        "id": "build-1",
        "finishedDate": "2025-03-01T10:05:00Z",
        "deploymentCommits": [{"repoUrl": "https://github.com/acme/checkout", "commitSha": "a" * 40}],
    }
    for n in range(3):
        InboundEvent.objects.create(
            source=source, kind=KIND_DEPLOYMENT, delivery_id=f"d-{n}", payload={**body, "id": n}
        )
    with mock.patch("metrics.ingest.async_task") as queued, django_capture_on_commit_callbacks(execute=True):
        summary = inbound_drain(source.pk, batch=1, budget=0)

    assert summary == "1 processed; time is up, the rest is queued"
    assert Source.objects.get(pk=source.pk).drain_queued
    assert [c.args for c in queued.call_args_list] == [("metrics.tasks.inbound_drain", source.pk)]
    assert InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED).count() == 2


# --- Service refreshes ---------------------------------------------------------------------------


def test_a_refresh_whose_worker_was_killed_runs_again_within_a_minute(api_source, service, monkeypatch):
    deploy(api_source, service, "d1", T0)

    def killed(svc):
        raise SystemExit("the worker is killed mid-refresh")

    load_records = refresh_module.load_records
    monkeypatch.setattr(refresh_module, "load_records", killed)
    with pytest.raises(SystemExit):
        tasks.queue_service_refresh(service.id, T0)
    monkeypatch.setattr(refresh_module, "load_records", load_records)
    deploy(api_source, service, "d2", T0 + timedelta(hours=1))
    tasks.queue_service_refresh(service.id, T0 + timedelta(hours=1))  # a later write asks again
    _run_what_a_minute_runs()
    assert _deployments_rolled_up(service) == 0  # the dead refresh is given its minute

    _time_passes(seconds=61)
    _run_what_a_minute_runs()

    assert _deployments_rolled_up(service) == 2
    assert not RefreshRequest.objects.exists()


def test_a_refresh_whose_task_was_lost_before_it_started_is_queued_again(api_source, service):
    deploy(api_source, service, "d1", T0)
    with mock.patch("metrics.tasks.async_task"):  # queued, then lost with a Redis broker's restart
        tasks.queue_service_refresh(service.id, T0)
    tasks.queue_service_refresh(service.id, T0)  # a later write asks again: counted on the waiting row
    _time_passes(minutes=9)
    _run_what_a_minute_runs()
    assert _deployments_rolled_up(service) == 0  # a busy queue may hold a task that long

    _time_passes(minutes=1, seconds=1)
    _run_what_a_minute_runs()

    assert _deployments_rolled_up(service) == 1
    assert not RefreshRequest.objects.exists()


def test_a_request_while_a_refresh_runs_gets_a_refresh_of_its_own(
    api_source, service, monkeypatch, django_capture_on_commit_callbacks
):
    deploy(api_source, service, "d1", T0)
    load_records = refresh_module.load_records
    runs = []

    def load_then_a_write_arrives(svc):
        loaded = load_records(svc)
        runs.append(len(loaded.deployments))
        if len(runs) == 1:  # the first run has read its inputs: a write and its request come in
            deploy(api_source, service, "d2", T0 + timedelta(hours=1))
            tasks.queue_service_refresh(service.id, T0 + timedelta(hours=1))
        return loaded

    monkeypatch.setattr(refresh_module, "load_records", load_then_a_write_arrives)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.queue_service_refresh(service.id, T0)

    assert runs == [1, 2]
    assert _deployments_rolled_up(service) == 2
    assert not RefreshRequest.objects.exists()


def test_a_burst_of_requests_queues_one_refresh(api_source, service):
    deploy(api_source, service, "d1", T0)
    with mock.patch("metrics.tasks.async_task") as queued:
        for hour in (5, 1, 3):
            tasks.queue_service_refresh(service.id, T0 + timedelta(hours=hour))

    assert queued.call_count == 1
    request = RefreshRequest.objects.get()
    assert (request.requests, request.since) == (3, T0 + timedelta(hours=1))
    assert tasks.service_refresh(service.id).startswith(f"{service.slug} after data from ")
    assert tasks.service_refresh(service.id) == f"service {service.id}: no refresh requested (an earlier run did it)"


def test_the_sweep_queues_a_request_again_once_and_not_before_its_time(api_source, service):
    with mock.patch("metrics.tasks.async_task") as queued:
        tasks.queue_service_refresh(service.id, T0)
        assert tasks.refresh_requests_sweep() == "no refresh waiting too long"
        _time_passes(minutes=11)
        assert tasks.refresh_requests_sweep() == "1 refreshes queued again"
        assert tasks.refresh_requests_sweep() == "no refresh waiting too long"
    assert queued.call_count == 2


@pytest.mark.django_db(transaction=True)
def test_a_request_arriving_while_a_refresh_runs_in_another_worker_is_refreshed(api_source, service, monkeypatch):
    """Two connections, as a worker and a web request: the request comes after the running
    refresh read its inputs and is answered at once (it waits for no lock); the refresh then
    queues the next one, which runs."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's in-memory test database is one connection: PostgreSQL runs this")
    deploy(api_source, service, "d1", T0)
    queued: list[tuple] = []
    monkeypatch.setattr(tasks, "async_task", lambda *args, **kwargs: queued.append(args))
    tasks.queue_service_refresh(service.id, T0)
    loaded, resume = threading.Event(), threading.Event()
    load_records = refresh_module.load_records
    loads = []

    def load_and_wait(svc):
        records = load_records(svc)
        loads.append(svc.pk)
        if len(loads) == 1:
            loaded.set()
            assert resume.wait(30)
        return records

    monkeypatch.setattr(refresh_module, "load_records", load_and_wait)
    results: list[str] = []

    def worker():
        try:
            results.append(tasks.service_refresh(service.id))
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    assert loaded.wait(30)
    tasks.queue_service_refresh(service.id, T0 + timedelta(hours=1))
    resume.set()
    thread.join(30)

    assert results == [f"{results[0].split(';')[0]}; requested again meanwhile: queued"]
    assert [args[0] for args in queued] == ["metrics.tasks.service_refresh"] * 2
    pydoc.locate(queued[1][0])(*queued[1][1:])
    assert loads == [service.pk, service.pk]
    assert not RefreshRequest.objects.exists()
