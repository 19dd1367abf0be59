"""The delivery pages of a service and a team: figures, levels, charts' data, lists, htmx
fragments, pagination, access and query counts."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from metrics.tests import histories
from metrics.tests.factories import SourceFactory
from metrics.views import lists

HTMX = {"HX-Request": "true"}

# The delivery pages' clock and history (metrics/tests/histories.py), as fixtures of this module.
history, now = histories.history, histories.now


def _htmx(target: str) -> dict:
    return {"HX-Request": "true", "HX-Target": target}


@pytest.fixture
def delivered(history, service, ledger):
    """Checkout in the last 90 days: three production deployments shipping two pull requests,
    the second one failed (an incident 2 h later, restored in 3 h); one deployment 120 days
    ago for the previous period. Ledger (the sub-team's) deployed once."""
    history.change(service, "pr-1", 20.5, number=101, title="Add Apple Pay")
    history.change(service, "pr-2", 10.5, number=102, title="Retry card declines")
    history.deploy(service, "old", 120)
    history.deploy(service, "d1", 20, sha="a1" * 20, changes=("pr-1",))
    history.deploy(service, "d2", 10, sha="b2" * 20, changes=("pr-2",))
    history.deploy(service, "d3", 5, sha="c3" * 20)
    history.deploy(service, "staging", 4, environment="staging")
    history.incident(service, "INC-1", 10 - 2 / 24, hours_to_restore=3, title="Card payments failing", severity="sev1")
    history.deploy(ledger, "l1", 3, title="Ledger release")
    history.refresh()
    return history


def _get(client, user, url, **headers):
    client.force_login(user)
    return client.get(url, headers=headers)


_INLINE_TAG = re.compile(r"</?(span|strong|a|time|code)\b[^>]*>")


def _plain(html: str) -> str:
    """Text with tags dropped (inline ones without a gap) and whitespace collapsed, for reading figures."""
    html = re.sub(r"<script[^>]*>.*?</script>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", _INLINE_TAG.sub("", html))
    return re.sub(r"\s+", " ", unescape(text)).strip()


def _text(response) -> str:
    return _plain(response.content.decode())


def _tile(response, key: str) -> str:
    match = re.search(rf'<article class="card tile tile--{key}".*?</article>', response.content.decode(), re.S)
    assert match, f"no {key} tile"
    return _plain(match.group(0))


def service_url(slug="checkout", **query) -> str:
    url = reverse("metrics:service-delivery", args=[slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def team_url(slug="payments", **query) -> str:
    url = reverse("metrics:team-delivery", args=[slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


class TestServicePage:
    def test_it_requires_sign_in(self, client, service):
        response = client.get(service_url())
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    def test_it_shows_the_four_keys_with_levels_changes_and_samples(self, client, owner, delivered):
        response = _get(client, owner, service_url())
        assert response.status_code == 200

        frequency = _tile(response, "frequency")
        # 3 production deployments in 90 days (staging does not count): one a month.
        assert "1 per month" in frequency
        assert "3 production deployments" in frequency
        # Previous 90 days: one deployment, so three is better, in words and not only in colour.
        assert "better" in frequency and "up 200% on the previous period" in frequency

        lead_time = _tile(response, "lead-time")
        # Each change: first commit 30 h before its merge, deployed 12 h after it: 42 h.
        assert "42 h" in lead_time
        assert "High" in lead_time  # under a week
        assert "2 changes deployed" in lead_time
        assert "no data in the previous period" in lead_time

        failure = _tile(response, "failure-rate")
        assert "33%" in failure and "1 of 3 deployments failed" in failure
        assert "Low" in failure  # above 15 %

        recovery = _tile(response, "recovery")
        # d2 finished 10 days ago; its incident started 2 h later and was restored 3 h after: 5 h.
        assert "5 h" in recovery and "High" in recovery  # under a day
        assert "1 recovered failure" in recovery

        rework = _tile(response, "rework")
        assert "0%" in rework and "no DORA levels" in rework

    def test_a_service_without_data_says_no_data_never_zero(self, client, owner, service):
        response = _get(client, owner, service_url())
        assert response.status_code == 200
        for key in ("frequency", "lead-time", "failure-rate", "recovery", "rework"):
            tile = _tile(response, key)
            assert "no data" in tile, key
            assert not re.search(r"\b0(\.0)?\s*(%|per|h|min|days)", tile), tile
        text = _text(response)
        assert "no data: no production deployment in this period" in text
        assert "Deployments with linked changes: no data" in text
        assert "No production deployments in this period." in text
        assert "No incidents started in this period." in text
        assert "No changes reached production in this period." in text

    def test_it_shows_the_data_quality_line(self, client, owner, delivered):
        text = _text(_get(client, owner, service_url()))
        assert "Sample: 3 deployments, 2 changes, 1 incident" in text
        assert "Deployments with linked changes: 67% (2 of 3)" in text
        assert "Incidents linked to a deployment: 100% (1 of 1)" in text
        assert re.search(r"Last event: ci 3 hours(, \d+ minutes?)? ago", text)

    def test_it_emits_the_weekly_series_as_json_for_the_charts(self, client, owner, delivered):
        response = _get(client, owner, service_url(days=30))
        match = re.search(r'<script id="dora-weekly" type="application/json">(.*?)</script>', response.content.decode())
        assert match
        series = json.loads(match.group(1))
        assert len(series["labels"]) in (5, 6)  # ISO weeks touching 30 days
        assert sum(series["deployments_ok"]) + sum(series["deployments_failed"]) == 3
        assert sum(series["deployments_failed"]) == 1
        assert sorted(v for v in series["lead_time"] if v is not None) == [42.0, 42.0]
        assert {"coding", "pickup", "review", "deploy"} <= series.keys()
        assert b'<canvas id="chart-frequency"' in response.content
        assert b'<canvas id="chart-lead-time"' in response.content
        # The script that draws them is static: no inline script on the page.
        assert b"metrics/dora-charts.js" in response.content
        assert not re.search(rb"<script(?![^>]*(src=|application/json))", response.content)

    def test_it_lists_deployments_with_their_linked_changes_and_link_rule(self, client, owner, delivered):
        response = _get(client, owner, service_url())
        section = re.search(r'<section id="deployments".*?</section>', response.content.decode(), re.S).group(0)
        assert section.index("Release d3") < section.index("Release d2") < section.index("Release d1")
        assert "Release staging" not in section and "Release old" not in section
        assert '<a href="https://github.com/acme/checkout/pull/102">#102 Retry card declines</a>' in section
        assert "Linked by: change list sent with the deployment" in section
        assert "failed: incident" in section
        assert "none linked" in section  # d3 shipped nothing

    def test_a_deployment_sent_with_an_empty_change_list_says_it_ships_no_change(self, client, owner, history, service):
        history.change(service, "pr-1", 15, number=101, title="Add Apple Pay")
        history.deploy(service, "d1", 20)
        history.deploy(service, "config", 10, changes=())
        history.deploy(service, "d3", 5)
        history.refresh()
        section = _text_of(_get(client, owner, service_url()), "deployments")
        assert section.count("none: sent as shipping no change") == 1
        assert "#101 Add Apple Pay" in section  # shipped by d3, the next deployment

    def test_it_lists_incidents_with_the_deployment_they_were_linked_to(self, client, owner, delivered):
        response = _get(client, owner, service_url())
        section = _text_of(response, "incidents")
        assert "Card payments failing" in section and "sev1" in section
        assert "3 h" in section
        assert "Release d2" in section and "b2b2b2b" in section
        assert "latest production deployment before it started" in section

    def test_it_lists_changes_with_lead_time_and_components(self, client, owner, delivered):
        response = _get(client, owner, service_url())
        section = _text_of(response, "changes")
        # Lead time 42 h: coding 4 h, pickup 6 h, review 20 h, deploy 12 h.
        assert "#102 Retry card declines" in section
        assert "42 h 4 h 6 h 20 h 12 h" in section
        assert "acme/checkout · ada" in section

    def test_the_period_picker_links_work_without_javascript(self, client, owner, delivered):
        response = _get(client, owner, service_url(days=30))
        body = response.content.decode()
        assert re.search(r'<a class="segmented__item" href="\?days=30"[^>]*aria-current="true"', body)
        assert 'href="?days=180" hx-get="?days=180" hx-target="#delivery-content"' in body
        assert 'hx-push-url="true"' in body
        # 30 days hold d3 and d2 (10 and 5 days ago) but d1 is 20 days ago: all three; 120 days is out.
        assert "3 production deployments" in _tile(response, "frequency")
        assert "compared with the 30 days before" in _text(response)

    def test_an_unknown_period_falls_back_to_90_days(self, client, owner, delivered):
        response = _get(client, owner, service_url(days=7))
        assert re.search(r'href="\?days=90"[^>]*aria-current="true"', response.content.decode())

    def test_the_period_picker_swaps_only_the_content(self, client, owner, delivered):
        response = _get(client, owner, service_url(days=180), **_htmx("delivery-content"))
        body = response.content.decode()
        assert body.lstrip().startswith('<div id="delivery-content"')
        assert "<html" not in body and "breadcrumbs" not in body
        # 180 days include the deployment 120 days ago.
        assert "4 production deployments" in _tile(response, "frequency")
        assert 'id="dora-weekly"' in body
        assert "HX-Request" in response["Vary"]

    def test_it_paginates_each_list_as_an_htmx_fragment(self, client, owner, history, service):
        for n in range(12):
            history.deploy(service, f"p{n}", 1 + n)
        history.refresh()
        first = _get(client, owner, service_url())
        section = re.search(r'<section id="deployments".*?</section>', first.content.decode(), re.S).group(0)
        assert "Page 1 of 2 · 12 in all" in section
        assert 'href="?deployments=2" hx-get="?deployments=2" hx-target="#deployments"' in section

        fragment = _get(client, owner, service_url(deployments=2), **_htmx("deployments"))
        body = fragment.content.decode()
        assert body.lstrip().startswith('<section id="deployments"')
        assert "<html" not in body and "dora-weekly" not in body
        assert body.count("<tr>") == 1 + 2  # the header and the two oldest
        assert "Release p11" in body and "Release p0" not in body
        assert 'href="?deployments=1"' in body

        # The pushed URL reloads to the same state: the whole page, with page 2 of deployments.
        page = _get(client, owner, service_url(deployments=2)).content.decode()
        assert "<html" in page and "Release p11" in page and "Page 2 of 2" in page

    def test_a_long_list_counts_only_a_little_past_the_page_shown(self, client, owner, history, service, monkeypatch):
        monkeypatch.setattr(lists, "COUNT_AHEAD", 1)
        for n in range(12):
            history.deploy(service, f"p{n}", 1 + n)
        history.refresh()
        # Page 1 counts up to 11 rows: 12 are more, so the count is a lower bound.
        first = _text_of(_get(client, owner, service_url()), "deployments")
        assert "Page 1 of 2+ · 11+ in all" in first
        # Page 2 counts up to 21: all 12, exactly.
        second = _text_of(_get(client, owner, service_url(deployments=2)), "deployments")
        assert "Page 2 of 2 · 12 in all" in second
        # Nonsense or too far: the first page, or the last.
        assert "Page 1 of" in _text_of(_get(client, owner, service_url(deployments="x²")), "deployments")
        assert "Page 2 of 2 · 12 in all" in _text_of(_get(client, owner, service_url(deployments=9)), "deployments")
        # A scope's rows are counted in any order (PostgreSQL may take the scope's own index) and, while few, paged in
        # an order no index holds, so that PostgreSQL sorts them rather than walk every service's rows in time order.
        with CaptureQueriesContext(connection) as queries:
            page = _get(client, owner, service_url(deployments=2))
        assert "Page 2 of 2 · 12 in all" in _text_of(page, "deployments")
        sqls = [q["sql"] for q in queries if 'FROM "metrics_deployment"' in q["sql"].split(" WHERE ")[0]]
        counts = [sql for sql in sqls if sql.startswith("SELECT COUNT(*) FROM (SELECT")]
        pages = [sql for sql in sqls if sql.startswith('SELECT "metrics_deployment"."id"')]
        assert len(counts) == 1 and "ORDER BY" not in counts[0], counts
        assert len(pages) == 1 and 'ORDER BY COALESCE("metrics_deployment"."finished_at"' in pages[0], pages

    def test_the_pages_of_a_list_keep_the_period(self, client, owner, history, service):
        for n in range(12):
            history.incident(service, f"INC-{n}", 1 + n)
        history.refresh()
        body = _get(client, owner, service_url(days=30)).content.decode()
        assert 'href="?days=30&amp;incidents=2"' in body

    def test_the_change_list_of_a_big_release_folds_behind_details(self, client, owner, history, service):
        ids = []
        for n in range(5):
            history.change(service, f"pr-{n}", 3, number=200 + n, title=f"Change {n}")
            ids.append(f"pr-{n}")
        history.deploy(service, "train", 2, changes=tuple(ids))
        history.refresh()
        section = _text_of(_get(client, owner, service_url()), "deployments")
        assert "#200 Change 0" in section and "2 more" in section and "#204 Change 4" in section

    def test_an_outsider_gets_404(self, client, outsider, service):
        assert _get(client, outsider, service_url()).status_code == 404
        assert _get(client, outsider, service_url(), **_htmx("deployments")).status_code == 404
        assert _get(client, outsider, service_url(), **_htmx("delivery-content")).status_code == 404

    def test_a_teammate_sees_it(self, client, teammate, delivered):
        assert _get(client, teammate, service_url()).status_code == 200

    def test_the_page_runs_a_bounded_number_of_queries(
        self, client, owner, history, service, django_assert_num_queries, django_assert_max_num_queries
    ):
        history.change(service, "pr-0", 3, number=1, title="Only change")
        history.deploy(service, "d0", 2, changes=("pr-0",))
        history.incident(service, "INC-0", 1.9, hours_to_restore=1)
        history.refresh()
        client.force_login(owner)
        with django_assert_max_num_queries(30) as few:
            client.get(service_url())

        # Ten times the rows, every list full: not one query more (no N+1).
        for n in range(1, 12):
            history.change(service, f"pr-{n}", 30 + n, number=1 + n, title=f"Change {n}")
            history.deploy(service, f"d{n}", 29 + n, changes=(f"pr-{n}",))
            history.incident(service, f"INC-{n}", 28.9 + n, hours_to_restore=2)
        history.refresh()
        with django_assert_num_queries(len(few.captured_queries)):
            response = client.get(service_url())
        assert "Page 1 of 2" in response.content.decode()

    def test_a_list_fragment_runs_only_its_own_queries(self, client, owner, delivered, django_assert_max_num_queries):
        client.force_login(owner)
        # Sign-in and access (session, user, permissions, memberships, team tree, service): 8;
        # the list: count, page, the page's changes.
        with django_assert_max_num_queries(10):
            client.get(service_url(), headers=_htmx("deployments"))


def _text_of(response, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}".*?</section>', response.content.decode(), re.S)
    assert match, f"no #{section_id}"
    return _plain(match.group(0))


class TestTeamPage:
    def test_a_lead_sees_the_team_and_its_sub_teams_services(self, client, owner, delivered):
        response = _get(client, owner, team_url())
        assert response.status_code == 200
        text = _text(response)
        assert "Covers 2 services" in text and "Checkout" in text and "Ledger" in text
        # Checkout's three and Ledger's one.
        assert "4 production deployments" in _tile(response, "frequency")
        deployments = _text_of(response, "deployments")
        assert "Ledger release" in deployments
        assert "Service" in deployments  # the team's lists name each row's service

    def test_the_organisation_s_page_names_only_the_sources_that_sent_records_of_the_period(
        self, client, owner, delivered
    ):
        SourceFactory(name="quiet", team=None)  # active, but sent nothing
        response = _get(client, owner, team_url())  # the lead sees every team: the organisation, no service filter
        text = _text(response)
        assert re.search(r"Last event: ci \d+ hours?", text)
        assert "quiet" not in text

    def test_a_member_who_cannot_see_the_sub_team_gets_the_team_s_own_services(self, client, teammate, delivered):
        response = _get(client, teammate, team_url())
        assert response.status_code == 200
        assert "Covers 1 service" in _text(response)
        assert "3 production deployments" in _tile(response, "frequency")
        assert "Ledger" not in response.content.decode()

    def test_a_team_without_services_says_no_data(self, client, owner, subteam):
        response = _get(client, owner, team_url("payments-api"))
        assert response.status_code == 200
        assert "own no services" in _text(response)
        assert "no data" in _tile(response, "lead-time")

    def test_its_lists_are_htmx_fragments_too(self, client, owner, delivered):
        response = _get(client, owner, team_url(), **_htmx("changes"))
        body = response.content.decode()
        assert body.lstrip().startswith('<section id="changes"')
        assert "#101 Add Apple Pay" in body

    def test_the_period_picker_swaps_the_content(self, client, owner, delivered):
        response = _get(client, owner, team_url(days=30), **_htmx("delivery-content"))
        assert response.content.decode().lstrip().startswith('<div id="delivery-content"')

    def test_an_outsider_gets_404(self, client, outsider, team, subteam):
        assert _get(client, outsider, team_url()).status_code == 404
        assert _get(client, outsider, team_url("payments-api"), **_htmx("incidents")).status_code == 404

    def test_the_page_runs_a_bounded_number_of_queries(
        self, client, owner, history, service, ledger, django_assert_num_queries, django_assert_max_num_queries
    ):
        history.deploy(service, "d0", 2)
        history.deploy(ledger, "l0", 2)
        history.incident(ledger, "INC-0", 1, hours_to_restore=2)
        history.refresh()
        client.force_login(owner)
        with django_assert_max_num_queries(32) as few:
            client.get(team_url())
        for n in range(1, 12):
            history.deploy(service, f"d{n}", 2 + n)
            history.deploy(ledger, f"l{n}", 2 + n)
            history.incident(ledger, f"INC-{n}", 1 + n, hours_to_restore=2)
        history.refresh()
        with django_assert_num_queries(len(few.captured_queries)):
            client.get(team_url())

    def test_its_figures_are_computed_once_per_rollup_version(self, client, owner, history, service, ledger):
        """Every viewer is shown the same figures until a write changes the rollups (``rollups.kept``): a second view
        reads no rollup row, and a deployment shows on the next view once its refresh has committed."""
        history.deploy(service, "d0", 2)
        history.refresh()
        client.force_login(owner)
        assert "1 production deployment" in _tile(client.get(team_url()), "frequency")
        with CaptureQueriesContext(connection) as again:
            response = client.get(team_url())
        assert "1 production deployment" in _tile(response, "frequency")
        rows = ('"metrics_teamrollup"', '"metrics_teamweekrollup"', '"metrics_dailyrollup"')
        assert not [q for q in again if any(t in q["sql"] for t in rows)], "the kept figures were read again"
        history.deploy(ledger, "l0", 1)
        history.refresh()
        assert "2 production deployments" in _tile(client.get(team_url()), "frequency")


class TestSummaryFragment:
    """The tiles the catalog pages load with htmx."""

    def test_the_service_page_loads_it_with_a_real_link_as_fallback(self, client, owner, service):
        body = _get(client, owner, service.get_absolute_url()).content.decode()
        summary = reverse("metrics:service-delivery-summary", args=["checkout"])
        assert f'hx-get="{summary}" hx-trigger="load"' in body
        assert f'<a href="{service_url()}">Open the delivery page</a>' in body
        assert f'<a class="tabs__tab" href="{service_url()}">Delivery</a>' in body

    def test_the_team_page_loads_it_too(self, client, owner, team):
        body = _get(client, owner, team.get_absolute_url()).content.decode()
        assert f'hx-get="{reverse("metrics:team-delivery-summary", args=["payments"])}"' in body
        assert f'href="{team_url()}"' in body

    def test_it_renders_the_tiles_alone(self, client, owner, delivered):
        url = reverse("metrics:service-delivery-summary", args=["checkout"])
        response = _get(client, owner, url, **HTMX)
        body = response.content.decode()
        assert response.status_code == 200
        assert "<html" not in body and "dora-weekly" not in body
        assert "33%" in _tile(response, "failure-rate")
        assert f'href="{service_url()}"' in body

    def test_the_team_summary_covers_the_sub_teams(self, client, owner, delivered):
        url = reverse("metrics:team-delivery-summary", args=["payments"])
        response = _get(client, owner, url, **HTMX)
        assert "4 production deployments" in _tile(response, "frequency")

    def test_without_htmx_it_sends_the_visitor_to_the_delivery_page(self, client, owner, service, team):
        response = _get(client, owner, reverse("metrics:service-delivery-summary", args=["checkout"]))
        assert response.status_code == 302 and response["Location"] == service_url()
        response = _get(client, owner, reverse("metrics:team-delivery-summary", args=["payments"]))
        assert response.status_code == 302 and response["Location"] == team_url()

    def test_it_runs_a_bounded_number_of_queries(self, client, owner, delivered, django_assert_max_num_queries):
        client.force_login(owner)
        # Sign-in and access: 8; each window's summary from rollups: 5, twice.
        with django_assert_max_num_queries(18):
            client.get(reverse("metrics:service-delivery-summary", args=["checkout"]), headers=HTMX)

    def test_an_outsider_gets_404(self, client, outsider, service, team):
        for name, slug in (("service-delivery-summary", "checkout"), ("team-delivery-summary", "payments")):
            assert _get(client, outsider, reverse(f"metrics:{name}", args=[slug]), **HTMX).status_code == 404
            assert _get(client, outsider, reverse(f"metrics:{name}", args=[slug])).status_code == 404
