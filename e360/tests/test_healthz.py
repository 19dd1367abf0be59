from __future__ import annotations

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

    schedule = Schedule.objects.get(func=tasks.HEARTBEAT_SCHEDULE)
    assert schedule.minutes == 1 and schedule.repeats == -1


def test_it_needs_no_login_and_is_not_cached(client, db):
    response = client.get("/healthz")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
