"""The reminders' holdout measured (actions/holdout.py): arms as assigned, first reminders only, a week's horizon,
pull requests reminded by hand left out, the words, and the policy page's report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from actions import holdout
from actions.tests.holdout_data import NOW, remind

pytestmark = pytest.mark.django_db


def test_the_arms_compare_hours_to_pickup(policy, service):
    for hours in range(10, 30):
        remind(policy, service, hours=hours, held_out=True)  # held out: 10..29 h, median 19.5
    for hours in range(2, 22):
        remind(policy, service, hours=hours)  # reminded: 2..21 h, median 11.5
    measured = holdout.holdout_measure([policy.pk], now=NOW)
    result = measured.comparison
    assert (result.n_before, result.n_after) == (20, 20)
    assert result.median_before.value == pytest.approx(19.5)
    assert result.median_after.value == pytest.approx(11.5)
    assert result.median_change.value == pytest.approx(-8.0)
    assert result.median_change.high < 0
    assert measured.words.startswith("Reminded pull requests were picked up 8.0 h sooner at the median")


def test_a_pull_request_never_picked_up_counts_as_the_horizon(policy, service):
    for _ in range(10):
        remind(policy, service, hours=None, held_out=True)
        remind(policy, service, hours=None)
    result = holdout.holdout_measure([policy.pk], now=NOW).comparison
    assert result.median_before.value == result.median_after.value == 7 * 24


def test_only_first_reminders_due_a_week_ago_and_not_reminded_by_hand_are_read(policy, service):
    remind(policy, service, hours=5)
    remind(policy, service, hours=5, due=NOW - timedelta(days=3))  # not watched a whole week yet
    second = remind(policy, service, hours=5)
    remind(policy, service, hours=5, round=2, pull=second.pull_request)  # a second round: not another sample
    by_hand = remind(policy, service, hours=5, held_out=True)
    remind(policy, service, hours=1, round=2, requested_by="paula@example.com", pull=by_hand.pull_request)
    measured = holdout.holdout_measure([policy.pk], now=NOW)
    assert (measured.comparison.n_before, measured.comparison.n_after, measured.by_hand) == (0, 2, 1)


def test_too_few_says_so_instead_of_a_number(policy, service):
    remind(policy, service, hours=5, held_out=True)
    remind(policy, service, hours=3)
    measured = holdout.holdout_measure([policy.pk], now=NOW)
    assert measured.comparison.median_change is None
    assert measured.words.startswith("Too few pull requests to tell yet (1 reminded, 1 held out")


def test_the_policy_page_reports_its_holdout(client, owner, policy, service):
    for hours in range(10, 30):
        remind(policy, service, hours=hours, held_out=True)
        remind(policy, service, hours=hours - 8)
    client.force_login(owner)
    response = client.get(reverse("actions:reminder-edit", args=[policy.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "What the holdout shows" in text
    assert "picked up 8.0 h sooner at the median" in text


def test_a_policy_without_a_holdout_shows_no_report(client, owner, policy, service):
    remind(policy, service, hours=3)
    client.force_login(owner)
    response = client.get(reverse("actions:reminder-edit", args=[policy.pk]))
    assert "What the holdout shows" not in response.content.decode()
