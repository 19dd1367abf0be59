"""The pipeline reliability pages of a service, a team and the organisation: failure and flaky
rate (as ``definitions.pipeline_reliability`` counts them), durations, the weekly chart's data,
the slowest and the currently failing workflows with links to their runs, the runs list; htmx
fragments, bad input, access and query counts."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from e360.tests.factories import ServiceFactory, TeamFactory
from metrics import definitions as d
from metrics.models import PipelineRun, WorkflowPeriodRollup, WorkflowRollupCoverage
from metrics.refresh import service_refresh
from metrics.scope import reading_profile
from metrics.tests.factories import PipelineRunFactory, SourceFactory
from metrics.tests.histories import run_records

H = timedelta(hours=1)
DAY = timedelta(days=1)
# The pages' queries with these fixtures, pinned so that a read added to them shows (docs/product.md#budgets): no
# figure the page does not show (a summary's review queue, failures left unrecovered, last events). They do not grow
# with the data either (the tests below).
TEAM_PAGE_QUERIES = 18
ORG_PAGE_QUERIES = 16


def _htmx(target: str) -> dict:
    return {"HX-Request": "true", "HX-Target": target}


def _get(client, user, url, **headers):
    client.force_login(user)
    return client.get(url, headers=headers)


_INLINE_TAG = re.compile(r"</?(span|strong|a|time|code)\b[^>]*>")


def _plain(html: str) -> str:
    html = re.sub(r"<script[^>]*>.*?</script>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", _INLINE_TAG.sub("", html))
    return re.sub(r"\s+", " ", unescape(text)).strip()


def _tile(response, key: str) -> str:
    match = re.search(rf'<article class="card tile" aria-labelledby="tile-{key}">.*?</article>', _body(response), re.S)
    assert match, f"no {key} tile"
    return _plain(match.group(0))


def _section(response, title_id: str) -> str:
    match = re.search(rf'<section [^>]*aria-labelledby="{title_id}".*?</section>', _body(response), re.S)
    assert match, f"no section {title_id}"
    return match.group(0)


def _rows(section: str) -> list[str]:
    return [_plain(row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section.split("<tbody>")[1], re.S)]


def _body(response) -> str:
    return response.content.decode()


def _chart(response) -> dict:
    match = re.search(r'<script id="pipeline-weeks" type="application/json">(.*?)</script>', _body(response))
    assert match
    return json.loads(match.group(1))


def _with(url: str, query: dict) -> str:
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def team_url(slug="payments", **query) -> str:
    return _with(reverse("metrics:team-pipelines", args=[slug]), query)


def service_url(slug="checkout", **query) -> str:
    return _with(reverse("metrics:service-pipelines", args=[slug]), query)


def org_url(**query) -> str:
    return _with(reverse("metrics:pipelines"), query)


@pytest.fixture
def now():
    return timezone.now().replace(minute=0, second=0, microsecond=0)


class Runs:
    """CI runs stored as ingestion stores them, then rolled up."""

    def __init__(self, now):
        self.now = now
        self.source = SourceFactory(name="github-actions")
        self.services = set()

    def run(self, service, workflow, sha, status, ago, seconds, *, attempt=1, **extra) -> PipelineRun:
        self.services.add(service.id)
        return PipelineRunFactory(
            source=self.source,
            service=service,
            workflow=workflow,
            sha=sha,
            status=status,
            attempt=attempt,
            finished_at=self.now - ago,
            duration_seconds=seconds,
            **extra,
        )

    def refresh(self):
        for service_id in self.services:
            service_refresh(service_id=service_id)


@pytest.fixture
def runs(now, service, ledger, search):
    """Checkout (Payments): ``ci`` failed on commit a and passed on its re-run (flaky), passed on b,
    then failed twice on c (failing now, no URL stored); ``deploy`` passed twice, a third run was
    cancelled. Ledger (Payments API): ``ci`` failed on x and y, never passed (URLs stored). Not
    counted: a feature branch's failure, a failure 120 days ago. Search (another team): ``ci`` failing."""
    r = Runs(now)
    ok, failed = PipelineRun.Status.SUCCESS, PipelineRun.Status.FAILURE
    r.run(service, "ci", "a" * 40, failed, 10 * DAY, 600)
    r.run(service, "ci", "a" * 40, ok, 10 * DAY - H, 540, attempt=2)
    r.run(service, "deploy", "a" * 40, ok, 9 * DAY, 1800)
    r.run(service, "ci", "b" * 40, ok, 8 * DAY, 480)
    r.run(service, "deploy", "b" * 40, ok, 8 * DAY - H, 1500)
    r.run(service, "ci", "c" * 40, failed, 2 * DAY, 420)
    r.run(service, "ci", "c" * 40, failed, 2 * DAY - H, 450, attempt=2)
    r.run(service, "deploy", "c" * 40, PipelineRun.Status.CANCELLED, 22 * H, 60)
    r.run(service, "ci", "f" * 40, failed, 23 * H, 100, branch="feature/x", is_default_branch=False)
    r.run(service, "ci", "0" * 40, failed, 120 * DAY, 100)
    r.run(ledger, "ci", "1" * 40, failed, 3 * DAY, 300, url="https://ci.example/ledger/runs/1")
    r.run(ledger, "ci", "2" * 40, failed, DAY, 360, url="https://ci.example/ledger/runs/2")
    r.run(search, "ci", "3" * 40, failed, 5 * DAY, 200)
    r.refresh()
    return r


