"""Apache DevLake's own DORA end-to-end fixtures, run through e360's definitions.

The CSVs in ``conformance/devlake_dora/`` are DevLake's (Apache-2.0, see its README,
LICENSE and NOTICE), copied unchanged. Each test loads one case through a small adapter
into e360's records, runs our code under ``Profile.devlake()`` and compares with DevLake's
expected table field by field. A test that relies on a DevLake-only choice says so in its
name; where e360's default differs, a companion test shows the difference.
"""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest

from metrics.definitions import (
    ChangeRec,
    DeploymentRec,
    IncidentRec,
    Profile,
    change_lead_times,
    link_changes,
    link_incidents,
    previous_success_deployments,
)
from metrics.tests import devlake_rules as devlake

CASES = Path(__file__).parent / "conformance" / "devlake_dora"


def read_csv(*parts: str) -> list[dict[str, str]]:
    with (CASES.joinpath(*parts)).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def blank_to_none(value: str | None) -> str | None:
    return value if value not in (None, "") else None


def minutes(value: timedelta | None) -> int | None:
    if value is None:
        return None
    assert value % timedelta(minutes=1) == timedelta(0), f"{value} is not a whole number of minutes"
    return value // timedelta(minutes=1)


def as_expected(row: dict[str, str]) -> dict[str, object]:
    """DevLake's expected row with typed values: *_time → minutes, *_date → datetime, empty → None."""
    typed: dict[str, object] = {}
    for column, value in row.items():
        if column.endswith("_time"):
            typed[column] = int(value) if value else None
        elif column.endswith("_date"):
            typed[column] = devlake.parse_time(value)
        else:
            typed[column] = blank_to_none(value)
    return typed


def project_mapping(*parts: str) -> devlake.ProjectMapping:
    rows = read_csv(*parts)
    return devlake.ProjectMapping(tuple((r["project_name"], r["table"], r["row_id"]) for r in rows))


def deployment_commit(row: dict[str, str]) -> devlake.DeploymentCommit:
    return devlake.DeploymentCommit(
        id=row["id"],
        commit_sha=row["commit_sha"],
        cicd_scope_id=row["cicd_scope_id"],
        cicd_deployment_id=row["cicd_deployment_id"],
        result=row["result"],
        repo_url=row["repo_url"],
        environment=row["environment"],
        started_date=devlake.parse_time(row["started_date"]),
        finished_date=devlake.parse_time(row["finished_date"]),
        prev_success_deployment_commit_id=blank_to_none(row.get("prev_success_deployment_commit_id")),
    )


# --- prev_success_deployment_commit ----------------------------------------------------------

PREV_EXPECTED = {r["id"]: r for r in read_csv("prev_success_deployment_commit", "cicd_deployment_commits_after.csv")}


def previous_by_devlake_rule() -> dict[str, str | None]:
    rows = read_csv("prev_success_deployment_commit", "cicd_deployment_commits_before.csv")
    return previous_success_deployments(devlake.deployment_record(deployment_commit(r)) for r in rows)


@pytest.mark.parametrize("row_id", sorted(PREV_EXPECTED, key=int))
def test_previous_success_deployment_matches_devlake(row_id):
    expected = blank_to_none(PREV_EXPECTED[row_id]["prev_success_deployment_commit_id"])
    assert previous_by_devlake_rule().get(row_id) == expected


def test_previous_success_deployment_covers_exactly_the_successful_rows_with_an_environment():
    before = read_csv("prev_success_deployment_commit", "cicd_deployment_commits_before.csv")
    chained = {r["id"] for r in before if r["result"] == "SUCCESS" and r["environment"]}
    assert set(previous_by_devlake_rule()) == chained


# --- deployment_generator ----------------------------------------------------------------------


def generated_deployments() -> dict[str, devlake.DeploymentCommit]:
    case = "deployment_generator"
    pipelines = [
        devlake.Pipeline(
            id=r["id"],
            name=r["name"],
            result=r["result"],
            status=r["status"],
            type=r["type"],
            environment=r["environment"],
            duration_sec=float(r["duration_sec"]) if r["duration_sec"] else None,
            created_date=devlake.parse_time(r["created_date"]),
            finished_date=devlake.parse_time(r["finished_date"]),
            cicd_scope_id=r["cicd_scope_id"],
        )
        for r in read_csv(case, "cicd_pipelines.csv")
    ]
    tasks = [
        devlake.Task(
            id=r["id"],
            name=r["name"],
            pipeline_id=r["pipeline_id"],
            result=r["result"],
            type=r["type"],
            environment=r["environment"],
        )
        for r in read_csv(case, "cicd_tasks.csv")
    ]
    commits = [
        devlake.PipelineCommit(
            pipeline_id=r["pipeline_id"],
            commit_sha=r["commit_sha"],
            branch=r["branch"],
            repo_id=r["repo_id"],
            repo_url=r["repo_url"],
        )
        for r in read_csv(case, "cicd_pipeline_commits.csv")
    ]
    scopes = project_mapping(case, "project_mapping.csv").members("project1", "cicd_scopes")
    rows = devlake.deployments_from_pipelines(pipelines, tasks, commits, cicd_scopes=scopes)
    by_id = {r.id: r for r in rows}
    assert len(by_id) == len(rows), "one row per pipeline and repository"
    return by_id


