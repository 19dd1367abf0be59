"""Automations' engine: collect each active automation's triggers, apply its conditions, record one run per
occurrence, then execute the runs that are due, each at most once. ``automations_tick`` (every minute) does both.

**Collecting** (``automations_collect``). Each automation looks at what happened within its owner team's scope
(the team and its sub-teams; an organisation-wide automation: everything), since it was created and within
``LOOKBACK``:

- *threshold crossed / recovered*: the ``ThresholdEvent``s of its threshold (or of any threshold of the scope);
  the run's key is the event's unique ``key``;
- *incident opened*: the incidents (``metrics.Incident``) of the scope's services that started; ``incident:<id>``;
  *incident resolved*: those that were resolved; ``incident-resolved:<id>``;
- *pipeline failing*: a workflow of a service whose last K finished runs on the default branch all failed; one run
  per streak, keyed by the streak's first failed run (``pipeline:<run id>``), so a longer streak fires once;
- *pull request waiting*: a pull request of the scope's services still waiting for a first review (the review
  queue's definition, ``metrics.selectors.waiting_for_review``) N business hours after it opened, in its owning
  team's working time (``actions.business_hours``); ``pull-request:<id>``, once per pull request;
- *schedule*: every N hours from midnight UTC (``schedule:<slot start, UTC>``), or daily at a local time of the
  owner team's time zone, UTC without one (``schedule:<local date>``); a slot missed while nothing ran is not
  caught up, and a slot before the automation existed is not run;
- *survey closed*: a campaign (a survey's wave) closed that asked the automation's dimension; each team of the
  scope (an organisation-wide automation: every team, and the organisation's own figure when the campaign invited
  everyone) whose % favourable on it is below X, read from the campaign's published figures through
  ``insights.selectors.WaveFigures`` as thresholds read them: a group the anonymity rules hide (fewer than k
  responses, complementary suppression) has no score and never triggers; ``survey:<campaign id>:<team id or org>``;
- *an initiative's teams started N weeks ago* and *people joined N days ago* (onboarding cohorts of at least k):
  ``actions.pulses``, which says why; ``initiative:<id>:<start>:<N>w``, ``onboarding:<N>:<day>``. They concern no
  service: the conditions do not apply to them.

Conditions (tiers, teams, services) filter the service an occurrence concerns (the incident's, the pipeline's, a
service threshold's; a team threshold's team for the teams filter): one that does not pass is recorded
``skipped`` with why, so the log shows it; an occurrence with nothing to filter (a schedule) always passes. A
survey's figure is a team's and no service's: only the teams condition applies to it (the organisation's figure is
none of the teams), tiers and services pass it.

Runs are inserted with their key, ignoring conflicts: ``(automation, dedupe_key)`` is unique, so collecting again
(a retry, two workers at once) never records an occurrence twice. A paused automation records nothing, and its
runs not yet executed are skipped. With quiet hours and an owner team, a run
recorded outside the team's working time (``actions.business_hours``) waits (``waiting``, ``not_before`` the next
working start): it is delayed, never dropped.

**Executing** (``automations_execute``). The due runs (pending, or waiting whose time has come) are claimed first:
marked ``sending`` (attempts counted) and committed, rows locked and skipped by another worker, before any
channel is called, as review reminders are. A worker killed while sending leaves its run ``sending``: never sent
twice (an admin sees it in the log, and may retry it 15 minutes after it was claimed). Then each run sends its
message through the automation's channel (``actions.channels.send`` with the run's key as the channel's
idempotency key; a dry run keeps it in the outbox) or asks GitHub to re-run the failed jobs
(``actions.selfservice.rerun_failed_jobs_as_system``), or drafts an initiative for the occurrence's team
(``actions.initiatives.initiative_draft``: one per run, a dry run drafts none), or opens a pulse survey
(``actions.pulses.pulse_for_run``: one per run, none in a dry run, none for fewer than k people: ``skipped``). The
answer and the duration are recorded: ``sent``, ``dry_run``, ``failed`` with the answer (one run's failure never
stops the others), or, when the channel is rate-limited (nothing was sent), back to ``pending`` with ``not_before``
its ``Retry-After``. A failed run is not retried by itself (its message may have reached the receiver): an admin
retries it from the admin (the channel's idempotency key covers receivers that honour it), as a run whose worker
died while sending.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from actions import business_hours, initiatives
from actions.business_hours import WorkingTime
from actions.channels import Fact, Message, Sent, send
from actions.models import Automation, AutomationRun, Threshold, ThresholdEvent
from actions.models.automations import Do, Trigger
from actions.threshold_metrics import METRICS
from e360.models import Service, Team
from e360.tree import TeamTree
from insights.selectors import WaveFigures
from insights.selectors.waves import results_url
from metrics.models import Incident, PipelineRun
from metrics.selectors import Area, waiting_for_review
from surveys.anonymity import ORG, Label
from surveys.models import LIKERT_KINDS, Campaign, Question

logger = logging.getLogger(__name__)

# How far back a trigger is looked for (besides never before the automation existed).
LOOKBACK = timedelta(days=7)
Status = AutomationRun.Status


# --- Occurrences ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """What an occurrence is about, for the conditions: a service (its id, tier, owner), or a team. A survey's
    figure is a team's (None: the organisation's) with no service at all (``team_only``): only the teams condition
    applies to it."""

    service_id: int | None = None
    tier: int | None = None
    team_id: int | None = None
    team_only: bool = False


@dataclass(frozen=True)
class Occurrence:
    """One trigger occurrence: its key, what it is about, and what the run keeps (``inputs``: the message's title,
    lines, link and facts, and the ids behind them)."""

    key: str
    subject: Subject | None
    inputs: dict[str, Any] = field(default_factory=dict)


def _since(automation: Automation, now: datetime) -> datetime:
    return max(automation.created_at, now - LOOKBACK)


def _scope(automation: Automation, tree: TeamTree) -> set[int] | None:
    """The team ids an automation looks at: its team's subtree; None: the organisation."""
    return None if automation.team_id is None else tree.subtree([automation.team_id])


