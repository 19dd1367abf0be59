"""The leader dashboards as pages: access, the pickers with and without htmx, custom periods, sentiment
below k, bottlenecks, and the number of queries a request runs.

The organisation is the survey results tests' (``surveys/tests/waves.py``): Engineering (eng) above
Payments (pay, above Payments API) and Search and Tiny, plus Sales tools outside it; its closed campaign
has k = 3 and Search below it. Services of Payments, Payments API and Search deploy through ingestion.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from e360.tests.factories import ServiceFactory, TeamFactory, UserFactory
from insights.services import insights_refresh
from insights.tests import dashboard_pages
from insights.tests.dashboard_pages import (
    ORG_QUERIES,
    TILE_KEYS,
    delivery_url,
    org_url,
    plain,
    section,
    team_url,
    text,
    tile_parts,
)
from metrics.refresh import service_refresh
from metrics.tests import histories
from surveys.tests.waves import PAY, PAY_API, answer, close, open_wave

# The dashboard tests' org viewer and deliveries (insights/tests/dashboard_pages.py), as fixtures of this module.
olga, services, delivered, now = (
    dashboard_pages.olga,
    dashboard_pages.services,
    dashboard_pages.delivered,
    dashboard_pages.now,
)


HTMX = {"HX-Request": "true", "HX-Target": "dashboard"}


def get(client, user, url, **headers):
    client.force_login(user)
    return client.get(url, headers=headers)


def tile(response, key: str) -> str:
    match = re.search(rf'<article class="card tile tile--{key}".*?</article>', response.content.decode(), re.S)
    assert match, f"no {key} tile"
    return plain(match.group(0))


def assert_same_tiles(dashboard, delivery) -> None:
    """The dashboard's tiles say what the delivery page's say; the sample reads "from …" on the dashboard."""
    for key in TILE_KEYS:
        mine, theirs = tile_parts(dashboard, key), tile_parts(delivery, key)
        assert mine.pop("tile__sample") == "from " + theirs.pop("tile__sample"), key
        assert mine == theirs, key


def json_data(response, name: str):
    match = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    assert match, f"no {name} data"
    return json.loads(match.group(1))


def dashboard_text(body: str) -> str:
    """The #dashboard region as text, without what moves with the clock ("3 hours, 2 minutes ago")."""
    start = body.index('<div id="dashboard"')
    region = plain(body[start:])
    return re.sub(r"\d+ (hours?|minutes?|seconds?)(, \d+ (minutes?|seconds?))? ago", "…", region)


