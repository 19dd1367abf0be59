"""The pipelines page's run actions in Chromium: a lead re-runs a failed run's failed jobs from the runs list,
confirms, and reads the result in place, under the strict CSP, with a clean console and no serious accessibility
violation; a GitLab run says why no action is offered."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from actions.models import ActionAudit, ActionKind, ActionPolicy
from actions.tests.selfservice_fixtures import failed_run, github_connection
from e360.tests.browser import axe_violations, sign_in
from metrics.models import PipelineRun, Source
from metrics.refresh import service_refresh
from metrics.tests.factories import PipelineRunFactory, SourceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_lead_re_runs_a_failed_job_from_the_pipelines_page(
    page, page_problems, live_server, owner, service, fake_github, screenshots
):
    ActionPolicy.objects.create(kind=ActionKind.RERUN_FAILED_JOBS, who=ActionPolicy.Who.LEADS, per_target_per_hour=1)
    run = failed_run(fake_github, github_connection(fake_github, service.owner), service)
    gitlab = PipelineRunFactory(
        source=SourceFactory(name="GitLab", kind=Source.Kind.GITLAB),
        service=service,
        workflow="deploy",
        status=PipelineRun.Status.FAILURE,
        finished_at=run.finished_at - timedelta(minutes=30),
    )

    service_refresh(service_id=service.pk)  # the rollups behind the tiles and Failing now

    page.goto("/services/checkout/pipelines/")
    sign_in(page, "alice@example.com")
    expect(page).to_have_url(f"{live_server.url}/services/checkout/pipelines/")
    cell = page.locator(f"#run-actions-{run.pk}")
    expect(cell.get_by_role("link", name="Fetch logs")).to_be_visible()
    failing = page.locator(f"#failing-actions-{run.pk}")  # the same run, latest of CI in Failing now
    expect(failing.get_by_role("link", name="Re-run failed jobs")).to_be_visible()
    expect(page.locator(f"#run-actions-{gitlab.pk}")).to_contain_text(
        "GitLab pipeline: e360 re-runs and fetches the logs of GitHub Actions runs only."
    )
    page.wait_for_load_state("networkidle")
    assert axe_violations(page) == []

    page.evaluate("window.__samePage = true")
    cell.get_by_role("link", name="Re-run failed jobs").click()
    expect(cell).to_contain_text("Re-run the failed jobs of CI on acme/checkout")
    assert fake_github.reruns == []  # asked, not done
    cell.get_by_role("button", name="Re-run failed jobs").click()

    expect(cell.get_by_role("status")).to_have_text(
        re.compile(r"GitHub is re-running the failed jobs of CI \(run \d+\)\.")
    )
    assert page.evaluate("window.__samePage") is True  # in place: no page load
    assert fake_github.reruns == [run.external_id.split("/")[0]]
    audit = ActionAudit.objects.get()
    assert (audit.user, audit.status) == (owner, ActionAudit.Status.SUCCEEDED)
    page.screenshot(path=screenshots / "selfservice-rerun.png", full_page=True)

    expect(failing.get_by_role("link", name="Re-run failed jobs")).to_be_visible()  # the other cell is left alone
    cell.get_by_role("link", name="Back to the actions").click()
    expect(cell.get_by_role("link", name="Re-run failed jobs")).to_be_visible()

    # A second re-run of the same run within the hour: over the policy's limit, said in place.
    failing.get_by_role("link", name="Re-run failed jobs").click()
    failing.get_by_role("button", name="Re-run failed jobs").click()
    expect(failing.get_by_role("status")).to_contain_text("This run has reached the limit of 1")
    page_problems.take("429")  # the refusal's status, which the console reports
