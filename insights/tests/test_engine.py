"""The bottleneck ranking: mapping, signals, labels, explanations and the org's people-weighted ranking."""

from __future__ import annotations

import subprocess
import sys
from statistics import median

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insights.engine import (
    DATA_PERCENTILE,
    DIMENSIONS,
    FAVOURABLE_FLOOR,
    MAPPING,
    METRICS,
    MIN_PEERS,
    MIN_SAMPLE,
    PERCEPTION_GAP,
    Label,
    MetricEvidence,
    MetricValue,
    Sentiment,
    TeamInput,
    bottlenecks,
    org_ranking,
)
from surveys.models import Dimension as SurveyDimension

HIDDEN = "fewer than 3 responses"
# Ten other teams for every metric. A value above all of them is the worst for a lower-is-better metric.
PEERS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0)
WORST, MIDDLE, BEST = 11.0, 5.5, 0.0


def shown(dimension, percent, *, org, previous=None, responses=20):
    return Sentiment(dimension, True, percent, previous, org, responses)


def hidden(dimension, *, org=60.0):
    return Sentiment(dimension, False, None, None, org, 0, hidden_text=HIDDEN)


def metric(key, value, *, display=None, sample=50, peers=PEERS):
    # For a higher-is-better metric the same standing needs the mirrored value.
    if not METRICS[key].lower_is_better and value is not None:
        value = 11.0 - value
    return MetricValue(key, value, display or f"{value}", sample, peers)


def typical_team(**overrides) -> TeamInput:
    """A team in the middle on every metric and at the org's level on every dimension, with some overrides:
    ``<dimension>=Sentiment`` and ``<metric>=MetricValue`` (None removes it)."""
    sentiments = {d.key: shown(d.key, 70.0, org=68.0, previous=69.0) for d in DIMENSIONS}
    metrics = {key: metric(key, MIDDLE) for key in METRICS}
    for key, value in overrides.items():
        target = sentiments if key in sentiments else metrics
        if value is None:
            del target[key]
        else:
            target[key] = value
    return TeamInput(sentiments=tuple(sentiments.values()), metrics=tuple(metrics.values()))


def by_dimension(items):
    return {item.dimension: item for item in items}


class TestMapping:
    def test_it_matches_the_surveys_md_table(self):
        # docs/surveys.md#dimensions (↓ = lower is better).
        expected = {
            "ci_cd": [
                ("pipeline_failure_rate", True),
                ("flaky_rate", True),
                ("pipeline_p90_duration", True),
                ("deployment_frequency", False),
            ],
            "code_review": [
                ("pickup_time", True),
                ("review_time", True),
                ("prs_waiting_24h", True),
                ("lead_time", True),
            ],
            "release": [("deploy_time", True), ("deployment_frequency", False), ("lead_time", True)],
            "stability": [("change_failure_rate", True), ("recovery_time", True), ("rework_rate", True)],
            "cognitive_load": [("coding_time", True), ("pr_size", True)],
            "focus": [],
            "tooling": [("pipeline_p50_duration", True)],
            "clarity": [("rework_rate", True)],
        }
        mapped = {key: [(m.key, m.lower_is_better) for m in specs] for key, specs in MAPPING.items()}
        satisfaction = mapped.pop("satisfaction")
        assert mapped == expected
        # "all of the above, weakly": the union, each metric once, at a lower weight.
        union = list(dict.fromkeys(pair for pairs in expected.values() for pair in pairs))
        assert satisfaction == union
        assert len(satisfaction) == len(METRICS) == 15
        weights = {d.key: d.data_weight for d in DIMENSIONS}
        assert weights.pop("satisfaction") < 1
        assert set(weights.values()) == {1.0}

    def test_its_dimensions_are_the_surveys_dimensions(self):
        assert [(d.key, d.label) for d in DIMENSIONS] == list(SurveyDimension.choices)


