"""Team rollups: each team's daily figures summed over every service in its subtree.

A team page, a group's or the whole organisation's reads one ``TeamRollup`` row per
day and kind, however many services the scope holds, and for the whole ISO weeks of its
window one ``TeamWeekRollup`` (the week's distributions merged) instead of seven days'
distributions. Rows are kept in step two ways:

- **Deltas.** A service refresh rewrites the service's ``DailyRollup`` rows; the
  difference (new rows less old ones) is added to the day and week rows of every
  team that counts the service, under row locks taken in one order, so refreshes of
  services of the same team can run side by side.
- **Structure.** ``RolledUpService`` records which teams count each service (its
  owner and the owner's ancestors, when last synced). ``sync`` compares that with
  the catalog; when a service changed team, a team moved, or a service was deleted,
  it recomputes the teams whose set of services changed, children before parents,
  from their own services' rows and their children's team rows. A schedule runs it
  every minute, so a catalog change shows in team figures within a minute.

Every write gives the teams whose rows it changed a new ``TeamRollupVersion`` token, in its transaction
(``versions`` reads them), so figures computed from the rows can be kept until they change.

``rebuild`` recomputes every team. ``read_days`` reads a window's rows of whole subtrees
(``Figures`` merges them with the day rows of other services). Counts are exact sums. A
distribution is kept exactly while a day holds up to ``EXACT_LIMIT`` values of it (a team's or a
group's day), as a histogram beyond (a large group's or the organisation's): percentiles read
from histograms are within 1% of the exact ones.
"""

from __future__ import annotations

import operator
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import reduce
from typing import Any

from django.db import transaction
from django.db.models import F, Q

from e360.models import Service, Team
from e360.tree import TeamTree
from metrics import definitions as d
from metrics.definitions import Histogram
from metrics.models import (
    COUNT_FIELDS,
    SERVICE_WIDE,
    DailyRollup,
    RolledUpService,
    TeamRollup,
    TeamRollupVersion,
    TeamWeekRollup,
)
from metrics.sql import update_rows

EXACT_LIMIT = 1000  # values a team row keeps exactly per distribution; beyond, a histogram
Key = tuple[bool, date]  # (production, day)
ServiceRows = Mapping[tuple[str, date], Mapping]  # DailyRollup rows by (environment, day)


@dataclass
class Sample:
    """A distribution's values in a team row, or a change to them.

    Exact values with (signed) counts, and a histogram for rows that hold too many
    values to keep exactly. Stored as a sorted list while it has at most
    ``EXACT_LIMIT`` values and no histogram part, else as a histogram.
    """

    exact: Counter[float] = field(default_factory=Counter)
    histogram: Histogram = field(default_factory=Histogram)

    def __bool__(self) -> bool:
        return any(self.exact.values()) or bool(self.histogram)

    def add_stored(self, stored: list[float] | dict[str, int], times: int = 1) -> None:
        """Add (``times`` 1) or take out (-1) a stored distribution: a list of values, or a histogram's JSON."""
        if isinstance(stored, dict):
            self.histogram.merge(Histogram.from_json(stored), times)
        elif times == 1:
            self.exact.update(stored)
        else:
            self.exact.subtract(stored)

    def add(self, other: Sample) -> None:
        self.exact.update(other.exact)
        self.histogram.merge(other.histogram)

    def stored(self) -> list[float] | dict[str, object]:
        if not self.histogram and sum(self.exact.values()) <= EXACT_LIMIT:
            return sorted(self.exact.elements())
        histogram = self.histogram.copy()
        for value, count in self.exact.items():
            if count:
                histogram.add(value, count)
        return histogram.to_json()


@dataclass
class Change:
    """Counts and distributions of one (production, day): a sum of rows, or a difference of two sums."""

    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, Sample] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(self.counts.values()) or self.samples_left()

    def samples_left(self) -> bool:
        return any(self.samples.values())

    def add_row(self, row: Mapping, times: int = 1) -> None:
        """Add a ``DailyRollup``, ``TeamRollup`` or ``TeamWeekRollup`` row (its counts and ``distributions``)."""
        for name in COUNT_FIELDS:
            self.counts[name] += times * row.get(name, 0)
        for name, stored in row["distributions"].items():
            self.samples.setdefault(name, Sample()).add_stored(stored, times)

    def add(self, other: Change) -> None:
        self.counts.update(other.counts)
        for name, sample in other.samples.items():
            self.samples.setdefault(name, Sample()).add(sample)

    def values(self) -> dict:
        """The row's columns: every count, and the non-empty distributions."""
        return {name: self.counts[name] for name in COUNT_FIELDS} | self.distributions()

    def distributions(self) -> dict:
        """A week row's column: the non-empty distributions."""
        return {"distributions": {name: sample.stored() for name, sample in sorted(self.samples.items()) if sample}}


