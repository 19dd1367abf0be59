"""PR review reminders: which pull requests are due a reminder now, under which policy, to whom;
recording them; and the outbox the sender reads.

**Which policy.** A pull request follows the most specific active ``ReminderPolicy``: its service's,
else its owning team's (the service's owner), else the nearest ancestor team's that covers its
sub-teams. Business time is always the owning team's working time (``Team.time_zone``,
``working_days``, ``work_starts``, ``work_ends``; ``actions.business_hours``): its people are the
ones reminded.

**Due now** (``due_reminders``), one rule each, in this order:

1. *Waiting for a first review*: the review queue's pull requests (``metrics.selectors.
   waiting_for_review``): open (not merged, not closed), not a direct push, and nobody but the
   author has reviewed or commented. That one definition also excludes approved pull requests and
   those waiting on their author: an approval or a "changes requested" is a first review by
   someone else. Drafts are not stored until ready for review (the GitHub and GitLab integrations
   leave open drafts out), so none waits here; ``opened_at`` is the opening as stored.
2. *Waited long enough*: at least ``after_hours`` business hours since ``opened_at``, i.e.
   ``opened_at <= business_hours.before(now, after_hours)`` (one instant per owning team).
3. *Not reminded lately*: no reminder under this policy yet, or the last one at least
   ``again_after_hours`` business hours ago, or the pull request changed since it (its commits,
   latest commit or reviews differ from the last reminder's snapshot).
4. *At a good moment*: now is the owning team's working time; with a daily digest, now is at or past
   the digest's local time on a working day whose digest was not gathered yet (then every due pull
   request of the policy goes in that day's digest, and the day is marked gathered even if none).
5. *Someone to remind*: the owning team's active members other than the author (e360 stores no
   requested reviewers); a policy that posts to a channel is due even with nobody listed.

**Holdout.** Of the due pull requests, those whose stable hash falls under the policy's
``holdout_percent`` are recorded as held out (``held_out=True``, status ``held_out``) and never
sent: the same rounds as the others, so pickup times compare arm to arm. The hash is
``sha256("e360 reminder holdout" NUL policy id NUL source id NUL external id)``, its first eight
bytes big-endian modulo 10 000; held out when below ``holdout_percent × 100``. It depends on nothing
that changes (not the title, not the time), so a pull request is always in or always out under a
policy, and raising the share keeps everything held out before held out.

**Recording** (``reminders_record``) inserts one ``Reminder`` per due one with its round, ignoring a
row that exists: the unique ``(policy, pull_request, round)`` makes a rerun (a killed worker, two
workers) record nothing twice. Reminders are recorded ``due``.

**Sending** (``reminders_send``) is where the notification channels plug in: it takes the due
reminders (marking them ``sending`` first, in their own transaction, rows locked and skipped by
another worker), gathers them into ``Message``s (one per reviewer, or one for the policy's channel,
per digest or per selection), hands each to the ``send`` it is given, and marks each reminder
``sent``, or ``failed`` with the error. A worker killed while sending leaves its reminders
``sending``: never sent twice. Nothing calls it yet: the lead wires it to the channels' ``send``.

A selection runs a fixed number of queries (seven) however many policies, pull requests and
reminders there are: the policies, the team tree with working times, the services (``Area``'s two),
the waiting pull requests with their commit and review counts, the reminders before, the members.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from actions import business_hours
from actions.business_hours import WorkingTime
from actions.channels import Fact
from actions.channels import Message as ChannelMessage
from actions.channels import send as send_message
from actions.models import Reminder, ReminderPolicy
from e360.models import Membership, Person, Team
from e360.tree import TeamTree
from metrics.models import Commit, PullRequest, Review
from metrics.scope import ServiceRef, in_services
from metrics.selectors import Area, waiting_for_review

log = logging.getLogger(__name__)

HOLDOUT_SCALE = 10_000  # the hash's buckets: a holdout share is a whole number of hundredths of a percent
_HOLDOUT_SALT = b"e360 reminder holdout"


def holdout_bucket(policy_id: int, source_id: int, external_id: str) -> int:
    """The pull request's stable bucket under a policy, 0 … 9 999 (see the module's docstring)."""
    key = b"\x00".join((_HOLDOUT_SALT, str(policy_id).encode(), str(source_id).encode(), external_id.encode()))
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % HOLDOUT_SCALE


def is_held_out(percent: int, policy_id: int, source_id: int, external_id: str) -> bool:
    return holdout_bucket(policy_id, source_id, external_id) < percent * HOLDOUT_SCALE // 100


# --- What a selection returns ---------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """The pull request as a reminder saw it: "changed since" compares these."""

    commits: int
    last_commit_at: datetime | None
    reviews: int


@dataclass(frozen=True)
class DueReminder:
    policy_id: int
    pull_request_id: int
    round: int  # 1 for the pull request's first reminder under the policy
    reviewers: tuple[int, ...]  # Person ids
    held_out: bool
    waited: timedelta  # business time since it opened
    why: str
    snapshot: Snapshot
    digest_on: date | None  # the digest's local day; None: sent on its own


@dataclass(frozen=True)
class Selection:
    now: datetime
    due: tuple[DueReminder, ...]
    digests: tuple[tuple[int, date], ...]  # (policy id, local day) of the digests gathered now
    skipped: tuple[str, ...] = ()  # policies that could not run, and why


# --- Selection ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    """A policy's instants for one owning team at ``now``."""

    open: bool  # rule 4
    opened_by: datetime  # rule 2: opened at or before this
    reminded_by: datetime  # rule 3: last reminded at or before this
    working: WorkingTime
    digest_on: date | None


