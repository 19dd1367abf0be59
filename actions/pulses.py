"""Pulse surveys opened by automations: the action "Open a pulse survey" and the two triggers that exist for it.

The survey itself is ``surveys.services.pulse_open``: a short campaign like any other (frozen questions, invitations,
the answer pool, scores published at its close under the anonymity rules), opened once per key — here the run's
channel key (``automations.run_key``), so a retried or twice-executed run finds the pulse it opened.

- **Whom it asks.** After an incident (*incident opened* or, better, *incident resolved*): the people of the
  incident's service's owner team, with its sub-teams (``initiatives.occurrence_team``). After an initiative's start
  (*an initiative's teams started N weeks ago*): the teams of the initiative that started on the same day (a
  staggered team gets its own pulse N weeks after its own start). Newcomers (*people joined N days ago*): the cohort
  the occurrence names (below).
- **What it asks.** The automation's template (e.g. Post-incident), or only the questions of its pulse dimension
  (``services.pulse_template``); an initiative's pulse asks its survey dimension's questions only; an onboarding
  pulse without a template asks Onboarding — week 1, or Onboarding — month 1 from day 30.
- **Never below k.** A pulse whose audience is smaller than k is not opened (``AudienceError``): the run is
  ``skipped`` and says so. An incident worked by a team of two gets no survey, since no figure of it could ever be
  shown.

**Why the initiative's pulse is a trigger** rather than a step of the hourly freezing task: a trigger is chosen per
automation (which initiatives — the owner team's — how many weeks, how long open), dry-runs, and logs each pulse in
the run log with its key, like every other automation; the hourly task would need all of that again.

**Onboarding cohorts.** People joined on one day are rarely k, and a pulse of fewer than k is never opened, so a
newcomer waits in a cohort: from their day N (their ``Person.joined_on``, set by the catalog import), every newcomer
of the scope not yet asked by this automation and at most ``ONBOARDING_GRACE_DAYS`` past day N is counted, and once
they are at least k the cohort is one occurrence (``onboarding:<N>:<day>``: at most one a day), whose run names
them. Each person is asked once per automation (its earlier runs name whom they asked); one never reaching a cohort
of k within the grace days is not asked. People without a joining date are never newcomers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Max, Min
from django.db.models.functions import Coalesce
from django.urls import reverse

from actions.automations import Occurrence, _since
from actions.initiatives import occurrence_team
from actions.models import AutomationRun, InitiativeTeam
from actions.models.automations import Automation, Trigger
from actions.models.initiatives import org_today
from e360.models import Person, Team
from surveys import services
from surveys.anonymity import DEFAULT_K
from surveys.models import Dimension, Template

# A newcomer not in a cohort of k within this many days after their day N is not asked (their "day N" has passed).
ONBOARDING_GRACE_DAYS = 14
ONBOARDING_TEMPLATES = ((30, "onboarding-month-1"), (0, "onboarding-week-1"))  # from day N on, the first that fits


# --- Occurrences ------------------------------------------------------------------------------------------------------


def _done(automation: Automation, prefix: str) -> set[str]:
    return set(
        AutomationRun.objects.filter(automation=automation, dedupe_key__startswith=prefix).values_list(
            "dedupe_key", flat=True
        )
    )


def initiative_occurrences(automation: Automation, now: datetime, teams: set[int] | None) -> Iterator[Occurrence]:
    """The initiatives' teams of the scope whose start was N weeks ago (since the automation exists, within the
    lookback), one occurrence per initiative and start day: ``initiative:<id>:<start>:<N>w``."""
    weeks = automation.weeks_after_start
    if not weeks:
        return
    span = timedelta(weeks=weeks)
    first, last = org_today(_since(automation, now)) - span, org_today(now) - span
    targets = (
        InitiativeTeam.objects.annotate(start_day=Coalesce("starts_on", "initiative__starts_on"))
        .filter(start_day__gte=first, start_day__lte=last)
        .select_related("initiative", "team")
        .order_by("start_day", "initiative_id", "team__name")
    )
    if teams is not None:
        targets = targets.filter(team_id__in=teams)
    cohorts: dict[tuple[int, date], list[InitiativeTeam]] = defaultdict(list)
    for target in targets:
        cohorts[target.initiative_id, target.start_day].append(target)
    done = _done(automation, "initiative:")
    for (initiative_id, start), cohort in cohorts.items():
        key = f"initiative:{initiative_id}:{start.isoformat()}:{weeks}w"
        if key in done:
            continue
        initiative = cohort[0].initiative
        dimension = initiative.survey_dimension or initiative.dimension
        names = ", ".join(target.team.name for target in cohort)
        yield Occurrence(
            key,
            None,
            {
                "initiative_id": initiative_id,
                "team_ids": [target.team_id for target in cohort],
                "dimension": dimension,
                "title": f"{initiative.name}: {weeks} weeks since {names} started",
                "lines": [
                    f"{names} started “{initiative.name}” on {start:%Y-%m-%d}; its survey dimension is "
                    f"{Dimension(dimension).label}."
                ],
                "url": settings.SITE_URL + reverse("admin:actions_initiative_change", args=[initiative_id]),
                "facts": {"Initiative": initiative.name, "Teams": names, "Started": f"{start:%Y-%m-%d}"},
            },
        )


def onboarding_occurrences(automation: Automation, now: datetime, teams: set[int] | None) -> Iterator[Occurrence]:
    """Today's cohort of newcomers (see the module's docstring), when it reaches k: ``onboarding:<N>:<day>``."""
    days = automation.days_after_joining
    if not days:
        return
    today = org_today(now)
    key = f"onboarding:{days}:{today.isoformat()}"
    done = AutomationRun.objects.filter(automation=automation, dedupe_key__startswith=f"onboarding:{days}:")
    if done.filter(dedupe_key=key).exists():
        return
    latest = today - timedelta(days=days)
    # Not before their day N came while the automation existed, nor after the grace days.
    since = org_today(automation.created_at) - timedelta(days=days)
    earliest = max(latest - timedelta(days=ONBOARDING_GRACE_DAYS), since)
    people = Person.objects.filter(is_active=True, joined_on__gte=earliest, joined_on__lte=latest)
    if teams is not None:
        people = people.filter(memberships__team__in=teams)
    asked: set[int] = set()
    for inputs in done.filter(created_at__gte=now - timedelta(days=ONBOARDING_GRACE_DAYS + 7)).values_list(
        "inputs", flat=True
    ):
        asked.update(inputs.get("person_ids") or ())
    cohort = sorted(set(people.exclude(pk__in=asked).values_list("pk", flat=True)))
    if len(cohort) < DEFAULT_K:  # they wait for more newcomers (a pulse of fewer than k is never opened)
        return
    joined = Person.objects.filter(pk__in=cohort).aggregate(first=Min("joined_on"), last=Max("joined_on"))
    yield Occurrence(
        key,
        None,
        {
            "person_ids": cohort,
            "days": days,
            "title": f"{len(cohort)} people joined {days} days ago or a little earlier",
            "lines": [f"They joined between {joined['first']:%Y-%m-%d} and {joined['last']:%Y-%m-%d}."],
            "url": "",
            "facts": {"Newcomers": str(len(cohort)), "Day": str(days)},
        },
    )


COLLECTORS = {
    Trigger.INITIATIVE_STARTED: initiative_occurrences,
    Trigger.PEOPLE_JOINED: onboarding_occurrences,
}


# --- The action -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    ok: bool
    message: str
    status: str = AutomationRun.Status.SENT  # when not ok: failed, or skipped (an audience below k)


@dataclass(frozen=True)
class Plan:
    """What a run's pulse asks, and whom."""

    name: str
    people: list[int]
    teams: list[int]
    template: Template | None
    dimension: str
    whom: str


