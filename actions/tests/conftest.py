"""The actions tests' loopback servers: Slack (``fake_slack``), a Teams workflow (``fake_teams``), a
signed-webhook receiver (``fake_receiver``), SMTP (``fake_smtp``), and GitHub with its logs archive host
(integrations/tests/fake_github.py)."""

from actions.tests.fake_receiver import fake_receiver  # noqa: F401 - a fixture
from actions.tests.fake_slack import fake_slack  # noqa: F401 - a fixture
from actions.tests.fake_smtp import fake_smtp  # noqa: F401 - a fixture
from actions.tests.fake_teams import fake_teams  # noqa: F401 - a fixture
from integrations.tests.fake_github import serve_fake_github, serve_logs_archive  # noqa: F401 - fixtures