class TestBottlenecks:
    def test_a_flaky_ci_team_has_ci_cd_first_and_corroborated(self):
        team = typical_team(
            ci_cd=shown("ci_cd", 31.0, org=64.0, previous=43.0),
            pipeline_failure_rate=metric("pipeline_failure_rate", WORST, display="24%"),
            flaky_rate=metric("flaky_rate", WORST, display="9%"),
            pipeline_p90_duration=metric("pipeline_p90_duration", 10.0, display="41 min"),
        )
        items = bottlenecks(team)
        first = items[0]
        assert first.dimension == "ci_cd"
        assert first.label == Label.CORROBORATED
        assert first.perception_points == 33
        assert first.median_percentile == 97.5  # 100, 100, 95 and 50: the median of the middle two
        assert first.explanation == (
            "CI/CD: 31% favourable (org 64%, −12 pts since last wave); pipeline failure rate 24%, worst of 11 teams; "
            "flaky rate 9%, worst of 11 teams; pipeline p90 duration 41 min, worst 5% of teams; "
            "deployment frequency 5.5, in the middle of 11 teams"
        )
        assert all(item.label == Label.NO_SIGNAL for item in items[1:])

    def test_a_slow_review_team_has_code_review_first_and_corroborated(self):
        team = typical_team(
            code_review=shown("code_review", 35.0, org=61.0, previous=38.0),
            pickup_time=metric("pickup_time", WORST, display="26 h"),
            review_time=metric("review_time", 10.0, display="31 h"),
            prs_waiting_24h=metric("prs_waiting_24h", WORST, display="14"),
            lead_time=metric("lead_time", 9.0, display="8.5 d"),
        )
        items = bottlenecks(team)
        assert items[0].dimension == "code_review"
        assert items[0].label == Label.CORROBORATED
        # Lead time is bad too, but release's other metrics are not: one metric does not make a data signal.
        assert by_dimension(items)["release"].label == Label.NO_SIGNAL

    def test_the_brief_example_reads_exactly(self):
        # 9 of 10 peers better, 1 worse: the 90th badness percentile.
        peers = (0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.30)
        team = TeamInput(
            sentiments=[shown("ci_cd", 31.0, org=64.0, previous=43.0)],
            metrics=[MetricValue("pipeline_failure_rate", 0.24, "24%", 120, peers)],
        )
        item = by_dimension(bottlenecks(team))["ci_cd"]
        assert item.explanation == (
            "CI/CD: 31% favourable (org 64%, −12 pts since last wave); pipeline failure rate 24%, worst 10% of teams"
        )
        assert item.label == Label.CORROBORATED

    @pytest.mark.parametrize(
        ("key", "value", "percentile"),
        [
            ("pipeline_failure_rate", 0.40, 100.0),  # lower is better: the highest rate is worse than every peer
            ("pipeline_failure_rate", 0.01, 0.0),
            ("pipeline_failure_rate", 0.05, 35.0),  # 3 peers better, 1 tied: (3 + ½) of 10
            ("deployment_frequency", 0.01, 100.0),  # higher is better: the fewest deployments are the worst
            ("deployment_frequency", 0.40, 0.0),
            ("deployment_frequency", 0.05, 65.0),  # 6 peers better, 1 tied: (6 + ½) of 10
        ],
    )
    def test_the_badness_percentile_counts_better_peers_in_the_metric_s_direction(self, key, value, percentile):
        peers = (0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.30)
        team = TeamInput(metrics=[MetricValue(key, value, str(value), 120, peers)])
        (evidence,) = [e for e in by_dimension(bottlenecks(team))["ci_cd"].metrics if e.key == key]
        assert evidence.percentile == pytest.approx(percentile)

    def test_low_sentiment_with_healthy_metrics_is_perception_only(self):
        team = typical_team(
            release=shown("release", 44.0, org=47.0),
            deploy_time=metric("deploy_time", BEST, display="35 min"),
        )
        item = by_dimension(bottlenecks(team))["release"]
        # Only 3 points below the org, but most people are not favourable.
        assert item.label == Label.PERCEPTION_ONLY
        assert item.perception_points == FAVOURABLE_FLOOR - 44
        assert item.explanation == (
            "Release: 44% favourable (org 47%); deployment frequency 5.5, in the middle of 11 teams; "
            "lead time 5.5, in the middle of 11 teams; deploy time 35 min, best of 11 teams"
        )

    def test_a_focus_problem_can_only_be_a_perception(self):
        team = typical_team(focus=shown("focus", 42.0, org=61.0, previous=39.0))
        item = by_dimension(bottlenecks(team))["focus"]
        assert item.label == Label.PERCEPTION_ONLY
        assert item.metrics == ()
        assert item.explanation == (
            "Focus: 42% favourable (org 61%, +3 pts since last wave); no delivery metric maps to this dimension"
        )

    def test_bad_metrics_with_a_hidden_sentiment_are_data_only_and_show_no_number(self):
        team = typical_team(
            stability=hidden("stability", org=58.0),
            change_failure_rate=metric("change_failure_rate", WORST, display="31%"),
            recovery_time=metric("recovery_time", 8.5, display="9.5 h"),
            rework_rate=metric("rework_rate", 3.0, display="4%"),
        )
        item = by_dimension(bottlenecks(team))["stability"]
        assert item.label == Label.DATA_ONLY
        assert item.perception_points == 0
        assert item.sentiment.percent_favourable is None
        assert item.explanation == (
            "Stability: sentiment: fewer than 3 responses; change failure rate 31%, worst of 11 teams; "
            "failed deployment recovery time 9.5 h, worst 20% of teams; rework rate 4%, best 25% of teams"
        )
        assert "58" not in item.explanation
        assert "favourable" not in item.explanation

    def test_a_team_like_the_others_has_no_signal(self):
        items = bottlenecks(typical_team())
        assert {item.label for item in items} == {Label.NO_SIGNAL}
        assert all(item.score == 0 for item in items)
        # Ties keep the order of docs/surveys.md#dimensions.
        assert [item.dimension for item in items] == [d.key for d in DIMENSIONS]

    def test_a_gap_just_under_the_threshold_is_no_signal(self):
        team = typical_team(tooling=shown("tooling", 55.0, org=64.9))
        item = by_dimension(bottlenecks(team))["tooling"]
        assert item.label == Label.NO_SIGNAL
        assert item.perception_points == pytest.approx(9.9)

    def test_metrics_with_too_little_data_do_not_count(self):
        team = typical_team(
            tooling=None,
            pipeline_p50_duration=metric("pipeline_p50_duration", WORST, display="12 min", sample=MIN_SAMPLE - 1),
        )
        item = by_dimension(bottlenecks(team))["tooling"]
        assert item.label == Label.NO_SIGNAL
        (evidence,) = item.metrics
        assert evidence.percentile is None
        assert evidence.note == "too little data (sample 9, need 10)"
        assert item.explanation == "Tooling: sentiment: no survey results; delivery metrics: not enough data to compare"

    def test_metrics_with_too_few_peers_do_not_count(self):
        team = typical_team(clarity=None, rework_rate=metric("rework_rate", WORST, peers=PEERS[: MIN_PEERS - 1]))
        (evidence,) = by_dimension(bottlenecks(team))["clarity"].metrics
        assert not evidence.counts
        assert evidence.note == "too few teams to compare (4, need 5)"

    def test_a_missing_metric_is_no_data(self):
        team = typical_team(coding_time=None)
        coding_time, pr_size = by_dimension(bottlenecks(team))["cognitive_load"].metrics
        assert (coding_time.key, coding_time.value, coding_time.display, coding_time.note) == (
            "coding_time",
            None,
            "no data",
            "no data",
        )
        assert pr_size.counts

    def test_satisfaction_weighs_its_data_at_half(self):
        worst_everywhere = {key: metric(key, WORST) for key in METRICS}
        items = by_dimension(bottlenecks(typical_team(**worst_everywhere)))
        assert items["satisfaction"].label == Label.DATA_ONLY
        assert items["satisfaction"].data_points == 25
        assert items["ci_cd"].data_points == 50
        assert items["satisfaction"].explanation.endswith("11 other metrics in the evidence")

    def test_an_unchanged_score_says_so(self):
        team = typical_team(clarity=shown("clarity", 40.2, org=70.0, previous=40.0))
        assert by_dimension(bottlenecks(team))["clarity"].explanation.startswith(
            "Clarity: 40% favourable (org 70%, no change since last wave); rework rate"
        )


