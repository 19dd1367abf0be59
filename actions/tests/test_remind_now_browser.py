"""“Remind reviewers now” in Chromium: on a team's review queue, a member reminds a waiting pull request's
reviewers (confirmed, the result in place, the outbox holding a message per reviewer), then a lead reminds every
late pull request of the team, the held-out one left out. Under the strict CSP, with a clean console and no
serious accessibility violation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from actions import reminders
from actions.models import Channel, OutboxMessage, Reminder, ReminderPolicy
from actions.tests.factories import ChannelFactory
from e360.tests.browser import axe_violations, sign_in
from metrics.tests.factories import PullRequestFactory, SourceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_reviewers_are_reminded_from_the_review_queue(page, page_problems, live_server, owner, teammate, service):
    source = SourceFactory(name="github", team=service.owner, kind="github")
    outbox = ChannelFactory(kind=Channel.Kind.OUTBOX, name="Payments outbox")
    policy = ReminderPolicy.objects.create(team=service.owner, channel=outbox, holdout_percent=50)
    opened = timezone.now() - timedelta(days=3)
    pulls, held = [], None
    for n in range(200):
        external_id = f"pr-{n}"
        out = reminders.is_held_out(50, policy.pk, source.pk, external_id)
        if out and held is None:
            held = PullRequestFactory(source=source, service=service, external_id=external_id, opened_at=opened)
        elif not out and len(pulls) < 2:
            pulls.append(PullRequestFactory(source=source, service=service, external_id=external_id, opened_at=opened))
        if held is not None and len(pulls) == 2:
            break
    assert held is not None

    page.goto("/teams/payments/reviews/")
    sign_in(page, "bob@example.com")
    first = page.locator(f"[data-pr-actions='{pulls[0].pk}']")
    expect(first.get_by_role("link", name="Remind reviewers now")).to_be_visible()
    expect(page.locator(f"[data-pr-actions='{held.pk}']")).to_contain_text("only a lead of Payments may remind it")
    page.wait_for_load_state("networkidle")
    assert axe_violations(page) == []

    page.evaluate("window.__samePage = true")
    first.get_by_role("link", name="Remind reviewers now").click()
    expect(first).to_contain_text("now, through Payments outbox")
    assert not OutboxMessage.objects.exists()  # asked, not done
    first.get_by_role("button", name="Remind reviewers now").click()
    expect(first.get_by_role("status")).to_have_text(
        "Reminded the reviewers of 1 pull request through Payments outbox."
    )
    assert page.evaluate("window.__samePage") is True
    assert OutboxMessage.objects.count() == 2  # Alice and Bob

    # The lead reminds the team's late ones: the other one, not the held-out one.
    page.context.clear_cookies()
    page.goto("/teams/payments/reviews/")
    sign_in(page, "alice@example.com")
    team = page.locator(".remind-actions--team")
    team.get_by_role("link", name="Remind all late pull requests of Payments").click()
    expect(team).to_contain_text("1 in the holdout is left out")
    expect(team).to_contain_text("1 reminded within the hour is left out")
    team.get_by_role("button", name="Remind 1").click()
    expect(team.get_by_role("status")).to_have_text(
        "Reminded the reviewers of 1 pull request through Payments outbox "
        "(1 in the holdout left out; 1 reminded within the hour left out)."
    )
    assert held.pk not in Reminder.objects.filter(requested_by="alice@example.com").values_list(
        "pull_request_id", flat=True
    )
    page_problems.assert_none()
