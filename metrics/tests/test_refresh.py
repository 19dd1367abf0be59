"""Linking and rollups against the database: late data re-links, rollups equal raw rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics import definitions as d
from metrics.models import DailyRollup, Deployment, Incident, PipelineRun, PullRequest
from metrics.refresh import load_records, profile_for, rebuild, service_refresh
from metrics.rollups import Figures, Holders
from metrics.services import (
    DeploymentInput,
    Dirty,
    IncidentInput,
    deployment_upsert,
    incident_upsert,
)
from metrics.tests.factories import SourceFactory
from metrics.tests.histories import T0, deploy, incident, pull_request, random_history


@pytest.fixture
def api_source(service):
    return SourceFactory(name="ci", team=service.owner)


def test_three_incidents_on_one_deployment_count_as_one_failure(api_source, service):
    first = deploy(api_source, service, "d1", T0)
    deploy(api_source, service, "d2", T0 + timedelta(days=2))
    for n in range(3):
        incident(api_source, service, f"inc-{n}", T0 + timedelta(hours=1 + n), resolved=T0 + timedelta(hours=5))
    service_refresh(service_id=service.id)

    first.refresh_from_db()
    assert first.is_failed
    assert Deployment.objects.filter(is_failed=True).count() == 1
    assert set(Incident.objects.values_list("deployment_id", flat=True)) == {first.id}
    rollup = DailyRollup.objects.get(service=service, environment="production", day=T0.date())
    assert rollup.deployments == 1
    assert rollup.failed_deployments == 1
    assert rollup.distributions["recovery_times"] == [5 * 3600.0]  # finished T0, the last incident resolved at T0 + 5 h


def test_a_late_incident_re_links_and_fails_the_deployment(api_source, service, django_capture_on_commit_callbacks):
    deployment = deploy(api_source, service, "d1", T0)
    service_refresh(service_id=service.id)
    deployment.refresh_from_db()
    assert not deployment.is_failed

    # The background task runs on commit (django-q2 in sync mode in tests).
    with django_capture_on_commit_callbacks(execute=True):
        dirty = Dirty()
        incident_upsert(
            source=api_source,
            data=IncidentInput(external_id="late", service=service.slug, started_at=T0 + timedelta(hours=3)),
            dirty=dirty,
        )
        dirty.schedule()
    deployment.refresh_from_db()
    assert deployment.is_failed
    assert deployment.failure_causes == [d.CAUSE_INCIDENT]


def test_a_late_pr_merge_is_linked_to_the_deployment_that_shipped_it(api_source, service):
    deploy(api_source, service, "d0", T0)
    shipped = deploy(api_source, service, "d1", T0 + timedelta(days=1))
    service_refresh(service_id=service.id)
    # The PR record arrives after the deployment that contains it.
    pr = pull_request(api_source, service, "pr-1", T0 + timedelta(hours=10))
    service_refresh(service_id=service.id)
    pr.refresh_from_db()
    shipped.refresh_from_db()
    assert pr.deployment_id == shipped.id
    assert pr.deployed_at == shipped.finished_at
    assert shipped.link_rule == Deployment.LinkRule.MERGED_BETWEEN


def test_a_sent_change_list_links_by_rule_one(api_source, service):
    pull_request(api_source, service, "pr-7", T0 - timedelta(hours=1))
    deployment = deploy(api_source, service, "d1", T0, changes=("pr-7",))
    service_refresh(service_id=service.id)
    deployment.refresh_from_db()
    assert deployment.link_rule == Deployment.LinkRule.SENT
    assert PullRequest.objects.get(external_id="pr-7").deployment_id == deployment.id


def test_a_rollback_fails_the_deployment_before_it(api_source, service):
    bad = deploy(api_source, service, "d1", T0, sha="bbbbbbb")
    deploy(api_source, service, "d2", T0 + timedelta(hours=1), sha="aaaaaaa", is_rollback=True)
    service_refresh(service_id=service.id)
    bad.refresh_from_db()
    assert bad.is_failed
    assert bad.recovered_at == T0 + timedelta(hours=1)


def test_refreshing_twice_changes_nothing(api_source, service, django_assert_max_num_queries):
    deploy(api_source, service, "d1", T0)
    incident(api_source, service, "i1", T0 + timedelta(hours=1), resolved=T0 + timedelta(hours=2))
    pull_request(api_source, service, "p1", T0 - timedelta(hours=3))
    service_refresh(service_id=service.id)
    before = list(DailyRollup.objects.order_by("pk").values())
    assert "0 records re-linked, 0 rollup rows written" in service_refresh(service_id=service.id)
    assert list(DailyRollup.objects.order_by("pk").values()) == before


def test_staging_deployments_are_not_production(api_source, service):
    staging = deployment_upsert(
        source=api_source,
        data=DeploymentInput(external_id="s1", service=service.slug, environment="staging", finished_at=T0),
        dirty=Dirty(),
    )[0]
    service_refresh(service_id=service.id)
    staging.refresh_from_db()
    assert not staging.is_production
    assert not DailyRollup.objects.filter(environment="staging").exists()


def test_days_are_cut_in_the_org_time_zone(api_source, service, settings):
    settings.TIME_ZONE = "America/New_York"
    deploy(api_source, service, "late-evening", datetime(2026, 3, 3, 2, 30, tzinfo=UTC))  # 21:30 on the 2nd in NY
    service_refresh(service_id=service.id)
    assert DailyRollup.objects.get(environment="production").day.isoformat() == "2026-03-02"


@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_metrics_from_rollups_equal_metrics_from_raw_rows(api_source, service, seed):
    DailyRollup.objects.all().delete()
    Deployment.objects.all().delete()
    PullRequest.objects.all().delete()
    Incident.objects.all().delete()
    PipelineRun.objects.all().delete()
    random_history(random.Random(seed), api_source, service)
    service_refresh(service_id=service.id)

    profile = profile_for(service)
    window = d.Window.from_days(T0.date(), T0.date() + timedelta(days=60), profile)
    loaded = load_records(service)
    raw = d.dora_summary(
        loaded.deployment_recs, loaded.change_recs, loaded.incident_recs, window, profile, runs=loaded.run_recs
    )
    rolled = Figures(Holders.services([service.id]), [window], profile).summary(window)

    assert rolled.pipeline == raw.pipeline
    assert (rolled.review.pickup, rolled.review.review) == (raw.review.pickup, raw.review.review)
    assert (rolled.review.size_median, rolled.review.sized, rolled.review.waiting) == (
        raw.review.size_median,
        raw.review.sized,
        raw.review.waiting,
    )

    assert rolled.deployment_frequency.deployments == raw.deployment_frequency.deployments
    assert rolled.deployment_frequency.deployment_days == raw.deployment_frequency.deployment_days
    assert rolled.change_failure_rate == raw.change_failure_rate
    assert rolled.lead_time.changes == raw.lead_time.changes
    for ours, theirs in [
        (rolled.lead_time.lead_time.median, raw.lead_time.lead_time.median),
        (rolled.recovery.failed_deployment_recovery.median, raw.recovery.failed_deployment_recovery.median),
        (rolled.recovery.time_to_restore.median, raw.recovery.time_to_restore.median),
    ]:
        if theirs is None:
            assert ours is None
        else:
            assert abs(ours - theirs) <= abs(theirs) * 0.01 + timedelta(seconds=1)


def test_rebuild_refreshes_every_service(api_source, service):
    deploy(api_source, service, "d1", T0)
    assert "Rebuilt links and rollups of" in rebuild()
    assert DailyRollup.objects.filter(service=service).exists()


def test_rebuild_rollups_command_reports_progress(api_source, service):
    from io import StringIO

    from django.core.management import call_command

    deploy(api_source, service, "d1", T0)
    out = StringIO()
    call_command("rebuild_rollups", stdout=out)
    assert "[1/1]" in out.getvalue()
    assert DailyRollup.objects.filter(service=service, deployments=1).exists()


def test_rebuild_rollups_names_unknown_services(db):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown service"):
        call_command("rebuild_rollups", "nope")