@dataclass(frozen=True)
class _Team:
    working: WorkingTime | None
    problem: str


def _teams() -> tuple[TeamTree, dict[int, _Team]]:
    """The team tree and every team's working time, in one query."""
    rows = Team.objects.order_by().values_list(
        "id", "parent_id", "name", "slug", "time_zone", "working_days", "work_starts", "work_ends"
    )
    tree_rows, teams = [], {}
    for pk, parent, name, slug, zone, days, starts, ends in rows:
        tree_rows.append((pk, parent, name, slug))
        try:
            teams[pk] = _Team(WorkingTime.of(zone, days or (), starts, ends), "")
        except (ValueError, TypeError) as exc:
            teams[pk] = _Team(None, f"team {name}: {exc}")
    return TeamTree.from_rows(tree_rows), teams


def governing_of(
    policies: Sequence[ReminderPolicy], services: Iterable[ServiceRef], tree: TeamTree
) -> dict[int, ReminderPolicy]:
    """Each covered service's policy: its own, else its owner's, else the nearest ancestor's covering sub-teams."""
    by_service = {p.service_id: p for p in policies if p.service_id is not None}
    by_team = {p.team_id: p for p in policies if p.team_id is not None}
    governing = {}
    for service in services:
        policy = by_service.get(service.id)
        if policy is None:
            for depth, team_id in enumerate(tree.chain(service.owner_id)):
                candidate = by_team.get(team_id)
                if candidate is not None and (depth == 0 or candidate.include_sub_teams):
                    policy = candidate
                    break
        if policy is not None:
            governing[service.id] = policy
    return governing


def _digest_day(policy: ReminderPolicy, home: WorkingTime, now: datetime) -> date | None:
    """The local day whose digest is to be gathered now, in the policy's own team's zone and working days
    (the service's owner for a service's policy); None when it is not digest time or the day's is done."""
    local = now.astimezone(home.zone)
    day = local.date()
    if (
        day.isoweekday() in home.days
        and local.time().replace(tzinfo=None) >= policy.digest_at
        and (policy.last_digest_on is None or policy.last_digest_on < day)
    ):
        return day
    return None