def _link(name: str, *args: Any) -> str:
    return settings.SITE_URL + reverse(name, args=args)


def _threshold_occurrences(automation: Automation, now: datetime, teams: set[int] | None) -> Iterator[Occurrence]:
    kind = "crossed" if automation.trigger == Trigger.THRESHOLD_CROSSED else "recovered"
    events = ThresholdEvent.objects.filter(kind=kind, at__gte=_since(automation, now)).select_related(
        "threshold__team", "threshold__service"
    )
    if automation.threshold_id is not None:
        events = events.filter(threshold_id=automation.threshold_id)
    else:
        events = events.filter(threshold__in=Threshold.objects.of_teams(teams))
    done = AutomationRun.objects.filter(automation=automation).values("dedupe_key")
    for event in events.exclude(key__in=done).order_by("at", "pk"):
        threshold = event.threshold
        spec = threshold.metric_spec
        value = spec.text(event.value) if spec else f"{event.value:g}"
        service = threshold.service
        subject = (
            Subject(service.pk, service.tier, service.owner_id)
            if service is not None
            else Subject(team_id=threshold.team_id)
            if threshold.team_id
            else None
        )
        verb = "crossed" if kind == "crossed" else "recovered"
        yield Occurrence(
            event.key,
            subject,
            {
                "threshold_id": threshold.pk,
                "event_id": event.pk,
                "title": f"{threshold.name} {verb}: {value}",
                "lines": [
                    f"{threshold.rule_text}, for {threshold.scope_text}: {value} at {event.at:%Y-%m-%d %H:%M} UTC."
                ],
                "url": _link("actions:threshold-edit", threshold.pk),
                "facts": {"Threshold": threshold.name, "Value": value},
            },
        )


