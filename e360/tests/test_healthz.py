from __future__ import annotations

import logging
from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone

from e360 import tasks
from e360.models import WorkerHeartbeat


def test_it_is_unhealthy_before_any_worker_heartbeat(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["worker"]["status"] == "no heartbeat yet"


def test_it_is_healthy_after_the_heartbeat_task_ran(client, db):
    tasks.heartbeat()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["worker"]["status"] == "ok"
    assert body["worker"]["age_seconds"] <= 1


def test_a_stale_heartbeat_is_unhealthy(client, db, settings):
    WorkerHeartbeat.objects.create(name="old", last_seen=timezone.now() - timedelta(seconds=301))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"]["status"] == "stale"


def test_the_newest_of_several_workers_counts(client, db):
    WorkerHeartbeat.objects.create(name="old", last_seen=timezone.now() - timedelta(hours=1))
    WorkerHeartbeat.objects.create(name="new", last_seen=timezone.now())
    assert client.get("/healthz").status_code == 200


def test_an_unreachable_database_answers_503(client, db, monkeypatch):
    class Unreachable:
        def cursor(self):
            raise DatabaseError("connection refused")

    monkeypatch.setattr("e360.views.connection", Unreachable())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_the_heartbeat_schedule_is_created_by_migration(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="e360.tasks.heartbeat")
    assert schedule.minutes == 1 and schedule.repeats == -1


def test_it_needs_no_login_and_is_not_cached(client, db):
    response = client.get("/healthz")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_the_start_up_503_before_the_first_heartbeat_is_a_warning_not_an_error(client, db, caplog):
    with caplog.at_level(logging.INFO, logger="django.request"):
        assert client.get("/healthz").status_code == 503
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", "Service Unavailable: /healthz (no worker heartbeat yet)")
    ]


def test_a_stale_heartbeat_is_still_logged_as_an_error(client, db, caplog):
    WorkerHeartbeat.objects.create(name="old", last_seen=timezone.now() - timedelta(hours=1))
    with caplog.at_level(logging.INFO, logger="django.request"):
        assert client.get("/healthz").status_code == 503
    assert [r.levelname for r in caplog.records if r.name == "django.request"] == ["ERROR"]


def test_the_development_server_logs_the_healthz_503_as_a_warning():
    from e360.log import HealthzStartupIsAWarning

    record = logging.LogRecord(
        "django.server", logging.ERROR, "", 0, '"%s" %s %s', ("GET /healthz HTTP/1.1", "503", "98"), None
    )
    record.status_code = 503
    assert HealthzStartupIsAWarning().filter(record) and record.levelname == "WARNING"
    other = logging.LogRecord(
        "django.server", logging.ERROR, "", 0, '"%s" %s %s', ("GET /teams/ HTTP/1.1", "500", "9"), None
    )
    other.status_code = 500
    assert HealthzStartupIsAWarning().filter(other) and other.levelname == "ERROR"