class TestInputs:
    def test_a_hidden_sentiment_cannot_carry_numbers(self):
        with pytest.raises(ValueError, match="no numbers"):
            Sentiment("ci_cd", False, 40.0, None, 60.0, 0, hidden_text=HIDDEN)
        with pytest.raises(ValueError, match="no numbers"):
            Sentiment("ci_cd", False, None, None, 60.0, 2, hidden_text=HIDDEN)
        with pytest.raises(ValueError, match="hidden_text"):
            Sentiment("ci_cd", False, None, None, 60.0, 0)

    def test_it_refuses_unknown_keys_and_duplicates(self):
        with pytest.raises(ValueError, match="unknown dimension"):
            shown("velocity", 40.0, org=50.0)
        with pytest.raises(ValueError, match="unknown metric"):
            MetricValue("mttr", 1.0, "1 h", 10)
        with pytest.raises(ValueError, match="at most once"):
            TeamInput(sentiments=[shown("focus", 40.0, org=50.0), shown("focus", 45.0, org=50.0)])

    def test_it_refuses_percentages_out_of_range(self):
        with pytest.raises(ValueError, match=r"0\.\.100"):
            shown("focus", 0.4, org=150.0)


class TestStanding:
    @pytest.mark.parametrize(
        ("percentile", "text"),
        [
            (100.0, "worst of 11 teams"),
            (0.0, "best of 11 teams"),
            (90.0, "worst 10% of teams"),
            (97.5, "worst 3% of teams"),
            (100 * 8.7 / 9.7, "worst 11% of teams"),
            (25.0, "best 25% of teams"),
            (50.0, "in the middle of 11 teams"),
        ],
    )
    def test_it_says_where_the_team_stands(self, percentile, text):
        evidence = MetricEvidence("lead_time", "lead time", True, 3.0, "3 d", 40, 10, percentile)
        assert evidence.standing == text


