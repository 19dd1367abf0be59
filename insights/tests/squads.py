"""Data for the insights refresh and correlation tests, on the survey results tests' organisation
(surveys/tests/waves.py): metric readings set per team by hand (the ``metrics_by_team`` fixture, which
insights' conftest.py makes every insights test's), and squads of people answering survey waves."""

from __future__ import annotations

import pytest

from insights import engine, selectors, services
from insights.selectors import Reading
from surveys.tests.waves import bulk_responses, close, make_squads, open_wave

NO_DATA = Reading(None, "no data", 0)


def readings(**values: tuple[float, int]) -> dict[str, Reading]:
    found = dict.fromkeys(engine.METRICS, NO_DATA)
    for key, (value, sample) in values.items():
        found[key] = Reading(value, selectors.metric_text(key, value), sample)
    return found


@pytest.fixture
def metrics_by_team(monkeypatch):
    """Set each team's readings per window by name: name → list of readings (one per window asked; the last one
    given repeats). Teams not named have no data."""
    table: dict[str, list[dict[str, Reading]]] = {}

    def fake(team, windows, *, now, tree=None):
        given = table.get(team.name, [readings()])
        return [given[min(n, len(given) - 1)] for n in range(len(list(windows)))]

    monkeypatch.setattr(selectors, "team_readings", fake)
    return table


def squad_waves(org, first: list[int], second: list[int], prefix: str = "Squad"):
    """Squads under Engineering, each answering 4 responses a wave, ``first[n]`` / ``second[n]`` of them
    favourable on ci_fast; two closed waves of one series."""
    squads = make_squads(org, len(first), prefix)
    waves = []
    for favourable, series, number in ((first, None, 1), (second, "same", 2)):
        campaign = open_wave(org) if series is None else open_wave(org, series=waves[0].series, wave=number)
        for team, good in zip(squads, favourable, strict=True):
            bulk_responses(campaign, team, good, (5, 1, 4, 9, "Backend", ""))
            bulk_responses(campaign, team, 4 - good, (1, 5, 2, 3, "Backend", ""))
        waves.append(close(campaign))
    return squads, waves


def squads_refreshed(org, metrics_by_team, count: int):
    """``count`` squads with shown scores and a failure rate falling as their score rises; Search (2 responses,
    fewer than k) with a failure rate of its own; refreshed."""
    favourable = [n % 5 for n in range(count)]
    squads, _ = squad_waves(org, favourable, favourable)
    for n, team in enumerate(squads):
        metrics_by_team[team.name] = [readings(pipeline_failure_rate=(0.5 - 0.1 * favourable[n] + 0.001 * n, 50))]
    metrics_by_team["Search"] = [readings(pipeline_failure_rate=(0.777, 50))]
    services.insights_refresh(days=90)
    return squads