def _records(services) -> list[d.PipelineRunRec]:
    return run_records(PipelineRun.objects.filter(service__in=services))


class TestTeamPage:
    def test_it_shows_failure_and_flaky_rate_and_durations(self, client, owner, runs):
        response = _get(client, owner, team_url())
        assert response.status_code == 200
        # Judged default-branch runs of the 90 days: Checkout's 5 ci and 2 deploy, Ledger's 2; failed: 3 + 2.
        failure = _tile(response, "failure-rate")
        assert "56%" in failure and "5 of 9 runs failed" in failure
        # Commits built: Checkout's a, b, c and Ledger's x, y; a was flaky.
        flaky = _tile(response, "flaky-rate")
        assert "20%" in flaky and "1 of 5 commits failed, then passed on a re-run" in flaky
        # Durations 300 … 1800 s: median 480 s, p90 1560 s.
        assert "8 min" in _tile(response, "median-duration")
        assert "26 min" in _tile(response, "p90-duration")
        assert _tile(response, "failing") == "Failing now 2 of 3 workflows run in this period"

    def test_the_rates_are_those_of_the_pipeline_definitions(self, client, owner, runs, service, ledger):
        response = _get(client, owner, team_url(days=30))
        window = d.Window.last_days(30, now=timezone.now(), tz=reading_profile())
        expected = d.pipeline_reliability(_records([service, ledger]), window)
        assert (expected.runs, expected.failed, expected.commits, expected.flaky_commits) == (9, 5, 5, 1)
        assert f"{expected.failed} of {expected.runs} runs failed" in _tile(response, "failure-rate")
        flaky = _tile(response, "flaky-rate")
        assert f"{expected.flaky_commits} of {expected.commits} commits" in flaky
        assert f"{expected.flaky_rate * 100:.0f}%" in flaky

    def test_a_commit_whose_re_run_also_failed_is_not_flaky(self, client, owner, runs, service):
        # c failed twice and never passed: it counts against the failure rate, not the flaky rate.
        response = _get(client, owner, service_url())
        assert "1 of 3 commits failed, then passed on a re-run" in _tile(response, "flaky-rate")

    def test_it_lists_the_workflows_failing_now_the_longest_first(self, client, owner, runs):
        section = _section(_get(client, owner, team_url()), "failing-title")
        rows = _rows(section)
        assert len(rows) == 2
        # Ledger's ci has failed since 3 days ago and never passed in the period; Checkout's since 2 days.
        assert rows[0].startswith("ci Ledger") and "no run passed in this period" in rows[0]
        assert rows[1].startswith("ci Checkout") and "no run passed" not in rows[1]
        # The latest run's URL where stored, else the list of that workflow's failed runs.
        assert '<a href="https://ci.example/ledger/runs/2">Run</a>' in section
        assert (
            '<a href="?service=checkout&amp;workflow=ci&amp;status=failure#runs" '
            'hx-get="?service=checkout&amp;workflow=ci&amp;status=failure" hx-target="#runs"'
        ) in section
        counts = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', section)]
        assert counts == [2, 2]

    def test_a_workflow_that_passed_after_failing_is_not_failing(self, client, owner, runs, service):
        runs.run(service, "ci", "c" * 40, PipelineRun.Status.SUCCESS, 2 * DAY - 2 * H, 430, attempt=3)
        runs.refresh()
        rows = _rows(_section(_get(client, owner, team_url()), "failing-title"))
        assert len(rows) == 1 and rows[0].startswith("ci Ledger")

    def test_a_cancelled_run_after_a_failure_leaves_the_workflow_failing(self, client, owner, runs, service):
        runs.run(service, "ci", "d" * 40, PipelineRun.Status.CANCELLED, H, 30)
        runs.refresh()
        rows = _rows(_section(_get(client, owner, team_url()), "failing-title"))
        assert [row.split()[1] for row in rows] == ["Ledger", "Checkout"]

    def test_it_ranks_the_slowest_workflows_by_p90(self, client, owner, runs):
        section = _section(_get(client, owner, team_url()), "slowest-title")
        rows = _rows(section)
        # deploy: 1500 and 1800 s (p90 1770 s); Checkout's ci 420 … 600 s (p90 576 s); Ledger's ci 300, 360 s.
        assert [row.split(" ")[:2] for row in rows] == [["deploy", "Checkout"], ["ci", "Checkout"], ["ci", "Ledger"]]
        assert rows[0] == "deploy Checkout 30 min 28 min 2 0%"
        assert rows[1] == "ci Checkout 10 min 8 min 5 60%"
        assert '<a href="?service=checkout&amp;workflow=deploy#runs"' in section

    def test_the_weekly_chart_data_hold_every_run(self, client, owner, runs):
        response = _get(client, owner, team_url(days=30))
        chart = _chart(response)
        assert len(chart["labels"]) in (5, 6)
        assert sum(chart["runs"]) == 9
        rates = [rate for rate in chart["failure_rate"] if rate is not None]
        assert rates and all(0 <= rate <= 100 for rate in rates)
        body = _body(response)
        assert '<canvas id="chart-failure-rate" role="img" aria-label="' in body
        assert b"metrics/operations.js" in response.content
        assert not re.search(rb"<script(?![^>]*(src=|application/json))", response.content)
        assert not re.search(rb"\sstyle=", response.content)
        table = re.search(r"<details class=\"chart-data\">.*?</details>", body, re.S).group(0)
        assert sum(int(row.split()[-6]) for row in _rows(table)) == 9  # the runs column

    def test_it_lists_the_runs_newest_first(self, client, owner, runs):
        section = _section(_get(client, owner, team_url()), "runs-title")
        rows = _rows(section)
        # Ten default-branch runs in the period (the cancelled one too); no feature branch, nothing older.
        assert len(rows) == 10
        assert rows[0].split()[3:5] == ["Checkout", "deploy"] and "cancelled" in rows[0]
        assert "Ledger ci failed" in rows[1]
        assert "fffffff" not in section and "0000000" not in section
        assert '<a href="https://ci.example/ledger/runs/2">ci</a>' in section

    def test_the_runs_list_narrows_to_a_workflow_and_a_status(self, client, owner, runs):
        response = _get(client, owner, team_url(service="ledger", workflow="ci"), **_htmx("runs"))
        body = _body(response)
        assert body.lstrip().startswith('<section id="runs"')
        assert "<html" not in body and "pipeline-weeks" not in body
        assert len(_rows(body)) == 2
        assert "workflow ci of Ledger" in _plain(body)
        failures = _rows(_section(_get(client, owner, team_url(status="failure")), "runs-title"))
        assert len(failures) == 5 and all("failed" in row for row in failures)

    def test_the_period_picker_swaps_the_content_and_keeps_the_filters(self, client, owner, runs):
        body = _body(_get(client, owner, team_url(workflow="ci")))
        assert (
            'href="?workflow=ci&amp;days=30" hx-get="?workflow=ci&amp;days=30" hx-target="#pipelines-content"'
        ) in body
        assert re.search(r'href="\?workflow=ci&amp;days=90"[^>]*aria-current="true">90 days', body)  # the default
        response = _get(client, owner, team_url(days=180), **_htmx("pipelines-content"))
        body = _body(response)
        assert body.lstrip().startswith('<div id="pipelines-content"')
        assert "<html" not in body and "breadcrumbs" not in body
        # 180 days hold the failure of 120 days ago as well.
        assert "6 of 10 runs failed" in _tile(response, "failure-rate")
        assert re.search(r'aria-current="true">180 days', body)
        assert "HX-Request" in response["Vary"]

    def test_it_paginates_the_runs(self, client, owner, service, now):
        r = Runs(now)
        for n in range(30):
            r.run(service, "ci", f"{n:040x}", PipelineRun.Status.SUCCESS, (n + 1) * H, 300)
        r.refresh()
        section = _section(_get(client, owner, team_url()), "runs-title")
        assert "Page 1 of 2 · 30 in all" in _plain(section)
        assert 'href="?page=2" hx-get="?page=2" hx-target="#runs"' in section
        body = _body(_get(client, owner, team_url(page=2), **_htmx("runs")))
        assert len(_rows(body)) == 5
        assert _get(client, owner, team_url(page=3)).status_code == 404

    def test_a_team_without_runs_says_no_data(self, client, owner, team):
        response = _get(client, owner, team_url())
        assert response.status_code == 200
        for key in ("failure-rate", "flaky-rate", "median-duration", "p90-duration"):
            assert "no data" in _tile(response, key), key
        text = _plain(_body(response))
        assert "no data: no pipeline run finished in this period" in text
        assert "No workflow is failing." in text and "No timed run in this period." in text
        assert "No run finished in this period." in text

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ({"days": "7"}, "Unknown period"),
            ({"days": "ninety"}, "Unknown period"),
            ({"page": "x"}, "Unknown page"),
            ({"page": "-1"}, "Unknown page"),
            ({"page": "9" * 5000}, "Unknown page"),
            ({"days": "9" * 5000}, "Unknown period"),
            ({"days": "090"}, "Unknown period"),
            ({"status": "exploded"}, "Unknown status"),
            ({"service": "search-api"}, "No service"),  # another team's
            ({"service": "nothing"}, "No service"),
            ({"workflow": "w" * 201}, "at most 200 characters"),
            ({"workflow": "c%00i"}, "none of them NUL"),
        ],
    )
    def test_bad_input_answers_400_with_what_was_wrong(self, client, owner, runs, query, message):
        for headers in ({}, _htmx("runs"), _htmx("pipelines-content")):
            response = _get(client, owner, team_url(**query), **headers)
            assert response.status_code == 400
            assert message in response.content.decode()

    def test_a_member_who_cannot_see_the_sub_team_gets_the_team_alone(self, client, teammate, runs):
        response = _get(client, teammate, team_url())
        assert response.status_code == 200
        assert "3 of 7 runs failed" in _tile(response, "failure-rate")
        assert "Ledger" not in _body(response)

    def test_an_outsider_gets_404(self, client, outsider, runs):
        assert _get(client, outsider, team_url()).status_code == 404
        assert _get(client, outsider, team_url("payments-api"), **_htmx("runs")).status_code == 404
        assert _get(client, outsider, team_url("no-such-team")).status_code == 404

    def test_it_requires_sign_in_and_get(self, client, owner, team):
        response = client.get(team_url())
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        client.force_login(owner)
        assert client.post(team_url()).status_code == 405

    @pytest.mark.parametrize("days", [30, 90, 180])
    def test_workflows_read_from_their_runs_show_the_same(self, client, owner, runs, days):
        """Services whose workflow rollups are not in step for today (the hourly sweep stopped) are
        read from their runs, with the same figures."""
        shown = _per_workflow(_get(client, owner, team_url(days=days)))
        assert "deploy Checkout 30 min 28 min 2 0%" in shown[0]
        _unroll_workflows()
        assert _per_workflow(_get(client, owner, team_url(days=days))) == shown

    def test_it_runs_a_bounded_number_of_queries(
        self, client, owner, team, service, ledger, now, django_assert_num_queries
    ):
        r = Runs(now)
        r.run(service, "ci", "a" * 40, PipelineRun.Status.FAILURE, 2 * DAY, 300)
        r.refresh()
        client.force_login(owner)
        with django_assert_num_queries(TEAM_PAGE_QUERIES) as few:
            client.get(team_url())

        # More runs, workflows, failing workflows, services and sub-teams: not one query more.
        for n in range(6):
            sub = TeamFactory(name=f"Squad {n}", slug=f"squad-{n}", parent=team)
            extra = ServiceFactory(name=f"Service {n}", slug=f"service-{n}", owner=sub)
            for m in range(5):
                status = PipelineRun.Status.FAILURE if m % 2 else PipelineRun.Status.SUCCESS
                r.run(extra, f"job-{m}", f"{n}{m}" * 20, status, (m + 1) * DAY, 100 * (m + 1))
                r.run(ledger, f"job-{m}", f"{n}{m}" * 20, status, (m + 1) * DAY + H, 120)
        r.refresh()
        with django_assert_num_queries(len(few.captured_queries)):
            response = client.get(team_url())
        assert "25 of 61 runs failed" in _tile(response, "failure-rate")


