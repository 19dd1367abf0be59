"""The survey demo tells the delivery demo's story: who answers low on what."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest

from e360.demo import SIZES, build_org, save_org, team_scenarios
from surveys import scoring
from surveys.demo import seed
from surveys.models import Answer, Campaign, Invitation, Response

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def org(db):
    org = build_org(size=SIZES["small"], seed=1, now=NOW)
    save_org(org)
    return org


def _favourable(campaign: Campaign, label: str, dimension: str) -> float:
    values = defaultdict(list)
    answers = Answer.objects.filter(
        response__campaign=campaign, response__label__slug=label, question__dimension=dimension
    ).select_related("question")
    for answer in answers:
        values[answer.question.key].append(answer.number)
    items = [
        scoring.item_score(numbers, reverse=Answer.objects.filter(question__key=key).first().question.reverse_coded)
        for key, numbers in values.items()
    ]
    return scoring.dimension_score(items)


def test_it_runs_two_closed_waves_and_one_open_through_the_real_services(org):
    summary = seed(org)
    assert summary.startswith("3 waves of the Developer experience survey")
    waves = list(Campaign.objects.order_by("wave"))
    assert [c.status for c in waves] == ["closed", "closed", "open"]
    assert len({c.series_id for c in waves}) == 1 and [c.wave for c in waves] == [1, 2, 3]
    assert all(c.version_id == waves[0].version_id for c in waves)
    for campaign in waves:
        responded = campaign.invitations.filter(responded=True).count()
        assert responded == Response.objects.filter(campaign=campaign).count() + campaign.pooled.count() > 0
        # Closing moved the pool into responses; the open wave moves a label once it pools 2k (all but k of it).
        pooled = Counter(campaign.pooled.values_list("label", flat=True))
        if campaign.is_closed:
            assert not pooled
        else:
            assert pooled and all(n < 2 * campaign.k for n in pooled.values())
        # Nobody is emailed, then or later: demo people have made-up addresses.
        assert not campaign.invitations.filter(emailed_at__isnull=True).exists()
        assert not campaign.invitations.filter(reminders_sent__lt=len(campaign.reminder_days)).exists()
    assert Invitation.objects.filter(campaign=waves[2], responded=False).exists()  # still open


def test_the_flaky_ci_and_slow_review_teams_answer_lowest_on_their_blocker(org):
    seed(org)
    latest = Campaign.objects.filter(status="closed").order_by("-wave").first()
    scenarios = team_scenarios(org.teams)
    labels = set(Response.objects.filter(campaign=latest).values_list("label__slug", flat=True)) - {None}
    teams = [slug for slug in scenarios if slug in labels]
    ci = {slug: _favourable(latest, slug, "ci_cd") for slug in teams}
    review = {slug: _favourable(latest, slug, "code_review") for slug in teams}
    # Each scenario recurs (Checkout and Analytics Engineering have flaky CI): its teams answer lowest.
    flaky = sorted(ci, key=ci.get)[: sum(scenarios[slug] == "flaky-ci" for slug in teams)]
    slow = sorted(review, key=review.get)[: sum(scenarios[slug] == "slow-reviews" for slug in teams)]
    assert {scenarios[slug] for slug in flaky} == {"flaky-ci"} and all(ci[slug] < 40 for slug in flaky)
    assert {scenarios[slug] for slug in slow} == {"slow-reviews"} and all(review[slug] < 40 for slug in slow)
    # Every team of the small organisation has at least k responses in the closed waves.
    assert all(Response.objects.filter(campaign=latest, label__slug=slug).count() >= latest.k for slug in teams)
