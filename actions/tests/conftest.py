"""The actions tests' fixtures: the loopback GitHub and its logs archive host (integrations/tests/fake_github.py)."""

from integrations.tests.fake_github import serve_fake_github, serve_logs_archive  # noqa: F401 - fixtures