class TestOrgDashboard:
    def test_it_requires_sign_in(self, client, org):
        response = client.get(org_url())
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_an_org_viewer_sees_it(self, client, olga, delivered, closed):
        response = get(client, olga, org_url())
        assert response.status_code == 200, response.content.decode()[:3000]

    def test_its_tiles_are_the_delivery_page_s_for_the_whole_organisation(self, client, olga, delivered, org):
        # Sales tools owns no service: every service is under Engineering, whose delivery page covers them all.
        for days in (30, 90, 180):
            dashboard = get(client, olga, org_url(days=days))
            delivery = get(client, olga, delivery_url("eng", days=days))
            assert_same_tiles(dashboard, delivery)
        assert "from 6 production deployments" in tile(get(client, olga, org_url()), "frequency")

    def test_it_shows_the_data_quality_line(self, client, olga, delivered):
        quality = section(get(client, olga, org_url()), "quality-title")
        assert "Sample: 6 deployments, 2 changes, 1 incident" in quality
        assert "Deployments with linked changes: 33% (2 of 6)" in quality
        assert re.search(r"Last event: ci 3 hours(, \d+ minutes?)? ago", quality)

    def test_each_tile_has_a_sparkline_with_its_figures_in_words_and_in_a_table(self, client, olga, delivered):
        response = get(client, olga, org_url(days=30))
        body = response.content.decode()
        for key in ("frequency", "lead-time", "failure-rate", "recovery", "rework"):
            match = re.search(rf'<canvas id="spark-{key}" role="img" aria-label="([^"]+)"', body)
            assert match, key
        label = unescape(re.search(r'<canvas id="spark-failure-rate" role="img" aria-label="([^"]+)"', body).group(1))
        assert "Change failure rate per week" in label and "highest 100%" in label
        series = json_data(response, "dashboard-series")
        assert sum(series["deployments"]) == 4 and sum(series["failed"]) == 1
        assert set(series["sparklines"]) == {"frequency", "lead-time", "failure-rate", "recovery", "rework"}
        assert "Week by week, as a table" in text(response)
        # No inline script: the data is JSON, the drawing static.
        assert b"insights/dashboard.js" in response.content
        assert not re.search(rb"<script(?![^>]*(src=|application/json))", response.content)

    def test_it_shows_the_organisation_s_sentiment_with_participation_and_a_link(self, client, olga, closed):
        sentiment = section(get(client, olga, org_url()), "sentiment-title")
        assert "Developer pulse (wave 1)" in sentiment
        assert re.search(r"12 of \d+ invited answered \(\d+% participation\)", sentiment)
        assert re.search(r"CI/CD \d+% not comparable", sentiment)
        assert f'href="/surveys/{closed.pk}/results/"' in get(client, olga, org_url()).content.decode()

    def test_without_a_closed_survey_it_says_so(self, client, olga, org):
        sentiment = section(get(client, olga, org_url()), "sentiment-title")
        assert "No closed survey yet" in sentiment and "%" not in sentiment

    def test_bottlenecks_not_computed_yet_say_so(self, client, olga, org):
        bottlenecks = section(get(client, olga, org_url()), "bottlenecks-title")
        assert "Not computed yet" in bottlenecks

    def test_it_lists_the_organisation_s_top_bottlenecks_once_computed(self, client, olga, delivered, closed):
        insights_refresh(days=90)
        response = get(client, olga, org_url())
        bottlenecks = section(response, "bottlenecks-title")
        assert "Top bottlenecks" in bottlenecks and "Ranked" in bottlenecks
        items = re.findall(r'<li class="dashboard__bottleneck">', response.content.decode())
        assert 1 <= len(items) <= 5
        assert re.search(r"(Corroborated|Perception only|Data only) in \d+ teams?", bottlenecks)
        assert 'href="/insights/bottlenecks/?days=90"' in response.content.decode()

    def test_the_organisation_s_top_bottlenecks_link_the_teams_they_hit(self, client, olga, org, delivered, closed):
        period = insights_refresh(days=90)
        bottlenecks = get(client, olga, org_url()).content.decode().split('id="bottlenecks-title"', 1)[1]
        hits = [
            (r.team, item["label"])
            for r in period.team_results.filter(leaf=True).select_related("team")
            for item in r.items
            if item["label"] != "no signal"
        ]
        assert hits
        # Each top bottleneck's line names the teams it hits, linked to their bottleneck page, with the label.
        linked = re.findall(r'<a href="/teams/([\w-]+)/bottlenecks/\?days=90">([^<]+)</a> \(([a-z ]+)\)', bottlenecks)
        assert linked
        assert {(slug, label) for slug, _, label in linked} <= {(team.slug, label) for team, label in hits}

    def test_anyone_else_is_sent_to_their_own_team_s_dashboard_with_the_period(self, client, org):
        for name, team in (("lena", "eng"), ("paula", "pay"), ("pay-1", "pay"), ("charlie", "sales-tools")):
            response = get(client, org.users[name], org_url(days=30))
            assert response.status_code == 302
            assert response["Location"] == f"/teams/{team}/dashboard/?days=30"
        assert get(client, org.users["lena"], org_url())["Location"] == "/teams/eng/dashboard/"

    def test_someone_in_no_team_gets_404(self, client, org):
        stranger = UserFactory(username="stranger", email="stranger@example.com")
        assert get(client, stranger, org_url()).status_code == 404
        assert get(client, stranger, org_url(), **HTMX).status_code == 404

    def test_the_team_picker_offers_every_team_and_the_organisation(self, client, olga, org):
        body = get(client, olga, org_url(days=30)).content.decode()
        picker = re.search(r'<form[^>]*action="/dashboard/pick/".*?</form>', body, re.S).group(0)
        assert '<option value="" selected>Whole organisation</option>' in picker
        options = re.findall(r'<option value="([^"]*)"', picker)
        assert options == ["", "eng", "pay", "pay-api", "search", "tiny", "sales-tools"]  # the tree, by name
        assert ">Engineering › Payments › Payments API</option>" in picker and "– " not in picker  # noqa: RUF001
        assert '<input type="hidden" name="days" value="30">' in picker
        assert 'hx-get="/dashboard/pick/" hx-target="#dashboard"' in picker and 'hx-push-url="true"' in picker