GENERATOR_EXPECTED = {r["id"]: r for r in read_csv("deployment_generator", "cicd_deployment_commits.csv")}


@pytest.mark.parametrize("row_id", sorted(GENERATOR_EXPECTED))
def test_deployment_generator_row_matches_devlake_field_by_field(row_id):
    expected = as_expected(GENERATOR_EXPECTED[row_id])
    row = generated_deployments()[row_id]
    actual = {column: getattr(row, column) or None for column in expected}
    assert actual == expected


def test_deployment_generator_makes_no_other_rows():
    # Skipped pipelines, pipelines without a deployment task, and a SKIPPED deployment task do not count.
    assert set(generated_deployments()) == set(GENERATOR_EXPECTED)


def test_generated_failed_deployments_count_as_failed_attempts_not_deployments():
    records = [devlake.deployment_record(r) for r in generated_deployments().values()]
    profile = Profile.devlake()
    production = [r for r in records if r.status == "success" and profile.is_production_environment(r.environment)]
    assert production == []  # the one successful pipeline inferred no environment
    assert sum(r.status == "failure" for r in records) == 5


# --- change_lead_time --------------------------------------------------------------------------

LEAD_CASE = "change_lead_time"
PR_EXPECTED = {r["id"]: r for r in read_csv(LEAD_CASE, "project_pr_metrics.csv")}


def pr_metrics_rows(project: str = "project1") -> dict[str, dict[str, object]]:
    """DevLake's project_pr_metrics, computed by e360: PR ids → columns."""
    mapping = project_mapping(LEAD_CASE, "project_mapping.csv")
    scopes = mapping.members(project, "cicd_scopes")
    repos = mapping.members(project, "repos")
    profile = Profile.devlake(service_groups=mapping.service_groups(project))

    deployments: list[DeploymentRec] = [
        devlake.deployment_record(deployment_commit(r))
        for r in read_csv(LEAD_CASE, "cicd_deployment_commits.csv")
        if r["cicd_scope_id"] in scopes
    ]
    commit_ranges: dict[tuple[str, str], set[str]] = {}
    for r in read_csv(LEAD_CASE, "commits_diffs.csv"):
        commit_ranges.setdefault((r["old_commit_sha"], r["new_commit_sha"]), set()).add(r["commit_sha"])

    commits: dict[str, list[devlake.PullRequestCommit]] = {}
    for r in read_csv(LEAD_CASE, "pull_request_commits.csv"):
        commit = devlake.PullRequestCommit(
            r["commit_sha"], r["pull_request_id"], devlake.parse_time(r["commit_authored_date"])
        )
        commits.setdefault(r["pull_request_id"], []).append(commit)
    comments: dict[str, list[devlake.PullRequestComment]] = {}
    for r in read_csv(LEAD_CASE, "pull_request_comments.csv"):
        comment = devlake.PullRequestComment(
            r["id"], r["pull_request_id"], devlake.parse_time(r["created_date"]), r["account_id"]
        )
        comments.setdefault(r["pull_request_id"], []).append(comment)
    prs = [
        devlake.PullRequest(
            id=r["id"],
            base_repo_id=r["base_repo_id"],
            author_id=r["author_id"],
            merge_commit_sha=r["merge_commit_sha"],
            created_date=devlake.parse_time(r["created_date"]),
            merged_date=devlake.parse_time(r["merged_date"]),
        )
        for r in read_csv(LEAD_CASE, "pull_requests.csv")
        if r["base_repo_id"] in repos
    ]
    changes: list[ChangeRec] = [
        devlake.change_record(pr, commits.get(pr.id, []), comments.get(pr.id, [])) for pr in prs
    ]

    links = link_changes(deployments, changes, commit_ranges, profile)
    lead_times = change_lead_times(changes, links, deployments, profile)

    rows = {}
    for pr, change in zip(prs, changes, strict=True):
        if pr.id not in lead_times:
            continue
        lt = lead_times[pr.id]
        first = devlake.first_commit(commits.get(pr.id, []))
        review = devlake.first_review(comments.get(pr.id, []), pr.author_id)
        rows[pr.id] = {
            "id": pr.id,
            "project_name": project,
            "first_commit_sha": first.commit_sha if first else None,
            "pr_coding_time": minutes(lt.coding),
            "first_review_id": review.id if review else None,
            "pr_pickup_time": minutes(lt.pickup),
            "pr_review_time": minutes(lt.review),
            "deployment_commit_id": lt.deployment_id,
            "pr_deploy_time": minutes(lt.deploy),
            "pr_cycle_time": minutes(lt.lead_time),
            "first_commit_authored_date": change.first_commit_at,
            "first_comment_date": change.first_review_at,
            "pr_created_date": change.opened_at,
            "pr_merged_date": change.merged_at,
            "pr_deployed_date": lt.deployed_at,
        }
    return rows


