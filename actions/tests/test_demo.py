"""The actions demo (``actions/demo.py``): its threshold, automations and reminder policy on the small demo
organisation, run by the real engine into the Demo outbox.

The catalog and its delivery history (linked and rolled up for real, as ``seed_demo`` does) are seeded once for the
module; the actions demo then runs in savepoints, read back as plain data and rolled back: at the demo's midnight
(outside working time), once more at the same moment (the same rows), and at 11:00 the same day (working time).
The delivery history and the survey waves come first, as ``seed_demo`` runs them; the metrics of the initiatives'
windows are read once, the way their baselines are read (``threshold_metrics.before``).
"""

from __future__ import annotations

import dataclasses
import re
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction

from actions import threshold_metrics
from actions.demo import OUTBOX, seed
from actions.initiative_report import initiative_report
from actions.models import (
    Automation,
    AutomationRun,
    Channel,
    Initiative,
    OutboxMessage,
    Reminder,
    ReminderPolicy,
    Threshold,
)
from actions.models.thresholds import ScopeKind
from actions.threshold_metrics import METRICS, Subject
from e360.demo import (
    REVIEW_REMINDERS,
    SIZES,
    STABILISE_CI,
    CatalogInUse,
    DemoOrg,
    StoryInitiative,
    build_org,
    catalog_clear,
    demo_now,
    save_org,
    team_scenarios,
)
from e360.models import Membership, Person, Team
from metrics.demo import seed as seed_delivery
from metrics.models import PullRequest
from surveys.demo import seed as seed_surveys

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
        "estimates": {
            i.name: initiative_report(i, now=NOW).metrics[0].estimate for i in Initiative.objects.order_by("name")
        },
        "initiatives": [
            {
                "name": i.name,
                "dimension": i.dimension,
                "hypothesis": i.hypothesis,
                "owner": i.owner.username if i.owner else None,
                "starts_on": i.starts_on,
                "primary_metrics": i.primary_metrics,
                "survey_dimension": i.survey_dimension,
                "guardrail": (i.guardrail_metric, i.guardrail_worse_when),
                "ramp_up_days": i.ramp_up_days,
                "window_days": i.window_days,
                "teams": [(t.team.name, t.starts_on, t.baseline_at) for t in i.targets.select_related("team")],
                "automations": sorted(i.automations.values_list("name", flat=True)),
                "thresholds": sorted(i.thresholds.values_list("name", flat=True)),
                "reminder_policies": sorted(i.reminder_policies.values_list("team__name", flat=True)),
                "created_at": i.created_at,
                "frozen_at": i.frozen_at,
                "frozen": i.frozen,
            }
            for i in Initiative.objects.order_by("starts_on")
        ],
        "leads": {
            m.team.name: m.person.user.username if m.person.user else None
            for m in Membership.objects.filter(role="lead", team__name__in=["Search", "Checkout"]).select_related(
                "team", "person__user"
            )
        },
    }


IDS = ("run_keys", "outbox_keys")  # keys naming database ids (PostgreSQL's sequences do not roll back)


# (story, metric) → team name → (value over the window before the start, value over the window ending at NOW).
type Windows = dict[tuple[str, str], dict[str, tuple[float | None, float | None]]]


def read_windows() -> Windows:
    """Each team's metric over an initiative's before window and its after window (from the end of the ramp-up, as
    long), read as the baselines are; a survey dimension's: the latest wave closed before the start, and by NOW."""
    found: Windows = {}
    for story, key in (
        (REVIEW_REMINDERS, "pickup_time"),
        (REVIEW_REMINDERS, "survey.code_review"),
        (STABILISE_CI, "pipeline_failure_rate"),
    ):
        start = story.starts_on(NOW)
        after_end = NOW.date() if key.startswith("survey.") else start + timedelta(story.ramp_days + story.window_days)
        values = {}
        for team in Team.objects.filter(kind=Team.Kind.TEAM):
            subject = Subject(METRICS[key], ScopeKind.TEAM_SUBTREE, team, None, story.window_days)
            before = threshold_metrics.before(subject, start, NOW).value
            values[team.name] = (before, threshold_metrics.before(subject, after_end, NOW).value)
        found[(story.key, key)] = values
    return found


def weekly_pickup(story: StoryInitiative) -> dict[str, dict[int, float]]:
    """Team name → week from the start (0: the start's week) → the median pickup time in hours of the pull requests
    merged that week."""
    start = story.start(NOW)
    hours: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    merged = PullRequest.objects.filter(merged_at__isnull=False, first_review_at__isnull=False)
    for pr in merged.select_related("service__owner").only(
        "service__owner__name", "merged_at", "opened_at", "first_review_at"
    ):
        assert pr.merged_at is not None and pr.first_review_at is not None and pr.service is not None
        week = (pr.merged_at - start) // timedelta(days=7)
        hours[pr.service.owner.name][week].append((pr.first_review_at - pr.opened_at) / timedelta(hours=1))
    return {team: {week: statistics.median(v) for week, v in weeks.items()} for team, weeks in hours.items()}