class TestPeriods:
    def test_the_period_links_work_without_javascript_and_swap_with_htmx(self, client, olga, delivered):
        body = get(client, olga, org_url(days=30)).content.decode()
        assert re.search(r'<a class="segmented__item" id="period-30" href="\?days=30"[^>]*aria-current="true"', body)
        assert 'href="?days=365" hx-get="?days=365" hx-target="#dashboard" hx-swap="outerHTML" hx-push-url="true"' in (
            body
        )
        assert "compared with the 30 days before" in text(get(client, olga, org_url(days=30)))

    def test_an_unknown_period_is_the_default_90_days(self, client, olga, delivered):
        body = get(client, olga, org_url(days=7)).content.decode()
        assert re.search(r'id="period-90" href="\?days=90"[^>]*aria-current="true"', body)

    def test_an_htmx_request_gets_the_dashboard_fragment_and_its_title(self, client, olga, delivered):
        response = get(client, olga, org_url(days=180), **HTMX)
        body = response.content.decode()
        assert response.status_code == 200
        assert body.lstrip().startswith("<title>Dashboard · Organisation · e360</title>")
        assert '<div id="dashboard" class="dashboard" hx-history="false">' in body
        assert "<html" not in body and "<main" not in body and "chart.umd" not in body
        assert 'id="dashboard-series"' in body
        assert "HX-Request" in response["Vary"]
        assert "HX-Request" in get(client, olga, org_url())["Vary"]

    def test_a_pushed_url_reloads_to_the_same_state(self, client, olga, org, delivered, closed, now):
        today = timezone.localdate(now)
        custom = {"from": (today - timedelta(days=44)).isoformat(), "to": (today - timedelta(days=4)).isoformat()}
        for url in (org_url(days=180), team_url("pay", days=30), team_url("pay", **custom)):
            fragment = get(client, olga, url, **HTMX).content.decode()
            page = get(client, olga, url).content.decode()
            assert "<html" in page
            assert dashboard_text(fragment) == dashboard_text(page), url

    def test_a_history_restore_gets_the_whole_page(self, client, olga, delivered):
        headers = {**HTMX, "HX-History-Restore-Request": "true"}
        assert "<html" in get(client, olga, org_url(days=30), **headers).content.decode()

    def test_a_custom_period_shows_those_days_against_as_many_before(self, client, olga, delivered, now):
        today = timezone.localdate(now)
        first = today - timedelta(days=29)
        custom = get(client, olga, org_url(**{"from": first.isoformat(), "to": today.isoformat()}))
        assert custom.status_code == 200
        assert f"({30} days), compared with the 30 days before" in text(custom)
        assert 'aria-current="true"' not in custom.content.decode()  # no preset is the period shown
        assert f'name="from" value="{first.isoformat()}"' in custom.content.decode()
        # The same 30 days as the preset: the same figures.
        preset = get(client, olga, org_url(days=30))
        assert all(tile_parts(custom, key) == tile_parts(preset, key) for key in TILE_KEYS)

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ({"from": "2026-03-10", "to": "2026-03-01"}, "is after the end date (1 Mar 2026): swap them."),
            ({"from": "2026-03-10", "to": "soon"}, "The end date “soon” is not a date: write it as YYYY-MM-DD."),
            ({"from": "2026-03-10"}, "A custom period needs both a start and an end date."),
            ({"from": "2020-01-01", "to": "2021-06-30"}, "A custom period is at most 365 days;"),
            ({"from": "2026-01-01", "to": "2999-01-01"}, "The end date (1 Jan 2999) is after today"),
        ],
    )
    def test_a_period_that_cannot_be_shown_is_a_400_that_says_why(self, client, olga, delivered, query, message):
        for headers in ({}, HTMX):
            response = get(client, olga, org_url(**query), **headers)
            assert response.status_code == 400
            body = response.content.decode()
            error = re.search(
                r'<div class="alert alert--error[^"]*" id="period-error" role="alert">.*?</div>', body, re.S
            )
            assert error and message in plain(error.group(0))
            assert 'aria-invalid="true" aria-describedby="period-error"' in body
            assert 'class="card tile' not in body
            # An htmx request's refusal names where it goes (static/e360/htmx-errors.js swaps it there).
            assert (response.get("HX-Retarget"), response.get("HX-Reswap")) == (
                ("#dashboard", "outerHTML") if headers else (None, None)
            )
        # The pickers are still there to get out of it.
        assert 'id="period-90" href="?days=90"' in body and 'id="team-picker"' in body


