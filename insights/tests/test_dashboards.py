"""The dashboards' reads (``insights.selectors.dashboards``): the period a request asks for, the weekly series behind
the sparklines and charts (they add up to the period's figures), the organisation's figures, the team
picker's tree, and what the dashboards keep of the bottleneck ranking and the sentiment."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from e360.models import Membership
from e360.tests.factories import MembershipFactory, PersonFactory, ServiceFactory, TeamFactory, UserFactory
from insights import engine, selectors
from metrics import definitions as d
from metrics.refresh import service_refresh
from metrics.rollups import Figures
from metrics.scope import reading_profile, team_scope
from metrics.selectors import default_window
from metrics.tests import histories
from metrics.tests.factories import SourceFactory
from surveys.anonymity import Status

NOW = datetime(2026, 3, 18, 15, 30, tzinfo=ZoneInfo("UTC"))  # a Wednesday
TODAY = date(2026, 3, 18)
UTC = d.Profile.default(time_zone="UTC")


class TestPeriod:
    def test_by_default_it_is_the_delivery_page_s_90_days(self):
        period = selectors.period({}, now=NOW, profile=UTC)
        assert period.window == d.Window.last_days(90, now=NOW, tz=UTC)
        assert (period.days, period.custom, period.query) == (90, False, {"days": "90"})
        assert (period.first_day, period.last_day) == (TODAY - timedelta(days=89), TODAY)
        assert period.previous == d.previous_window(period.window, UTC)

    def test_it_is_the_delivery_page_s_window_for_each_preset(self):
        now = timezone.now()
        for days in selectors.PERIODS:
            assert selectors.period({"days": str(days)}, now=now).window == default_window(reading_profile(), days)

    def test_the_presets_are_the_periods_insights_are_computed_for(self):
        assert selectors.PERIODS == selectors.STANDARD_DAYS == (30, 90, 180, 365)

    @pytest.mark.parametrize("value", ["7", "abc", "", "-30", "90.0", "1e2"])
    def test_a_period_not_offered_is_the_default(self, value):
        assert selectors.period({"days": value}, now=NOW, profile=UTC).days == 90

    def test_a_custom_period_includes_both_days(self):
        period = selectors.period({"from": "2026-02-01", "to": "2026-02-28"}, now=NOW, profile=UTC)
        assert (period.days, period.custom, period.first_day, period.last_day) == (
            28,
            True,
            date(2026, 2, 1),
            date(2026, 2, 28),
        )
        assert period.window == d.Window.from_days(date(2026, 2, 1), date(2026, 3, 1), UTC)
        assert period.previous == d.Window.from_days(date(2026, 1, 4), date(2026, 2, 1), UTC)
        assert period.query == {"from": "2026-02-01", "to": "2026-02-28"}

    def test_a_custom_period_is_cut_at_the_org_zone_s_midnights(self):
        berlin = d.Profile.default(time_zone="Europe/Berlin")
        period = selectors.period({"from": "2026-02-01", "to": "2026-02-01"}, now=NOW, profile=berlin)
        assert period.days == 1
        assert period.window.start == datetime(2026, 1, 31, 23, 0, tzinfo=ZoneInfo("UTC"))

    def test_a_custom_period_may_end_today_and_last_a_year(self):
        period = selectors.period({"from": "2025-03-19", "to": "2026-03-18"}, now=NOW, profile=UTC)
        assert period.days == 365 and period.last_day == TODAY

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ({"from": "2026-02-01"}, "A custom period needs both a start and an end date."),
            ({"to": "2026-02-01"}, "A custom period needs both a start and an end date."),
            ({"from": "1 Feb", "to": "2026-02-01"}, "The start date “1 Feb” is not a date: write it as YYYY-MM-DD."),
            ({"from": "2026-02-01", "to": "2026-02-30"}, "The end date “2026-02-30” is not a date"),
            (
                {"from": "2026-02-10", "to": "2026-02-01"},
                "The start date (10 Feb 2026) is after the end date (1 Feb 2026): swap them.",
            ),
            ({"from": "2026-03-01", "to": "2026-03-19"}, "The end date (19 Mar 2026) is after today (18 Mar 2026)."),
            (
                {"from": "2025-03-18", "to": "2026-03-18"},
                "A custom period is at most 365 days; 18 Mar 2025 to 18 Mar 2026 is 366 days.",
            ),
            ({"from": "0001-01-01", "to": "2026-01-01"}, "A custom period is at most 365 days"),
        ],
    )
    def test_a_custom_period_that_cannot_be_shown_says_why(self, query, message):
        with pytest.raises(selectors.PeriodError) as refused:
            selectors.period(query, now=NOW, profile=UTC)
        assert message in str(refused.value)

    def test_custom_dates_win_over_a_preset(self):
        period = selectors.period({"days": "30", "from": "2026-03-01", "to": "2026-03-10"}, now=NOW, profile=UTC)
        assert (period.custom, period.days) == (True, 10)

    @given(
        first=st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
        last=st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    )
    def test_any_two_dates_give_a_period_or_a_reason_never_an_error(self, first, last):
        try:
            period = selectors.period({"from": first.isoformat(), "to": last.isoformat()}, now=NOW, profile=UTC)
        except selectors.PeriodError:
            assert first > last or last > TODAY or (last - first).days >= selectors.MAX_CUSTOM_DAYS
        else:
            assert 1 <= period.days <= selectors.MAX_CUSTOM_DAYS
            assert period.previous.end == period.window.start
            assert period.previous.length == period.window.length


@pytest.fixture
def source(db):
    return SourceFactory(name="ci", may_write_every_service=True)


@pytest.fixture
def checkout(team):
    return ServiceFactory(name="Checkout", slug="checkout", owner=team)


@pytest.fixture
def shipped(source, checkout):
    """Checkout up to ``NOW``: eight production deployments three days apart. The one 17 days back caused an
    incident resolved six hours after it; the one 11 days back is a hotfix, so the one before it failed and
    was recovered three days later. Returns ``NOW``."""
    for n in range(8):
        histories.deploy(source, checkout, f"d{n}", NOW - timedelta(days=2 + 3 * n), is_hotfix=n == 3)
    failed_at = NOW - timedelta(days=17)
    histories.incident(source, checkout, "INC-1", failed_at + timedelta(hours=1), failed_at + timedelta(hours=6))
    histories.pull_request(source, checkout, "pr-1", NOW - timedelta(days=9))
    service_refresh(service_id=checkout.id)
    return NOW


class TestDelivery:
    def test_the_weeks_add_up_to_the_period_s_figures(self, team, shipped):
        period = selectors.period({"days": "30"}, now=shipped)
        delivery = selectors.delivery(selectors.scope_figures(team_scope(team, None), period, now=shipped), period)
        summary = delivery.summary
        weeks = delivery.weeks
        assert sum(w.deployments for w in weeks) == summary.change_failure_rate.deployments == 8
        assert sum(w.failed for w in weeks) == summary.change_failure_rate.failed
        assert sum(w.failed for w in weeks) == 2
        assert sum(w.rework for w in weeks) == summary.rework.rework == 1
        assert sum(w.recovered for w in weeks) == summary.recovery.failed_deployment_recovery.count == 2
        # Recovered on Sunday 1 March (week of 23 Feb) after 6 h, and on Saturday 7 March after 3 days.
        assert [(w.label, w.recovery, w.recovery_text) for w in weeks if w.recovery is not None] == [
            ("23 Feb", 6.0, "6 h"),
            ("2 Mar", 72.0, "3 days"),
        ]
        assert (
            [w.label for w in weeks] == delivery.chart["labels"] == ["16 Feb*", "23 Feb", "2 Mar", "9 Mar", "16 Mar*"]
        )

    def test_the_sparklines_are_the_weeks_in_numbers_and_in_words(self, team, shipped):
        period = selectors.period({"days": "30"}, now=shipped)
        delivery = selectors.delivery(selectors.scope_figures(team_scope(team, None), period, now=shipped), period)
        frequency = delivery.sparklines["frequency"]
        assert list(frequency.values) == [float(w.deployments) for w in delivery.weeks]
        assert frequency.has_data and frequency.description.startswith("Production deployments per week")
        assert "*" not in frequency.description
        failure = delivery.sparklines["failure-rate"]
        # Percent with one decimal: 1 failed of 3 that week is 33.3.
        assert [v for v in failure.values if v] == [
            round(100 * w.failure_rate, 1) for w in delivery.weeks if w.failure_rate
        ]
        assert "highest 50%" in failure.description
        assert delivery.series["sparklines"]["rework"] == list(delivery.sparklines["rework"].values)
        assert [tile.key for tile, _ in delivery.tiles_with_sparklines] == [
            "frequency",
            "lead-time",
            "failure-rate",
            "recovery",
            "rework",
        ]

    def test_without_data_a_sparkline_says_so(self, team, checkout):
        now = timezone.now()
        period = selectors.period({"days": "30"}, now=now)
        delivery = selectors.delivery(selectors.scope_figures(team_scope(team, None), period, now=now), period)
        for spark in delivery.sparklines.values():
            assert not spark.has_data
        assert delivery.sparklines["lead-time"].description == "Median lead time per week: no data in this period."
        assert all(w.failure_rate is None and w.lead_time_text is None for w in delivery.weeks)

    def test_the_organisation_is_every_root_team_s_services(self, source, team, other_team, checkout, shipped):
        period = selectors.period({"days": "90"}, now=NOW)
        org = selectors.org_delivery(period)
        # Search owns no service yet: the organisation's figures are Payments'.
        root = Figures(
            team_scope(team, None),
            [period.window],
            compared=period.previous,
            distributions=selectors.ORG_DISTRIBUTIONS,
        )
        assert org == selectors.delivery(root, period)
        # A service of the other root counts too.
        finder = ServiceFactory(name="Finder", slug="finder", owner=other_team)
        for n in range(3):
            histories.deploy(source, finder, f"f{n}", NOW - timedelta(days=1 + n))
        service_refresh(service_id=finder.id)
        org = selectors.org_delivery(period).summary
        assert org.change_failure_rate.deployments == 8 + 3


def _person(username: str, team, role=Membership.Role.MEMBER):
    user = UserFactory(username=username)
    person = PersonFactory(handle=username, user=user)
    MembershipFactory(person=person, team=team, role=role)
    return user


class TestTeamOptions:
    @pytest.fixture
    def tree(self, db):
        eng = TeamFactory(name="Engineering", slug="eng")
        teams = {
            "eng": eng,
            "web": TeamFactory(name="web", slug="web", parent=eng),
            "api": TeamFactory(name="API", slug="api", parent=eng),
            "edge": TeamFactory(name="Edge", slug="edge"),
        }
        teams["gateway"] = TeamFactory(name="Gateway", slug="gateway", parent=teams["api"])
        return teams

    def test_an_org_viewer_gets_every_team_as_a_tree_by_name(self, tree, staff):
        options = selectors.team_options(staff)
        assert [(o.slug, o.depth) for o in options] == [
            ("edge", 0),
            ("eng", 0),
            ("api", 1),
            ("gateway", 2),
            ("web", 1),
        ]
        assert [o.label for o in options][1:4] == [
            "Engineering",
            "Engineering › API",  # noqa: RUF001
            "Engineering › API › Gateway",  # noqa: RUF001
        ]  # paths, not dashes

    def test_a_lead_gets_the_subtree_and_a_member_the_team(self, tree):
        lead = _person("lea", tree["api"], Membership.Role.LEAD)
        member = _person("max", tree["web"])
        assert [(o.slug, o.depth) for o in selectors.team_options(lead)] == [("api", 0), ("gateway", 1)]
        assert [o.slug for o in selectors.team_options(member)] == ["web"]


def _bottlenecks(items, evidence=None) -> selectors.Bottlenecks:
    return selectors.Bottlenecks(
        tuple(items), timezone.now(), 90, False, evidence or {}, "/teams/pay/bottlenecks/?days=90"
    )


def _sentiment(dimension: str, percent: float | None, org: float | None = 64.0) -> engine.Sentiment:
    if percent is None:
        return engine.Sentiment(dimension, False, None, None, org, 0, "fewer than 5 responses")
    return engine.Sentiment(dimension, True, percent, None, org, 12)


class TestTopBottlenecks:
    def test_a_team_s_are_its_items_with_a_signal_with_their_evidence_links(self):
        items = engine.bottlenecks(
            engine.TeamInput(
                sentiments=[_sentiment("ci_cd", 31.0), _sentiment("focus", 40.0), _sentiment("release", 80.0)]
            )
        )
        links = {"ci_cd": [("Pipeline runs", "/teams/pay/pipelines/?days=90")]}
        rows = selectors.top_bottlenecks(_bottlenecks(items, links), 5)
        assert [row.item.dimension for row in rows] == ["ci_cd", "focus"]
        assert rows[0].badges == (("warning", "perception only"),)
        assert rows[0].evidence == (("Pipeline runs", "/teams/pay/pipelines/?days=90"),)
        assert rows[1].evidence == ()
        assert len(selectors.top_bottlenecks(_bottlenecks(items, links), 1)) == 1

    def test_a_hidden_sentiment_is_no_signal(self):
        items = engine.bottlenecks(engine.TeamInput(sentiments=[_sentiment("ci_cd", None)]))
        assert selectors.top_bottlenecks(_bottlenecks(items), 5) == []

    def test_the_organisation_s_say_in_how_many_teams_each_label_holds(self):
        low = engine.bottlenecks(engine.TeamInput(sentiments=[_sentiment("ci_cd", 31.0)]))
        fine = engine.bottlenecks(engine.TeamInput(sentiments=[_sentiment("ci_cd", 90.0)]))
        ranking = engine.org_ranking([("Payments", 6, low), ("Search", 4, low), ("Tiny", 2, fine)])
        rows = selectors.top_bottlenecks(_bottlenecks(ranking), 5)
        assert [row.item.dimension for row in rows] == ["ci_cd"]  # the only one that is a signal anywhere
        assert rows[0].badges == (("warning", "perception only in 2 teams"),)


def _score(change: float | None, status: Status = Status.SHOWN) -> selectors.DimensionScore:
    shown = status == Status.SHOWN
    return selectors.DimensionScore(
        "ci_cd", "CI/CD", 50.0 if shown else None, None, change, None, None, None, status, "" if shown else "x"
    )


def test_sentiment_rows_say_the_change_in_an_arrow_and_a_word():
    sentiment = selectors.Sentiment(
        None,
        None,
        Status.SHOWN,
        "",
        10,
        None,
        (_score(8.0), _score(-3.4), _score(0.3), _score(None), _score(None, Status.TOO_FEW)),
        "",
    )
    rows = selectors.sentiment_rows(sentiment)
    assert [(row.trend, row.arrow) for row in rows] == [
        (d.Trend.BETTER, "↑"),
        (d.Trend.WORSE, "↓"),
        (d.Trend.SAME, "→"),
        (None, ""),
        (None, ""),
    ]
