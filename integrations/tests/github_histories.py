"""A repository's history on the loopback GitHub, and the same history delivered as GitHub's webhook
events, so that a backfill's figures can be compared with the webhooks' (for the GitHub tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integrations.models import Connection
from integrations.tests.fake_github import FakeGitHub
from integrations.tests.github import deliver

NOW = datetime.now(UTC).replace(microsecond=0)


def same_history(fake: FakeGitHub, name: str) -> None:
    """Merged pull requests with reviews and commits, successful and failed production deployments
    (one failure recovered), runs that fail and pass, over the last weeks: the same for any ``name``."""
    repo = fake.repo(name)
    for number in range(1, 7):
        opened = NOW - timedelta(days=20 - 2 * number, hours=number)
        fake.add_pull(
            repo,
            number=number,
            opened=opened,
            merged=opened + timedelta(hours=6 + number),
            reviews=(
                ("reviewer", "COMMENTED", opened + timedelta(hours=1)),
                ("lead", "APPROVED", opened + timedelta(hours=3 + number)),
            ),
            commits=(opened - timedelta(hours=2 * number),),
            additions=10 * number,
            deletions=number,
        )
    for days, state in ((15, "success"), (11, "failure"), (10, "success"), (6, "success"), (2, "error")):
        fake.add_deployment(repo, created=NOW - timedelta(days=days, hours=1), state=state)
    for hours, conclusion in ((200, "success"), (150, "failure"), (149, "success"), (90, "failure"), (20, "success")):
        fake.add_run(repo, created=NOW - timedelta(hours=hours), conclusion=conclusion)


def deliver_as_webhooks(client, connection: Connection, fake: FakeGitHub, name: str, capture) -> None:
    """GitHub's webhook events for the repository's history, in the order they happened."""
    repo = fake.repos[name]
    repository = repo.summary()
    events = []
    for pull in repo.pulls:
        number = pull["number"]
        full = {**pull, **repo.sizes[number]}
        opened = {**full, "state": "open", "merged_at": None, "closed_at": None, "merge_commit_sha": None}
        events.append((pull["created_at"], "pull_request", {"action": "opened", "pull_request": opened}))
        for review in repo.reviews[number]:
            body = {"action": "submitted", "review": review, "pull_request": opened}
            events.append((review["submitted_at"], "pull_request_review", body))
        events.append((pull["merged_at"], "pull_request", {"action": "closed", "pull_request": full}))
    for deployment in repo.deployments:
        for status in reversed(repo.statuses[deployment["id"]]):  # oldest first
            body = {"action": "created", "deployment_status": status, "deployment": deployment}
            events.append((status["created_at"], "deployment_status", body))
    for run in repo.runs:
        events.append((run["updated_at"], "workflow_run", {"action": "completed", "workflow_run": run}))
    for index, (_, event, body) in enumerate(sorted(events, key=lambda e: e[0])):
        with capture(execute=True):
            response = deliver(client, connection, event, {**body, "repository": repository}, delivery=f"d-{index}")
        assert response.status_code == 202, response.content


def figures(service) -> dict:
    from metrics.api_metrics import summary_json
    from metrics.rollups.figures import Figures
    from metrics.scope import service_scope
    from metrics.selectors import default_window

    scope = service_scope(service)
    window = default_window(scope.profile, days=30)
    summary = Figures(scope, [window], scope.profile).summary(window)
    return summary_json(summary, summary)