class TestTeamPicker:
    def test_it_sends_to_the_team_s_dashboard_keeping_the_period(self, client, olga, org):
        response = get(client, olga, reverse("insights:dashboard-pick") + "?team=pay&days=30")
        assert response.status_code == 302 and response["Location"] == team_url("pay", days=30)
        response = get(client, olga, reverse("insights:dashboard-pick") + "?team=search&from=2026-01-01&to=2026-01-31")
        assert response["Location"] == team_url("search") + "?from=2026-01-01&to=2026-01-31"

    def test_no_team_is_the_organisation_for_org_viewers_only(self, client, olga, org):
        response = get(client, olga, reverse("insights:dashboard-pick") + "?team=&days=180")
        assert response.status_code == 302 and response["Location"] == org_url(days=180)
        assert get(client, org.users["lena"], reverse("insights:dashboard-pick") + "?team=").status_code == 404

    def test_a_team_the_viewer_may_not_see_is_404(self, client, org):
        assert get(client, org.users["charlie"], reverse("insights:dashboard-pick") + "?team=pay").status_code == 404

    def test_with_htmx_the_redirect_lands_on_the_team_s_fragment(self, client, olga, delivered):
        client.force_login(olga)
        response = client.get(reverse("insights:dashboard-pick") + "?team=pay&days=30", headers=HTMX, follow=True)
        body = response.content.decode()
        assert response.redirect_chain == [(team_url("pay", days=30), 302)]
        assert body.lstrip().startswith("<title>Dashboard · Payments · e360</title>") and "<html" not in body