def _clock(policy: ReminderPolicy, working: WorkingTime, now: datetime, digest_on: date | None) -> _Clock:
    return _Clock(
        open=digest_on is not None if policy.digest else business_hours.is_working(working, now),
        opened_by=business_hours.before(working, now, timedelta(hours=policy.after_hours)),
        reminded_by=business_hours.before(working, now, timedelta(hours=policy.again_after_hours)),
        working=working,
        digest_on=digest_on,
    )


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f}" if hours >= 10 else f"{hours:.1f}".removesuffix(".0")


def due_reminders(*, now: datetime | None = None, policies: Iterable[ReminderPolicy] | None = None) -> Selection:
    """The reminders due at ``now`` under every active policy (or those given), by the rules above."""
    now = now or timezone.now()
    if policies is None:
        policies = ReminderPolicy.objects.filter(is_active=True).order_by("id")
    policies = list(policies)
    if not policies:
        return Selection(now, (), ())
    tree, teams = _teams()
    area = Area.organisation()
    governing = governing_of(policies, area.services, tree)

    # Each (policy, owning team)'s clock; services whose policy is not open now are left out of the query.
    clocks: dict[tuple[int, int], _Clock] = {}
    skipped: list[str] = []
    digests: set[tuple[int, date]] = set()
    wanted: list[int] = []
    for service_id, policy in governing.items():
        owner = area.by_id[service_id].owner_id
        key = (policy.pk, owner)
        if key not in clocks:
            home = teams.get(policy.team_id or area.by_id[policy.service_id].owner_id)  # type: ignore[index]
            team = teams.get(owner)
            problem = next((t.problem for t in (home, team) if t is not None and t.working is None), "")
            if home is None or team is None or problem:
                if problem and problem not in skipped:
                    skipped.append(problem)
                continue
            assert home.working is not None and team.working is not None  # no problem above
            digest_on = _digest_day(policy, home.working, now) if policy.digest else None
            clocks[key] = _clock(policy, team.working, now, digest_on)
            if digest_on is not None:
                digests.add((policy.pk, digest_on))
        if key in clocks and clocks[key].open:
            wanted.append(service_id)
    if not wanted:
        return Selection(now, (), tuple(sorted(digests)), tuple(skipped))

    latest_opening = max(c.opened_by for c in clocks.values() if c.open)
    waiting = waiting_for_review(area).filter(in_services(wanted), opened_at__lte=latest_opening)
    rows = list(
        with_snapshot(waiting.order_by("opened_at", "id"))
        .values(
            "id", "source_id", "external_id", "service_id", "person_id", "opened_at",
            "commit_count", "last_commit_at", "review_count",
        )
    )  # fmt: skip

    # The last reminder of each (policy, pull request): the waiting ones' only.
    last: dict[tuple[int, int], Any] = {}
    earlier = (
        Reminder.objects.filter(pull_request__in=waiting.values("id"), policy__in=[p.pk for p in policies])
        .order_by()
        .values("policy_id", "pull_request_id", "round", "due_at", "commits", "last_commit_at", "reviews")
    )
    for row in earlier:
        key = (row["policy_id"], row["pull_request_id"])
        if key not in last or row["round"] > last[key]["round"]:
            last[key] = row

    members = members_of({area.by_id[s].owner_id for s in wanted})

    due: list[DueReminder] = []
    for pr in rows:
        policy = governing[pr["service_id"]]
        owner = area.by_id[pr["service_id"]].owner_id
        clock = clocks[policy.pk, owner]
        if pr["opened_at"] > clock.opened_by:  # rule 2
            continue
        snapshot = Snapshot(pr["commit_count"], pr["last_commit_at"], pr["review_count"])
        before = last.get((policy.pk, pr["id"]))
        again = ""
        if before is not None:  # rule 3
            if Snapshot(before["commits"], before["last_commit_at"], before["reviews"]) != snapshot:
                again = "; changed since the last reminder"
            elif before["due_at"] <= clock.reminded_by:
                pause = business_hours.between(clock.working, before["due_at"], now)
                again = f"; last reminded {_hours(pause)} business hours ago"
            else:
                continue
        reviewers = tuple(p for p in members.get(owner, ()) if p != pr["person_id"])
        if not reviewers and policy.recipients != ReminderPolicy.Recipients.CHANNEL:  # rule 5
            continue
        waited = business_hours.between(clock.working, pr["opened_at"], now)
        why = f"No first review after {_hours(waited)} business hours{again}"
        held_out = is_held_out(policy.holdout_percent, policy.pk, pr["source_id"], pr["external_id"])
        if held_out:
            why += f"; held out ({policy.holdout_percent}% holdout)"
        due.append(
            DueReminder(
                policy_id=policy.pk,
                pull_request_id=pr["id"],
                round=before["round"] + 1 if before else 1,
                reviewers=reviewers,
                held_out=held_out,
                waited=waited,
                why=why,
                snapshot=snapshot,
                digest_on=clock.digest_on,
            )
        )
    return Selection(now, tuple(due), tuple(sorted(digests)), tuple(skipped))


