"""The rollups package's own units: which rows hold a scope (``Holders``), the coverage bookkeeping, a
service's day rows from its records, and the one write the refresh calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from e360.models import Service
from metrics import definitions as d
from metrics import rollups
from metrics.models import (
    SERVICE_WIDE,
    DailyRollup,
    RolledUpService,
    TeamRollup,
    TeamWeekRollup,
    WorkflowPeriodRollup,
    WorkflowRollupCoverage,
)
from metrics.refresh import load_records, profile_for, rebuild
from metrics.rollups import coverage, days
from metrics.scope import in_services, reading_profile, team_scope
from metrics.tests.factories import SourceFactory
from metrics.tests.histories import T0, deploy, incident

PROFILE = d.Profile.default(time_zone="UTC")
DAY = timedelta(days=1)


@pytest.fixture
def source(tree):
    return SourceFactory(name="ci", team=tree["org"])


@dataclass
class _Records:
    deployment_recs: list[d.DeploymentRec] = field(default_factory=list)
    change_recs: list[d.ChangeRec] = field(default_factory=list)
    incident_recs: list[d.IncidentRec] = field(default_factory=list)
    run_recs: list[d.PipelineRunRec] = field(default_factory=list)


def _deployment(id_: str, environment: str, status: str, finished: datetime) -> d.DeploymentRec:
    return d.DeploymentRec(
        id=id_,
        service="1",
        environment=environment,
        status=status,
        started_at=finished - timedelta(minutes=5),
        finished_at=finished,
        sha=id_ * 7,
    )


# --- Day rows from records ----------------------------------------------------------------------------


def test_a_production_deployment_counts_in_its_environment_s_day_and_an_incident_service_wide():
    at = datetime(2025, 3, 3, 23, 30, tzinfo=UTC)
    records = _Records(
        deployment_recs=[
            _deployment("a", "production", "success", at),
            _deployment("b", "staging", "success", at),  # not production: in no row
            _deployment("c", "production", "failure", at + DAY),  # a failed attempt
        ],
        incident_recs=[d.IncidentRec(id="i", service="1", started_at=at, resolved_at=at + timedelta(minutes=20))],
    )
    facts = d.derive_facts(records.deployment_recs, [], records.incident_recs, PROFILE)
    rows = days.service_rows(records, facts, PROFILE)

    assert set(rows) == {("production", at.date()), ("production", (at + DAY).date()), (SERVICE_WIDE, at.date())}
    assert rows[("production", at.date())]["deployments"] == 1
    assert rows[("production", (at + DAY).date())]["failed_attempts"] == 1
    wide = rows[(SERVICE_WIDE, at.date())]
    assert (wide["incidents"], wide["distributions"]) == (1, {"restore_times": [1200.0]})


def test_no_records_make_no_rows():
    assert days.service_rows(_Records(), d.derive_facts([], [], [], PROFILE), PROFILE) == {}


# --- The write the refresh calls ----------------------------------------------------------------------


def _forget_rollups() -> None:
    """As if no refresh had run yet (the writes' own may have)."""
    for model in (
        DailyRollup,
        TeamRollup,
        TeamWeekRollup,
        RolledUpService,
        WorkflowPeriodRollup,
        WorkflowRollupCoverage,
    ):
        model.objects.all().delete()


def test_a_service_write_writes_day_workflow_and_team_rows_and_a_second_one_writes_nothing(tree, source):
    checkout = Service.objects.get(slug="checkout")
    deploy(source, checkout, "d1", T0)
    incident(source, checkout, "i1", T0 + timedelta(hours=1), resolved=T0 + timedelta(hours=2))
    _forget_rollups()
    profile = profile_for(checkout)
    loaded = load_records(checkout)
    facts = d.derive_facts(loaded.deployment_recs, loaded.change_recs, loaded.incident_recs, profile)

    assert rollups.service_write(checkout, loaded, facts, profile) > 0
    assert DailyRollup.objects.filter(service=checkout).count() == 2
    assert WorkflowRollupCoverage.objects.filter(service=checkout).exists()
    lineage = [tree[slug].id for slug in ("alpha", "group", "org")]
    assert RolledUpService.objects.get(service_id=checkout.id).team_ids == lineage
    # Never counted before: all its rows are added to its team and the teams above.
    assert set(TeamRollup.objects.values_list("team_id", flat=True)) == set(lineage)

    assert rollups.service_write(checkout, loaded, facts, profile) == 0


def test_a_service_write_for_a_rebuild_leaves_the_teams_alone(tree, source):
    checkout = Service.objects.get(slug="checkout")
    deploy(source, checkout, "d1", T0)
    _forget_rollups()
    RolledUpService.objects.create(service_id=checkout.id, team_ids=[tree["alpha"].id])
    profile = profile_for(checkout)
    loaded = load_records(checkout)
    facts = d.derive_facts(loaded.deployment_recs, loaded.change_recs, loaded.incident_recs, profile)

    rollups.service_write(checkout, loaded, facts, profile, update_teams=False)
    assert not TeamRollup.objects.exists()
    rollups.service_write(checkout, loaded, facts, profile, update_teams=True)  # nothing changed: no delta
    assert not TeamRollup.objects.exists()


# --- Holders ------------------------------------------------------------------------------------------


def test_services_are_held_by_their_own_rows(db):
    held = rollups.Holders.services([3, 5])
    assert (held.filter_ids, held.rollup_team_ids, held.rollup_service_ids) == ([3, 5], (), [3, 5])
    assert held.profile == reading_profile()


def test_the_organisation_is_held_by_the_root_teams_and_reads_raw_rows_unfiltered(tree):
    held = rollups.Holders.organisation()
    assert (held.filter_ids, held.rollup_team_ids, held.rollup_service_ids) == (None, (tree["org"].id,), ())


def test_the_organisation_s_figures_are_its_root_team_s(tree, source):
    for slug, hour in [("checkout", 1), ("search", 2), ("platform", 3)]:
        deploy(source, Service.objects.get(slug=slug), f"d-{slug}", T0 + timedelta(hours=hour))
    rebuild()
    window = d.Window.from_days(T0.date(), T0.date() + DAY, reading_profile())
    org = rollups.Figures(rollups.Holders.organisation(), [window]).summary(window)
    root = rollups.Figures(team_scope(tree["org"], None), [window]).summary(window)
    services = rollups.Figures(rollups.Holders.services(list(Service.objects.values_list("id", flat=True))), [window])
    assert org.change_failure_rate.deployments == 3
    assert org == root
    assert services.summary(window).deployment_frequency == org.deployment_frequency


# --- Coverage -----------------------------------------------------------------------------------------


def test_a_service_whose_workflow_days_lack_the_day_is_read_from_its_runs(tree):
    checkout, cart = Service.objects.get(slug="checkout"), Service.objects.get(slug="cart")
    today = date(2025, 3, 3)
    coverage.workflow_days_written(checkout.id, [today, today + DAY])
    coverage.workflow_days_written(cart.id, [today - 2 * DAY, today - DAY])

    assert list(coverage.workflow_days_lacking(in_services(None), today)) == [cart.id]
    assert list(coverage.workflow_days_lacking(in_services([checkout.id]), today)) == []
    covering = coverage.workflow_days_covering(today, today + DAY).values_list("service_id", flat=True)
    assert list(covering) == [checkout.id]
    coverage.workflow_days_written(cart.id, [today, today + DAY])  # written again: one row, moved
    assert WorkflowRollupCoverage.objects.get(service=cart).first_day == today