def _team_items(**overrides):
    return bottlenecks(typical_team(**overrides))


class TestOrgRanking:
    def test_it_counts_teams_and_people_by_label(self):
        corroborated = _team_items(
            code_review=shown("code_review", 30.0, org=60.0),
            pickup_time=metric("pickup_time", WORST),
            review_time=metric("review_time", WORST),
        )
        perception_only = _team_items(code_review=shown("code_review", 30.0, org=60.0))
        data_only = _team_items(
            pickup_time=metric("pickup_time", WORST),
            review_time=metric("review_time", WORST),
            prs_waiting_24h=metric("prs_waiting_24h", WORST),
        )
        teams = [
            *[(f"corroborated {i}", 10, corroborated) for i in range(6)],
            ("perception a", 9, perception_only),
            ("perception b", 8, perception_only),
            ("data", 9, data_only),
            ("fine", 30, _team_items()),
        ]
        code_review = next(item for item in org_ranking(teams) if item.dimension == "code_review")
        assert code_review.explanation == (
            "Code review: a bottleneck for 9 teams (86 people), corroborated in 6, perception only in 2, data only in 1"
        )
        assert (code_review.signal.teams, code_review.signal.people) == (9, 86)
        assert (code_review.corroborated.teams, code_review.corroborated.people) == (6, 60)
        assert (code_review.perception_only.teams, code_review.perception_only.people) == (2, 17)
        assert (code_review.data_only.teams, code_review.data_only.people) == (1, 9)
        assert "fine" not in code_review.team_names
        assert code_review.team_names[:6] == tuple(f"corroborated {i}" for i in range(6))

    def test_it_weights_scores_by_people(self):
        # Focus hurts a team of 40 moderately; tooling hurts a team of 5 badly. More people are affected by focus.
        big = _team_items(focus=shown("focus", 45.0, org=60.0))
        small = _team_items(pipeline_p50_duration=metric("pipeline_p50_duration", WORST))
        assert by_dimension(small)["tooling"].score > by_dimension(big)["focus"].score
        ranking = org_ranking([("Big", 40, big), ("Small", 5, small)])
        assert [item.dimension for item in ranking[:2]] == ["focus", "tooling"]
        assert ranking[0].score == pytest.approx(40 * 15 / 45)
        assert ranking[1].score == pytest.approx(5 * 50 / 45)

    def test_a_dimension_nobody_has_says_so(self):
        ranking = org_ranking([("Payments", 7, _team_items())])
        assert ranking[0].explanation == "CI/CD: not a bottleneck for any team"
        assert ranking[0].signal.teams == 0

    def test_singular_wording(self):
        ranking = org_ranking([("Solo", 1, _team_items(focus=shown("focus", 20.0, org=60.0)))])
        assert ranking[0].explanation == "Focus: a bottleneck for 1 team (1 person), perception only in 1"

    def test_an_empty_org_has_zero_scores(self):
        assert {item.score for item in org_ranking([])} == {0.0}


