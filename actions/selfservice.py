"""Self-service actions on a failed pipeline run: "Re-run failed jobs" and "Fetch logs", on GitHub Actions runs.

The rules, in the order a request meets them:

1. **Seeing.** A run is fetched through ``run_for_user``: one whose service belongs to a team the user may not see
   is a 404 (``e360.access``), as for any page; nothing is audited, nothing revealed.
2. **Offered.** Only a failed run stored from a GitHub source with a connection, naming its repository, whose
   ``external_id`` is GitHub's ``<run id>/<attempt>`` (``integrations.github.records.workflow_run``). Any other run
   says why not (``Offer.reason``): GitLab's, the JSON API's and DevLake's runs have no client here. Re-running a
   run whose later attempt e360 already stored is not offered either: GitHub re-runs the latest attempt.
3. **Allowed** (``ActionPolicy``, one per kind, ``DEFAULTS`` without one): the members of the team that owns the
   run's service (leads of the teams above it too), or its leads only, or nobody of the team; plus, on any team
   they can see, the users of a platform group (a Django group) or the members of a platform team (a catalog
   team). Superusers may always. A refusal is audited (``refused``) and answers 403.
4. **Rate-limited**, per user and per target, counted from the audit rows of the last hour that were sent
   (refusals are not counted). Race-safe: the count and the insert of the new audit row happen in one
   transaction that first locks the user's row and the run's row (``select_for_update``, always in that order, so
   two requests never wait on each other crosswise): two clicks of one person, or two people on one run, are
   counted one after the other, never both under the limit. The call to GitHub happens after that transaction,
   so no lock is held over the network. A row whose request died mid-call stays ``running`` and keeps counting
   for its hour: the limit errs on the side of fewer calls. (SQLite has no row locks: its writes are serialised
   by the database lock instead, so a concurrent second insert fails rather than passes.)
5. **Audited**: who (user, person, name), what, on which run and team, when, the result, what the person was
   told, GitHub's answer shortened, and how long it took.

The logs: GitHub answers the logs endpoint with a 302 to a short-lived archive address on another host, which is
fetched without e360's credentials and streamed to the browser chunk by chunk (``LogsDownload.chunks``): nothing
is written to disk, and no more than a chunk is held in memory (``LogsDownload``). Its audit row is finished when
the stream ends (or stops: a browser that goes away leaves it ``failed`` with the bytes sent).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from actions.models import ActionAudit, ActionKind, ActionPolicy
from e360 import access
from e360.models import Membership, User
from e360.tree import TeamTree
from integrations.github.client import GitHub, NotConfigured
from integrations.http import ApiError, IntegrationError, ProviderUnavailable, RateLimited, Unauthorized
from integrations.models import Connection
from metrics.models import PipelineRun, Source

logger = logging.getLogger(__name__)

# A kind without a policy row: members of the team may run it, this often.
DEFAULTS = {
    ActionKind.RERUN_FAILED_JOBS: ActionPolicy(
        kind=ActionKind.RERUN_FAILED_JOBS, who=ActionPolicy.Who.MEMBERS, per_user_per_hour=10, per_target_per_hour=3
    ),
    ActionKind.FETCH_LOGS: ActionPolicy(
        kind=ActionKind.FETCH_LOGS, who=ActionPolicy.Who.MEMBERS, per_user_per_hour=30, per_target_per_hour=10
    ),
    ActionKind.REMIND_REVIEWERS: ActionPolicy(
        kind=ActionKind.REMIND_REVIEWERS, who=ActionPolicy.Who.MEMBERS, per_user_per_hour=10, per_target_per_hour=1
    ),
}
WINDOW = timedelta(hours=1)
# How a pipeline run of a GitHub source names its attempt (integrations.github.records.workflow_run).
GITHUB_RUN_ID = re.compile(r"(?P<run>[1-9][0-9]{0,18})/(?P<attempt>[1-9][0-9]{0,4})")
# The logs archive: read this much at a time; wait this long for it.
CHUNK = 64 * 1024
ARCHIVE_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
SHORT = 500

VERBS = {
    ActionKind.RERUN_FAILED_JOBS: "re-run failed jobs",
    ActionKind.FETCH_LOGS: "fetch logs",
    ActionKind.REMIND_REVIEWERS: "remind reviewers",
}
NOT_OFFERED: dict[str, str] = {
    Source.Kind.GITLAB: "GitLab pipeline: e360 re-runs and fetches the logs of GitHub Actions runs only.",
    Source.Kind.API: "Sent through the JSON API: e360 has no connection to its CI.",
    Source.Kind.DEVLAKE: "Sent by DevLake: e360 has no connection to its CI.",
    Source.Kind.PAGERDUTY: "Not a CI run e360 can act on.",
}


# --- Who ------------------------------------------------------------------------------------


def policies() -> dict[str, ActionPolicy]:
    """Every kind's policy: the admin's rows, else the defaults (one query)."""
    found = {policy.kind: policy for policy in ActionPolicy.objects.all()}
    return {kind: found.get(kind, default) for kind, default in DEFAULTS.items()}


def policy_for(kind: str) -> ActionPolicy:
    return ActionPolicy.objects.filter(kind=kind).first() or DEFAULTS[ActionKind(kind)]


@dataclass
class Actor:
    """Who asks: their roles in the teams they belong to and their groups, read once per request."""

    user: User
    person_id: int | None
    roles: dict[int, str]  # team id -> member / lead
    tree: TeamTree
    _groups: set[int] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, user: User) -> Actor:
        cached = getattr(user, "_e360_actor", None)
        if cached is not None:
            return cached
        rows = list(
            Membership.objects.filter(person__user=user, person__is_active=True).values_list(
                "team_id", "role", "person_id"
            )
        )
        roles = {team_id: role for team_id, role, _ in rows}
        if rows:
            person_id: int | None = rows[0][2]
        else:  # no team: a person perhaps, for the audit
            person = access.person_for(user)
            person_id = person.pk if person else None
        actor = cls(user, person_id, roles, TeamTree.for_user(user))
        user._e360_actor = actor  # type: ignore[attr-defined]  # a cache for the request's life
        return actor

    @property
    def group_ids(self) -> set[int]:
        if self._groups is None:
            self._groups = set(Group.objects.filter(user=self.user).values_list("id", flat=True))
        return self._groups

    @property
    def name(self) -> str:
        user = self.user
        return (user.get_full_name() or user.email or user.get_username())[:254]


def switched_off(policy: ActionPolicy) -> str:
    return "" if policy.enabled else f"An admin has turned “{policy.get_kind_display()}” off."


def refusal(actor: Actor, policy: ActionPolicy, team_id: int) -> str:
    """Why ``actor`` may not run ``policy``'s kind on a target of ``team_id``; "" if they may."""
    verb = VERBS[ActionKind(policy.kind)]
    if why := switched_off(policy):
        return why
    if actor.user.is_superuser:
        return ""
    if policy.platform_group_id and policy.platform_group_id in actor.group_ids:
        return ""
    if policy.platform_team_id and policy.platform_team_id in actor.roles:
        return ""
    chain = actor.tree.chain(team_id) or (team_id,)
    leads = any(actor.roles.get(team) == Membership.Role.LEAD for team in chain)
    team = actor.tree.names.get(team_id, "the team")
    if policy.who == ActionPolicy.Who.LEADS:
        return "" if leads else f"Only leads of {team} may {verb}."
    if policy.who == ActionPolicy.Who.MEMBERS:
        return "" if leads or team_id in actor.roles else f"Only members of {team} may {verb}."
    return f"Only the platform group may {verb}."