def with_snapshot(pulls: QuerySet[PullRequest]) -> Any:  # annotated: django-stubs cannot name its type
    """Pull requests with what a reminder snapshots (``commit_count``, ``last_commit_at``, ``review_count``)."""
    commits = Commit.objects.filter(pull_request=OuterRef("pk")).order_by().values("pull_request")
    reviews = Review.objects.filter(pull_request=OuterRef("pk")).order_by().values("pull_request")
    return pulls.annotate(
        commit_count=Coalesce(Subquery(commits.annotate(n=Count("*")).values("n")), 0, output_field=IntegerField()),
        last_commit_at=Subquery(commits.annotate(at=Max("authored_at")).values("at")),
        review_count=Coalesce(Subquery(reviews.annotate(n=Count("*")).values("n")), 0, output_field=IntegerField()),
    )


def members_of(team_ids: Iterable[int]) -> dict[int, list[int]]:
    """The active members (Person ids) of each team: whom its pull requests' reminders reach (rule 5), one query."""
    members: dict[int, list[int]] = defaultdict(list)
    for team_id, person_id in (
        Membership.objects.filter(team_id__in=set(team_ids), person__is_active=True)
        .order_by("person_id")
        .values_list("team_id", "person_id")
    ):
        members[team_id].append(person_id)
    return members


# --- Recording and the outbox ---------------------------------------------------------------------


def reminders_record(*, selection: Selection) -> int:
    """Record a selection's reminders (and mark its digests gathered); returns how many rows it added.

    Idempotent: a reminder already recorded (same policy, pull request and round) is left as it is,
    and a digest day another run marked first records nothing more for that policy.
    """
    with transaction.atomic():
        taken: set[int] = set()
        for policy_id, day in selection.digests:
            marked = (
                ReminderPolicy.objects.filter(pk=policy_id)
                .filter(Q(last_digest_on__isnull=True) | Q(last_digest_on__lt=day))
                .update(last_digest_on=day)
            )
            if not marked:
                taken.add(policy_id)
        wanted = [r for r in selection.due if r.policy_id not in taken]
        if not wanted:
            return 0
        existing = set(
            Reminder.objects.filter(
                pull_request_id__in={r.pull_request_id for r in wanted},
                policy_id__in={r.policy_id for r in wanted},
            ).values_list("policy_id", "pull_request_id", "round")
        )
        rows = [
            Reminder(
                policy_id=r.policy_id,
                pull_request_id=r.pull_request_id,
                round=r.round,
                held_out=r.held_out,
                status=Reminder.Status.HELD_OUT if r.held_out else Reminder.Status.DUE,
                due_at=selection.now,
                digest_on=r.digest_on,
                waited=r.waited,
                reviewers=list(r.reviewers),
                why=r.why[:300],
                commits=r.snapshot.commits,
                last_commit_at=r.snapshot.last_commit_at,
                reviews=r.snapshot.reviews,
            )
            for r in wanted
            if (r.policy_id, r.pull_request_id, r.round) not in existing
        ]
        # A concurrent run may insert the same rounds between the read above and this: the
        # constraint keeps theirs.
        Reminder.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


_UNSENT = (Reminder.Status.DUE, Reminder.Status.SENDING)


