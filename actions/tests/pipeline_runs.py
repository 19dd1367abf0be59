"""CI runs of a service's default branch written as a sender would, for the thresholds tests."""

from __future__ import annotations

from datetime import timedelta

from metrics.inputs import PipelineRunInput
from metrics.services import Dirty, pipeline_run_upsert


def runs(history, service, days_ago: int, *statuses: str) -> None:
    """CI runs of the default branch finished ``days_ago`` days before now, one a minute."""
    for n, status in enumerate(statuses):
        finished = history.now - timedelta(days=days_ago, minutes=n + 1)
        pipeline_run_upsert(
            source=history.source,
            data=PipelineRunInput(
                external_id=f"{service.slug}-{days_ago}-{n}",
                workflow="ci",
                status=status,
                service=service.slug,
                branch="main",
                sha=f"{days_ago:03d}{n:02d}".ljust(40, "a"),
                started_at=finished - timedelta(minutes=5),
                finished_at=finished,
            ),
            dirty=Dirty(),
        )
    history.services.add(service.id)