# --- What -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GitHubRun:
    """What GitHub needs to name a run: the repository, the run and its attempt."""

    repository: str
    run_id: int
    attempt: int


def github_run(run: PipelineRun, connected: bool) -> GitHubRun | str:
    """The GitHub run behind a stored run, or why there is none (a sentence for the page)."""
    kind = run.source.kind
    if kind != Source.Kind.GITHUB:
        return NOT_OFFERED.get(kind, "Not a CI run e360 can act on.")
    if not connected:
        return "Its GitHub source has no connection: an admin sets one up to offer actions."
    found = GITHUB_RUN_ID.fullmatch(run.external_id)
    if not found:
        return "Not a GitHub Actions run id: e360 cannot name it to GitHub."
    if run.repository is None:
        return "The run names no repository."
    return GitHubRun(run.repository.name, int(found["run"]), int(found["attempt"]))


@dataclass(frozen=True)
class Offer:
    """What one user may do with one run: ``reason`` when nothing is offered, else each action's refusal ("": ok)."""

    run: PipelineRun
    reason: str = ""
    rerun: str = ""
    logs: str = ""
    superseded: int = 0  # a later attempt e360 stored: GitHub would re-run that one, not this


def visible_runs(user: User) -> Q:
    """The runs ``user`` may see: those of the services of the teams they see."""
    ids = access.visible_team_ids(user)
    return Q() if ids is None else Q(service__owner_id__in=ids)