def reminder_sent(*, reminder_id: int, at: datetime | None = None) -> bool:
    """Mark a reminder sent; False when it was not waiting to be (sent or failed already)."""
    return bool(
        Reminder.objects.filter(pk=reminder_id, status__in=_UNSENT).update(
            status=Reminder.Status.SENT, sent_at=at or timezone.now(), error=""
        )
    )


def reminder_failed(*, reminder_id: int, error: str) -> bool:
    """Mark a reminder failed with why (the channel's answer, never a secret)."""
    return bool(
        Reminder.objects.filter(pk=reminder_id, status__in=_UNSENT).update(
            status=Reminder.Status.FAILED, error=error[:2000]
        )
    )


@dataclass(frozen=True)
class Batch:
    """One message to send: to one reviewer (``person_id``, by direct message or email) or to the
    policy's channel (``person_id`` None), about one or more pull requests."""

    policy_id: int
    recipients: str  # ReminderPolicy.Recipients
    person_id: int | None
    digest_on: date | None  # a daily digest's local day; None: the reminders of one selection
    reminder_ids: tuple[int, ...]
    pull_request_ids: tuple[int, ...]


def batches_of(rows: Iterable[Mapping[str, Any]]) -> list[Batch]:
    """Reminders (``id``, ``policy_id``, ``policy__recipients``, ``pull_request_id``, ``reviewers``,
    ``digest_on``, ``due_at``) gathered into batches, one message each: per policy, recipient and digest day (or
    selection time), pull requests in the rows' order."""
    groups: dict[tuple[int, str, int | None, Any], list[Mapping[str, Any]]] = {}
    for row in rows:
        recipients = row["policy__recipients"]
        people = [None] if recipients == ReminderPolicy.Recipients.CHANNEL else row["reviewers"]
        when = row["digest_on"] or row["due_at"]
        for person in people:
            groups.setdefault((row["policy_id"], recipients, person, when), []).append(row)
    return [
        Batch(
            policy_id=policy_id,
            recipients=recipients,
            person_id=person,
            digest_on=grouped[0]["digest_on"],
            reminder_ids=tuple(r["id"] for r in grouped),
            pull_request_ids=tuple(r["pull_request_id"] for r in grouped),
        )
        for (policy_id, recipients, person, _), grouped in groups.items()
    ]


def reminders_send(*, send: Callable[[Batch], None] | None = None, limit: int = 1000) -> tuple[int, int]:
    """Send up to ``limit`` due reminders through ``send`` (which raises on failure); returns (sent, failed).

    At most once: the reminders are taken (``sending``) and committed before anything is sent."""
    with transaction.atomic():
        rows = list(
            Reminder.objects.to_send().select_for_update(skip_locked=True, of=("self",)).values(*SENT_ROW)[:limit]
        )
        Reminder.objects.filter(pk__in=[r["id"] for r in rows]).update(status=Reminder.Status.SENDING)
    errors = deliver(rows, send or batch_send)
    return len(rows) - len(errors), len(errors)


SENT_ROW = ("id", "policy_id", "policy__recipients", "pull_request_id", "reviewers", "digest_on", "due_at")


def deliver(rows: Sequence[Mapping[str, Any]], send: Callable[[Batch], None]) -> dict[int, str]:
    """Send taken (``sending``) reminders (rows of ``SENT_ROW``) in their batches through ``send`` and mark each
    ``sent``, or ``failed`` with why; returns the failed ones' errors by reminder id."""
    errors: dict[int, list[str]] = defaultdict(list)
    for batch in batches_of(rows):
        try:
            send(batch)
        except Exception as exc:  # a channel's failure fails its reminders, never the others
            to = "the channel" if batch.person_id is None else f"person {batch.person_id}"
            for reminder_id in batch.reminder_ids:
                errors[reminder_id].append(f"to {to}: {exc}")
    now = timezone.now()
    for row in rows:
        if row["id"] in errors:
            reminder_failed(reminder_id=row["id"], error="; ".join(errors[row["id"]]))
        else:
            reminder_sent(reminder_id=row["id"], at=now)
    return {pk: "; ".join(found) for pk, found in errors.items()}