@dataclasses.dataclass(frozen=True)
class Demo:
    org: DemoOrg
    night: dict[str, Any]
    again: dict[str, Any]
    at_work: dict[str, Any]
    windows: Windows
    weekly: dict[str, dict[int, float]]


def _first_policy_id_is_one() -> None:
    """As on a fresh database: the holdout hashes the policy's id, which PostgreSQL's sequences would not roll back
    with the seeding (SQLite's ids do)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('actions_reminderpolicy', 'id'), 1, false)")


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Demo:
    with django_db_blocker.unblock(), transaction.atomic():
        org = build_org(size=SIZES["small"], seed=1, now=NOW)
        save_org(org)
        seed_delivery(org)
        seed_surveys(org)
        windows, weekly = read_windows(), weekly_pickup(REVIEW_REMINDERS)
        found = {}
        for name, now in (("night", NOW), ("again", NOW), ("at_work", AT_WORK)):
            with transaction.atomic():
                _first_policy_id_is_one()
                found[name] = read_back(seed(dataclasses.replace(org, now=now)))
                transaction.set_rollback(True)
        transaction.set_rollback(True)
    return Demo(org, windows=windows, weekly=weekly, **found)


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
    assert len(night) >= 1  # few: Search's review reminders have cut its waits (the initiative that worked)
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
        r"review reminders for Search \((\d+ held out, )?\d+ sent\); \d+ messages in the Demo outbox; "
        r"2 initiatives \(“Review reminders for Search” frozen, pickup time before: [\d.]+ hours, "
        r"“Stabilise Checkout's CI” frozen, pipeline failure rate before: [\d.]+%\)",
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
        "0 messages in the Demo outbox; 2 initiatives (“Review reminders for Search” frozen, pickup time before: "
        "no value, “Stabilise Checkout's CI” frozen, pipeline failure rate before: no value)"
    )
    OutboxMessage.objects.create(channel=Channel.objects.get(name=OUTBOX), kind="outbox", recipient="x", title="old")
    catalog_clear()
    second = build_org(size=SIZES["small"], seed=2, now=NOW)
    save_org(second)

    seed(second)

    assert Channel.objects.get().name == OUTBOX and not OutboxMessage.objects.exists()
    assert Automation.objects.count() == 2 and ReminderPolicy.objects.count() == 1 and Threshold.objects.count() == 1
    # The first demo's initiatives, which protect its teams, went before its catalog (its actions demo's clear()).
    assert Initiative.objects.count() == 2
    assert set(Initiative.objects.values_list("targets__team__slug", flat=True)) <= {t.slug for t in second.teams}


def test_a_catalog_in_use_by_another_initiative_is_not_deleted(db):
    """Only the demo's initiatives are the demo's to delete: one made in the admin keeps its team, and the catalog."""
    org = build_org(size=SIZES["small"], seed=1, now=NOW)
    save_org(org)
    seed(org)
    search = Team.objects.get(name="Search")
    mine = Initiative.objects.create(
        name="Pairing on reviews", dimension="code_review", hypothesis="…", starts_on=NOW.date() + timedelta(days=7)
    )
    mine.targets.create(team=search)

    with pytest.raises(CatalogInUse, match="InitiativeTeam"):
        catalog_clear()  # all or nothing: the demo's initiatives are back too

    assert Team.objects.filter(pk=search.pk).exists() and Initiative.objects.count() == 3


# --- The initiatives: one that worked, one that did not ------------------------------------------------------------


def test_two_initiatives_are_started_on_the_story_s_teams_and_frozen_with_their_baselines(demo):
    worked, failed = demo.night["initiatives"]
    search, checkout = (next(t for t in demo.org.teams if t.name == name) for name in ("Search", "Checkout"))
    assert worked["name"] == "Review reminders for Search"
    assert (worked["dimension"], worked["survey_dimension"], worked["primary_metrics"]) == (
        "code_review",
        "code_review",
        ["pickup_time"],
    )
    assert worked["guardrail"] == ("change_failure_rate", "rises")
    # Before the survey's second wave opened (17 August), after the first closed.
    assert worked["starts_on"] == date(2026, 8, 7) == (NOW - timedelta(weeks=15)).date()
    assert (worked["ramp_up_days"], worked["window_days"]) == (14, 70)
    assert worked["reminder_policies"] == ["Search"]
    assert worked["automations"] == ["Search: pull requests waiting for review"]
    assert failed["name"] == "Stabilise Checkout's CI"
    assert (failed["dimension"], failed["primary_metrics"]) == ("ci_cd", ["pipeline_failure_rate"])
    assert failed["guardrail"] == ("change_failure_rate", "rises")
    assert failed["starts_on"] == date(2026, 8, 14) == (NOW - timedelta(weeks=14)).date()
    assert (failed["ramp_up_days"], failed["window_days"]) == (14, 70)
    assert failed["thresholds"] == ["Checkout pipeline failures above 20%"]
    assert failed["automations"] == ["Checkout: pipeline failures alert"]
    # Owned by each team's lead, who got a demo account for it.
    assert worked["owner"] == demo.night["leads"]["Search"] is not None
    assert failed["owner"] == demo.night["leads"]["Checkout"] is not None

    for initiative, team in ((worked, search), (failed, checkout)):
        assert initiative["created_at"] < datetime.combine(initiative["starts_on"], datetime.min.time(), UTC)
        assert initiative["teams"] == [(team.name, None, NOW)]
        assert initiative["frozen_at"] == NOW
        definitions, baselines = initiative["frozen"]["definitions"], initiative["frozen"]["baselines"]
        assert definitions["starts_on"] == initiative["starts_on"].isoformat()
        assert [m["key"] for m in definitions["primary_metrics"]] == initiative["primary_metrics"]
        [baseline] = baselines.values()
        assert baseline["team"] == team.name and baseline["starts_on"] == initiative["starts_on"].isoformat()
        assert baseline["window"]["end"] == f"{initiative['starts_on'].isoformat()}T00:00:00+00:00"
        key = initiative["primary_metrics"][0]
        # The baseline is the metric over the window before the start, as read for the page's comparison.
        assert baseline["values"][key] == pytest.approx(demo.windows[(_story(initiative), key)][team.name][0])
        assert baseline["values"]["change_failure_rate"] is not None
        # The survey's first wave: the team answered (k or more), so its score is shown.
        assert baseline["values"][f"survey.{initiative['survey_dimension']}"] is not None


def _story(initiative: dict[str, Any]) -> str:
    return REVIEW_REMINDERS.key if initiative["dimension"] == "code_review" else STABILISE_CI.key


def test_search_s_pickup_time_falls_after_the_reminders_and_comparable_teams_stay_flat(demo):
    pickup = demo.windows[(REVIEW_REMINDERS.key, "pickup_time")]
    before, after = pickup["Search"]
    assert before > 24 and after < 0.65 * before  # the planted 40 % fall, and then some (weekends stay weekends)
    fall = before - after
    scenarios = {team.name: scenario for team, scenario in _scenarios(demo.org).items()}
    # The comparison rule's teams (the same level, a baseline within a factor of 2: the other slow-review team)
    # barely move, nor do the rest but the improving team (its own story: it improves throughout).
    similar = [name for name, (b, _) in pickup.items() if name != "Search" and before / 2 <= b <= before * 2]
    assert similar == ["Machine Learning"]
    for name, (b, a) in pickup.items():
        if name != "Search" and scenarios[name] != "improving":
            assert abs(a - b) < fall / 10, name
    # Week by week (from the start's week): the weeks after the ramp-up are lower than those before, on average.
    before_weeks, after_weeks = range(-10, 0), range(2, 12)
    weeks = demo.weekly["Search"]
    assert statistics.mean(weeks[w] for w in after_weeks) < 0.7 * statistics.mean(weeks[w] for w in before_weeks)
    ml = demo.weekly["Machine Learning"]
    ml_change = statistics.mean(ml[w] for w in after_weeks) / statistics.mean(ml[w] for w in before_weeks) - 1
    assert abs(ml_change) < 0.15


def test_search_s_people_answer_a_little_better_on_code_review_in_the_wave_after_the_start(demo):
    survey = demo.windows[(REVIEW_REMINDERS.key, "survey.code_review")]
    before, after = survey["Search"]
    assert before is not None and after is not None and after - before >= 8  # points of % favourable
    other_before, other_after = survey["Machine Learning"]
    assert other_before is not None and other_after is not None and abs(other_after - other_before) < 8
    assert after < 40  # still a bottleneck


def test_checkout_s_pipeline_failure_rate_does_not_fall(demo):
    failures = demo.windows[(STABILISE_CI.key, "pipeline_failure_rate")]
    before, after = failures["Checkout"]
    # Points of %: no fall, only the flaky-CI scenario's slow drift upwards.
    assert before > 20 and before - 1 < after < before + 5
    # The other flaky-CI team drifted up too, a little more: no effect worth the name.
    other_before, other_after = failures["Analytics Engineering"]
    assert other_after > other_before and abs((after - before) - (other_after - other_before)) < 5


def _scenarios(org: DemoOrg) -> dict[Team, str]:
    scenarios = team_scenarios(org.teams)
    return {team: scenarios[team.slug] for team in org.teams}


def test_the_page_shows_one_initiative_that_worked_and_one_that_did_not(demo):
    """What a newcomer reads on the initiatives' pages: Search's pickup time fell by more than comparable teams',
    its interval wholly below no change; Checkout's failure rate did not move more than theirs."""
    worked, failed = (
        demo.night["estimates"][name] for name in ("Review reminders for Search", "Stabilise Checkout's CI")
    )
    assert worked is not None and worked.high < 0
    assert failed is not None and failed.low < 0 < failed.high