def _incident_occurrences(automation: Automation, now: datetime, teams: set[int] | None) -> Iterator[Occurrence]:
    resolved = automation.trigger == Trigger.INCIDENT_RESOLVED
    moment, prefix = ("resolved_at", "incident-resolved:") if resolved else ("started_at", "incident:")
    incidents = Incident.objects.filter(**{f"{moment}__gte": _since(automation, now)})
    if teams is not None:
        incidents = incidents.filter(service__owner_id__in=teams)
    done = set(
        AutomationRun.objects.filter(automation=automation, dedupe_key__startswith=prefix).values_list(
            "dedupe_key", flat=True
        )
    )
    for incident in incidents.select_related("service").order_by(moment, "pk"):
        key = f"{prefix}{incident.pk}"
        if key in done:
            continue
        service = incident.service
        severity = f" ({incident.severity})" if incident.severity else ""
        lines = [f"Started at {incident.started_at:%Y-%m-%d %H:%M} UTC."]
        if resolved:
            lines.append(f"Resolved at {incident.resolved_at:%Y-%m-%d %H:%M} UTC.")
        yield Occurrence(
            key,
            Subject(service.pk, service.tier, service.owner_id),
            {
                "incident_id": incident.pk,
                "title": f"Incident {'resolved ' if resolved else ''}on {service.name}{severity}: "
                f"{incident.title or incident.external_id}",
                "lines": lines,
                "url": incident.url or _link("metrics:service-delivery", service.slug),
                "facts": {"Service": service.name, "Severity": incident.severity or "—"},
            },
        )


def _pipeline_occurrences(automation: Automation, now: datetime, teams: set[int] | None) -> Iterator[Occurrence]:
    """The workflows whose last K finished runs on the default branch failed: one occurrence per streak."""
    k = automation.failures_in_a_row or 1
    runs = PipelineRun.objects.filter(is_default_branch=True, finished_at__gte=now - LOOKBACK, finished_at__lte=now)
    if teams is not None:
        runs = runs.filter(service__owner_id__in=teams)
    # Only the workflows that failed since the automation exists (a streak ends with a failure): a few, read whole.
    failing = set(
        runs.filter(status=PipelineRun.Status.FAILURE, finished_at__gte=_since(automation, now))
        .order_by()
        .values_list("service_id", "workflow")
        .distinct()
    )
    if not failing:
        return
    groups = Q()
    for service_id, workflow in failing:
        groups |= Q(service_id=service_id, workflow=workflow)
    rows = (
        runs.filter(groups)
        .order_by("service_id", "workflow", "-finished_at", "-pk")
        .values_list("pk", "service_id", "workflow", "status", "finished_at", "branch", "url")
    )
    streaks: dict[tuple[int, str], list[tuple[Any, ...]]] = {}
    broken: set[tuple[int, str]] = set()
    for row in rows:
        group = (row[1], row[2])
        if group in broken:
            continue
        if row[3] == PipelineRun.Status.FAILURE:
            streaks.setdefault(group, []).append(row)
        else:
            broken.add(group)
    wanted = {group: failed for group, failed in streaks.items() if len(failed) >= k}
    if not wanted:
        return
    services = Service.objects.in_bulk({service_id for service_id, _ in wanted})
    done = set(
        AutomationRun.objects.filter(automation=automation, dedupe_key__startswith="pipeline:").values_list(
            "dedupe_key", flat=True
        )
    )
    for (service_id, workflow), failed in wanted.items():
        latest, first = failed[0], failed[-1]
        if latest[4] < automation.created_at or f"pipeline:{first[0]}" in done:
            continue
        service = services[service_id]
        yield Occurrence(
            f"pipeline:{first[0]}",
            Subject(service.pk, service.tier, service.owner_id),
            {
                "pipeline_run_id": latest[0],
                "title": f"{workflow} on {service.name} failed {len(failed)} times in a row on "
                f"{latest[5] or 'the default branch'}",
                "lines": [f"The latest failure finished at {latest[4]:%Y-%m-%d %H:%M} UTC."],
                "url": latest[6] or _link("metrics:service-pipelines", service.slug),
                "facts": {"Service": service.name, "Workflow": workflow, "Failures in a row": str(len(failed))},
            },
        )


