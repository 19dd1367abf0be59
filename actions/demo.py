"""Actions demo: a threshold, two automations and a review reminder policy on the demo organisation, run once by the
real engine, so the run log (``/actions/``), the threshold's event, the reminders and the outbox have something to
show without any Slack workspace or mail server.

Runs after the delivery and survey seeders (``INSTALLED_APPS`` order), on their rollups and review queue. The teams
are the demo's story (``e360.demo.team_scenarios``): the first flaky-CI team (Checkout in the small organisation)
and the first slow-review team (Search). Everything goes to one organisation channel of kind outbox, "Demo outbox":
messages are stored (admin: *Actions, Outbox messages*), nothing leaves e360.

- **Threshold**: the flaky-CI team's pipeline failure rate above 20 % over 14 days (the CI/CD card's suggestion),
  evaluated once at ``org.now`` (``thresholds.threshold_evaluate``): it crosses, and its event is logged.
- **Automation 1**, the flaky-CI team's: when that threshold crosses, a message to the outbox; no quiet hours (an
  alert goes at any hour), so its run is *sent*.
- **Automation 2**, the slow-review team's: a pull request waiting for a first review 16 business hours, a message
  to the outbox, with quiet hours: at a demo ``now`` in the team's working time its runs are *sent*, outside it they
  are *waiting for working time* (the worker sends them when it starts).
- **Review reminders** for the slow-review team: after 8 business hours, again after 8, each reviewer by direct
  message (the outbox stands in for Slack), a 10 % holdout. Reminders go out in working time only, so they are
  selected at the team's last scheduled tick in working time at or before ``org.now`` (``org.now`` itself when the
  team works then), recorded and sent (``reminders.due_reminders``, ``reminders_record``, ``reminders_send``).

- **Initiatives** (``e360.demo.STORY_INITIATIVES``, whose effects the delivery and survey seeders planted):
  "Review reminders for Search", which worked — code review, pickup time, the change failure rate as guardrail,
  started fifteen weeks before ``org.now``, linked to the reminder policy and the waiting-PR automation; its pickup
  time falls after the start and a two-week ramp-up, while comparable teams' stays flat, and its people answer a
  little better on code review in the survey wave after the start — and "Stabilise Checkout's CI", which did not —
  CI/CD, the pipeline failure rate, started fourteen weeks before, linked to the threshold and its alert; nothing
  changed. Each is owned by its team's lead (given a demo account, as a demo sign-in would) and
  frozen by the real service (``initiatives.initiative_freeze`` at ``org.now``: definitions and the baselines over
  the window before the start, read from the rollups, and the survey's first wave).

The automations and the policy were "configured a week ago" (``created_at`` ``org.now`` - 7 days), so the
pull-request trigger fires for the pull requests that became due within that week, as a week-old automation would.
Only these rows are evaluated and collected, over one team's pull requests and rollups each, so the cost hardly grows
with the organisation: 0.2 s at the small size, and the same 43 queries at the large one. The initiatives add 0.1 s
and about 90 queries at the small size (their owners' accounts, links and freezing, whose baselines read one team's
rollups each). Executing and sending take
whatever is due, as the worker's tick would: on a fresh catalog, only these (``--replace`` deleted every team's
automations and policies, though not an organisation-wide automation's runs still due). The engine stamps when it
sends (``finished_at``, ``sent_at``, the outbox's ``created_at``) with the clock, as it always does; everything else
follows from the seed, size and ``now``. No randomness is drawn.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Q

from actions import automations, business_hours, reminders, thresholds
from actions.initiatives import default_guardrail, initiative_freeze, team_lead
from actions.models import (
    Automation,
    AutomationRun,
    Channel,
    Initiative,
    InitiativeTeam,
    OutboxMessage,
    Reminder,
    ReminderPolicy,
    Threshold,
)
from actions.models.automations import Do, Trigger
from actions.models.initiatives import WorseWhen
from actions.models.thresholds import Comparison, ScopeKind
from actions.threshold_metrics import METRICS
from e360.demo import REVIEW_REMINDERS, STABILISE_CI, StoryInitiative, demo_person_user
from e360.models import Membership, Team

if TYPE_CHECKING:
    from e360.demo import DemoOrg

OUTBOX = "Demo outbox"
CONFIGURED_AGO = timedelta(days=7)  # as long as the automations look back (automations.LOOKBACK)
WAITING_HOURS = 16
TICK = timedelta(minutes=15)  # the reminders' schedule


def seed(org: DemoOrg) -> str:
    flaky, slow = STABILISE_CI.team(org.teams), REVIEW_REMINDERS.team(org.teams)
    if flaky is None or slow is None:
        return "no actions: the organisation has no flaky-CI or no slow-review team"
    _clear_previous_demo()
    configured = org.now - CONFIGURED_AGO
    outbox = Channel.objects.create(name=OUTBOX, kind=Channel.Kind.OUTBOX, created_at=configured)

    threshold = Threshold.objects.create(
        name=f"{flaky.name} pipeline failures above 20%",
        metric=METRICS["pipeline_failure_rate"].key,
        scope=ScopeKind.TEAM_SUBTREE,
        team=flaky,
        comparison=Comparison.GT,
        value=20,
        window_days=14,
        cooldown_hours=24,
    )
    Threshold.objects.filter(pk=threshold.pk).update(created_at=configured)  # auto_now_add: set afterwards
    alert = _automation(
        flaky,
        outbox,
        "pipeline failures alert",
        note="Re-run the flaky jobs from the pipelines page; CI Infrastructure is on call for the runners.",
        quiet_hours=False,
        trigger=Trigger.THRESHOLD_CROSSED,
        threshold=threshold,
    )
    waiting = _automation(
        slow,
        outbox,
        "pull requests waiting for review",
        note="Pick it up, or say in the pull request who should.",
        quiet_hours=True,
        trigger=Trigger.PULL_REQUEST_WAITING,
        waiting_hours=WAITING_HOURS,
    )
    policy = ReminderPolicy.objects.create(
        team=slow,
        after_hours=8,
        again_after_hours=8,
        holdout_percent=10,
        recipients=ReminderPolicy.Recipients.REVIEWERS_DM,
        channel=outbox,
        created=REVIEW_REMINDERS.start(org.now),  # what the review reminders initiative started with
    )

    # The engine, on these rows only.
    event = thresholds.threshold_evaluate(threshold, now=org.now)
    ours = Automation.objects.filter(pk__in=[alert.pk, waiting.pk]).select_related("team")
    automations.automations_collect(now=org.now, automations=ours.prefetch_related("teams", "services"))
    automations.automations_execute(now=org.now)
    selection = reminders.due_reminders(now=last_tick_at_work(slow, org.now), policies=[policy])
    reminders.reminders_record(selection=selection)
    reminders.reminders_send()

    worked = _initiative(
        REVIEW_REMINDERS,
        org,
        slow,
        name=f"Review reminders for {slow.name}",
        dimension="code_review",
        hypothesis=(
            f"Reminding {slow.name}'s reviewers of pull requests that wait for a first review (after 8 business "
            "hours, again after 8) gets them picked up sooner: pickup time falls."
        ),
        primary=["pickup_time"],
        links={"reminder_policies": [policy], "automations": [waiting]},
    )
    failed = _initiative(
        STABILISE_CI,
        org,
        flaky,
        name=f"Stabilise {flaky.name}'s CI",
        dimension="ci_cd",
        hypothesis=(
            f"Alerting {flaky.name} when pipeline failures pass 20 % and re-running the flaky jobs: the pipeline "
            "failure rate falls."
        ),
        primary=["pipeline_failure_rate"],
        links={"thresholds": [threshold], "automations": [alert]},
    )

    runs = Counter(AutomationRun.objects.filter(automation__in=[alert, waiting]).values_list("status", flat=True))
    kept = Counter(Reminder.objects.filter(policy=policy).values_list("status", flat=True))
    fired = f"fired at {METRICS['pipeline_failure_rate'].text(event.value)}" if event is not None else "not fired"
    return (
        f"a threshold on {flaky.name} ({fired}), 2 automations ({_counts(runs, RUN_WORDS)}), "
        f"review reminders for {slow.name} ({_counts(kept, {})}); "
        f"{OutboxMessage.objects.filter(channel=outbox).count()} messages in the {OUTBOX}; "
        f"2 initiatives ({_frozen(worked)}, {_frozen(failed)})"
    )


def _automation(
    team: Team, outbox: Channel, name: str, *, note: str, quiet_hours: bool, trigger: Trigger, **parameters: Any
) -> Automation:
    """``team``'s automation that messages the demo's outbox, configured with it (``CONFIGURED_AGO``): ``trigger``
    with its ``parameters`` (a threshold, waiting hours)."""
    return Automation.objects.create(
        name=f"{team.name}: {name}",
        team=team,
        trigger=trigger,
        action=Do.MESSAGE,
        channel=outbox,
        note=note,
        quiet_hours=quiet_hours,
        created_at=outbox.created_at,
        **parameters,
    )


def _initiative(
    story: StoryInitiative,
    org: DemoOrg,
    team: Team,
    *,
    name: str,
    dimension: str,
    hypothesis: str,
    primary: list[str],
    links: dict[str, list[Any]],
) -> Initiative:
    """One of the story's initiatives for ``team``, owned by its lead, planned a week before its start, frozen now."""
    guardrail = default_guardrail(dimension, primary)
    starts_on = story.starts_on(org.now)
    lead = Membership.objects.filter(team=team, role=Membership.Role.LEAD).order_by("person__name", "pk").first()
    if lead is not None:
        demo_person_user(person=lead.person)
    initiative = Initiative(
        name=name,
        dimension=dimension,
        hypothesis=hypothesis,
        owner_id=team_lead(team),
        starts_on=starts_on,
        primary_metrics=primary,
        survey_dimension=dimension,
        guardrail_metric=guardrail,
        guardrail_worse_when=WorseWhen.RISES if METRICS[guardrail].higher_is_worse else WorseWhen.FALLS,
        ramp_up_days=story.ramp_days,
        window_days=story.window_days,
        created_at=story.start(org.now) - CONFIGURED_AGO,
    )
    initiative.full_clean()
    initiative.save()
    InitiativeTeam.objects.create(initiative=initiative, team=team)
    for field, rows in links.items():
        getattr(initiative, field).add(*rows)
    initiative_freeze(initiative_id=initiative.pk, now=org.now)
    initiative.refresh_from_db()
    return initiative


