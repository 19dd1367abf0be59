"""The published figures of closed campaigns: computed once, then read.

A closed campaign takes no more answers, so what its results show depends only on its answers, which are fixed,
and on the team tree, which may change. ``group_scores`` reads the stored ``GroupScore`` rows of the current
basis (the tree's shape, k and the text threshold); the first read after closing (or after a team moved) computes
and stores every group's at once, and closing a campaign queues that first computation
(``surveys.tasks.publish_scores``).

Computing, for one campaign:

- Answers are counted per storage label in the database (a few GROUP BY queries), so the cost follows the number
  of labels and questions, not of responses.
- The cells are decided once over every group any output can show — the organisation, every team that holds a
  label or sits above one, and every invitee's team and its ancestors — with ``anonymity.shown_groups``, with k
  and again with the text threshold (rules 3, 4 and 5). Teams without responses are "no data" and change nothing.
- Each shown group's answer counts are the sums of its subtree's labels; a hidden group stores its status only.
- A shown group's dimension scores and eNPS are also ranked among its peers: the other shown groups at the same
  depth of the tree (groups with groups, teams with teams), by ``scoring.percentile_rank``. A rank needs at least
  ``MIN_PEERS`` groups at that depth, the group included. It reveals nothing a page could not: it compares figures
  that are each shown, over at least k responses and safe against differencing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter, defaultdict
from functools import cached_property
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Count, Q

from surveys import anonymity, scoring
from surveys.anonymity import ORG, Label
from surveys.models import CHOICE_KINDS, LIKERT_KINDS, Answer, GroupScore, Invitation, Kind, Question, Response

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from surveys.models import Campaign
    from surveys.tree import TeamTree

MIN_PEERS = 5


def questions(campaign: Campaign) -> list[Question]:
    """The questions the campaign asked, in the form's order."""
    return list(campaign.version.questions.order_by("position", "pk")) if campaign.version_id else []


def group_scores(campaign: Campaign, tree: TeamTree, groups: Iterable[Label] | None = None) -> dict[Label, GroupScore]:
    """The closed campaign's stored figures on ``tree`` for ``groups`` and the organisation (every group when
    None), computed and stored first when this shape of the tree has none yet. A group missing from the result
    has no data."""
    wanted = None if groups is None else [g for g in groups if g is not ORG]
    basis = _basis(campaign, tree)
    rows = _stored(campaign, basis, wanted)
    if ORG not in rows:
        _store(campaign, tree, basis)
        rows = _stored(campaign, basis, wanted)
    return rows


def _basis(campaign: Campaign, tree: TeamTree) -> str:
    """What a campaign's cells are decided on: the tree's shape, k and the text threshold (both fixed once a
    campaign opens, but stored figures must never outlive a change made some other way)."""
    return hashlib.sha256(f"{tree.shape}|{campaign.k}|{campaign.text_threshold}".encode()).hexdigest()


def _stored(campaign: Campaign, basis: str, teams: list[int] | None) -> dict[Label, GroupScore]:
    rows = GroupScore.objects.filter(campaign=campaign, basis=basis)
    if teams is not None:
        rows = rows.filter(Q(team__isnull=True) | Q(team__in=teams))
    return {row.team_id: row for row in rows}  # the organisation's row has no team: its key is ORG (None)


@transaction.atomic
def _store(campaign: Campaign, tree: TeamTree, basis: str) -> None:
    asked = questions(campaign)
    tally = _Tally(campaign, tree, asked)
    invitations = invitation_counts(campaign, tree)
    candidates = [ORG, *tree.closure(tally.responses), *tree.closure(invitations)]
    cells = anonymity.shown_groups(tally.responses, tree.parents, campaign.k, candidates)
    text_cells = anonymity.shown_groups(tally.responses, tree.parents, campaign.text_threshold, candidates)
    participation = participation_cells(invitations, tree, campaign.k, candidates)
    scores = {group: tally.scores(group) for group, cell in cells.items() if cell.shown}
    dimensions = sorted({q.dimension for q in asked if q.kind in LIKERT_KINDS and q.dimension})
    rows = {}
    for group, cell in cells.items():
        row = GroupScore(
            campaign=campaign,
            basis=basis,
            team_id=group,
            depth=tree.depth(group),
            status=cell.status,
            text_status=text_cells[group].status,
            participation_status=participation[group][0].status,
        )
        if participation[group][0].shown:
            row.invited, row.responded = participation[group][0].n, participation[group][1]
        if group in scores:
            row.responses = cell.n
            row.counts = scores[group].as_counts()
            row.dimensions = {
                d: dict(zip(("score", "mean"), scores[group].dimension(d), strict=True)) for d in dimensions
            }
            headline = scores[group].headline_enps()
            row.enps = None if headline is None else dataclasses.asdict(headline)
        rows[group] = row
    _rank(rows.values(), dimensions)
    GroupScore.objects.filter(campaign=campaign).exclude(basis=basis).delete()
    # Two first reads may compute at once: the figures are the same, and the second one's rows are dropped.
    GroupScore.objects.bulk_create(rows.values(), batch_size=500, ignore_conflicts=True)