def _pull_request_occurrences(automation: Automation, now: datetime, teams: set[int] | None) -> Iterator[Occurrence]:
    """Pull requests waiting for a first review longer than N business hours of their owning team, that passed N
    since the automation was created (a new automation does not fire on the whole queue at once)."""
    amount = timedelta(hours=automation.waiting_hours or 1)
    waiting = waiting_for_review(Area.organisation()).filter(opened_at__lte=now - amount)
    if teams is not None:
        waiting = waiting.filter(service__owner_id__in=teams)
    rows = list(
        waiting.order_by("opened_at", "pk").values(
            "pk", "number", "title", "url", "author", "opened_at", "service_id", "repository__name"
        )
    )
    if not rows:
        return
    services = Service.objects.select_related("owner").in_bulk({row["service_id"] for row in rows})
    done = set(
        AutomationRun.objects.filter(automation=automation, dedupe_key__startswith="pull-request:").values_list(
            "dedupe_key", flat=True
        )
    )
    for row in rows:
        key = f"pull-request:{row['pk']}"
        service = services[row["service_id"]]
        wt = working_time(service.owner)
        if key in done or wt is None:
            continue
        due = business_hours.after(wt, row["opened_at"], amount)
        if due > now or due < automation.created_at:
            continue
        name = f"{row['repository__name'] or service.name}#{row['number'] or '?'}"
        yield Occurrence(
            key,
            Subject(service.pk, service.tier, service.owner_id),
            {
                "pull_request_id": row["pk"],
                "title": f"{name} waits for a first review: {row['title']}"[:300],
                "lines": [
                    f"Opened by {row['author'] or 'unknown'} at {row['opened_at']:%Y-%m-%d %H:%M} UTC: more than "
                    f"{automation.waiting_hours} business hours of {service.owner.name}."
                ],
                "url": row["url"] or _link("metrics:service-reviews", service.slug),
                "facts": {"Service": service.name, "Author": row["author"] or "unknown"},
            },
        )


def _zone(automation: Automation) -> ZoneInfo:
    return automation.team.zone if automation.team is not None else ZoneInfo("UTC")


def schedule_slot(automation: Automation, now: datetime) -> tuple[str, datetime] | None:
    """The schedule's latest slot at ``now`` (its key and instant), None when none has come since it was created."""
    if automation.daily_at is not None:
        zone = _zone(automation)
        day: date = now.astimezone(zone).date()
        at = business_hours.first_reading(zone, day, automation.daily_at)
        key = f"schedule:{day.isoformat()}"
    elif automation.every_hours:
        step = automation.every_hours * 3600
        seconds = int(now.timestamp()) // step * step
        at = datetime.fromtimestamp(seconds, UTC)
        key = f"schedule:{at:%Y-%m-%dT%H:%MZ}"
    else:
        return None
    if at > now or at < automation.created_at:
        return None
    return key, at


def _schedule_occurrences(automation: Automation, now: datetime, teams: set[int] | None) -> Iterator[Occurrence]:
    slot = schedule_slot(automation, now)
    if slot is None or AutomationRun.objects.filter(automation=automation, dedupe_key=slot[0]).exists():
        return
    firing = Threshold.objects.active().of_teams(teams).filter(is_firing=True).select_related("team", "service")
    lines = [f"• {t.name}: {t.rule_text}, now {t.last_value_text}" for t in firing.order_by("name", "pk")[:20]]
    yield Occurrence(
        slot[0],
        None,
        {
            "title": f"{automation.name}: {len(lines) or 'no'} threshold{'s' if len(lines) != 1 else ''} firing",
            "lines": lines or ["Every threshold is within its limit."],
            "url": _link("actions:threshold-list"),
            "facts": {"For": automation.owner_text, "Slot": f"{slot[1]:%Y-%m-%d %H:%M} UTC"},
        },
    )


