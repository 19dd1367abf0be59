"""``from_row``: the one way from a stored row to the definitions' records. Pure: rows are plain
objects with the models' field names, as a model instance or a named ``values_list`` row has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

from metrics import definitions as d

AT = datetime(2025, 5, 1, 12, tzinfo=UTC)
REPOSITORY = SimpleNamespace(name="acme/checkout", default_branch="main")


def deployment_row(**fields) -> SimpleNamespace:
    row = {
        "id": 7,
        "service_id": 3,
        "environment": "production",
        "status": "success",
        "started_at": AT - timedelta(minutes=5),
        "finished_at": AT,
        "sha": "abc",
        "repository_id": 1,
        "repository": REPOSITORY,
        "is_rollback": False,
        "is_hotfix": True,
        "ref": "",
        "title": "Deploy abc",
        "changes": ["pr-1", "pr-2"],
    }
    return SimpleNamespace(**{**row, **fields})


def test_a_deployment_is_keyed_by_its_id_and_keeps_its_names():
    record = d.DeploymentRec.from_row(deployment_row())

    assert record == d.DeploymentRec(
        id="7",
        service="3",
        environment="production",
        status="success",
        started_at=AT - timedelta(minutes=5),
        finished_at=AT,
        sha="abc",
        repository="acme/checkout",
        is_hotfix=True,
        title="Deploy abc",
        changes=("pr-1", "pr-2"),
    )
    assert record.ref == ""  # absent text stays "", as stored


def test_a_deployment_without_a_list_or_repository_says_so():
    record = d.DeploymentRec.from_row(deployment_row(changes=None, repository_id=None, repository=None))

    assert (record.changes, record.repository) == (None, None)
    assert d.DeploymentRec.from_row(deployment_row(changes=[])).changes == ()


def pull_request_row(**fields) -> SimpleNamespace:
    row = {
        "external_id": "pr-1",
        "service_id": 3,
        "repository": REPOSITORY,
        "merge_sha": "",
        "first_commit_at": AT - timedelta(hours=3),
        "opened_at": AT - timedelta(hours=2),
        "first_review_at": None,
        "approved_at": None,
        "merged_at": None,
        "closed_at": None,
        "author": "ada",
        "size": None,
        "is_direct_push": False,
        "base_branch": "",
    }
    return SimpleNamespace(**{**row, **fields})


def test_a_change_is_keyed_by_its_external_id_the_id_a_change_list_names():
    record = d.ChangeRec.from_row(pull_request_row(size=12), ("c1", "c2"))

    assert (record.id, record.service, record.repository, record.author) == ("pr-1", "3", "acme/checkout", "ada")
    assert (record.size, record.commit_shas, record.merge_sha) == (12, ("c1", "c2"), "")


def test_a_change_to_another_branch_than_the_default_is_not_on_it():
    assert d.ChangeRec.from_row(pull_request_row(base_branch="main")).base_branch_is_default
    assert d.ChangeRec.from_row(pull_request_row(base_branch="")).base_branch_is_default  # not sent
    assert not d.ChangeRec.from_row(pull_request_row(base_branch="release")).base_branch_is_default


def test_an_incident_names_the_deployment_that_caused_it_by_id():
    row = SimpleNamespace(
        id=9,
        service_id=3,
        started_at=AT,
        resolved_at=None,
        severity="",
        caused_by_id=7,
        root_cause_sha="",
    )

    assert d.IncidentRec.from_row(row) == d.IncidentRec(id="9", service="3", started_at=AT, caused_by="7")
    assert d.IncidentRec.from_row(SimpleNamespace(**{**vars(row), "caused_by_id": None})).caused_by is None


def test_a_run_reads_exactly_its_row_fields_and_is_stored_in_utc():
    berlin = timezone(timedelta(hours=2))
    values = {
        "id": 5,
        "service_id": 3,
        "workflow": "ci",
        "sha": "abc",
        "status": "failure",
        "attempt": 2,
        "started_at": AT.astimezone(berlin),
        "finished_at": None,
        "branch": "main",
        "is_default_branch": True,
        "duration_seconds": 90,
    }
    assert set(values) == set(d.PipelineRunRec.ROW_FIELDS)

    record = d.PipelineRunRec.from_row(SimpleNamespace(**values))

    assert (record.id, record.service, record.attempt, record.duration_seconds) == ("5", "3", 2, 90)
    assert record.started_at == AT and record.started_at.tzinfo is UTC
