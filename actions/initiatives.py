"""Initiatives: who may see them, freezing their definitions and baselines at the start, and the draft an automation
makes.

- **Access.** An initiative is visible to whoever may see every one of its target teams (``e360.access``); org
  viewers see all (``visible_initiatives``).
- **Freezing** (``initiative_freeze``). On the start date (the organisation's time zone), or at creation when it
  has come already, the definitions are written to ``Initiative.frozen`` — each metric's key, label, unit and
  better direction, the guardrail and the direction that counts as worse, the survey dimension, the windows, the
  teams and their starts, and the metric definitions' parameters (``metrics.scope.reading_profile``: time zone,
  median, lead-time formula, incident link window, review wait, DORA bands year) — with each started team's
  **baseline**: the value of each primary and guardrail metric over the ``window_days`` days before its start, read
  as thresholds read a team with its sub-teams (``threshold_metrics.before``; no data: ``null``, never 0), and its
  survey dimension's % favourable in the latest wave closed by then (shown cells only: a group below k has none).
  With the definitions, every comparison candidate's baseline (``initiative_reads.candidate_baselines``: the
  teams at the treated teams' level, all read at once), so the comparison is chosen on values fixed at the start
  and a report after it reads no candidate's history again.
  A team that starts later (a staggered start) gets its baseline on its own start date. Nothing frozen is ever
  written again; the hourly task (``initiatives_freeze_due``) does what has come due, so running it twice, or
  late, changes nothing.
- **Drafts** (``initiative_draft``): the automation action "Draft an initiative for the team" — one initiative per
  automation run (``Initiative.automation_run`` is unique), for the occurrence's team, starting a week later so a
  lead reviews it before it is frozen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from actions import initiative_reads, threshold_metrics
from actions.models import AutomationRun, Initiative, InitiativeTeam, Threshold
from actions.models.initiatives import (
    MAX_PRIMARY_METRICS,
    CreatedFrom,
    InitiativeQuerySet,
    WorseWhen,
    baseline_due,
    delivery_metrics,
    org_today,
)
from actions.models.thresholds import ScopeKind
from actions.threshold_metrics import METRICS, Subject
from e360.access import visible_team_ids
from e360.models import Membership, Team, User
from e360.tree import TeamTree
from insights import engine
from metrics import definitions as d
from metrics.models import Incident, PipelineRun, PullRequest
from metrics.scope import reading_profile
from surveys.models import Dimension

logger = logging.getLogger(__name__)

# --- Access -----------------------------------------------------------------------------------------------------


def visible_initiatives(user: User) -> InitiativeQuerySet:
    """The initiatives ``user`` may see: those whose every target team they may see (org viewers: all)."""
    return Initiative.objects.of_teams(visible_team_ids(user))


def with_teams(initiatives: InitiativeQuerySet) -> InitiativeQuerySet:
    """With their owner and their target teams (``Initiative.targets_with_teams``), read at once."""
    targets = InitiativeTeam.objects.select_related("team").order_by("pk")
    return initiatives.select_related("owner").prefetch_related(Prefetch("targets", queryset=targets))


def get_initiative_for_user(user: User, pk: int) -> Initiative:
    """The initiative, if ``user`` may see it (all its teams); 404 otherwise."""
    initiative = with_teams(visible_initiatives(user)).filter(pk=pk).first()
    if initiative is None:
        raise Http404("No such initiative.")
    return initiative


# --- Freezing ---------------------------------------------------------------------------------------------------


def _metric(key: str) -> dict[str, Any]:
    metric = METRICS[key]
    return {
        "key": key,
        "label": metric.label,
        "unit": metric.unit,
        "better": "lower" if metric.higher_is_worse else "higher",
    }


def metric_definitions() -> dict[str, Any]:
    """The parameters the delivery metrics are computed with (docs/metrics.md#definitions): what a baseline means."""
    profile = reading_profile()
    link_window = profile.incident_link_window
    return {
        "profile": profile.name,
        "time_zone": profile.time_zone,
        "median": str(profile.median_kind),
        "lead_time_formula": str(profile.lead_time_formula),
        "incident_link_window_hours": None if link_window is None else link_window / timedelta(hours=1),
        "review_wait_hours": profile.review_wait / timedelta(hours=1),
        "dora_bands_year": profile.bands_year,
        "change_link_rules": list(profile.change_link_rules),
        "hotfix_pattern": profile.hotfix_pattern,
    }


def definitions_of(initiative: Initiative, targets: list[InitiativeTeam]) -> dict[str, Any]:
    guardrail = None
    if initiative.guardrail_metric:
        guardrail = {**_metric(initiative.guardrail_metric), "worse_when": initiative.guardrail_worse_when}
    survey = initiative.survey_dimension or initiative.dimension
    return {
        "dimension": {"key": initiative.dimension, "label": initiative.dimension_label},
        "hypothesis": initiative.hypothesis,
        "primary_metrics": [_metric(key) for key in initiative.primary_metrics],
        "guardrail": guardrail,
        "survey_dimension": {"key": survey, "label": Dimension(survey).label},
        "starts_on": initiative.starts_on.isoformat(),
        "ramp_up_days": initiative.ramp_up_days,
        "window_days": initiative.window_days,
        "teams": [
            {"id": target.team_id, "name": target.team.name, "starts_on": target.start.isoformat()}
            for target in targets
        ],
        "scope": "each team with its sub-teams, as its delivery pages read it",
        "metric_definitions": metric_definitions(),
    }


def baseline_of(definitions: dict[str, Any], team: Team, start: date, now: datetime) -> dict[str, Any]:
    """A team's values before its start: each frozen metric over the window of days before it, and the survey
    dimension's latest score by then."""
    keys = [spec["key"] for spec in definitions["primary_metrics"]]
    if definitions.get("guardrail"):
        keys.append(definitions["guardrail"]["key"])
    survey = f"survey.{definitions['survey_dimension']['key']}"
    values: dict[str, float | None] = {}
    window: d.Window | None = None
    for key in [*keys, survey]:
        subject = Subject(METRICS[key], ScopeKind.TEAM_SUBTREE, team, None, definitions["window_days"])
        reading = threshold_metrics.before(subject, start, now)
        values[key] = reading.value
        window = window or reading.window
    return {
        "team": team.name,
        "starts_on": start.isoformat(),
        "window": {"start": window.start.isoformat(), "end": window.end.isoformat()} if window else None,
        "values": values,
        "frozen_at": now.isoformat(),
    }


@dataclass(frozen=True)
class Freezing:
    definitions: bool  # frozen now (False: already, or not started)
    baselines: int  # team baselines frozen now


def initiative_freeze(*, initiative_id: int, now: datetime | None = None) -> Freezing:
    """Freeze what has come due: the definitions once the initiative's start has come, and the baseline of each
    team whose own start has. Under the initiative's row lock, so two runs at once freeze once; what is frozen is
    never written again."""
    now = now or timezone.now()
    today = org_today(now)
    with transaction.atomic():
        initiative = Initiative.objects.select_for_update().filter(pk=initiative_id).first()
        if initiative is None or initiative.starts_on > today:
            return Freezing(False, 0)
        targets = list(initiative.targets.select_related("team").order_by("pk"))
        froze = initiative.frozen_at is None
        if froze:
            initiative.frozen = {
                "definitions": definitions_of(initiative, targets),
                "baselines": {},
                "candidates": initiative_reads.candidate_baselines(initiative, targets, now=now, tree=TeamTree.load()),
            }
            initiative.frozen_at = now
        definitions = initiative.frozen["definitions"]
        due = [target for target in targets if target.baseline_at is None and target.start <= today]
        for target in due:
            initiative.frozen["baselines"][str(target.team_id)] = baseline_of(
                definitions, target.team, target.start, now
            )
        if due:
            InitiativeTeam.objects.filter(pk__in=[target.pk for target in due]).update(baseline_at=now)
        if froze or due:
            Initiative.objects.filter(pk=initiative.pk).update(frozen_at=initiative.frozen_at, frozen=initiative.frozen)
    return Freezing(froze, len(due))


def initiatives_freeze_due(*, now: datetime | None = None) -> tuple[int, int, int]:
    """Freeze every initiative whose start, or one of whose teams' start, has come (the hourly task). One that
    fails is logged and left for the next run. Returns (definitions frozen, baselines frozen, failed)."""
    now = now or timezone.now()
    today = org_today(now)
    ids = set(Initiative.objects.starting(today).values_list("pk", flat=True))
    ids |= set(InitiativeTeam.objects.filter(baseline_due(today)).values_list("initiative_id", flat=True))
    frozen = baselines = failed = 0
    for pk in sorted(ids):
        try:
            done = initiative_freeze(initiative_id=pk, now=now)
        except Exception:
            logger.exception("initiative %s could not be frozen", pk)
            failed += 1
            continue
        frozen += done.definitions
        baselines += done.baselines
    return frozen, baselines, failed


# --- Started in the portal -----------------------------------------------------------------------------------------


def initiative_save(*, initiative: Initiative, teams: list[Team], by: User, created_from: str = "") -> Initiative:
    """Save an initiative edited in the portal with its target teams (a new one is ``by``'s, from ``created_from``):
    teams added start with it, teams removed are dropped, a team's own (staggered) start is kept. The caller saves
    the form's links in the same transaction, then freezes what has come due (``initiative_freeze``)."""
    if initiative.pk is None:
        initiative.owner = initiative.owner or by
        initiative.created_by = by
        initiative.created_from = created_from or CreatedFrom.ADMIN
    initiative.save()
    wanted = {team.pk for team in teams}
    initiative.targets.exclude(team_id__in=wanted).delete()
    have = set(initiative.targets.values_list("team_id", flat=True))
    InitiativeTeam.objects.bulk_create(
        [InitiativeTeam(initiative=initiative, team_id=pk) for pk in sorted(wanted - have)]
    )
    return initiative


# --- Drafts from automations ---------------------------------------------------------------------------------------

DRAFT_LEAD_DAYS = 7  # a drafted initiative starts a week after its run: time for a lead to review it


def mapped_metrics(dimension: str) -> list[str]:
    """The delivery metrics the insights map a dimension to (``insights.engine.MAPPING``), the first three."""
    known = delivery_metrics()
    return [spec.key for spec in engine.MAPPING.get(dimension, ()) if spec.key in known][:MAX_PRIMARY_METRICS]


def default_guardrail(dimension: str, primary: list[str]) -> str:
    """Work on speed must not cost stability (the change failure rate must not rise); work on stability must not
    cost speed (deployment frequency must not fall)."""
    key = "deployment_frequency" if dimension == "stability" else "change_failure_rate"
    return "" if key in primary else key


def occurrence_team(run: AutomationRun) -> Team | None:
    """The team an occurrence concerns: the one it names, its threshold's, its service's owner (an incident, a
    pipeline run, a pull request); else the automation's owner team."""
    inputs = run.inputs or {}
    team_id = inputs.get("team_id")
    if team_id is None and inputs.get("threshold_id"):
        threshold = Threshold.objects.select_related("service").filter(pk=inputs["threshold_id"]).first()
        team_id = threshold.owner_team_id if threshold else None
    for key, model in (("incident_id", Incident), ("pipeline_run_id", PipelineRun), ("pull_request_id", PullRequest)):
        if team_id is None and inputs.get(key):
            team_id = model.objects.filter(pk=inputs[key]).values_list("service__owner_id", flat=True).first()
    if team_id is None:
        team_id = run.automation.team_id
    return Team.objects.filter(pk=team_id).first() if team_id is not None else None


def team_lead(team: Team) -> int | None:
    """The user id of one of the team's leads (the first by name) who can sign in; None without one."""
    return (
        Membership.objects.filter(
            team=team,
            role=Membership.Role.LEAD,
            person__is_active=True,
            person__user__isnull=False,
            person__user__is_active=True,
        )
        .order_by("person__name", "pk")
        .values_list("person__user_id", flat=True)
        .first()
    )


@dataclass(frozen=True)
class Drafted:
    ok: bool
    message: str
    initiative: Initiative | None = None


def initiative_draft(*, run: AutomationRun, now: datetime | None = None, dry_run: bool = False) -> Drafted:
    """Draft the initiative of an automation run (once: a retry finds the one it drafted), or say what it would
    draft (``dry_run``: nothing is written)."""
    automation = run.automation
    dimension = automation.initiative_dimension
    if dimension not in engine.DIMENSIONS_BY_KEY:
        return Drafted(False, "the automation names no dimension for the initiative: choose one in the admin")
    primary = mapped_metrics(dimension)
    if not primary:
        return Drafted(False, f"{engine.DIMENSIONS_BY_KEY[dimension].label} maps to no delivery metric to measure")
    existing = Initiative.objects.filter(automation_run=run).first()
    if existing is not None:
        return Drafted(True, _drafted(existing, again=True), existing)
    team = occurrence_team(run)
    if team is None:
        return Drafted(False, "no team to draft an initiative for: give the automation an owner team")
    label = engine.DIMENSIONS_BY_KEY[dimension].label
    trigger = str(run.inputs.get("title") or automation.trigger_text)
    tail = f": we expect {label} to improve"
    starts_on = d.bucket_day(run.created_at, reading_profile()) + timedelta(days=DRAFT_LEAD_DAYS)
    fields = {
        "name": f"{team.name}: {label} (drafted by “{automation.name}”)"[:200],
        "dimension": dimension,
        "hypothesis": trigger[: 300 - len(tail)] + tail,
        "owner_id": team_lead(team) or automation.created_by_id,
        "starts_on": starts_on,
        "primary_metrics": primary,
        "survey_dimension": dimension,
        "guardrail_metric": (guardrail := default_guardrail(dimension, primary)),
        "guardrail_worse_when": (
            "" if not guardrail else WorseWhen.RISES if METRICS[guardrail].higher_is_worse else WorseWhen.FALLS
        ),
        "created_from": CreatedFrom.AUTOMATION,
    }
    if dry_run:
        return Drafted(
            True,
            f"dry run: would draft the initiative “{fields['name']}” for {team.name}, starting "
            f"{starts_on:%Y-%m-%d}, measured by {', '.join(METRICS[key].label for key in primary)}",
        )
    with transaction.atomic():
        initiative, created = Initiative.objects.get_or_create(automation_run=run, defaults=fields)
        if created:
            InitiativeTeam.objects.create(initiative=initiative, team=team)
            initiative.automations.add(automation)
            threshold_id = run.inputs.get("threshold_id")
            if threshold_id and Threshold.objects.filter(pk=threshold_id).exists():
                initiative.thresholds.add(threshold_id)
    if created and starts_on <= org_today(now):  # a run executed a week late: it has started already
        initiative_freeze(initiative_id=initiative.pk, now=now)
    return Drafted(True, _drafted(initiative, again=not created), initiative)


def _drafted(initiative: Initiative, *, again: bool) -> str:
    url = settings.SITE_URL + reverse("admin:actions_initiative_change", args=[initiative.pk])
    return f"Initiative #{initiative.pk} drafted{' (by an earlier attempt)' if again else ''}: {url}"
