"""The actions tests' loopback servers: Slack (``fake_slack``), a Teams workflow (``fake_teams``), a
signed-webhook receiver (``fake_receiver``) and SMTP (``fake_smtp``)."""

from actions.tests.fake_receiver import fake_receiver  # noqa: F401 - a fixture
from actions.tests.fake_slack import fake_slack  # noqa: F401 - a fixture
from actions.tests.fake_smtp import fake_smtp  # noqa: F401 - a fixture
from actions.tests.fake_teams import fake_teams  # noqa: F401 - a fixture