def invitation_counts(campaign: Campaign, tree: TeamTree) -> dict[Label, tuple[int, int]]:
    """Invitee team (ORG: none, or deleted since) → (invited, responded)."""
    rows = (
        Invitation.objects.filter(campaign=campaign)
        .values("team_id")
        .annotate(invited=Count("id"), responded=Count("id", filter=Q(responded=True)))
        .values_list("team_id", "invited", "responded")
        .order_by()
    )
    counts: dict[Label, tuple[int, int]] = {}
    for team, invited, responded in rows:
        key = team if team in tree.parents else ORG
        before = counts.get(key, (0, 0))
        counts[key] = (before[0] + invited, before[1] + responded)
    return counts


def participation_cells(
    invitations: Mapping[Label, tuple[int, int]], tree: TeamTree, k: int, candidates: Iterable[Label]
) -> dict[Label, tuple[anonymity.Cell, int]]:
    """Each candidate's cell over invitee counts (rules 3 and 4: a rate never says whether one or two named people
    answered), and how many of its invitees answered."""
    invited = {team: counts[0] for team, counts in invitations.items()}
    cells = anonymity.shown_groups(invited, tree.parents, k, candidates)
    responded: Counter[Label] = Counter()
    for team, (_, answered) in invitations.items():
        for group in [ORG] if team is ORG else [ORG, *tree.chain(team)]:
            responded[group] += answered
    return {group: (cell, responded[group]) for group, cell in cells.items()}


def _rank(rows: Iterable[GroupScore], dimensions: list[str]) -> None:
    """Add to each shown group's figures its percentile among the shown groups at its depth, and their number."""
    by_depth: dict[int, list[GroupScore]] = defaultdict(list)
    for row in rows:
        if row.team_id is not ORG and row.responses is not None:
            by_depth[row.depth].append(row)
    for peers in by_depth.values():
        for entries in [*([row.dimensions.get(d) for row in peers] for d in dimensions), [row.enps for row in peers]]:
            scored = [entry for entry in entries if entry and entry["score"] is not None]
            if len(scored) < MIN_PEERS:
                continue
            values = [entry["score"] for entry in scored]
            for index, entry in enumerate(scored):
                entry["percentile"] = scoring.percentile_rank(entry["score"], values[:index] + values[index + 1 :])
                entry["peers"] = len(scored)


