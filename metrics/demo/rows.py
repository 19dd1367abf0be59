"""The rows the simulation hands to the writers, one service at a time.

``_Rows`` holds them as tuples, per table, in the column order of ``COLUMNS``
(so a writer can insert them without the ORM): named tuples (``DeploymentRow``
and so on) with the models' field names, so the simulation fills each column by
name. ``ROWS_OF`` names the ``_Rows`` list of each model.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass, field, fields
from typing import Any

from django.db import models

from metrics.models import Commit, Deployment, Incident, PipelineRun, PullRequest, Review


@dataclass
class _Rows:
    """Rows as tuples in the column order of ``COLUMNS``.

    Reviews and commits start with the index of their pull request in
    ``pull_requests``; the writer swaps in the id. (Typed ``Any``: the row types are made at run time.)
    """

    pull_requests: list[Any] = field(default_factory=list)
    reviews: list[Any] = field(default_factory=list)
    commits: list[Any] = field(default_factory=list)
    deployments: list[Any] = field(default_factory=list)
    incidents: list[Any] = field(default_factory=list)
    pipeline_runs: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(getattr(self, f.name)) for f in fields(self))


def written_columns(model: type[models.Model], *, first: str | None = None) -> tuple[str, ...]:
    """The columns a record's row holds, in the model's order (``first`` moved to the front): every
    field but the id, what the database computes and what linking derives (``editable=False``).
    Declared once, on the model: a new field of a record is a new column here."""
    names = [f.attname for f in model._meta.concrete_fields if f.editable and not (f.primary_key or f.generated)]
    if first is not None:
        names.remove(first)
        names.insert(0, first)
    return tuple(names)


# Reviews and commits lead with their pull request (the writer swaps the index for the id).
COLUMNS: dict[type[models.Model], tuple[str, ...]] = {
    PullRequest: written_columns(PullRequest),
    Review: written_columns(Review, first="pull_request_id"),
    Commit: written_columns(Commit, first="pull_request_id"),
    Deployment: written_columns(Deployment),
    Incident: written_columns(Incident),
    PipelineRun: written_columns(PipelineRun),
}


def _row(model: type[models.Model]) -> Any:
    # Any: the fields come from the model at run time, which no type checker follows.
    return namedtuple(f"{model.__name__}Row", COLUMNS[model])


# A row of each table, by column name: a new field is a keyword the simulation must give.
PullRequestRow = _row(PullRequest)
ReviewRow = _row(Review)
CommitRow = _row(Commit)
DeploymentRow = _row(Deployment)
IncidentRow = _row(Incident)
PipelineRunRow = _row(PipelineRun)
ROWS_OF = {
    PullRequest: "pull_requests",
    Review: "reviews",
    Commit: "commits",
    Deployment: "deployments",
    Incident: "incidents",
    PipelineRun: "pipeline_runs",
}
