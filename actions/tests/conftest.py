"""The actions tests' fixtures: loopback Slack (``fake_slack``), a Teams workflow (``fake_teams``), a
signed-webhook receiver (``fake_receiver``), SMTP (``fake_smtp``), GitHub with its logs archive host
(integrations/tests/fake_github.py); the initiatives' teams and their review histories
(initiative_histories.py); a reminder policy with a holdout (holdout_data.py); the delivery pages' clock and
history (metrics/tests/histories.py) and the survey results tests' organisation and closed campaign
(surveys/tests/waves.py)."""

from actions.tests.fake_receiver import fake_receiver  # noqa: F401 - a fixture
from actions.tests.fake_slack import fake_slack  # noqa: F401 - a fixture
from actions.tests.fake_smtp import fake_smtp  # noqa: F401 - a fixture
from actions.tests.fake_teams import fake_teams  # noqa: F401 - a fixture
from actions.tests.holdout_data import policy  # noqa: F401 - a fixture
from actions.tests.initiative_histories import review_source, review_teams  # noqa: F401 - fixtures
from integrations.tests.fake_github import serve_fake_github, serve_logs_archive  # noqa: F401 - fixtures
from metrics.tests.histories import history, now  # noqa: F401
from surveys.tests.waves import closed, org  # noqa: F401
