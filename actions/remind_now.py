"""“Remind reviewers now”, the review queue's self-service action: one pull request, or every late one of a team,
reminded at once through the channel of the review reminder policy that governs it. It follows the run actions'
rules (``actions.selfservice``) in the same order:

1. **Seeing.** A pull request is fetched through ``pull_for_user`` (404 for one of a service of a team the user may
   not see); a team through ``e360.access`` (404 likewise).
2. **Offered** (``PullOffer.reason``, ``TeamOffer.reason``): the pull request still waits for a first review (the
   review queue's definition, ``metrics.selectors.waiting_for_review``); a policy governs it, by the schedule's own
   rule (``reminders.governing_of``: its service's, its team's, an ancestor's covering sub-teams); that policy names
   a channel; and there is someone to remind (the owning team's members other than the author, or the team's
   channel). Otherwise the page says which of these is missing. "Remind all" takes the team's pull requests waiting
   longer than the review queue's "late" (the organisation's review wait), of the services the team owns (its row
   of the queue's table), except those reminded (sent) within the last hour: nobody is pinged twice in a row.
3. **Allowed**: ``ActionPolicy`` of kind ``remind_reviewers`` (members of the owning team by default), checked by
   ``selfservice.refusal`` on the owning team.
4. **Rate-limited** per user and per target (the pull request; for "remind all", the team), from the audit, as
   ``selfservice.audit_begin`` counts and locks.
5. **Audited** (``ActionAudit`` with the pull request, or the team).

**The holdout.** A pull request whose stable hash puts it in its policy's holdout is never reminded by "Remind all"
(it would spoil the experiment: the answer says how many were left out). A single "Remind reviewers now" on it is
allowed to a *lead* of its team (or of a team above; the platform group and superusers too), never to a plain
member: the cell marks it "holdout", and the confirmation says it leaves the experiment. Its reminder is recorded
``held_out=False`` with ``requested_by`` set, so a measurement of the holdout leaves out every pull request with a
manual reminder.

**Recording.** Each reminder sent now is a ``Reminder`` row under its policy, with the next round, the snapshot and
``requested_by``: the schedule then sees it like its own ("re-remind after" counts from it, "changed since"
compares with it). The rows are written ``sending`` in the action's transaction, then sent by
``reminders.deliver`` through ``reminders.batch_send`` (one composition of a reminder: ``reminder_message``) and
marked ``sent`` or ``failed``: the 15-minute sender never takes them, so nothing is sent twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.http import Http404
from django.utils import timezone

from actions import business_hours, reminders
from actions.business_hours import WorkingTime
from actions.models import ActionAudit, ActionKind, ActionPolicy, Reminder, ReminderPolicy
from actions.selfservice import WINDOW, Actor, NotOffered, Outcome, audit_begin, audit_finish, policy_for, refusal
from e360 import access
from e360.models import Team, User
from e360.tree import TeamTree
from metrics.models import PullRequest
from metrics.scope import ServiceRef, in_services
from metrics.selectors import Area, waiting_for_review

KIND = ActionKind.REMIND_REVIEWERS
HOLDOUT_LEADS = "In its policy's holdout: only a lead of {team} may remind it (it then leaves the experiment)."


# --- What -----------------------------------------------------------------------------------


@dataclass
class Candidate:
    """A waiting pull request and what reminding it needs: its policy, owning team, reviewers, holdout."""

    pull: PullRequest
    team_id: int
    policy: ReminderPolicy | None = None
    reviewers: tuple[int, ...] = ()
    held_out: bool = False
    reason: str = ""  # why it cannot be reminded ("" when it can)


def _why_not(policy: ReminderPolicy | None, reviewers: tuple[int, ...], service: str) -> str:
    if policy is None:
        return f"No review reminder policy covers {service}: a lead of its team sets one up (Review reminders)."
    if policy.channel_id is None:
        return f"{policy} names no channel: a lead of its team chooses one (Review reminders)."
    if not reviewers and policy.recipients != ReminderPolicy.Recipients.CHANNEL:
        return "Nobody to remind: the owning team has no other active member."
    return ""


def candidates(pulls: Iterable[PullRequest], services: dict[int, ServiceRef]) -> list[Candidate]:
    """Each pull request (of ``services``) with its governing policy and reviewers, in four queries."""
    pulls = list(pulls)
    if not pulls:
        return []
    active = ReminderPolicy.objects.filter(is_active=True).select_related("channel", "team", "service")
    policies = reminders.governing_of(list(active), services.values(), TeamTree.load())
    pulls = [p for p in pulls if p.service_id in services]  # a service created since the area was read: not yet
    members = reminders.members_of({services[p.service_id].owner_id for p in pulls if p.service_id is not None})
    found = []
    for pull in pulls:
        assert pull.service_id is not None  # kept above
        service = services[pull.service_id]
        policy = policies.get(service.id)
        reviewers = tuple(p for p in members.get(service.owner_id, ()) if p != pull.person_id)
        held_out = policy is not None and reminders.is_held_out(
            policy.holdout_percent, policy.pk, pull.source_id, pull.external_id
        )
        found.append(
            Candidate(pull, service.owner_id, policy, reviewers, held_out, _why_not(policy, reviewers, service.name))
        )
    return found


def _visible(user: User) -> Q:
    ids = access.visible_team_ids(user)
    return Q() if ids is None else Q(service__owner_id__in=ids)


def pull_for_user(user: User, pk: int) -> PullRequest:
    """A pull request by id, if ``user`` may see it (else 404)."""
    pull = PullRequest.objects.filter(_visible(user), pk=pk).select_related("repository", "service").first()
    if pull is None:
        raise Http404("No such pull request.")
    return pull


def pulls_for_user(user: User, ids: Iterable[int]) -> list[PullRequest]:
    """The pull requests of ``ids`` that ``user`` may see (the others are left out)."""
    visible = PullRequest.objects.filter(_visible(user), pk__in=list(ids))
    return list(visible.select_related("repository", "service").order_by("pk"))


@dataclass(frozen=True)
class PullOffer:
    """What one user may do with one pull request: ``reason`` when nothing is offered, else ``refused`` ("": ok)."""

    pull: PullRequest
    reason: str = ""
    refused: str = ""
    held_out: bool = False
    candidate: Candidate | None = field(default=None, repr=False, compare=False)


def pull_offers(user: User, pulls: Iterable[PullRequest]) -> list[PullOffer]:
    """What ``user`` may do with each of ``pulls``, in a fixed number of queries."""
    pulls = list(pulls)
    if not pulls:
        return []
    area = Area.organisation()
    waiting = set(waiting_for_review(area).filter(pk__in=[p.pk for p in pulls]).values_list("pk", flat=True))
    found_candidates = candidates(pulls, area.by_id)
    rule = policy_for(KIND)
    actor = Actor.of(user)
    offers = []
    for candidate in found_candidates:
        pull = candidate.pull
        if pull.pk not in waiting:
            offers.append(PullOffer(pull, reason="Reviewed, merged or closed: no longer waiting for a first review."))
        elif candidate.reason:
            offers.append(PullOffer(pull, reason=candidate.reason, candidate=candidate))
        else:
            refused = _refusal(actor, rule, candidate)
            offers.append(PullOffer(pull, refused=refused, held_out=candidate.held_out, candidate=candidate))
    return offers


def _refusal(actor: Actor, rule: ActionPolicy, candidate: Candidate) -> str:
    """The policy's refusal; for a held-out pull request, the leads' rule on top (see the module's doc)."""
    why = refusal(actor, rule, candidate.team_id)
    if why or not candidate.held_out:
        return why
    leads = ActionPolicy(
        kind=KIND,
        who=ActionPolicy.Who.LEADS,
        enabled=rule.enabled,
        platform_group_id=rule.platform_group_id,
        platform_team_id=rule.platform_team_id,
    )
    if refusal(actor, leads, candidate.team_id):
        return HOLDOUT_LEADS.format(team=actor.tree.names.get(candidate.team_id, "the team"))
    return ""


@dataclass(frozen=True)
class TeamOffer:
    """ "Remind all late pull requests" of a team's services: those that would be reminded, those left out."""

    team: Team
    late: int  # waiting longer than the review queue's "late"
    ready: tuple[Candidate, ...]
    held_out: int
    recent: int  # reminded within the last hour (by anyone, or the schedule): not pinged twice
    unremindable: tuple[str, ...]  # why the others cannot be, once each
    review_wait: timedelta
    reason: str = ""
    refused: str = ""


def team_offer(user: User, team: Team, now: datetime | None = None) -> TeamOffer:
    """What ``user`` may do with the late pull requests of the services ``team`` owns."""
    now = now or timezone.now()
    area = Area.organisation()
    review_wait = area.profile.review_wait
    services = {s.id: s for s in area.services if s.owner_id == team.pk}
    pulls = (
        waiting_for_review(area)
        .filter(in_services(list(services)), opened_at__lte=now - review_wait)
        .select_related("repository")
        .order_by("opened_at", "id")
        if services
        else PullRequest.objects.none()
    )
    found = candidates(pulls, services)
    reminded = set(
        Reminder.objects.filter(
            pull_request_id__in=[c.pull.pk for c in found], status=Reminder.Status.SENT, sent_at__gt=now - WINDOW
        ).values_list("pull_request_id", flat=True)
    )
    remindable = [c for c in found if not c.reason]
    ready = tuple(c for c in remindable if not c.held_out and c.pull.pk not in reminded)
    held = sum(1 for c in remindable if c.held_out)
    recent = sum(1 for c in remindable if not c.held_out and c.pull.pk in reminded)
    unremindable = tuple(dict.fromkeys(c.reason for c in found if c.reason))
    reason = ""
    if not found:
        reason = f"No pull request of {team.name} has waited longer than the review queue's late mark."
    elif not ready:
        reason = " ".join(unremindable) or (
            f"Of {team.name}'s {len(found)} late pull requests, {held} in the holdout and {recent} reminded within "
            "the hour: none to remind now."
        )
    refused = "" if reason else refusal(Actor.of(user), policy_for(KIND), team.pk)
    return TeamOffer(team, len(found), ready, held, recent, unremindable, review_wait, reason, refused)


# --- Running --------------------------------------------------------------------------------


def remind_pull_request(*, user: User, pull: PullRequest) -> Outcome:
    """Remind the reviewers of ``pull`` now: checked, limited, recorded, sent, audited. ``NotOffered`` with why."""
    (offer,) = pull_offers(user, [pull])
    if offer.reason or offer.candidate is None:
        raise NotOffered(offer.reason)
    actor = Actor.of(user)
    candidate = offer.candidate
    label = f"{pull.repository.name if pull.repository else ''}#{pull.number or '?'} {pull.title}".strip()
    begun = audit_begin(
        actor,
        policy_for(KIND),
        team_id=candidate.team_id,
        label=label,
        on={"pull_request": pull},
        lock=PullRequest.objects.filter(pk=pull.pk),
        whose="This pull request has",
        refused=offer.refused,
    )
    if isinstance(begun, Outcome):
        return begun
    return _send(actor, begun, [candidate])


def remind_team(*, user: User, team: Team) -> Outcome:
    """Remind the reviewers of every late pull request of ``team`` now, the held-out ones left out."""
    offer = team_offer(user, team)
    if offer.reason:
        raise NotOffered(offer.reason)
    actor = Actor.of(user)
    begun = audit_begin(
        actor,
        policy_for(KIND),
        team_id=team.pk,
        label=f"The late pull requests of {team.name}",
        on={"team_id": team.pk, "pull_request": None},
        lock=Team.objects.filter(pk=team.pk),
        whose="This team has",
        refused=offer.refused,
    )
    if isinstance(begun, Outcome):
        return begun
    outcome = _send(actor, begun, list(offer.ready))
    left = []
    if offer.held_out:
        left.append(f"{offer.held_out} in the holdout left out")
    if offer.recent:
        left.append(f"{offer.recent} reminded within the hour left out")
    if offer.unremindable:
        others = offer.late - len(offer.ready) - offer.held_out - offer.recent
        left.append(f"{others} with no policy, channel or reviewer left out")
    if left and outcome.audit is not None:
        message = f"{outcome.message.removesuffix('.')} ({'; '.join(left)})."
        audit = outcome.audit
        audit.message = message[:500]
        audit.save(update_fields=["message"])
        return Outcome(outcome.status, message, audit)
    return outcome


def _working(team_ids: set[int]) -> dict[int, WorkingTime]:
    found = {}
    for pk, zone, days, starts, ends in Team.objects.filter(pk__in=team_ids).values_list(
        "pk", "time_zone", "working_days", "work_starts", "work_ends"
    ):
        try:
            found[pk] = WorkingTime.of(zone, days or (), starts, ends)
        except (ValueError, TypeError):  # a team's bad working time: the wall-clock wait then
            continue
    return found


def _send(actor: Actor, audit: ActionAudit, chosen: list[Candidate]) -> Outcome:
    """Record the reminders (``sending``), send them through their policies' channels, finish the audit."""
    began = time.monotonic()
    now = timezone.now()
    ids = [c.pull.pk for c in chosen]
    snapshots = {
        row["id"]: row
        for row in reminders.with_snapshot(PullRequest.objects.filter(pk__in=ids)).values(
            "id", "commit_count", "last_commit_at", "review_count"
        )
    }
    working = _working({c.team_id for c in chosen})
    try:
        with transaction.atomic():
            rounds = {
                (row["policy_id"], row["pull_request_id"]): row["last"]
                for row in Reminder.objects.filter(pull_request_id__in=ids)
                .values("policy_id", "pull_request_id")
                .annotate(last=Max("round"))
            }
            rows = []
            for c in chosen:
                assert c.policy is not None  # offered: a policy governs it
                snap = snapshots[c.pull.pk]
                zone = working.get(c.team_id)
                waited = (
                    business_hours.between(zone, c.pull.opened_at, now)
                    if zone
                    else max(now - c.pull.opened_at, timedelta(0))
                )
                why = f"Reminded now by {actor.name}"
                if c.held_out:
                    why += f"; in the {c.policy.holdout_percent}% holdout, so it leaves the experiment"
                rows.append(
                    Reminder(
                        policy=c.policy,
                        pull_request=c.pull,
                        round=rounds.get((c.policy.pk, c.pull.pk), 0) + 1,
                        status=Reminder.Status.SENDING,
                        due_at=now,
                        waited=waited,
                        reviewers=list(c.reviewers),
                        why=why[:300],
                        commits=snap["commit_count"],
                        last_commit_at=snap["last_commit_at"],
                        reviews=snap["review_count"],
                        requested_by=actor.name,
                    )
                )
            Reminder.objects.bulk_create(rows)
    except IntegrityError:  # the schedule (or someone) recorded the same round a moment ago
        message = "A reminder was just recorded for it: try again in a minute if it is still waiting."
        return audit_finish(audit, ActionAudit.Status.FAILED, message, "round taken", began)
    sent = list(
        Reminder.objects.filter(pk__in=[r.pk for r in rows]).order_by("due_at", "id").values(*reminders.SENT_ROW)
    )
    errors = reminders.deliver(sent, reminders.batch_send)
    count = len(rows)
    what = f"{count} pull request{'s' if count != 1 else ''}"
    if not errors:
        channels = sorted({str(c.policy.channel) for c in chosen if c.policy is not None})
        message = f"Reminded the reviewers of {what} through {', '.join(channels)}"
        if count == 1 and chosen[0].held_out:
            message += "; it is no longer in the holdout's measurement"
        return audit_finish(audit, ActionAudit.Status.SUCCEEDED, message + ".", "sent", began)
    failed = len(errors)
    first = next(iter(errors.values()))
    message = f"{failed} of {count} reminders could not be sent: {first}"
    status = ActionAudit.Status.FAILED if failed == count else ActionAudit.Status.SUCCEEDED
    return audit_finish(audit, status, message, first, began)