def _survey_occurrences(automation: Automation, now: datetime, teams: set[int] | None) -> Iterator[Occurrence]:
    """The campaigns closed since the automation exists that asked its dimension: each group of the scope whose
    % favourable there is below X, read from the published figures, shown groups only (``WaveFigures``: a group
    hidden by the anonymity rules has no score). The organisation's figure counts for an organisation-wide
    automation when the campaign invited everyone (a campaign of a few teams has no organisation's figure but
    theirs)."""
    dimension, below = automation.survey_dimension, automation.favourable_below
    if not dimension or below is None:
        return
    asked = Question.objects.filter(version=OuterRef("version"), kind__in=LIKERT_KINDS, dimension=dimension)
    campaigns = (
        Campaign.objects.filter(Exists(asked), status=Campaign.Status.CLOSED)
        .alias(closed=Coalesce("closed_at", "closes_at"))
        .filter(closed__gte=_since(automation, now), closed__lte=now)
        .order_by("closed", "pk")
    )
    done = set(
        AutomationRun.objects.filter(automation=automation, dedupe_key__startswith="survey:").values_list(
            "dedupe_key", flat=True
        )
    )
    found: list[tuple[WaveFigures, Label, float]] = []
    for campaign in campaigns:
        wave = WaveFigures.load(campaign)
        groups: list[Label] = [ORG] if teams is None and campaign.everyone else []
        groups += sorted(g for g in wave.rows if g is not ORG and (teams is None or g in teams))
        for group in groups:
            score = wave.score(group, dimension)
            if score is not None and score < below and _survey_key(campaign, group) not in done:
                found.append((wave, group, score))
    if not found:
        return
    named = Team.objects.in_bulk({group for _, group, _ in found if group is not ORG})
    metric = METRICS[f"survey.{dimension}"]
    label = automation.get_survey_dimension_display()
    for wave, group, score in found:
        team = None if group is ORG else named.get(group)
        if group is not ORG and team is None:  # deleted since the campaign closed: nobody to tell about
            continue
        survey = wave.campaign
        who = team.name if team is not None else "The organisation"
        responses = wave.cell(group).n
        closed = survey.closed_at or survey.closes_at
        yield Occurrence(
            _survey_key(survey, group),
            Subject(team_id=group, team_only=True),
            {
                "campaign_id": survey.pk,
                "team_id": group,
                "dimension": dimension,
                "score": score,
                "below": below,
                "title": f"{who}: {label} {metric.text(score)} favourable, below {metric.text(below)}",
                "lines": [
                    f"“{survey.name}” closed at {closed:%Y-%m-%d %H:%M} UTC: {who} answered {metric.text(score)} "
                    f"favourable on {label} ({responses} responses), below the automation's {metric.text(below)}.",
                    f"Results: {settings.SITE_URL}{results_url(survey, team)}",
                ],
                "url": _link("insights:team-bottlenecks", team.slug)
                if team is not None
                else _link("insights:org-bottlenecks"),
                "facts": {
                    "Survey": survey.name,
                    "Team": who,
                    label: metric.text(score),
                    "Below": metric.text(below),
                    "Responses": str(responses),
                },
            },
        )


def _pulse_occurrences(automation: Automation, now: datetime, teams: set[int] | None) -> Iterator[Occurrence]:
    """An initiative's teams N weeks after their start, people N days after joining (``actions.pulses``)."""
    from actions import pulses  # it builds this module's occurrences

    return pulses.COLLECTORS[Trigger(automation.trigger)](automation, now, teams)