def run_for_user(user: User, pk: int) -> PipelineRun:
    """A run by id, if ``user`` may see it (else 404), with what the actions read."""
    run = (
        PipelineRun.objects.filter(visible_runs(user), pk=pk).select_related("source", "repository", "service").first()
    )
    if run is None:
        raise Http404("No such run.")
    return run


def runs_for_user(user: User, ids: Iterable[int]) -> list[PipelineRun]:
    """The runs of ``ids`` that ``user`` may see (the others are left out), with what the actions read."""
    visible = PipelineRun.objects.filter(visible_runs(user), pk__in=list(ids))
    return list(visible.select_related("source", "repository", "service").order_by("pk"))


def offers(user: User, runs: Iterable[PipelineRun]) -> list[Offer]:
    """What ``user`` may do with each of ``runs`` (fetched with ``run_for_user``'s relations), in a fixed number of
    queries: the connections, the policies, the user's roles, later attempts."""
    runs = list(runs)
    if not runs:
        return []
    connected = set(
        Connection.objects.filter(source_id__in={run.source_id for run in runs}).values_list("source_id", flat=True)
    )
    targets = {run.pk: github_run(run, run.source_id in connected) for run in runs}
    later = _later_attempts(runs, targets)
    rules = policies()
    actor = Actor.of(user)
    found = []
    for run in runs:
        target = targets[run.pk]
        if isinstance(target, str):
            found.append(Offer(run, reason=target))
            continue
        if run.status != PipelineRun.Status.FAILURE:
            found.append(Offer(run, reason="Only a failed run offers actions."))
            continue
        team_id = run.service.owner_id
        rerun = refusal(actor, rules[ActionKind.RERUN_FAILED_JOBS], team_id)
        superseded = later.get(run.pk, 0)
        if not rerun and superseded:
            rerun = superseded_reason(superseded)
        logs = refusal(actor, rules[ActionKind.FETCH_LOGS], team_id)
        found.append(Offer(run, rerun=rerun, logs=logs, superseded=superseded))
    return found


def superseded_reason(attempt: int) -> str:
    return f"Attempt {attempt} has run since: re-run from the latest attempt."


def _later_attempts(runs: list[PipelineRun], targets: dict[int, GitHubRun | str]) -> dict[int, int]:
    """The latest attempt e360 stored of each GitHub run, where it is later than the one listed (one query)."""
    wanted = Q()
    asked = {}
    for run in runs:
        target = targets[run.pk]
        if isinstance(target, GitHubRun):
            wanted |= Q(source_id=run.source_id, external_id__startswith=f"{target.run_id}/", attempt__gt=run.attempt)
            asked[(run.source_id, target.run_id)] = run
    if not asked:
        return {}
    latest: dict[int, int] = {}
    for source_id, external_id, attempt in PipelineRun.objects.filter(wanted).values_list(
        "source_id", "external_id", "attempt"
    ):
        listed = asked.get((source_id, int(external_id.split("/", 1)[0])))
        if listed is not None and attempt > listed.attempt:
            latest[listed.pk] = max(attempt, latest.get(listed.pk, 0))
    return latest