class _Tally:
    """A campaign's answers counted per storage label, and summed for any group."""

    def __init__(self, campaign: Campaign, tree: TeamTree, asked: list[Question]) -> None:
        self.campaign = campaign
        self.tree = tree
        self.questions = asked
        rows = Response.objects.filter(campaign=campaign).values("label_id").annotate(n=Count("id"))
        # A label whose team was deleted since is the organisation's (the foreign key is set to NULL anyway).
        self.responses: dict[Label, int] = Counter()
        for label, n in rows.values_list("label_id", "n").order_by():
            self.responses[self._label(label)] += n

    def _label(self, label: int | None) -> Label:
        return label if label in self.tree.parents else ORG

    @cached_property
    def numbers(self) -> dict[Label, dict[int, Counter]]:
        """Answers to 1-5 and 0-10 questions: label → question id → value → count, grouped in the database."""
        counts: dict[Label, dict[int, Counter]] = defaultdict(lambda: defaultdict(Counter))
        rows = (
            Answer.objects.filter(response__campaign=self.campaign, number__isnull=False)
            .values_list("response__label_id", "question_id", "number")
            .annotate(n=Count("id"))
            .order_by()
        )
        for label, question, number, n in rows:
            counts[self._label(label)][question][number] += n
        return counts

    @cached_property
    def choices(self) -> dict[Label, dict[int, Counter]]:
        """Answers to choice questions: label → question id → the options chosen (a sorted tuple) → count."""
        counts: dict[Label, dict[int, Counter]] = defaultdict(lambda: defaultdict(Counter))
        if not any(q.kind in CHOICE_KINDS for q in self.questions):
            return counts
        rows = (
            Answer.objects.filter(response__campaign=self.campaign, question__kind__in=CHOICE_KINDS)
            .values_list("response__label_id", "question_id", "choices")
            .annotate(n=Count("id"))
            .order_by()
        )
        for label, question, chosen, n in rows:
            if chosen:
                counts[self._label(label)][question][tuple(sorted(chosen))] += n
        return counts

    @cached_property
    def _members(self) -> dict[Label, list[Label]]:
        """The labels each group's figures sum: its subtree's; every label for the organisation."""
        members: dict[Label, list[Label]] = defaultdict(list)
        for label in self.responses:
            for group in [ORG] if label is ORG else [ORG, *self.tree.chain(label)]:
                members[group].append(label)
        return members

    def scores(self, group: Label) -> Scores:
        numbers: dict[int, Counter] = defaultdict(Counter)
        choices: dict[int, Counter] = defaultdict(Counter)
        for label in self._members.get(group, ()):
            for question, counter in self.numbers.get(label, {}).items():
                numbers[question].update(counter)
            for question, counter in self.choices.get(label, {}).items():
                choices[question].update(counter)
        return Scores(self.questions, numbers, choices)


class Scores:
    """One group's scores in one wave, from its answer counts."""

    def __init__(self, asked: list[Question], numbers: dict[int, Counter], choices: dict[int, Counter]) -> None:
        self.questions = asked
        self.numbers = numbers
        self.choices = choices

    @classmethod
    def from_row(cls, asked: list[Question], row: GroupScore) -> Scores:
        """The scores of a stored shown group, from its counts (JSON keys are strings)."""
        numbers: dict[int, Counter] = defaultdict(Counter)
        choices: dict[int, Counter] = defaultdict(Counter)
        for question, counted in row.counts.items():
            if isinstance(counted, dict):
                numbers[int(question)] = Counter({int(value): n for value, n in counted.items()})
            else:
                choices[int(question)] = Counter({tuple(options): n for options, n in counted})
        return cls(asked, numbers, choices)

    def as_counts(self) -> dict[str, dict[str, int] | list]:
        """The counts as ``GroupScore.counts`` stores them."""
        counts: dict[str, dict[str, int] | list] = {}
        for question, counter in self.numbers.items():
            counts[str(question)] = {str(value): n for value, n in sorted(counter.items())}
        for question, counter in self.choices.items():
            counts[str(question)] = [[list(options), n] for options, n in sorted(counter.items())]
        return counts

    @cached_property
    def items(self) -> dict[int, scoring.ItemScore]:
        return {
            q.pk: scoring.item_score_counts(self.numbers.get(q.pk, Counter()), reverse=q.reverse_coded)
            for q in self.questions
            if q.kind in LIKERT_KINDS
        }

    @cached_property
    def enps(self) -> dict[int, scoring.Enps]:
        asked = [q for q in self.questions if q.kind == Kind.ENPS]
        return {q.pk: scoring.enps_counts(self.numbers.get(q.pk, Counter())) for q in asked}

    def item_by_key(self, key: str) -> float | None:
        """A question's headline figure by its stable key (% favourable, or eNPS), to compare across waves."""
        for q in self.questions:
            if q.key == key:
                if q.pk in self.items:
                    return self.items[q.pk].percent_favourable
                if q.pk in self.enps:
                    return self.enps[q.pk].score
        return None

    def dimension(self, key: str) -> tuple[float | None, float | None]:
        """(% favourable, mean) of a dimension's likert items."""
        items = [self.items[q.pk] for q in self.questions if q.dimension == key and q.pk in self.items]
        means = [item.mean for item in items if item.mean is not None]
        return scoring.dimension_score(items), (sum(means) / len(means) if means else None)

    def headline_enps(self) -> scoring.Enps | None:
        first = next((q for q in self.questions if q.kind == Kind.ENPS), None)
        return None if first is None else self.enps[first.pk]