def service_delta(old: ServiceRows, new: ServiceRows) -> dict[Key, Change]:
    """What a service's new ``DailyRollup`` rows (keyed by environment and day) change in team rows."""
    delta: dict[Key, Change] = defaultdict(Change)
    for key in old.keys() | new.keys():
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        environment, day = key
        change = delta[(environment != SERVICE_WIDE, day)]
        if before is not None:
            change.add_row(before, -1)
        if after is not None:
            change.add_row(after)
    return {key: change for key, change in delta.items() if change}


def apply_delta(delta: Mapping[Key, Change], team_ids: Iterable[int]) -> int:
    """Add ``delta`` to those teams' day rows and week rows; returns the rows written. Run inside
    the caller's transaction.

    Missing rows are inserted first (a concurrent insert of the same row waits, then
    is skipped), then every row is locked in (team, production, day) order, day rows
    before week rows, the one order all writers use, so two refreshes never deadlock.
    """
    team_ids = sorted(set(team_ids))
    if not delta or not team_ids:
        return 0
    written = _apply(TeamRollup, "day", delta, team_ids) + _apply(TeamWeekRollup, "week", by_week(delta), team_ids)
    if written:
        _new_version(team_ids)
    return written


def _new_version(team_ids: Collection[int]) -> None:
    """A new ``TeamRollupVersion`` token for each of these teams, whose rows the transaction changed: one upsert,
    whose rows are written (and locked) in team order, after the rollup rows (the one order every writer takes)."""
    token = uuid.uuid4()
    TeamRollupVersion.objects.bulk_create(
        [TeamRollupVersion(team_id=team, token=token) for team in sorted(team_ids)],
        update_conflicts=True,
        unique_fields=["team"],
        update_fields=["token"],
    )


def versions(team_ids: Collection[int]) -> tuple[str, ...] | None:
    """The teams' ``TeamRollupVersion`` tokens, in the order of their ids, "" for a team with no rows yet (its first
    write gives it one); None when none has any (one query). Read before the rows: what is read after them is at
    least as new as the tokens say."""
    tokens = dict(TeamRollupVersion.objects.filter(team_id__in=list(team_ids)).values_list("team_id", "token"))
    if not tokens:
        return None
    return tuple(str(tokens.get(team, "")) for team in sorted(team_ids))


def by_week(days: Mapping[Key, Change]) -> dict[Key, Change]:
    """Day changes (or sums) merged per ISO week, keyed by its Monday: what week rows hold."""
    weeks: dict[Key, Change] = defaultdict(Change)
    for (production, day), change in days.items():
        weeks[(production, day - timedelta(days=day.weekday()))].add(change)
    return weeks


def _apply[M: (TeamRollup, TeamWeekRollup)](
    model: type[M], key_field: str, delta: Mapping[Key, Change], team_ids: list[int]
) -> int:
    keys = sorted(delta)
    model.objects.bulk_create(
        [model(team_id=team, production=production, **{key_field: at}) for team in team_ids for production, at in keys],
        ignore_conflicts=True,
        batch_size=1000,
    )
    counted = model is TeamRollup  # week rows hold distributions only
    rows = (
        model.objects.select_for_update()
        .filter(team_id__in=team_ids, **{f"{key_field}__in": sorted({at for _, at in keys})})
        .order_by("team_id", "production", key_field)
        .values("pk", "production", key_field, *(COUNT_FIELDS if counted else ()), "distributions")
    )
    updates: list[tuple[int, dict]] = []
    emptied: list[int] = []
    for row in rows:
        change = delta.get((row["production"], row[key_field]))
        if change is None:
            continue
        total = Change()
        total.add_row(row)
        total.add(change)
        if not (total if counted else total.samples_left()):
            emptied.append(row["pk"])
        else:
            updates.append((row["pk"], total.values() if counted else total.distributions()))
    update_rows(model, updates)
    model.objects.filter(pk__in=emptied).delete()
    return len(updates) + len(emptied)


def sync() -> str:
    """Bring team rollups in line with the catalog (see the module docstring); cheap when nothing moved."""
    return _recompute(everything=False)


def rebuild() -> str:
    """Recompute every team's rows from the service rollups."""
    return _recompute(everything=True)