def _per_workflow(response) -> tuple[str, ...]:
    """The slowest and failing workflows' tables and the failing tile, as shown."""
    return (
        _plain(_section(response, "slowest-title")),
        _plain(_section(response, "failing-title")),
        _tile(response, "failing"),
    )


def _unroll_workflows() -> None:
    """Every service's workflow rollups out of step, and wrong: a read of them would show."""
    WorkflowRollupCoverage.objects.update(first_day=date(2000, 1, 1), last_day=date(2000, 1, 2))
    WorkflowPeriodRollup.objects.update(runs=999, failed=0, p90=1e9)


class TestServicePage:
    def test_it_shows_the_service_s_pipelines(self, client, teammate, runs):
        response = _get(client, teammate, service_url())
        assert response.status_code == 200
        assert "3 of 7 runs failed" in _tile(response, "failure-rate")
        rows = _rows(_section(response, "failing-title"))
        assert len(rows) == 1 and rows[0].startswith("ci ") and "Checkout" not in rows[0]  # no service column
        assert "2 Failed runs" in rows[0] and "ccccccc" in rows[0]

    def test_an_outsider_gets_404(self, client, outsider, runs):
        assert _get(client, outsider, service_url()).status_code == 404
        assert _get(client, outsider, service_url("ledger"), **_htmx("pipelines-content")).status_code == 404