def _frozen(initiative: Initiative) -> str:
    """ "“Review reminders for Search” frozen, pickup time before: 63.83 hours": its name and frozen baseline."""
    [baseline] = initiative.frozen["baselines"].values()
    values = [
        f"{METRICS[key].label.lower()} before: {METRICS[key].text(baseline['values'][key])}"
        for key in initiative.primary_metrics
    ]
    return f"“{initiative.name}” frozen, {', '.join(values)}"


def last_tick_at_work(team: Team, now: datetime) -> datetime:
    """``now`` when it is the team's working time, else the last 15-minute tick before its working time ended."""
    wt = automations.working_time(team)
    if wt is None or business_hours.is_working(wt, now):
        return now
    return business_hours.before(wt, now, TICK)


RUN_WORDS: dict[str, str] = {AutomationRun.Status.WAITING: "waiting for working time"}


def _counts(counts: Counter[str], words: dict[str, str]) -> str:
    """ "3 sent, 1 held out": how many of each status."""
    if not counts:
        return "none"
    return ", ".join(f"{n} {words.get(status, status.replace('_', ' '))}" for status, n in sorted(counts.items()))


def clear() -> None:
    """Delete the demo's initiatives (those linked to the Demo outbox's automations or reminder policies): their
    teams are protected by them, so the catalog could not be deleted. Called by ``e360.demo.catalog_clear``."""
    previous = Channel.objects.filter(name=OUTBOX).first()
    if previous is not None:
        linked = Q(automations__channel=previous) | Q(reminder_policies__channel=previous)
        Initiative.objects.filter(pk__in=Initiative.objects.filter(linked).values("pk")).delete()


def _clear_previous_demo() -> None:
    """Remove what an earlier demo left behind: deleting the catalog takes the teams' thresholds, automations and
    policies along, but not the organisation's outbox channel (nor what was pointed at it since), and deletes the
    demo's initiatives first (``clear``)."""
    clear()
    previous = Channel.objects.filter(name=OUTBOX).first()
    if previous is not None:
        Automation.objects.filter(channel=previous).delete()
        ReminderPolicy.objects.filter(channel=previous).delete()
        previous.delete()  # its outbox messages go with it