@transaction.atomic
def _recompute(*, everything: bool) -> str:
    tree = TeamTree.load(Team.objects)
    parent_of = tree.parents
    owners = dict(Service.objects.values_list("id", "owner_id"))
    live = {service: list(tree.chain(owner)) for service, owner in owners.items()}
    recorded = dict(RolledUpService.objects.values_list("service_id", "team_ids"))
    if everything:
        affected = set(parent_of)
    else:
        affected = set()
        for service in live.keys() | recorded.keys():
            before, after = recorded.get(service), live.get(service)
            if before is None:
                continue  # a service never counted: see below
            affected.update(set(before) ^ set(after or ()))  # common ancestors keep the service
        uncounted = [service for service in live if service not in recorded]
        with_rows = set(
            DailyRollup.objects.filter(service_id__in=uncounted).values_list("service_id", flat=True).distinct()
        )
        for service in with_rows:
            affected.update(live[service])
        if not affected:
            RolledUpService.objects.bulk_create(
                [RolledUpService(service_id=service, team_ids=live[service]) for service in uncounted]
            )
            return "Team rollups are up to date"

    # No refresh of a service below an affected team may run meanwhile: it would add to rows being rebuilt.
    below = tree.subtree(affected)
    list(Service.objects.select_for_update().filter(owner_id__in=below).order_by("pk").values_list("pk", flat=True))

    depth = {team: tree.depth(team) for team in affected}
    written = 0
    for team in sorted(affected, key=lambda t: (-depth[t], t)):
        sums: dict[Key, Change] = defaultdict(Change)
        services = DailyRollup.objects.filter(service__owner_id=team)
        for row in services.values("environment", "day", *COUNT_FIELDS, "distributions").iterator(chunk_size=2000):
            sums[(row["environment"] != SERVICE_WIDE, row["day"])].add_row(row)
        teams = TeamRollup.objects.filter(team_id__in=tree.children(team))
        for row in teams.values("production", "day", *COUNT_FIELDS, "distributions").iterator(chunk_size=2000):
            sums[(row["production"], row["day"])].add_row(row)
        TeamRollup.objects.filter(team_id=team).delete()
        TeamRollup.objects.bulk_create(
            [
                TeamRollup(team_id=team, production=production, day=day, **change.values())
                for (production, day), change in sorted(sums.items())
                if change
            ],
            batch_size=1000,
        )
        written += len(sums)
        weeks = by_week(sums)
        TeamWeekRollup.objects.filter(team_id=team).delete()
        TeamWeekRollup.objects.bulk_create(
            [
                TeamWeekRollup(team_id=team, production=production, week=week, **change.distributions())
                for (production, week), change in sorted(weeks.items())
                if change.samples_left()
            ],
            batch_size=1000,
        )
        written += len(weeks)

    _new_version(affected)
    RolledUpService.objects.all().delete()
    RolledUpService.objects.bulk_create(
        [RolledUpService(service_id=service, team_ids=teams) for service, teams in sorted(live.items())],
        batch_size=1000,
    )
    return f"Recomputed the rollups of {len(affected)} teams ({written} rows)"


# --- Reading --------------------------------------------------------------------------------------


def read_days(
    team_ids: Collection[int],
    windows: Sequence[d.Window],
    first: date,
    last: date,
    profile: d.Profile,
    fields: Mapping[str, Any],
) -> Iterator[tuple[int, bool, date, dict]]:
    """The teams' rows of ``first`` … ``last`` as (team, production, day, row), with ``fields`` (the distributions
    read, by name; ``figures._fields``): every day's counts, the distributions of whole weeks
    (``whole_weeks``) from week rows, filed under their Monday, and the other days' from day rows.
    Three queries however many teams."""
    weeks = whole_weeks(windows, profile)
    in_weeks = _week_spans(weeks)
    teams = TeamRollup.objects.filter(team__any=team_ids, day__gte=first, day__lte=last)
    rows = [*teams.exclude(in_weeks).values("team_id", "production", "day", *COUNT_FIELDS, **fields)]
    if weeks:
        rows += teams.filter(in_weeks).values("team_id", "production", "day", *COUNT_FIELDS)
        week_rows = TeamWeekRollup.objects.filter(team__any=team_ids, week__in=weeks)
        rows += week_rows.annotate(day=F("week")).values("team_id", "production", "day", **fields)
    for row in rows:
        yield row.pop("team_id"), row.pop("production"), row.pop("day"), row


def _week_spans(weeks: Sequence[date]) -> Q:
    """The days of the weeks (their sorted Mondays) as a few day ranges, one per run of consecutive weeks, rather
    than a list of every day: a year is two parameters, not 364."""
    spans: list[list[date]] = []
    for monday in weeks:
        if spans and spans[-1][1] == monday:
            spans[-1][1] = monday + timedelta(days=7)
        else:
            spans.append([monday, monday + timedelta(days=7)])
    return reduce(operator.or_, (Q(day__gte=start, day__lt=end) for start, end in spans), Q())


def whole_weeks(windows: Sequence[d.Window], profile: d.Profile) -> list[date]:
    """Mondays of the ISO weeks that some window holds whole and no window holds in part:
    a week row then counts, for each window, wholly or not at all."""
    spans = [set(w.calendar_days(profile)) for w in windows]
    candidates = sorted({monday for w in windows for monday in d.whole_iso_weeks(w, profile)})
    weeks = []
    for monday in candidates:
        week = {monday + timedelta(days=n) for n in range(7)}
        if all(week <= span or not week & span for span in spans):
            weeks.append(monday)
    return weeks
