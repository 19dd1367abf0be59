"""Fixtures for the insights tests: the survey results tests' organisation and its closed campaign
(surveys/tests/waves.py), and the metric readings set per team by hand (insights/tests/squads.py)."""

from insights.tests.squads import metrics_by_team  # noqa: F401
from surveys.tests.waves import closed, org  # noqa: F401