def _survey_key(campaign: Campaign, group: Label) -> str:
    return f"survey:{campaign.pk}:{'org' if group is ORG else group}"


COLLECTORS = {
    Trigger.THRESHOLD_CROSSED: _threshold_occurrences,
    Trigger.THRESHOLD_RECOVERED: _threshold_occurrences,
    Trigger.INCIDENT_OPENED: _incident_occurrences,
    Trigger.PIPELINE_FAILING: _pipeline_occurrences,
    Trigger.PULL_REQUEST_WAITING: _pull_request_occurrences,
    Trigger.SCHEDULE: _schedule_occurrences,
    Trigger.SURVEY_CLOSED: _survey_occurrences,
    Trigger.INCIDENT_RESOLVED: _incident_occurrences,
    Trigger.INITIATIVE_STARTED: _pulse_occurrences,
    Trigger.PEOPLE_JOINED: _pulse_occurrences,
}


# --- Conditions and working time -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Conditions:
    tiers: frozenset[int]
    teams: frozenset[int]
    services: frozenset[int]

    @classmethod
    def of(cls, automation: Automation) -> Conditions:
        return cls(
            frozenset(int(t) for t in automation.tiers or ()),
            frozenset(team.pk for team in automation.teams.all()),
            frozenset(service.pk for service in automation.services.all()),
        )

    def refusal(self, subject: Subject | None) -> str:
        """Why an occurrence about ``subject`` does not pass; "" when it does."""
        if subject is None:
            return ""
        if subject.team_only:
            return "not one of the automation's teams" if self.teams and subject.team_id not in self.teams else ""
        if self.services and subject.service_id not in self.services:
            return "not one of the automation's services"
        if self.tiers and subject.tier not in self.tiers:
            return "its service is not of the automation's tiers" if subject.service_id else "no service to tier"
        if self.teams and subject.team_id not in self.teams:
            return "not one of the automation's teams"
        return ""


def working_time(team: Team | None) -> WorkingTime | None:
    if team is None:
        return None
    try:
        return WorkingTime.of(team.time_zone, team.working_days, team.work_starts, team.work_ends)
    except ValueError:  # a team with no valid working time: no quiet hours rather than none ever
        logger.warning("team %s has no valid working time: automations ignore its quiet hours", team.pk)
        return None


def quiet_until(automation: Automation, now: datetime) -> datetime | None:
    """When the owner team's working time next starts, if ``now`` is outside it and the automation keeps quiet
    hours; None: it may run now."""
    if not automation.quiet_hours:
        return None
    wt = working_time(automation.team)
    if wt is None or business_hours.is_working(wt, now):
        return None
    return next(business_hours.intervals(wt, now, now + timedelta(days=35)), (None,))[0]


# --- Collecting ----------------------------------------------------------------------------------------------


def automations_collect(*, now: datetime | None = None, automations: Iterable[Automation] | None = None) -> int:
    """Record a run for each new trigger occurrence of the active automations; returns how many were recorded."""
    now = now or timezone.now()
    if automations is None:
        automations = (
            Automation.objects.filter(is_active=True).select_related("team").prefetch_related("teams", "services")
        )
    tree = TeamTree.load()
    recorded = 0
    for automation in automations:
        try:
            recorded += _collect(automation, now, tree)
        except Exception:  # one automation's bug never stops the others
            logger.exception("automation %s: collecting its triggers failed", automation.pk)
    return recorded