@pytest.mark.parametrize("pr_id", sorted(PR_EXPECTED))
def test_devlake_profile_reproduces_project_pr_metrics_field_by_field(pr_id):
    expected = as_expected(PR_EXPECTED[pr_id])
    actual = pr_metrics_rows()[pr_id]
    assert list(actual) == list(expected), "every column of project_pr_metrics.csv is compared"
    assert actual == expected


def test_devlake_profile_makes_one_row_per_merged_pr_of_the_project():
    assert set(pr_metrics_rows()) == set(PR_EXPECTED)  # pr6 is not merged: no row


def test_devlake_first_deployment_of_a_scope_links_no_prs():
    # commits_diffs names pr_merge_commit0 for deployment 1, but it has no previous deployment.
    assert pr_metrics_rows()["pr0"]["deployment_commit_id"] is None


def test_devlake_staging_and_failed_deployments_deploy_nothing():
    rows = pr_metrics_rows()
    assert rows["pr4"]["deployment_commit_id"] is None  # only in a STAGING range
    assert rows["pr5"]["deployment_commit_id"] is None  # only in a FAILURE deployment's range


# --- connect_incident_to_deployment --------------------------------------------------------------

INCIDENT_CASE = "connect_incident_to_deployment"


def incident_links(profile_factory=Profile.devlake, project: str = "project1") -> dict[str, tuple[str, str]]:
    """Incident id → (project, DevLake deployment id) for the project's incidents."""
    mapping = project_mapping(INCIDENT_CASE, "raw_tables", "project_mapping.csv")
    profile = profile_factory(service_groups=mapping.service_groups(project))
    rows = [
        deployment_commit(r)
        for r in read_csv(INCIDENT_CASE, "prev_success_deployment_commit", "cicd_deployment_commits_after.csv")
    ]
    pipeline_of = {r.id: r.cicd_deployment_id for r in rows}
    # Every incident goes in: one whose scope is in no project is its own group, with no deployments.
    incidents = [
        IncidentRec(id=r["id"], service=r["scope_id"], started_at=devlake.parse_time(r["created_date"]))
        for r in read_csv(INCIDENT_CASE, "raw_tables", "incidents.csv")
    ]
    service_of = {i.id: i.service for i in incidents}
    links = link_incidents(incidents, [devlake.deployment_record(r) for r in rows], profile)
    return {i: (profile.group_of(service_of[i]), pipeline_of[link.deployment_id]) for i, link in links.items()}


def test_devlake_profile_links_incidents_without_a_time_cap_field_by_field():
    expected = read_csv(INCIDENT_CASE, "snapshot_tables", "project_incident_deployment_relationships.csv")
    actual = incident_links()
    assert [
        {"id": i, "project_name": project, "deployment_id": deployment}
        for i, (project, deployment) in sorted(actual.items())
    ] == sorted(expected, key=lambda r: r["id"])


def test_devlake_does_not_link_an_incident_whose_scope_maps_to_no_project():
    assert "github:GithubIssue:1:1373792477" not in incident_links()  # repos/repo3 is in no project


def test_e360_default_window_leaves_incidents_weeks_after_the_last_deployment_unlinked():
    # The November incidents come 7+ weeks after pipeline7: DevLake blames it, e360's W = 7 days does not.
    links = incident_links(Profile.default)
    assert links == {"github:GithubIssue:1:1373792478": ("project1", "pipeline2")}


def test_the_fixtures_travel_with_their_license_and_notice():
    assert "Apache License" in (CASES / "LICENSE").read_text()
    assert "Apache Software Foundation" in (CASES / "NOTICE").read_text()