percent = st.floats(min_value=0, max_value=100, allow_nan=False)
small_numbers = st.integers(min_value=0, max_value=20).map(float)


@st.composite
def sentiments(draw, dimension):
    kind = draw(st.sampled_from(["shown", "hidden", "missing"]))
    org = draw(st.none() | percent)
    if kind == "missing":
        return None
    if kind == "hidden":
        return hidden(dimension, org=org)
    return Sentiment(dimension, True, draw(percent), draw(st.none() | percent), org, draw(st.integers(3, 200)))


@st.composite
def metric_values(draw, key):
    if draw(st.booleans()):
        return None
    value = draw(st.none() | small_numbers)
    peers = draw(st.lists(small_numbers, max_size=12))
    return MetricValue(key, value, "shown", draw(st.integers(0, 40)), peers)


@st.composite
def team_inputs(draw):
    found = [draw(sentiments(d.key)) for d in DIMENSIONS]
    values = [draw(metric_values(key)) for key in METRICS]
    return TeamInput(sentiments=[s for s in found if s], metrics=[m for m in values if m])


class TestInvariants:
    @settings(max_examples=200)
    @given(team_inputs())
    def test_the_ranking_is_sorted_and_labels_follow_the_thresholds(self, team):
        items = bottlenecks(team)
        assert sorted(item.dimension for item in items) == sorted(d.key for d in DIMENSIONS)
        assert [item.score for item in items] == sorted((item.score for item in items), reverse=True)
        given_metrics = {m.key: m for m in team.metrics}
        for item in items:
            s = item.sentiment
            perception = (
                s is not None
                and s.shown
                and (
                    s.percent_favourable < FAVOURABLE_FLOOR
                    or (s.org_percent is not None and s.org_percent - s.percent_favourable >= PERCEPTION_GAP)
                )
            )
            for evidence in item.metrics:
                m = given_metrics.get(evidence.key)
                should_count = (
                    m is not None and m.value is not None and m.sample >= MIN_SAMPLE and len(m.peers) >= MIN_PEERS
                )
                assert evidence.counts == should_count
                assert evidence.percentile is None or 0 <= evidence.percentile <= 100
            percentiles = [e.percentile for e in item.metrics if e.counts]
            data = bool(percentiles) and median(percentiles) >= DATA_PERCENTILE
            assert (item.perception, item.data) == (perception, data)
            assert (
                item.label
                == {
                    (True, True): Label.CORROBORATED,
                    (True, False): Label.PERCEPTION_ONLY,
                    (False, True): Label.DATA_ONLY,
                    (False, False): Label.NO_SIGNAL,
                }[(perception, data)]
            )
            assert item.score >= 0
            assert item.score == pytest.approx(item.perception_points + item.data_points)
            if item.dimension == "focus":
                assert not item.data
            if s is not None and not s.shown:
                # A hidden score shows its reason and nothing else about sentiment.
                assert item.explanation.startswith(f"{item.title}: sentiment: {HIDDEN}; ")
                assert "favourable" not in item.explanation
                assert item.perception_points == 0

    @settings(max_examples=50)
    @given(st.lists(st.tuples(st.integers(0, 50), team_inputs()), max_size=6))
    def test_the_org_ranking_is_sorted_and_its_counts_add_up(self, teams):
        named = [(f"team {i}", people, bottlenecks(team)) for i, (people, team) in enumerate(teams)]
        ranking = org_ranking(named)
        assert [item.score for item in ranking] == sorted((item.score for item in ranking), reverse=True)
        total = sum(people for _, people, _ in named)
        for item in ranking:
            parts = (item.corroborated, item.perception_only, item.data_only)
            assert item.signal.teams == sum(p.teams for p in parts) == len(item.team_names)
            assert item.signal.people == sum(p.people for p in parts) <= total
            assert item.score >= 0