class TestTeamDashboard:
    def test_its_lead_a_teammate_and_an_org_viewer_see_it(self, client, org, olga, delivered):
        for user in (org.users["paula"], org.users["pay-1"], org.users["lena"], olga):
            assert get(client, user, team_url("pay")).status_code == 200

    def test_an_outsider_gets_404(self, client, org, delivered):
        charlie = org.users["charlie"]
        assert get(client, charlie, team_url("pay")).status_code == 404
        assert get(client, charlie, team_url("pay", days=30), **HTMX).status_code == 404
        assert get(client, org.users["pay-1"], team_url("search")).status_code == 404

    def test_its_tiles_are_the_team_delivery_page_s(self, client, org, delivered):
        lena, member = org.users["lena"], org.users["pay-1"]
        for user in (lena, member):
            for days in (30, 90, 180):
                assert_same_tiles(
                    get(client, user, team_url("pay", days=days)), get(client, user, delivery_url("pay", days=days))
                )
        # Paula leads Payments and sees Payments API's Ledger too; a plain member sees Checkout only.
        assert "from 4 production deployments" in tile(get(client, org.users["paula"], team_url("pay")), "frequency")
        member_page = get(client, member, team_url("pay"))
        assert "from 3 production deployments" in tile(member_page, "frequency")
        assert "Delivery covers 1 service of this team" in text(member_page)

    def test_it_draws_the_weekly_charts_from_the_delivery_page_s_data(self, client, org, delivered):
        response = get(client, org.users["paula"], team_url("pay", days=30))
        body = response.content.decode()
        for canvas in ("chart-frequency", "chart-lead-time", "chart-failure-rate", "chart-recovery"):
            assert f'<canvas id="{canvas}" role="img"' in body, canvas
        weekly = json_data(response, "dora-weekly")  # what static/metrics/dora-charts.js draws
        assert sum(weekly["deployments_ok"]) + sum(weekly["deployments_failed"]) == 4
        assert {"coding", "pickup", "review", "deploy", "lead_time"} <= weekly.keys()
        # The lead time by stage is read although the dashboard reads only the distributions it shows.
        page = json_data(get(client, org.users["paula"], delivery_url("pay", days=30)), "dora-weekly")
        for stage in ("coding", "pickup", "review", "deploy", "lead_time"):
            assert weekly[stage] == page[stage], stage
        assert any(value is not None for value in weekly["coding"])
        series = json_data(response, "dashboard-series")
        assert [v for v in series["sparklines"]["recovery"] if v is not None] == [5.0]
        assert b"metrics/dora-charts.js" in response.content and b"insights/dashboard.js" in response.content
        # The figures behind them, week by week, in one table (the lead time's stages in their own).
        weekly = plain(re.search(r'<details[^>]*id="weekly">.*?</details>', body, re.S).group(0))
        assert re.search(r"\d+ \w{3}\*? 0 1 100% 20 h 1 5 h 0%", weekly)  # the failed deployment's week
        chart = re.search(r'<section[^>]*aria-labelledby="chart-failure-rate-title".*?</section>', body, re.S).group(0)
        assert '<a href="#weekly">' in chart

    def test_a_team_without_services_says_no_data(self, client, org, olga):
        response = get(client, olga, team_url("tiny"))
        assert response.status_code == 200
        assert "own no services" in text(response)
        assert "no data" in tile(response, "lead-time")
        assert "no data: no production deployment in this period" in text(response)
        assert 'id="spark-frequency"' not in response.content.decode()

    def test_it_shows_the_team_s_sentiment_beside_the_organisation_s(self, client, org, closed):
        sentiment = section(get(client, org.users["paula"], team_url("pay")), "sentiment-title")
        assert "7 of 9 invited answered" in sentiment
        assert re.search(r"CI/CD \d+% not comparable \d+%", sentiment)

    def test_a_team_below_k_shows_its_delivery_but_no_sentiment_number(self, client, org, delivered, closed):
        response = get(client, org.users["lena"], team_url("search"))
        assert "from 2 production deployments" in tile(response, "frequency")
        sentiment = section(response, "sentiment-title")
        assert "Fewer than 3 responses" in sentiment and "sentiment is not shown" in sentiment
        waves = section(response, "waves-title")
        assert "fewer than 3 responses" in waves
        for part in (sentiment, waves.split("0–19%")[0]):  # the legend's bands aside
            assert not re.search(r"\d+ ?%", part), part
            assert "invited answered" not in part

    def test_it_shows_the_sentiment_heatmap_across_waves(self, client, org, closed):
        second = open_wave(org, series=closed.series, wave=2)
        # The same people answer as in wave 1, and skip the same questions: the change may be shown.
        answer(second, org.pay, *PAY[:1], (5, 1, 5, 10, None, None), (5, 1, 5, 10, None, None), (None, 1, 5, 10))
        answer(second, org.api, *PAY_API)
        close(second)
        response = get(client, org.users["paula"], team_url("pay"))
        waves = section(response, "waves-title")
        assert "Developer pulse (wave 1)" in waves and "Developer pulse — wave 2" in waves
        assert re.search(r"CI/CD \d+% \d+%", waves)
        sentiment = section(response, "sentiment-title")
        assert "changes since wave 1" in sentiment
        assert re.search(r"CI/CD 77% ↑ better: \+30 pts 77%", sentiment)

    def test_it_ranks_the_team_s_bottlenecks_with_links_to_the_evidence(self, client, org, delivered, closed):
        insights_refresh(days=90)
        response = get(client, org.users["paula"], team_url("pay"))
        body = response.content.decode()
        bottlenecks = section(response, "bottlenecks-title")
        assert re.search(r"(Corroborated|Perception only|Data only)", bottlenecks)
        assert "CI/CD" in bottlenecks
        assert 'href="/teams/pay/delivery/?days=90#deployments"' in body
        assert 'href="/teams/pay/bottlenecks/?days=90"' in body

    def test_a_custom_period_s_bottlenecks_say_which_ranking_they_are(self, client, org, delivered, closed, now):
        insights_refresh(days=90)
        today = timezone.localdate(now)
        custom = {"from": (today - timedelta(days=44)).isoformat(), "to": today.isoformat()}
        bottlenecks = section(get(client, org.users["paula"], team_url("pay", **custom)), "bottlenecks-title")
        assert "the last 90 days of delivery (rankings cover 30, 90, 180 or 365 days" in bottlenecks
        assert "covering the 45 days shown above" in bottlenecks

    def test_the_period_and_team_pickers_keep_to_the_team(self, client, org, delivered):
        body = get(client, org.users["paula"], team_url("pay", days=180)).content.decode()
        assert 'action="/teams/pay/dashboard/"' in body  # the custom period form
        picker = re.search(r'<form[^>]*action="/dashboard/pick/".*?</form>', body, re.S).group(0)
        assert "Whole organisation" not in picker  # Paula is no org viewer
        assert re.findall(r'<option value="([^"]*)"', picker) == ["pay", "pay-api"]
        assert '<option value="pay" selected>' in picker
        tabs = re.search(r'<nav class="tabs" aria-label="Team pages">.*?</nav>', body, re.S).group(0)
        assert re.findall(r'href="([^"]+)"', tabs) == [
            "/teams/pay/",
            "/teams/pay/dashboard/",
            "/teams/pay/delivery/",
            "/teams/pay/reviews/",
            "/teams/pay/pipelines/",
            "/teams/pay/bottlenecks/",
        ]
        assert 'href="/teams/pay/dashboard/" aria-current="page"' in tabs


