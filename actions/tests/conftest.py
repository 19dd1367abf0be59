"""Fixtures of the actions tests: the delivery pages' clock and history (metrics/tests/histories.py) and the survey
results tests' organisation and closed campaign (surveys/tests/waves.py)."""

from metrics.tests.histories import history, now  # noqa: F401
from surveys.tests.waves import closed, org  # noqa: F401
