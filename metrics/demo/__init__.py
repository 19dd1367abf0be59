"""Demo delivery data: the ``metrics`` part of ``manage.py seed_demo``.

``seed(org)`` runs after the demo catalog is saved, inside the same transaction
(see ``e360/demo.py``). It creates the "Demo CI" source and a ``Repository``
row per service repository, then simulates each service's history between
``org.start`` (or the service's launch) and ``org.now``:

- **changes**: pull requests opened in working hours (few at weekends, fewer
  over the new year), with one to five commits authored before opening, one
  to three reviews by teammates (the last one approves), a merge, a merge sha
  and a long-tailed size; some are abandoned (a few never reviewed, closed
  after about ten days), some still open or waiting for a first review (the
  history runs to the current hour, so the review queue looks live); a few
  direct pushes to the default branch;
- **deployments**: a release starts after a merge (or on a weekly release
  train) and ships every change merged since the previous one; some releases
  ship a configuration change alone (an empty change list); a staging
  deployment precedes them on some services; some attempts fail and are
  retried. Most services send the change list (``changes``, linking rule
  1); about a fifth send only the sha of the last merged change, so rules 2
  and 3 link them;
- **failures**: a release may cause an incident (sev1 to sev4, resolved after
  minutes to days, a few still open), be rolled back (``is_rollback``,
  redeploying the previous sha) or be followed by a hotfix (a quick pull
  request deployed with ``is_hotfix``); some incidents have no deployment
  behind them;
- **pipeline runs**: workflow ``ci`` once per merged change on the default
  branch, ``deploy`` once per production deployment attempt; a failed run is
  re-run on the same sha (attempts 2 and 3) and, when it was flaky, passes.

How a team delivers comes from its :class:`Profile`, picked by team name for
the teams of the small organisation (``NAMED_PROFILES``: Payments is elite,
Checkout has flaky CI, Search reviews slowly, Catalog releases weekly and
fails often, Developer Tools improves over the history) and by position for
the other teams (``PROFILE_CYCLE``), so each profile recurs about fifty times
in the large organisation. Some profiles drift over the history
(``Profile.trend``), and the demo's initiatives change their team's profile
from their start (``profiles.EFFECTS``: review reminders cut Search's pickup
time by 40 %; stabilising Checkout's CI changes nothing). The rates are calibrated so that the large organisation
has the volumes of docs/product.md#budgets.

Linking (which deployment shipped which change, which deployment failed) and
the daily rollups are not computed here: ``metrics.refresh.rebuild`` does it
at the end, as it would for ingested data.

Rows are generated one service at a time and written in buffered rounds of
about ``FLUSH_ROWS``, so memory stays flat, with no ORM on the way:

- PostgreSQL: ``COPY ... FROM STDIN``. Reviews and commits name their pull
  request's id before the pull requests are written, so the ids are drawn
  from the pull request table's own sequence (``nextval`` over
  ``generate_series``) and written explicitly: a sequence never hands out an
  id twice, so this is safe next to concurrent writers and needs no reset.
- SQLite: ``executemany``, with ids counted on from the highest in use (safe
  there: see :class:`_SqliteWriter`).

The large organisation writes no ``Commit`` rows (``COMMITS_FOR_SIZE``): pull
requests carry ``first_commit_at``, which is all lead time needs, and the
commits (about six million) would be the largest table, for no figure.
"""

from __future__ import annotations

import logging
import time

from django.db import transaction

from e360.demo import DemoOrg
from metrics.demo.profiles import NAMED_PROFILES, PROFILE_CYCLE, PROFILES, Profile, team_profiles
from metrics.demo.rows import ROWS_OF
from metrics.demo.simulation import delivery_history
from metrics.demo.writers import open_writer
from metrics.models import Commit, Deployment, Repository, Review, Source
from metrics.refresh import rebuild

__all__ = [
    "NAMED_PROFILES",
    "PROFILES",
    "PROFILE_CYCLE",
    "SOURCE_NAME",
    "Profile",
    "delivery_history",
    "seed",
    "team_profiles",
]

logger = logging.getLogger(__name__)

SOURCE_NAME = "Demo CI"
# Whether each size writes Commit rows; see the module docstring.
COMMITS_FOR_SIZE = {"small": True, "large": False}


def _clear_previous_demo(repository_names: list[str]) -> None:
    """Remove what an earlier demo left behind.

    Deleting the catalog takes deployments, incidents and runs along with the
    services, but pull requests and repositories only lose their service.
    """
    source = Source.objects.filter(name=SOURCE_NAME).first()
    if source is not None:
        Review.objects.filter(pull_request__source=source).delete()
        Commit.objects.filter(pull_request__source=source).delete()
        source.delete()
    Repository.objects.filter(name__in=repository_names).delete()


def _refresh() -> str:
    """Link changes, deployments and incidents and build the rollups, logging progress."""
    started = time.perf_counter()

    def progress(number: int, total: int, summary: str) -> None:
        if number % 100 == 0 or number == total:
            logger.info("Linked and rolled up %s of %s services (%.0f s)", number, total, time.perf_counter() - started)

    return rebuild(service_ids=None, progress=progress)


@transaction.atomic
def seed(org: DemoOrg) -> str:
    """Generate the delivery history of every demo service; a one-line summary.

    Atomic on its own too: the PostgreSQL writer drops and recreates indexes,
    which must never be left half done.
    """
    repository_names = [name for service in org.services for name in service.repositories]
    _clear_previous_demo(repository_names)
    source = Source.objects.create(
        name=SOURCE_NAME,
        kind=Source.Kind.API,
        team=next((team for team in org.teams if team.name == "CI Infrastructure"), None),
        may_write_every_service=True,  # the organisation's CI: it sends every service's records
        last_event_at=org.now,
    )
    Repository.objects.bulk_create(
        [
            Repository(name=name, service=service, url=f"https://github.com/{name}")
            for service in org.services
            for name in service.repositories
        ],
        batch_size=500,
    )
    repository_ids = dict(Repository.objects.filter(name__in=repository_names).values_list("name", "id"))

    started = time.perf_counter()
    counts = dict.fromkeys(ROWS_OF.values(), 0)
    production = 0
    commits = COMMITS_FOR_SIZE.get(org.size.name, True)
    with open_writer() as writer:
        history = delivery_history(
            org, source_id=source.pk, repository_ids=repository_ids, commits=commits, when=writer.when
        )
        for rows in history:
            for attr in counts:
                counts[attr] += len(getattr(rows, attr))
            production += sum(
                1 for row in rows.deployments if row.is_production and row.status == Deployment.Status.SUCCESS
            )
            writer.write(rows)
    return (
        f"{len(repository_ids):,} repositories, {counts['pull_requests']:,} pull requests "
        f"({counts['reviews']:,} reviews, {counts['commits']:,} commits), "
        f"{counts['deployments']:,} deployments ({production:,} to production), "
        f"{counts['incidents']:,} incidents, {counts['pipeline_runs']:,} pipeline runs "
        f"in {time.perf_counter() - started:.1f} s; {_refresh()}"
    )