def test_the_engine_needs_neither_django_nor_scipy():
    # Pure modules: reusable from tasks, views and the API without app loading, and SciPy stays a test dependency.
    code = "import sys, insights.engine, insights.stats; print(sorted({'django', 'scipy'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


class TestLabelRule:
    def test_perception_only_beside_a_metric_in_the_worst_15_percent_states_the_rule(self):
        items = _team_items(code_review=shown("code_review", 30.0, org=60.0), pickup_time=metric("pickup_time", WORST))
        item = by_dimension(items)["code_review"]
        assert item.label == Label.PERCEPTION_ONLY
        assert "pickup time 11.0, worst of 11 teams" in item.explanation  # the metric the reader sees
        assert item.label_rule == (
            "Labelled “perception only”: survey signal on (needs % favourable at least 10 points below the "
            "organisation's or under 50%); data signal off (needs the median standing of its 4 counted metrics in "
            "the worst 25% of teams; it is worse than 50% of them, so one bad metric alone does not make it)."
        )

    def test_it_says_why_a_dimension_without_metrics_or_results_has_no_data_or_survey_signal(self):
        items = by_dimension(_team_items(focus=hidden("focus")))
        assert items["focus"].label_rule == (
            "Labelled “no signal”: survey signal off: no survey result shown (needs % favourable at least 10 points "
            "below the organisation's or under 50%); data signal off: no delivery metric maps to this dimension."
        )

    def test_a_corroborated_one_says_both_are_on(self):
        worst = {key: metric(key, WORST) for key in ("pickup_time", "review_time", "prs_waiting_24h")}
        item = by_dimension(_team_items(code_review=shown("code_review", 30.0, org=60.0), **worst))["code_review"]
        assert item.label == Label.CORROBORATED
        assert "survey signal on" in item.label_rule and "data signal on" in item.label_rule


class TestRounding:
    def test_a_half_percent_reads_as_the_templates_floatformat_reads_it(self):
        # 12.5% favourable is 13% on the dashboard (floatformat): the explanation agrees, not 12% (half to even).
        items = _team_items(ci_cd=shown("ci_cd", 12.5, org=62.5, previous=10.0))
        assert by_dimension(items)["ci_cd"].explanation.startswith(
            "CI/CD: 13% favourable (org 63%, +3 pts since last wave)"
        )
