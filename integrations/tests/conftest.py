"""The integrations tests' shared fixtures: the loopback GitHub (``fake_github``) and PagerDuty (``fake_pagerduty``)."""

from integrations.tests.fake_github import serve_fake_github  # noqa: F401 - the fake_github fixture
from integrations.tests.fake_pagerduty import serve_fake_pagerduty  # noqa: F401 - the fake_pagerduty fixture
