"""The insights selectors: sentiment read through the survey results (the same cells and figures the results page
shows), the waves heatmap, and the precomputed results before and after a refresh."""

from __future__ import annotations

import pytest

from insights import selectors
from surveys import results
from surveys.anonymity import Status
from surveys.models import Campaign
from surveys.tests.waves import PAY, PAY_API, answer, close, open_wave, org_viewer


def test_a_shown_team_s_sentiment_is_the_results_page_s(org, closed):
    lena = org.users["lena"]
    found = selectors.sentiment(org.pay, lena)
    page = results.campaign_results(results.campaign_for_user(lena, closed.pk), team="pay")
    assert found.campaign == closed and found.previous is None
    assert (found.status, found.responses) == (Status.SHOWN, 7)
    ci = next(d for d in found.dimensions if d.key == "ci_cd")
    expected = next(d for d in page.focus.dimensions if d.key == "ci_cd")
    org_ci = next(d for d in page.groups[0].dimensions if d.key == "ci_cd")
    assert ci.score == pytest.approx(expected.percent_favourable)
    assert ci.org_score == pytest.approx(org_ci.percent_favourable)
    assert ci.change is None  # no previous wave
    assert found.participation is not None and found.participation.responded == 7
    assert found.results_url == f"/surveys/{closed.pk}/results/?team=pay"


def test_a_team_below_k_has_a_status_and_no_number(org, closed):
    found = selectors.sentiment(org.search, org.users["lena"])  # 2 responses, k = 3
    assert (found.status, found.status_text) == (Status.TOO_FEW, "fewer than 3 responses")
    assert found.responses is None and found.participation is not None  # 4 invitees: participation is shown
    assert all(
        d.score is None and d.mean is None and d.change is None and d.org_score is None for d in found.dimensions
    )
    assert {d.status for d in found.dimensions} == {Status.TOO_FEW}


def test_the_organisation_s_sentiment_has_no_org_score_beside_it(org, closed):
    found = selectors.sentiment(None, org_viewer())
    assert found.status == Status.SHOWN and found.responses == 12
    assert all(d.org_score is None for d in found.dimensions)
    assert found.results_url == f"/surveys/{closed.pk}/results/"


def test_an_open_wave_or_an_invisible_team_gives_no_sentiment(org, closed):
    assert selectors.sentiment(org.other, org.users["charlie"]).status == Status.NO_DATA  # not invited
    assert selectors.sentiment(org.pay, org.users["charlie"]).campaign is None
    open_wave(org, series=closed.series, wave=2)  # open: not a result yet
    assert selectors.sentiment(org.pay, org.users["lena"]).campaign == closed


def test_the_change_since_the_previous_wave_is_the_results_page_s(org, closed):
    second = open_wave(org, series=closed.series, wave=2)
    answer(second, org.api, *PAY_API)
    answer(second, org.pay, *PAY[:1], (5, 1, 5, 10, None, None), (5, 1, 5, 10, None, None))
    second = close(second)
    lena = org.users["lena"]
    found = selectors.sentiment(org.pay, lena)
    page = results.campaign_results(results.campaign_for_user(lena, second.pk), team="pay")
    assert found.campaign == second and found.previous == closed
    for mine, theirs in zip(found.dimensions, page.focus.dimensions, strict=True):
        assert mine.change == theirs.change_wave


def test_the_waves_heatmap_lists_each_wave_s_cells_oldest_first(org, closed):
    second = open_wave(org, series=closed.series, wave=2)
    answer(second, org.pay, *PAY[:2])  # 2 in pay + 0 in api: too few
    second = close(second)
    lena = org.users["lena"]
    grid = selectors.sentiment_waves(org.pay, lena, selectors.sentiment(org.pay, lena))
    assert [w.pk for w in grid.waves] == [closed.pk, second.pk]
    keys = [key for key, _, _ in grid.rows]
    assert keys == ["ci_cd", "focus"]  # satisfaction is asked as eNPS only here: no likert dimension score
    ci = grid.rows[0][2]
    assert ci[0].status == Status.SHOWN and ci[0].score is not None
    assert (ci[1].status, ci[1].score, ci[1].status_text) == (Status.TOO_FEW, None, "fewer than 3 responses")


def test_nothing_is_computed_yet(org):
    viewer = org_viewer()
    found = selectors.bottlenecks(org.pay, 90, viewer)
    assert (found.items, found.computed_at, found.days, found.substituted) == ((), None, 90, False)
    assert found.url == "/teams/pay/bottlenecks/?days=90"
    assert selectors.correlations(90).computed_at is None


@pytest.mark.parametrize(("asked", "standard", "substituted"), [(30, 30, False), (45, 90, True), (400, 365, True)])
def test_a_non_standard_period_reads_the_standard_one_covering_it(asked, standard, substituted):
    assert selectors.standard_days(asked) == (standard, substituted)


def test_campaigns_are_read_newest_first(org, closed):
    assert list(Campaign.objects.filter(status=Campaign.Status.CLOSED)) == [closed]