class TestOrganisationPage:
    def test_an_org_viewer_sees_every_team_s_pipelines(self, client, org_viewer, runs):
        response = _get(client, org_viewer, org_url())
        assert response.status_code == 200
        assert "6 of 10 runs failed" in _tile(response, "failure-rate")
        rows = _rows(_section(response, "failing-title"))
        assert [row.split()[1] for row in rows] == ["Search", "Ledger", "Checkout"]

    def test_workflows_read_from_their_runs_show_the_same(self, client, org_viewer, runs):
        shown = _per_workflow(_get(client, org_viewer, org_url()))
        assert shown[2] == "Failing now 3 of 4 workflows run in this period"
        _unroll_workflows()
        assert _per_workflow(_get(client, org_viewer, org_url())) == shown

    def test_leads_members_and_outsiders_get_404(self, client, owner, teammate, outsider, runs):
        for user in (owner, teammate, outsider):
            assert _get(client, user, org_url()).status_code == 404
            assert _get(client, user, org_url(), **_htmx("runs")).status_code == 404

    def test_it_runs_a_bounded_number_of_queries(self, client, org_viewer, runs, now, django_assert_num_queries):
        client.force_login(org_viewer)
        with django_assert_num_queries(ORG_PAGE_QUERIES) as few:
            client.get(org_url())
        r = Runs(now)
        for n in range(5):
            team = TeamFactory(name=f"Team {n}", slug=f"team-{n}")
            extra = ServiceFactory(name=f"Service {n}", slug=f"service-{n}", owner=team)
            for m in range(3):
                r.run(extra, f"job-{m}", f"{n}{m}" * 20, PipelineRun.Status.FAILURE, (m + 1) * DAY, 100)
        r.refresh()
        with django_assert_num_queries(len(few.captured_queries)):
            response = client.get(org_url())
        assert "21 of 25 runs failed" in _tile(response, "failure-rate")
