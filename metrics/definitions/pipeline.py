"""CI pipeline reliability: failure rate, flaky commits, run durations and failing workflows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from metrics.definitions.profile import Profile, _profile
from metrics.definitions.records import PipelineRunRec
from metrics.definitions.stats import DurationStats, _ratio, span
from metrics.definitions.vocabulary import _SUCCESS
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
    failing_workflows: tuple[FailingWorkflow, ...]


def _run_verdict(status: str) -> bool | None:
    """True = passed, False = failed, None = no verdict (cancelled, skipped, still running)."""
    s = (status or "").strip().lower()
    if s in _SUCCESS:
        return True
    if s in _NO_VERDICT:
        return None
    return False


def _run_duration(run: PipelineRunRec) -> timedelta | None:
    if run.duration_seconds is not None:
        return timedelta(seconds=run.duration_seconds) if run.duration_seconds >= 0 else None
    return span(run.started_at, run.finished_at)


def pipeline_reliability(
    runs: Iterable[PipelineRunRec], window: Window, profile: Profile | None = None
) -> PipelineReliability:
    """Failure rate = failed ÷ finished runs; flaky rate = share of commits whose run failed and
    then passed on a re-run of the same sha (same workflow); median and p90 duration; workflows
    whose latest run (finished before the window's end) failed, with the start of the streak."""
    p = _profile(profile)
    default_branch = [r for r in runs if r.is_default_branch and r.finished_at is not None]
    judged = [(r, v) for r in default_branch if (v := _run_verdict(r.status)) is not None]
    in_window = [(r, v) for r, v in judged if window.contains(r.finished_at)]

    failed = sum(1 for _, v in in_window if not v)
    attempts: dict[tuple[str, str, str], list[tuple[PipelineRunRec, bool]]] = {}
    for r, v in in_window:
        attempts.setdefault((r.service, r.workflow, r.sha), []).append((r, v))
    commits = {(r.service, r.sha) for r, _ in in_window}
    flaky = set()
    for (service, _, sha), tries in attempts.items():
        tries.sort(key=lambda t: (t[0].finished_at, t[0].attempt, t[0].id))
        seen_failure = False
        for _, passed in tries:
            if not passed:
                seen_failure = True
            elif seen_failure:
                flaky.add((service, sha))
                break

    latest: dict[tuple[str, str], list[tuple[PipelineRunRec, bool]]] = {}
    for r, v in judged:
        if r.finished_at is not None and r.finished_at < window.end:
            latest.setdefault((r.service, r.workflow), []).append((r, v))
    failing = []
    for (service, workflow), history in latest.items():
        history.sort(key=lambda t: (t[0].finished_at, t[0].attempt, t[0].id))
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

    return PipelineReliability(
        runs=len(in_window),
        failed=failed,
        failure_rate=_ratio(failed, len(in_window)),
        commits=len(commits),
        flaky_commits=len(flaky),
        flaky_rate=_ratio(len(flaky), len(commits)),
        duration=DurationStats.of((_run_duration(r) for r, _ in in_window), p.median_kind),
        failing_workflows=tuple(failing),
    )