def _collect(automation: Automation, now: datetime, tree: TeamTree) -> int:
    occurrences = list(COLLECTORS[Trigger(automation.trigger)](automation, now, _scope(automation, tree)))
    if occurrences:
        conditions = Conditions.of(automation)
        waits = quiet_until(automation, now)
        rows = []
        for occurrence in occurrences:
            why = conditions.refusal(occurrence.subject)
            status = Status.SKIPPED if why else Status.WAITING if waits else Status.PENDING
            rows.append(
                AutomationRun(
                    automation=automation,
                    trigger=automation.trigger,
                    dedupe_key=occurrence.key,
                    inputs=occurrence.inputs,
                    status=status,
                    not_before=waits if status == Status.WAITING else None,
                    response=f"skipped: {why}" if why else "",
                    created_at=now,
                    finished_at=now if why else None,
                )
            )
        # A run recorded meanwhile (a retry, another worker) is left as it is.
        AutomationRun.objects.bulk_create(rows, ignore_conflicts=True)
    Automation.objects.filter(pk=automation.pk).update(checked_at=now)
    return len(occurrences)


# --- Executing -----------------------------------------------------------------------------------------------


def automations_execute(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Execute up to ``limit`` due runs, each at most once (claimed and committed first); counts by final status."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            AutomationRun.objects.due(now)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        AutomationRun.objects.filter(pk__in=ids).update(
            status=Status.SENDING, attempts=F("attempts") + 1, claimed_at=timezone.now()
        )
    counts: dict[str, int] = {}
    runs = AutomationRun.objects.filter(pk__in=ids).select_related("automation__team", "automation__channel")
    for run in runs.order_by("created_at", "pk"):
        try:
            status = _execute(run, now)
        except Exception as error:  # a bug in one run fails that run only
            logger.exception("automation run %s failed", run.pk)
            status = _finish(run, Status.FAILED, f"e360 failed: {type(error).__name__}", time.monotonic())
        counts[status] = counts.get(status, 0) + 1
    return counts


def _execute(run: AutomationRun, now: datetime) -> str:
    automation = run.automation
    began = time.monotonic()
    if not automation.is_active:
        return _finish(run, Status.SKIPPED, "skipped: the automation was paused before it ran", began)
    waits = quiet_until(automation, now)
    if waits is not None:  # a retry that came due outside working time waits for it too
        AutomationRun.objects.filter(pk=run.pk).update(status=Status.WAITING, not_before=waits)
        return Status.WAITING
    if automation.action == Do.RERUN_FAILED_JOBS:
        return _rerun(run, began)
    if automation.action == Do.CREATE_INITIATIVE:
        return _draft_initiative(run, now, began)
    if automation.action == Do.OPEN_PULSE:
        return _open_pulse(run, now, began)
    if automation.channel is None:
        return _finish(run, Status.FAILED, "the automation names no channel: choose one in the admin", began)
    sent = send(automation.channel, run_message(run), dedupe_key=run_key(run), dry_run=automation.dry_run)
    return _sent(run, sent, began)


def _sent(run: AutomationRun, sent: Sent, began: float) -> str:
    if sent.retry_at is not None:  # rate-limited: nothing was sent, so it is safe to try again then
        run.not_before = sent.retry_at
        return _finish(run, Status.PENDING, f"rate-limited: {sent.response}", began, done=False)
    if not sent.ok:
        answer = f"{sent.status} {sent.response}" if sent.status else sent.response
        return _finish(run, Status.FAILED, answer, began)
    return _finish(run, Status.DRY_RUN if run.automation.dry_run else Status.SENT, sent.response, began)


def _rerun(run: AutomationRun, began: float) -> str:
    from actions import selfservice

    pipeline_run = (
        PipelineRun.objects.filter(pk=run.inputs.get("pipeline_run_id") or 0)
        .select_related("source", "repository", "service")
        .first()
    )
    if pipeline_run is None:
        return _finish(run, Status.FAILED, "no pipeline run to re-run", began)
    if run.automation.dry_run:
        return _finish(run, Status.DRY_RUN, f"dry run: would re-run the failed jobs of run {pipeline_run.pk}", began)
    outcome = selfservice.rerun_failed_jobs_as_system(run=pipeline_run, actor=f"automation “{run.automation}”")
    return _finish(run, Status.SENT if outcome.succeeded else Status.FAILED, outcome.message, began)


