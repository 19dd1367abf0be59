"""The actions demo (``actions/demo.py``): its threshold, automations and reminder policy on the small demo
organisation, run by the real engine into the Demo outbox.

The catalog and its delivery history (linked and rolled up for real, as ``seed_demo`` does) are seeded once for the
module; the actions demo then runs in savepoints, read back as plain data and rolled back: at the demo's midnight
(outside working time), once more at the same moment (the same rows), and at 11:00 the same day (working time).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction

from actions.demo import OUTBOX, seed
from actions.models import Automation, AutomationRun, Channel, OutboxMessage, Reminder, ReminderPolicy, Threshold
from e360.demo import SIZES, DemoOrg, build_org, catalog_clear, demo_now, save_org, team_scenarios
from e360.models import Person
from metrics.demo import seed as seed_delivery

# The tests ask for the database, so that pytest-django sets it up before the module's fixture.
pytestmark = pytest.mark.django_db

NOW = demo_now(datetime(2026, 11, 20, tzinfo=UTC).date())  # a Friday, midnight UTC: the teams (UTC, 9 to 17) rest
AT_WORK = NOW + timedelta(hours=11)


def _key(text: str) -> str:
    """A key or text without the database ids that differ from one seeding to the next."""
    return re.sub(r"(automation-|threshold-|message |/thresholds/)\d+", r"\1N", text)


def read_back(summary: str) -> dict[str, Any]:
    return {
        "summary": _key(summary),
        "channels": list(Channel.objects.values_list("name", "kind", "team_id")),
        "thresholds": list(
            Threshold.objects.values_list(
                "name", "metric", "scope", "team__name", "comparison", "value", "window_days", "is_firing", "crossings"
            )
        ),
        "events": [
            (_key(e.key), e.kind, e.at, round(e.value, 6))
            for t in Threshold.objects.all()
            for e in t.events.order_by("at")
        ],
        "automations": list(
            Automation.objects.values_list(
                "name", "team__name", "trigger", "quiet_hours", "channel__name", "created_at"
            )
        ),
        "runs": [
            (r.automation.trigger, _key(r.dedupe_key), r.status, r.not_before, r.inputs["title"], _key(r.response))
            for r in AutomationRun.objects.select_related("automation").order_by("automation__name", "dedupe_key")
        ],
        "policies": list(
            ReminderPolicy.objects.values_list(
                "team__name", "after_hours", "again_after_hours", "holdout_percent", "recipients", "channel__name"
            )
        ),
        "reminders": [
            (r.pull_request_id, r.round, r.status, r.held_out, r.due_at, tuple(r.reviewers), r.why)
            for r in Reminder.objects.order_by("pull_request_id")
        ],
        "authors": dict(Reminder.objects.values_list("pull_request_id", "pull_request__person_id")),
        "outbox": sorted(
            (m.channel.name, m.kind, m.dry_run, m.recipient, m.title, m.text, _key(m.dedupe_key))
            for m in OutboxMessage.objects.select_related("channel")
            if not m.dedupe_key.startswith("reminders:")  # keyed by the reminders' ids
        )
        + sorted(
            (m.channel.name, m.kind, m.dry_run, m.recipient, m.title, m.text, "reminders")
            for m in OutboxMessage.objects.select_related("channel")
            if m.dedupe_key.startswith("reminders:")
        ),
        "run_keys": {
            f"automation-{r.automation_id}:{r.dedupe_key}": r.status for r in AutomationRun.objects.order_by("pk")
        },
        "outbox_keys": set(OutboxMessage.objects.values_list("dedupe_key", flat=True)),
        "reviewers": dict(Person.objects.values_list("pk", "name")),
    }


IDS = ("run_keys", "outbox_keys")  # keys naming database ids (PostgreSQL's sequences do not roll back)


@dataclasses.dataclass(frozen=True)
class Demo:
    org: DemoOrg
    night: dict[str, Any]
    again: dict[str, Any]
    at_work: dict[str, Any]


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Demo:
    with django_db_blocker.unblock(), transaction.atomic():
        org = build_org(size=SIZES["small"], seed=1, now=NOW)
        save_org(org)
        seed_delivery(org)
        found = {}
        for name, now in (("night", NOW), ("again", NOW), ("at_work", AT_WORK)):
            with transaction.atomic():
                found[name] = read_back(seed(dataclasses.replace(org, now=now)))
                transaction.set_rollback(True)
        transaction.set_rollback(True)
    return Demo(org, **found)


def test_it_configures_a_threshold_two_automations_and_a_reminder_policy_on_the_story_s_teams(demo):
    scenarios = team_scenarios(demo.org.teams)
    # The first team of each scenario, by how the demo defines them: Checkout and Search in the small organisation.
    assert scenarios[next(t.slug for t in demo.org.teams if t.name == "Checkout")] == "flaky-ci"
    assert scenarios[next(t.slug for t in demo.org.teams if t.name == "Search")] == "slow-reviews"
    night = demo.night
    assert night["channels"] == [(OUTBOX, Channel.Kind.OUTBOX, None)]
    [threshold] = night["thresholds"]
    assert threshold[0] == "Checkout pipeline failures above 20%"
    assert threshold[1:5] == ("pipeline_failure_rate", "team_subtree", "Checkout", "gt")
    assert threshold[5:] == (20, 14, True, 1)  # > 20 % over 14 days; firing, once
    assert [(a[0], a[1], a[2], a[3], a[4]) for a in night["automations"]] == [
        ("Checkout: pipeline failures alert", "Checkout", "threshold_crossed", False, OUTBOX),
        ("Search: pull requests waiting for review", "Search", "pull_request_waiting", True, OUTBOX),
    ]
    assert {a[5] for a in night["automations"]} == {NOW - timedelta(days=7)}  # configured a week ago
    assert night["policies"] == [("Search", 8, 8, 10, "reviewers_dm", OUTBOX)]


def test_the_threshold_fires_once_and_its_automation_s_message_is_in_the_outbox(demo):
    night = demo.night
    [(key, kind, at, value)] = night["events"]
    assert (key, kind, at) == ("threshold-N-1-crossed", "crossed", NOW) and value > 20
    alert = [run for run in night["runs"] if run[0] == "threshold_crossed"]
    assert alert == [
        (
            "threshold_crossed",
            "threshold-N-1-crossed",
            AutomationRun.Status.SENT,
            None,
            f"Checkout pipeline failures above 20% crossed: {value:.4g}%",
            "kept in the outbox (message N), to the outbox",
        )
    ]
    message = next(m for m in night["outbox"] if m[4] == alert[0][4])
    assert message[:4] == (OUTBOX, Channel.Kind.OUTBOX, False, "the outbox")
    assert "Pipeline failure rate > 20% over 14 days, for Checkout and its sub-teams" in message[5]
    assert "CI Infrastructure is on call" in message[5]  # the automation's note


def test_the_waiting_pull_requests_wait_for_working_time_at_night_and_are_sent_in_it(demo):
    night = [run for run in demo.night["runs"] if run[0] == "pull_request_waiting"]
    assert len(night) >= 2
    friday_nine = NOW + timedelta(hours=9)
    assert {(run[2], run[3], run[5]) for run in night} == {(AutomationRun.Status.WAITING, friday_nine, "")}
    assert all(run[1].startswith("pull-request:") and "waits for a first review" in run[4] for run in night)
    assert not any("waits for a first review" in m[4] for m in demo.night["outbox"])

    day = [run for run in demo.at_work["runs"] if run[0] == "pull_request_waiting"]
    assert {run[1] for run in night} <= {run[1] for run in day}  # at 11:00 those and any that fell due since
    assert {run[2] for run in day} == {AutomationRun.Status.SENT}
    # Each run's message is in the outbox under the run's idempotency key.
    sent = {key for key, status in demo.at_work["run_keys"].items() if status == AutomationRun.Status.SENT}
    assert sent and sent <= demo.at_work["outbox_keys"]
    assert sum("waits for a first review" in m[4] for m in demo.at_work["outbox"]) == len(day)


def test_review_reminders_are_recorded_at_the_last_tick_at_work_and_sent_to_each_reviewer(demo):
    thursday_last_tick = NOW - timedelta(hours=7, minutes=15)  # 16:45, the last tick before 17:00
    for found, due_at in ((demo.night, thursday_last_tick), (demo.at_work, AT_WORK)):
        reminders = found["reminders"]
        assert len(reminders) >= 3
        assert {r[4] for r in reminders} == {due_at}  # Thursday's last tick at night; Friday 11:00 at work
        assert {(r[2], r[3]) for r in reminders} <= {("sent", False), ("held_out", True)}
        assert all(r[1] == 1 and r[6].startswith("No first review after") for r in reminders)
        # One direct message per reviewer (the outbox stands in for Slack), never to the pull request's author.
        reviewers = {person for r in reminders if not r[3] for person in r[5]}
        dms = [m for m in found["outbox"] if m[6] == "reminders"]
        assert sorted(m[3].split(" <")[0] for m in dms) == sorted(found["reviewers"][p] for p in reviewers)
        assert all(found["authors"][r[0]] not in r[5] for r in reminders)
        assert all(m[4].endswith("waiting for a first review") for m in dms)


def test_the_summary_says_what_ran(demo):
    assert re.fullmatch(
        r"a threshold on Checkout \(fired at [\d.]+%\), 2 automations \(1 sent, \d+ waiting for working time\), "
        r"review reminders for Search \((\d+ held out, )?\d+ sent\); \d+ messages in the Demo outbox",
        demo.night["summary"],
    )
    assert re.search(r"2 automations \(\d+ sent\)", demo.at_work["summary"])


def test_the_same_organisation_and_moment_give_the_same_rows(demo):
    def rows(found: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in found.items() if name not in IDS}

    assert rows(demo.again) == rows(demo.night)
    assert rows(demo.at_work) != rows(demo.night)


def test_a_second_demo_replaces_the_first_s_outbox(db):
    # The catalog alone (no delivery data: nothing fires, nobody is due), then loaded again as seed_demo --replace does.
    first = build_org(size=SIZES["small"], seed=1, now=NOW)
    save_org(first)
    assert seed(first) == (
        "a threshold on Checkout (not fired), 2 automations (none), review reminders for Search (none); "
        "0 messages in the Demo outbox"
    )
    OutboxMessage.objects.create(channel=Channel.objects.get(name=OUTBOX), kind="outbox", recipient="x", title="old")
    catalog_clear()
    second = build_org(size=SIZES["small"], seed=2, now=NOW)
    save_org(second)

    seed(second)

    assert Channel.objects.get().name == OUTBOX and not OutboxMessage.objects.exists()
    assert Automation.objects.count() == 2 and ReminderPolicy.objects.count() == 1 and Threshold.objects.count() == 1