class NotSent(Exception):
    """A batch the channel did not take; the message is its answer."""


def batch_send(batch: Batch) -> None:
    """Send a batch as one message through its policy's channel (``actions.channels.send``), to its
    reviewer (a Slack bot's direct message, an email) or to the channel; ``NotSent`` with the
    channel's answer when it fails or is rate-limited (the reminders are marked failed, with it). The
    dedupe key is the batch's reminders: a receiver that honours it takes a retry once."""
    policy = ReminderPolicy.objects.select_related("channel", "team", "service__owner").get(pk=batch.policy_id)
    if policy.channel is None:
        raise NotSent("the policy names no channel: choose one in the admin")
    person = Person.objects.filter(pk=batch.person_id).first() if batch.person_id is not None else None
    if batch.person_id is not None and person is None:
        raise NotSent("the reviewer is no longer in the catalog")
    sent = send_message(policy.channel, reminder_message(policy, batch, person), dedupe_key=batch_key(batch))
    if not sent.ok:
        when = f" (rate-limited until {sent.retry_at:%Y-%m-%d %H:%M} UTC)" if sent.retry_at else ""
        raise NotSent(f"{policy.channel}: {sent.response or sent.status}{when}")


def batch_key(batch: Batch) -> str:
    """The batch's reminders and its recipient: each reviewer's message of the same reminders is a message of its
    own (the outbox keeps one per key)."""
    named = ",".join(map(str, sorted(batch.reminder_ids))) + f"|{batch.person_id or ''}"
    return "reminders:" + hashlib.sha256(named.encode()).hexdigest()[:32]


def reminder_message(policy: ReminderPolicy, batch: Batch, person: Person | None) -> ChannelMessage:
    """The reminder as it reads: the pull requests (repository, number, title, author, business time
    waited), linking to the owning team's review queue."""
    waited = dict(Reminder.objects.filter(pk__in=batch.reminder_ids).values_list("pull_request_id", "waited"))
    pulls = PullRequest.objects.filter(pk__in=batch.pull_request_ids).select_related("repository").order_by("opened_at")
    lines = [
        f"• {pr.repository.name if pr.repository else ''}#{pr.number or '?'} {pr.title} "
        f"(by {pr.author or 'unknown'}, waiting {_business_hours(waited.get(pr.pk))} business hours)"
        + (f" {pr.url}" if pr.url else "")
        for pr in pulls
    ]
    team = policy.team or policy.service.owner  # type: ignore[union-attr]  # a policy has one of them
    count = len(lines)
    title = f"{count} pull request{'s' if count != 1 else ''} waiting for a first review"
    if batch.digest_on is not None:
        title += f" (digest of {batch.digest_on:%a %d %b})"
    greeting = f"{person.name}, these wait for your review." if person is not None else f"{team.name}'s review queue."
    return ChannelMessage(
        title=title,
        text="\n".join([greeting, *lines]),
        url=settings.SITE_URL + reverse("metrics:team-reviews", args=[team.slug]),
        facts=(Fact("Team", team.name), Fact("Policy", f"after {policy.after_hours} business hours")),
        recipient=person,
    )


def _business_hours(waited: timedelta | None) -> str:
    return f"{waited.total_seconds() / 3600:.0f}" if waited is not None else "?"


def reminders_tick(*, now: datetime | None = None) -> str:
    """Select and record what is due now (the 15-minute schedule); a summary for the task's result."""
    selection = due_reminders(now=now)
    recorded = reminders_record(selection=selection)
    held = sum(1 for r in selection.due if r.held_out)
    for problem in selection.skipped:
        log.warning("review reminders skipped: %s", problem)
    summary = f"{len(selection.due)} reminders due ({held} held out), {recorded} recorded"
    if selection.digests:
        summary += f"; {len(selection.digests)} digests gathered"
    if selection.skipped:
        summary += f"; skipped: {'; '.join(selection.skipped)}"
    return summary