# --- Running --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What came of an action: ``status`` is the audit's; ``message`` is what the person reads."""

    status: str
    message: str
    audit: ActionAudit | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == ActionAudit.Status.SUCCEEDED

    @property
    def refused(self) -> bool:
        return self.status == ActionAudit.Status.REFUSED

    @property
    def rate_limited(self) -> bool:
        return self.refused and self.audit is not None and self.audit.response == RATE_LIMITED


RATE_LIMITED = "rate limited"
UNEXPECTED = "e360 could not call GitHub: an admin checks the source's connection (its API URL)."


def _target_label(run: PipelineRun, target: GitHubRun) -> str:
    return f"{run.workflow} on {target.repository}, run {target.run_id} attempt {target.attempt}"[:300]


def _begin(
    actor: Actor | str, policy: ActionPolicy, run: PipelineRun, target: GitHubRun | None, refused: str = ""
) -> Outcome | ActionAudit:
    """A run's action about to be sent: ``audit_begin`` on the run (``target`` None: refused, not GitHub's)."""
    return audit_begin(
        actor,
        policy,
        team_id=run.service.owner_id,
        label=_target_label(run, target) if target else str(run),
        on={"pipeline_run": run},
        lock=PipelineRun.objects.filter(pk=run.pk),
        whose="This run has",
        refused=refused,
    )


def audit_begin(
    actor: Actor | str,
    policy: ActionPolicy,
    *,
    team_id: int,
    label: str,
    on: dict[str, object],
    lock: QuerySet[Any],
    whose: str,
    refused: str = "",
) -> Outcome | ActionAudit:
    """The permission check and the rate limits, then the audit row of an action about to be sent (``running``);
    or the refusal, audited. ``on`` names the target (the audit's fields: ``{"pipeline_run": run}``, the rate limit
    per target counts the rows that match it); ``lock`` is its row; ``refused`` a refusal the caller found (a rule of
    its own). An automation acts as ``actor``, a name: no person's permission (an admin configured it) and no
    per-user limit, but the policy's switch and its per-target limit hold. See the module's doc for why this is
    race-safe."""
    kind = policy.kind
    now = timezone.now()
    person, name = (actor, actor.name) if isinstance(actor, Actor) else (None, actor[:254])
    row = {
        "user": person.user if person else None,
        "person_id": person.person_id if person else None,
        "actor": name,
        "kind": kind,
        "team_id": team_id,
        **on,
        "target": label[:300],
        "started_at": now,
    }
    with transaction.atomic():
        if why := refused or (refusal(person, policy, team_id) if person else switched_off(policy)):
            audit = ActionAudit.objects.create(
                **row, status=ActionAudit.Status.REFUSED, message=why[:SHORT], response=""
            )
            return Outcome(audit.status, why, audit)
        # Serialise this user's actions, then this target's (always in this order).
        limits = []
        recent = ActionAudit.objects.counted().filter(kind=kind, started_at__gt=now - WINDOW)
        if person:
            list(User.objects.select_for_update().filter(pk=person.user.pk).values_list("pk"))
            limits.append((recent.filter(user=person.user), policy.per_user_per_hour, "You have"))
        list(lock.select_for_update().values_list("pk"))
        limits.append((recent.filter(**on), policy.per_target_per_hour, whose))
        for counted, limit, who in limits:
            seen = counted.aggregate(n=Count("id"), first=Min("started_at"))
            if seen["n"] >= limit:
                wait = _minutes(seen["first"] + WINDOW - now) if seen["first"] else 60
                why = (
                    f"{who} reached the limit of {limit} “{policy.get_kind_display()}” an hour: "
                    f"try again in {wait} minute{'s' if wait != 1 else ''}."
                )
                audit = ActionAudit.objects.create(
                    **row, status=ActionAudit.Status.REFUSED, message=why, response=RATE_LIMITED
                )
                return Outcome(audit.status, why, audit)
        return ActionAudit.objects.create(**row, status=ActionAudit.Status.RUNNING)