def grow(org, source, now, teams: int = 12) -> None:
    """More teams under Engineering and Payments, each with a service that deploys and has an incident."""
    for n in range(teams):
        team = TeamFactory(name=f"Squad {n}", slug=f"squad-{n}", parent=org.pay if n % 2 else org.eng)
        service = ServiceFactory(name=f"Squad service {n}", slug=f"squad-service-{n}", owner=team)
        for d in range(3):
            histories.deploy(source, service, f"s{n}-{d}", now - timedelta(days=2 + 9 * d))
        histories.pull_request(source, service, f"s{n}-pr", now - timedelta(days=3))
        histories.incident(source, service, f"S{n}-INC", now - timedelta(days=1), now - timedelta(hours=20))
        service_refresh(service_id=service.id)


class TestQueries:
    """A dashboard reads rollups and stored results: a fixed number of queries, whatever the number of
    teams, services or deployments (the budget: docs/product.md#budgets).

    Each count is taken on a second request: the first read of a closed campaign after the team tree
    changed stores its figures for the new tree (``surveys.published``), once.
    """

    # Sign-in and permissions: 4; memberships, the tree (read once for the request, the picker's too:
    # ``TeamTree.for_user``), the team: 3; the scope's services: 1. Delivery: 10. Sentiment: 4. The waves heatmap (one
    # closed wave, the sentiment's, whose access and figures it reuses): the series' waves: 1 (a further wave adds its
    # access, and its questions and scores unless it is the one the sentiment compares with). Bottlenecks: the
    # period's results, the team's result: 2.
    TEAM_QUERIES = 25

    def test_the_organisation_s_dashboard(self, client, olga, org, delivered, closed, now, django_assert_num_queries):
        for days in (30, 90, 365):
            insights_refresh(days=days)
        client.force_login(olga)
        client.get(org_url())
        with django_assert_num_queries(ORG_QUERIES):
            assert client.get(org_url()).status_code == 200
        before = tile(client.get(org_url(days=365)), "frequency")
        grow(org, delivered, now)
        # The service refreshes wrote the rollups: the figures kept for the year are not read again.
        client.get(org_url(days=365))
        with django_assert_num_queries(ORG_QUERIES):
            response = client.get(org_url(days=365))
        assert tile(response, "frequency") != before
        assert "Squad 11" in response.content.decode()  # in the team picker
        assert "from 43 production deployments" in tile(response, "frequency")  # 7 + 12 squads × 3
        # A period's first request computes its figures and decodes its stored org results: 11 queries more (see
        # ORG_QUERIES).
        with django_assert_num_queries(ORG_QUERIES + 11):
            client.get(org_url(days=30), headers=HTMX)
        with django_assert_num_queries(ORG_QUERIES):
            client.get(org_url(days=30), headers=HTMX)

    def test_a_team_s_dashboard(self, client, org, delivered, closed, now, django_assert_num_queries):
        for days in (30, 90, 365):
            insights_refresh(days=days)
        client.force_login(org.users["paula"])
        client.get(team_url("pay"))
        with django_assert_num_queries(self.TEAM_QUERIES):
            assert client.get(team_url("pay")).status_code == 200
        grow(org, delivered, now)
        client.get(team_url("pay"))
        with django_assert_num_queries(self.TEAM_QUERIES):
            response = client.get(team_url("pay", days=365))
        assert "from 23 production deployments" in tile(response, "frequency")  # 5 + 6 squads × 3
        with django_assert_num_queries(self.TEAM_QUERIES):
            client.get(team_url("pay", days=30), headers=HTMX)

    def test_a_refused_period_reads_no_figures(self, client, olga, org, django_assert_max_num_queries):
        client.force_login(olga)
        # Sign-in, permissions, the team picker.
        with django_assert_max_num_queries(5):
            assert client.get(org_url(**{"from": "2026-02-01", "to": "2026-01-01"})).status_code == 400