def _draft_initiative(run: AutomationRun, now: datetime, began: float) -> str:
    drafted = initiatives.initiative_draft(run=run, now=now, dry_run=run.automation.dry_run)
    if not drafted.ok:
        return _finish(run, Status.FAILED, drafted.message, began)
    return _finish(run, Status.DRY_RUN if run.automation.dry_run else Status.SENT, drafted.message, began)


def _open_pulse(run: AutomationRun, now: datetime, began: float) -> str:
    from actions import pulses  # it imports this module

    opened = pulses.pulse_for_run(run=run, key=run_key(run), now=now, dry_run=run.automation.dry_run)
    status = Status.DRY_RUN if run.automation.dry_run else Status.SENT
    return _finish(run, status if opened.ok else opened.status, opened.message, began)


def _finish(run: AutomationRun, status: str, response: str, began: float, *, done: bool = True) -> str:
    AutomationRun.objects.filter(pk=run.pk).update(
        status=status,
        response=response[:500],
        duration_ms=int((time.monotonic() - began) * 1000),
        finished_at=timezone.now() if done else None,
        not_before=run.not_before if not done else None,
    )
    return status


def run_key(run: AutomationRun) -> str:
    """The channel's idempotency key: the automation and the occurrence."""
    return f"automation-{run.automation_id}:{run.dedupe_key}"


def run_message(run: AutomationRun) -> Message:
    automation = run.automation
    inputs = run.inputs
    lines = [str(line) for line in inputs.get("lines", [])]
    if automation.note:
        lines.append(automation.note)
    facts = tuple(Fact(str(label), str(value)) for label, value in (inputs.get("facts") or {}).items())
    return Message(
        title=str(inputs.get("title") or automation.name)[:300],
        text="\n".join(lines),
        url=str(inputs.get("url") or ""),
        facts=(Fact("Automation", automation.name), *facts),
    )


# A run still ``sending`` this long after it was claimed lost its worker (a send takes seconds).
STUCK_AFTER = timedelta(minutes=15)


def retry(*, run_ids: Iterable[int], now: datetime | None = None) -> int:
    """Put failed runs, and runs whose worker died while sending (``STUCK_AFTER``), back to pending (the admin's
    action: the channel gets the same idempotency key); returns how many."""
    now = now or timezone.now()
    stuck = Q(status=Status.SENDING, claimed_at__lt=now - STUCK_AFTER)
    return AutomationRun.objects.filter(Q(status=Status.FAILED) | stuck, pk__in=list(run_ids)).update(
        status=Status.PENDING, not_before=None, finished_at=None
    )


# The every-minute tick (a long task: ``e360.broker.LONG_TASK``) claims runs in batches of this many, and claims
# no new batch after this long: a batch of slow channels (10 s each at worst) ends well within the task's time, and
# a worker killed anyway strands at most one batch ``sending``.
BATCH = 20
TICK_BUDGET_SECONDS = 40


def automations_tick(*, now: datetime | None = None) -> str:
    """Collect, then execute (the schedule's task): a summary for the task's result."""
    recorded = automations_collect(now=now)
    counts: dict[str, int] = {}
    deadline = time.monotonic() + TICK_BUDGET_SECONDS
    while True:  # batches until none is left due, within the minute
        batch = automations_execute(now=now, limit=BATCH)
        for status, n in batch.items():
            counts[status] = counts.get(status, 0) + n
        if sum(batch.values()) < BATCH or time.monotonic() > deadline:
            break
    done = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none executed"
    return f"{recorded} runs recorded; {done}"


def visible_runs(team_ids: set[int] | None) -> Q:
    """The runs of the automations of teams in ``team_ids``; None (org viewers): all, organisation-wide included."""
    return Q() if team_ids is None else Q(automation__team_id__in=team_ids)
