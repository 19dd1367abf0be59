"""A failed GitHub Actions run, stored as e360 stores it and known to the loopback GitHub: what the self-service
action tests (views and browser) act on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integrations.tests.factories import ConnectionFactory
from integrations.tests.fake_github import TOKEN, FakeGitHub
from metrics.models import PipelineRun
from metrics.tests.factories import PipelineRunFactory, RepositoryFactory


def github_connection(fake_github: FakeGitHub, team):
    return ConnectionFactory(
        source__name="GitHub acme",
        source__team=team,
        api_url=fake_github.url,
        api_token=TOKEN,
        repositories=["acme/checkout"],
    )


def failed_run(fake_github: FakeGitHub, connection, service, *, attempt: int = 1, finished: datetime | None = None):
    """A failed run of ``CI`` on acme/checkout, on GitHub and in e360 (``external_id``: ``<run id>/<attempt>``)."""
    finished = finished or datetime.now(UTC) - timedelta(hours=3)
    remote = fake_github.add_run(
        fake_github.repo("acme/checkout"),
        created=finished - timedelta(minutes=7),
        conclusion="failure",
        attempt=attempt,
    )
    return PipelineRunFactory(
        source=connection.source,
        external_id=f"{remote['id']}/{attempt}",
        service=service,
        repository=RepositoryFactory(name="acme/checkout", service=service),
        workflow="CI",
        sha="c0ffee" + "0" * 34,
        status=PipelineRun.Status.FAILURE,
        attempt=attempt,
        finished_at=finished,
        url=remote["html_url"],
    )
