"""CI pipeline reliability: failure rate, flaky commits, run durations and failing workflows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from metrics.definitions.profile import Profile, _profile
from metrics.definitions.records import PipelineRunRec
from metrics.definitions.stats import DurationStats, ratio, span
from metrics.definitions.vocabulary import SUCCESS
from metrics.definitions.windows import Window

if TYPE_CHECKING:
    from collections.abc import Iterable


# Pipeline runs that did not finish with a verdict: excluded from reliability, never "failed".
_NO_VERDICT = frozenset(
    {"cancelled", "canceled", "skipped", "neutral", "in_progress", "queued", "pending", "waiting", "running", ""}
)


@dataclass(frozen=True)
class FailingWorkflow:
    """A default-branch workflow whose latest finished run failed."""

    service: str
    workflow: str
    since: datetime
    failed_runs: int
    last_run_id: str
    sha: str


@dataclass(frozen=True)
class PipelineReliability:
    """CI runs on the default branch finished in the window, cancelled excluded."""

    runs: int
    failed: int
    failure_rate: float | None
    commits: int
    flaky_commits: int
    flaky_rate: float | None
    duration: DurationStats


def run_verdict(status: str) -> bool | None:
    """True = passed, False = failed, None = no verdict (cancelled, skipped, still running)."""
    s = (status or "").strip().lower()
    if s in SUCCESS:
        return True
    if s in _NO_VERDICT:
        return None
    return False


def run_duration(run: PipelineRunRec) -> timedelta | None:
    if run.duration_seconds is not None:
        return timedelta(seconds=run.duration_seconds) if run.duration_seconds >= 0 else None
    return span(run.started_at, run.finished_at)


def judged_runs(runs: Iterable[PipelineRunRec]) -> list[tuple[PipelineRunRec, bool]]:
    """Finished default-branch runs with a verdict, each with it (True = passed), in finish order."""
    judged = [
        (r, v)
        for r in runs
        if r.is_default_branch and r.finished_at is not None and (v := run_verdict(r.status)) is not None
    ]
    judged.sort(key=lambda t: (t[0].finished_at, t[0].attempt, t[0].id))
    return judged


@dataclass(frozen=True)
class CommitBuild:
    """A commit's default-branch CI: when its first judged run finished, and whether it was flaky
    (a run of some workflow failed and a later run of that workflow on the same sha passed)."""

    service: str
    sha: str
    first_finished_at: datetime
    flaky: bool


def commit_builds(runs: Iterable[PipelineRunRec]) -> list[CommitBuild]:
    """One ``CommitBuild`` per (service, sha) with a judged default-branch run."""
    first: dict[tuple[str, str], datetime] = {}
    failed: set[tuple[str, str, str]] = set()
    flaky: set[tuple[str, str]] = set()
    for r, passed in judged_runs(runs):
        assert r.finished_at is not None
        commit = (r.service, r.sha)
        first.setdefault(commit, r.finished_at)
        if not passed:
            failed.add((r.service, r.workflow, r.sha))
        elif (r.service, r.workflow, r.sha) in failed:
            flaky.add(commit)
    return [CommitBuild(service, sha, at, (service, sha) in flaky) for (service, sha), at in first.items()]


def pipeline_reliability(
    runs: Iterable[PipelineRunRec], window: Window, profile: Profile | None = None
) -> PipelineReliability:
    """Failure rate = failed ÷ finished runs of the window; flaky rate = share of the commits first
    built in the window (their first judged run finished in it) whose run failed and then passed on
    a re-run of the same sha and workflow (the re-run may finish after the window); median and p90
    duration. Counting each commit in the window of its first run keeps a commit whose re-runs
    straddle two windows in exactly one, so daily rollups add up to the same figure."""
    p = _profile(profile)
    runs = list(runs)
    in_window = [(r, v) for r, v in judged_runs(runs) if window.contains(r.finished_at)]
    failed = sum(1 for _, v in in_window if not v)
    builds = [b for b in commit_builds(runs) if window.contains(b.first_finished_at)]
    flaky = sum(1 for b in builds if b.flaky)
    return PipelineReliability(
        runs=len(in_window),
        failed=failed,
        failure_rate=ratio(failed, len(in_window)),
        commits=len(builds),
        flaky_commits=flaky,
        flaky_rate=ratio(flaky, len(builds)),
        duration=DurationStats.of((run_duration(r) for r, _ in in_window), p.median_kind),
    )


def failing_workflows(runs: Iterable[PipelineRunRec], before: datetime) -> tuple[FailingWorkflow, ...]:
    """Default-branch workflows whose latest run finished before ``before`` failed, with the start
    of the failure streak, oldest streak first."""
    latest: dict[tuple[str, str], list[tuple[PipelineRunRec, bool]]] = {}
    for r, v in judged_runs(runs):
        if r.finished_at is not None and r.finished_at < before:
            latest.setdefault((r.service, r.workflow), []).append((r, v))
    failing = []
    for (service, workflow), history in latest.items():
        streak = []
        for r, passed in reversed(history):
            if passed:
                break
            streak.append(r)
        if streak:
            last, first = streak[0], streak[-1]
            assert first.finished_at is not None
            failing.append(FailingWorkflow(service, workflow, first.finished_at, len(streak), last.id, last.sha))
    failing.sort(key=lambda f: (f.since, f.service, f.workflow))
    return tuple(failing)