def _plan(run: AutomationRun) -> Plan | str:
    """The run's pulse, or why there is none."""
    automation, inputs = run.automation, run.inputs or {}
    template, dimension = automation.pulse_template, automation.pulse_dimension
    people: list[int] = []
    if automation.trigger == Trigger.INITIATIVE_STARTED:
        teams = [int(team) for team in inputs.get("team_ids") or ()]
        template, dimension = None, str(inputs.get("dimension") or "")
        whom = ", ".join(Team.objects.filter(pk__in=teams).order_by("name").values_list("name", flat=True))
    elif automation.trigger == Trigger.PEOPLE_JOINED:
        teams, people = [], [int(person) for person in inputs.get("person_ids") or ()]
        if template is None and not dimension:
            days = int(inputs.get("days") or 0)
            slug = next(slug for since, slug in ONBOARDING_TEMPLATES if days >= since)
            template = Template.objects.filter(slug=slug).first()
            if template is None:
                return f"the shipped template {slug} is missing: run manage.py migrate, or choose a template"
        whom = f"{len(people)} newcomers"
    else:
        team = occurrence_team(run)
        if team is None:
            return "no team to ask: the occurrence names none"
        teams, whom = [team.pk], team.name
    if template is None and not dimension:
        return "the automation names no survey for the pulse: choose a template or a dimension in the admin"
    title = str(inputs.get("title") or automation.name)
    return Plan(f"Pulse: {title}"[:200], people, teams, template, dimension, whom)


def pulse_for_run(*, run: AutomationRun, key: str, now: datetime | None = None, dry_run: bool = False) -> Opened:
    """Open the run's pulse (once per ``key``: a retry finds the one it opened), or say what it would open
    (``dry_run``: nothing is written). An audience below k opens nothing: the run is skipped, saying so."""
    plan = _plan(run)
    if isinstance(plan, str):
        return Opened(False, plan, AutomationRun.Status.FAILED)
    automation = run.automation
    asks = plan.template.name if plan.template else f"the {Dimension(plan.dimension).label} questions"
    if dry_run:
        invited = len(services.audience_of(teams=plan.teams, people=plan.people))
        if invited < DEFAULT_K:
            return Opened(True, f"dry run: would open no pulse: {plan.whom} counts {invited} people, fewer than k")
        return Opened(
            True,
            f"dry run: would open “{plan.name}” for {plan.whom} ({invited} people), asking {asks}, "
            f"for {automation.pulse_days_open} days",
        )
    try:
        pulse = services.pulse_open(
            key=key,
            name=plan.name,
            reason=f"Opened by the automation “{automation.name}” ({run.dedupe_key})",
            people=plan.people,
            teams=plan.teams,
            template=plan.template,
            dimension=plan.dimension,
            days_open=automation.pulse_days_open,
            now=now,
        )
    except services.AudienceError as error:
        return Opened(False, f"skipped: no pulse for {plan.whom}: {error}", AutomationRun.Status.SKIPPED)
    except services.CampaignError as error:
        return Opened(False, str(error), AutomationRun.Status.FAILED)
    campaign = pulse.campaign
    url = settings.SITE_URL + reverse("admin:surveys_campaign_change", args=[campaign.pk])
    again = "" if pulse.opened else " (by an earlier attempt)"
    return Opened(
        True,
        f"Pulse #{campaign.pk} opened{again} for {plan.whom} ({campaign.invitations.count()} people), asking "
        f"{asks}, until {campaign.closes_at:%Y-%m-%d %H:%M} UTC: {url}",
    )