def _minutes(delta: timedelta) -> int:
    return max(1, -(-int(delta.total_seconds()) // 60))


def audit_finish(audit: ActionAudit, status: str, message: str, response: str, began: float) -> Outcome:
    audit.status, audit.message, audit.response = status, message[:SHORT], response[:SHORT]
    audit.duration_ms = int((time.monotonic() - began) * 1000)
    audit.save(update_fields=["status", "message", "response", "duration_ms"])
    return Outcome(status, message, audit)


def explain(error: IntegrationError, kind: str, target: GitHubRun) -> str:
    """What a person reads when GitHub refused or failed an action (their words, not the API's)."""
    repository = target.repository
    if isinstance(error, RateLimited):
        until = timezone.localtime(error.resume_at)
        return f"GitHub asks e360 to wait (a rate limit) until {until:%H:%M %Z}: try again then."
    if isinstance(error, NotConfigured):
        return "This GitHub source has neither a GitHub App nor a token: an admin sets up its connection."
    if isinstance(error, Unauthorized):
        return "GitHub refused this source's credentials: an admin checks its connection (Sources)."
    if isinstance(error, ProviderUnavailable):
        return "GitHub did not answer in time: try again in a few minutes."
    if isinstance(error, ApiError) and error.status == 403:
        access_needed = "write" if kind == ActionKind.RERUN_FAILED_JOBS else "read"
        return (
            f"GitHub refused: the source's GitHub App (or token) needs the “Actions: {access_needed}” permission "
            f"on {repository}."
        )
    if isinstance(error, ApiError) and error.status in (404, 410):
        return (
            f"GitHub no longer has run {target.run_id} of {repository}: runs and their logs are kept for the "
            "repository's retention period (90 days unless changed), or the source cannot see the repository."
        )
    return f"GitHub refused: {str(error)[:300]}"


def rerun_failed_jobs(*, user: User, run: PipelineRun) -> Outcome:
    """Re-run the failed jobs of ``run`` (and what depends on them) on GitHub: checked, limited, audited.
    ``NotOffered`` for a run no re-run is offered on (not GitHub's, not failed, re-run since)."""
    target = _target(run)
    later = PipelineRun.objects.filter(
        source_id=run.source_id, external_id__startswith=f"{target.run_id}/", attempt__gt=run.attempt
    ).aggregate(latest=Max("attempt"))["latest"]
    if later:
        raise NotOffered(superseded_reason(later))
    return _rerun(_begin(Actor.of(user), policy_for(ActionKind.RERUN_FAILED_JOBS), run, target), run, target)


def rerun_failed_jobs_as_system(*, run: PipelineRun, actor: str) -> Outcome:
    """Re-run the failed jobs of ``run`` for an automation (``actor`` names it), as ``audit_begin`` lets a name act.
    Never raises: what is not offered is a refusal, audited."""
    policy = policy_for(ActionKind.RERUN_FAILED_JOBS)
    try:
        target = _target(run)
    except NotOffered as not_offered:
        refused = _begin(actor, policy, run, None, refused=str(not_offered))
        assert isinstance(refused, Outcome)
        return refused
    return _rerun(_begin(actor, policy, run, target), run, target)


def _rerun(begun: Outcome | ActionAudit, run: PipelineRun, target: GitHubRun) -> Outcome:
    if isinstance(begun, Outcome):
        return begun
    began = time.monotonic()
    called = _on_github(
        begun, began, run, target, lambda github: github.rerun_failed_jobs(target.repository, target.run_id)
    )
    if isinstance(called, Outcome):
        return called
    message = f"GitHub is re-running the failed jobs of {run.workflow} (run {target.run_id})."
    return audit_finish(begun, ActionAudit.Status.SUCCEEDED, message, "201 Created", began)


def _on_github[T](
    begun: ActionAudit, began: float, run: PipelineRun, target: GitHubRun, call: Callable[[GitHub], T]
) -> T | Outcome:
    """``call`` with the run's source's GitHub client: its answer, or GitHub's refusal (or a bug) audited as failed,
    never left running."""
    try:
        with GitHub(Connection.objects.get(source_id=run.source_id)) as github:
            return call(github)
    except IntegrationError as error:
        logger.info("%s of %s refused by GitHub: %s", begun.kind, begun.target, error)
        return audit_finish(begun, ActionAudit.Status.FAILED, explain(error, begun.kind, target), str(error), began)
    except Exception as error:  # a bug or a connection e360 cannot use: said and audited
        logger.exception("%s of %s failed", begun.kind, begun.target)
        return audit_finish(begun, ActionAudit.Status.FAILED, UNEXPECTED, type(error).__name__, began)


def _target(run: PipelineRun) -> GitHubRun:
    """The run's GitHub run, for an action on it; ``NotOffered`` (with the reason) for a run none is offered on."""
    connected = Connection.objects.filter(source_id=run.source_id).exists()
    target = github_run(run, connected)
    if isinstance(target, str) or run.status != PipelineRun.Status.FAILURE:
        raise NotOffered(target if isinstance(target, str) else "Only a failed run offers actions.")
    return target


class NotOffered(Exception):
    """The target (a run, a pull request) is not one the action is offered on (the page said why)."""


@dataclass
class LogsDownload:
    """An open logs archive, streamed to the browser as it is iterated, a chunk at a time. ``close`` (called by the
    response when the download ends or the browser goes away, and at the end of the archive) closes the archive's
    connection and finishes the audit row, once: succeeded if the whole archive was sent."""

    filename: str
    content_type: str
    length: str
    response: httpx.Response
    client: httpx.Client
    audit: ActionAudit
    began: float
    sent: int = 0
    complete: bool = False
    closed: bool = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.response.iter_bytes(CHUNK):
                self.sent += len(chunk)
                yield chunk
            self.complete = True
        except httpx.HTTPError as error:
            logger.info("the logs archive of %s stopped: %s", self.audit.target, type(error).__name__)
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.response.close()
        self.client.close()
        sent = self.sent
        if self.complete:
            message = f"Sent the logs ({sent} bytes)."
            audit_finish(self.audit, ActionAudit.Status.SUCCEEDED, message, f"200, {sent} bytes", self.began)
        else:
            message = f"The download stopped after {sent} bytes."
            audit_finish(self.audit, ActionAudit.Status.FAILED, message, message, self.began)


def logs_open(*, user: User, run: PipelineRun) -> LogsDownload | Outcome:
    """Ask GitHub where the attempt's logs archive is (a 302 to a short-lived address) and open it: a download to
    stream, or what went wrong (audited)."""
    target = _target(run)
    actor = Actor.of(user)
    begun = _begin(actor, policy_for(ActionKind.FETCH_LOGS), run, target)
    if isinstance(begun, Outcome):
        return begun
    began = time.monotonic()
    where = _on_github(
        begun,
        began,
        run,
        target,
        lambda github: github.run_logs_url(target.repository, target.run_id, attempt=target.attempt),
    )
    if isinstance(where, Outcome):
        return where
    if httpx.URL(where).scheme not in ("https", "http"):
        return audit_finish(begun, ActionAudit.Status.FAILED, "GitHub gave no address for the logs.", "", began)
    # Another host, signed for a minute: e360's credentials are not sent there.
    client = httpx.Client(timeout=ARCHIVE_TIMEOUT, follow_redirects=False, headers={"User-Agent": "e360"})
    try:
        response = client.send(client.build_request("GET", where), stream=True)
    except httpx.HTTPError as error:
        client.close()
        message = "GitHub's logs archive could not be reached: try again in a minute."
        return audit_finish(begun, ActionAudit.Status.FAILED, message, type(error).__name__, began)
    if response.status_code != 200:
        response.close()
        client.close()
        message = f"GitHub's logs archive answered {response.status_code} (its address lasts a minute): try again."
        return audit_finish(begun, ActionAudit.Status.FAILED, message, f"archive {response.status_code}", began)
    repository = target.repository.replace("/", "-")
    return LogsDownload(
        filename=f"logs-{repository}-{target.run_id}-{target.attempt}.zip",
        content_type="application/zip",  # whatever the archive says: a download, never a page of e360's origin
        length=response.headers.get("content-length", ""),
        response=response,
        client=client,
        audit=begun,
        began=began,
    )
