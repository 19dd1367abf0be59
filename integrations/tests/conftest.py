"""The integrations tests' shared fixtures: the loopback GitHub (``fake_github``)."""

from integrations.tests.fake_github import serve_fake_github  # noqa: F401 - the fake_github fixture
