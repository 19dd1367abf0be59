"""The published figures of closed campaigns: computed once, then read.

A closed campaign takes no more answers, so what its results show depends only on its answers, which are fixed,
and on the team tree, which may change. Its figures are decided on the tree as it was when the campaign closed
(``freeze``: the campaign's teams and their ancestors, with their names and slugs, kept in ``Campaign.frozen_tree``)
and never again: deciding them again on a new tree would let the old and new figures of a team be subtracted (a
team moved out of its parent leaves the parent's figure smaller by exactly that team's answers). A team moved,
renamed or deleted later still reads where and as it was. A campaign closed before the frozen tree existed is
frozen on its first publication. ``group_scores`` reads the stored ``GroupScore`` rows; the first read computes
and stores every group's at once, and closing a campaign queues that first computation
(``surveys.tasks.publish_scores``).

Computing, for one campaign:

- Answers are counted per storage label in the database (a few GROUP BY queries), so the cost follows the number
  of labels and questions, not of responses.
- The cells are decided once over every group any output can show — the organisation, every team that holds a
  label or sits above one, and every invitee's team and its ancestors — with ``anonymity.shown_groups``, with k
  and again with the text threshold (rules 3, 4 and 5). Teams without responses are "no data" and change nothing.
- Each shown group's answer counts are the sums of its subtree's labels; a hidden group stores its status only.
- A question's figures are shown in a shown group only when the question's own answer count passes the same rules
  (``anonymity.shown_groups`` over each question's answers per label): people skip questions, and a question
  answered by 1 … k-1 people of the group, or one whose count minus its shown sub-groups' leaves so few, is withheld
  (``GroupScore.withheld``) and left out of the counts, of the dimension scores (a dimension is the mean of its
  shown items only, so it reveals nothing its shown items do not) and of the eNPS.
- Each group's change since the previous wave (the one before it in its series when it closed) is decided once too
  (``anonymity.wave_change``): shown only when the group is shown in both waves and the people of the group who
  answered in one wave and not in the other (from both waves' invitations, each on its own frozen tree) are none or
  at least k.
- A shown group's dimension scores and eNPS are also ranked among its peers: the other shown groups at the same
  depth of the tree (groups with groups, teams with teams), by ``e360.stats.percentile_rank``. A rank needs at least
  ``MIN_PEERS`` groups at that depth, the group included. It reveals nothing a page could not: it compares figures
  that are each shown, over at least k responses and safe against differencing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter, defaultdict
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, Q

from e360.stats import percentile_rank
from e360.tree import TeamTree
from surveys import anonymity, scoring
from surveys.anonymity import ORG, Cell, Label, Status
from surveys.models import (
    CHOICE_KINDS,
    LIKERT_KINDS,
    Answer,
    Campaign,
    GroupScore,
    Invitation,
    Kind,
    Question,
    Response,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

MIN_PEERS = 5


def questions(campaign: Campaign) -> list[Question]:
    """The questions the campaign asked, in the form's order."""
    return list(campaign.version.questions.order_by("position", "pk")) if campaign.version is not None else []


@dataclasses.dataclass(frozen=True)
class Frozen:
    """What a closed campaign's results are published on, fixed when it closed."""

    tree: TeamTree  # its teams and their ancestors, as they were
    teams: frozenset[int]  # the teams its results list (``campaign_teams``)
    rolled_up: dict[int, Label]  # teams of fewer than k invitees → the group their responses are stored under
    previous: int | None  # the wave its changes compare with: the closed one before it in its series


def freeze(campaign: Campaign) -> Frozen:
    """The closed campaign's frozen tree, stored now from the tree as it is if it has none yet: when it closes
    (``services.campaign_close``), or on the first publication of a campaign closed before frozen trees existed.
    Stored once: of two freezes at once, the first write wins and both return it."""
    if campaign.frozen_tree is None:
        tree = TeamTree.load()
        rows = set(Invitation.objects.filter(campaign=campaign).values_list("team_id", "label_id").distinct())
        invited = {team for team, _ in rows if team in tree}
        labels = {label for _, label in rows if label in tree}
        roots = () if campaign.everyone else campaign.teams.values_list("id", flat=True)
        rolled_up = {team: label if label in tree else ORG for team, label in rows if team in invited}
        previous = (
            Campaign.objects.filter(series_id=campaign.series_id, wave__lt=campaign.wave, status=Campaign.Status.CLOSED)
            .order_by("-wave")
            .values_list("pk", flat=True)
            .first()
        )
        data: dict[str, Any] | None = {
            **tree.as_json(invited | labels),
            "teams": sorted(campaign_teams(campaign, invited, roots, tree)),
            "rolled_up": {str(team): label for team, label in rolled_up.items() if label != team},
            "previous": previous,
        }
        Campaign.objects.filter(pk=campaign.pk, frozen_tree__isnull=True).update(frozen_tree=data)
        campaign.refresh_from_db(fields=["frozen_tree"])
    data = campaign.frozen_tree
    assert data is not None  # frozen above, if it was not already
    # A page reads a campaign's frozen tree several times (its access, each wave's figures): decoded once per value.
    kept = campaign.__dict__.get("_frozen")
    if kept is not None and kept[0] is data:
        return kept[1]
    frozen = Frozen(
        TeamTree.from_json(data),
        frozenset(data["teams"]),
        {int(team): label for team, label in data["rolled_up"].items()},
        data["previous"],
    )
    campaign.__dict__["_frozen"] = (data, frozen)
    return frozen


def campaign_teams(campaign: Campaign, invited: Iterable[Label], roots: Iterable[int], tree: TeamTree) -> set[int]:
    """The teams a campaign's results list: its invitees' teams and their ancestors, within its audience's teams
    (``roots``) unless it invited everyone; for a pulse to named people only (no root), their own teams. A campaign
    of one team does not list that team's parent: the parent's figure would be the team's under another name,
    visible to the parent's plain members."""
    own = {team for team in invited if team is not None and team in tree}
    teams = tree.closure(own)
    if campaign.everyone:
        return teams
    roots = set(roots)
    # A pulse to people (no audience team): their own teams, none above (whose figure would be theirs renamed).
    return teams & tree.subtree(roots) if roots else own


def previous_wave(campaign: Campaign) -> Campaign | None:
    """The closed wave a closed campaign's changes compare with: the one before it in its series when it closed."""
    previous = freeze(campaign).previous
    if previous is None:
        return None
    return Campaign.objects.filter(pk=previous, status=Campaign.Status.CLOSED).select_related("version").first()


def group_scores(campaign: Campaign, groups: Iterable[Label] | None = None) -> dict[Label, GroupScore]:
    """The closed campaign's stored figures for ``groups`` and the organisation (every group when None), computed
    and stored first on its frozen tree when it has none yet. A group missing from the result has no data."""
    wanted = None if groups is None else [g for g in groups if g is not ORG]
    frozen = freeze(campaign)
    basis = _basis(campaign, frozen.tree)
    rows = _stored(campaign, basis, wanted)
    if ORG not in rows:
        _store(campaign, frozen.tree, basis)
        rows = _stored(campaign, basis, wanted)
    return rows


def _basis(campaign: Campaign, tree: TeamTree) -> str:
    """What a campaign's cells are decided on: its frozen tree, k and the text threshold (all fixed once it closes,
    but stored figures must never outlive a change made some other way)."""
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
    cells = anonymity.shown_groups(tally.responses, tree, campaign.k, candidates)
    text_cells = anonymity.shown_groups(tally.responses, tree, campaign.text_threshold, candidates)
    participation = participation_cells(invitations, tree, campaign.k, candidates)
    question_cells = {
        q.pk: anonymity.shown_groups(tally.answered(q.pk), tree, campaign.k, candidates)
        for q in asked
        if q.kind != Kind.TEXT
    }
    withheld = {
        group: {q: question_cells[q][group].status for q in question_cells if _withheld(question_cells[q][group])}
        for group, cell in cells.items()
        if cell.shown
    }
    scores = {group: tally.scores(group).without(withheld[group]) for group in withheld}
    changes = _changes(campaign, tree, cells)
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
            change_status=changes[group],
        )
        if participation[group][0].shown:
            row.invited, row.responded = participation[group][0].n, participation[group][1]
        if group in scores:
            row.responses = cell.n
            row.counts = scores[group].as_counts()
            row.withheld = {str(q): status for q, status in withheld[group].items()}
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


def _withheld(cell: Cell) -> bool:
    """Whether a question's cell in a shown group hides answers that exist (a question nobody answered is no data)."""
    return cell.status in (Status.TOO_FEW, Status.SUPPRESSED)


def _changes(campaign: Campaign, tree: TeamTree, cells: Mapping[Label, Cell]) -> dict[Label, Status]:
    """Each group's ``anonymity.wave_change`` against the previous wave (its stored cells, its frozen tree)."""
    previous = previous_wave(campaign)
    if previous is None:
        return dict.fromkeys(cells, Status.NO_DATA)
    before = group_scores(previous)
    answered_now = answered_by_group(campaign, tree)
    answered_before = answered_by_group(previous, freeze(previous).tree)
    k = max(campaign.k, previous.k)
    changes = {}
    for group, cell in cells.items():
        row = before.get(group)
        then = Cell(0, Status.NO_DATA) if row is None else Cell(row.responses or 0, Status(row.status))
        changes[group] = anonymity.wave_change(
            cell, then, answered_now.get(group, set()), answered_before.get(group, set()), k
        )
    return changes


@dataclasses.dataclass(frozen=True)
class HiddenChanges:
    """The questions (keys) and dimensions of a group whose change may not be shown though the group's may."""

    questions: frozenset[str]
    dimensions: frozenset[str]


def hidden_changes(
    asked: list[Question], row: GroupScore, asked_before: list[Question], row_before: GroupScore, k: int
) -> HiddenChanges:
    """Per question, on top of the group's ``anonymity.wave_change``: people skip questions, and who answered which
    is not recorded, so a question's change is hidden when its answer counts in the two waves differ by 1 … k-1; a
    dimension's change is hidden with any of its items' (the other items' changes would give it away)."""
    now, then = _answered_by_key(asked, row), _answered_by_key(asked_before, row_before)
    keys = frozenset(key for key in now.keys() | then.keys() if 0 < abs(now.get(key, 0) - then.get(key, 0)) < k)
    dimensions = frozenset(q.dimension for q in asked if q.key in keys and q.kind in LIKERT_KINDS and q.dimension)
    return HiddenChanges(keys, dimensions)


def _answered_by_key(asked: list[Question], row: GroupScore) -> dict[str, int]:
    """A shown group's answer count per question key (a withheld question has none, and so no change)."""
    keys = {str(q.pk): q.key for q in asked}
    answered = {}
    for question, counted in row.counts.items():
        values = counted.values() if isinstance(counted, dict) else (n for _, n in counted)
        answered[keys[question]] = sum(values)
    return answered


def answered_by_group(campaign: Campaign, tree: TeamTree) -> dict[Label, set[int]]:
    """Who answered, per group of ``tree``: the invitees (person ids) whose label lies in the group's subtree; all
    of them for the organisation. For deciding only: never shown, stored or logged."""
    groups: dict[Label, set[int]] = defaultdict(set)
    rows = Invitation.objects.filter(campaign=campaign, responded=True).values_list("person_id", "label_id")
    for person, label in rows.order_by():
        for group in [ORG, *tree.chain(label)]:
            groups[group].add(person)
    return groups


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
        key = team if team in tree else ORG
        before = counts.get(key, (0, 0))
        counts[key] = (before[0] + invited, before[1] + responded)
    return counts


def participation_cells(
    invitations: Mapping[Label, tuple[int, int]], tree: TeamTree, k: int, candidates: Iterable[Label]
) -> dict[Label, tuple[anonymity.Cell, int]]:
    """Each candidate's cell over invitee counts (rules 3 and 4: a rate never says whether one or two named people
    answered), and how many of its invitees answered."""
    invited = {team: counts[0] for team, counts in invitations.items()}
    cells = anonymity.shown_groups(invited, tree, k, candidates)
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
                entry["percentile"] = percentile_rank(entry["score"], values[:index] + values[index + 1 :])
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
        return label if label in self.tree else ORG

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

    def answered(self, question: int) -> dict[Label, int]:
        """How many answered ``question``, per label (skips left out)."""
        counts: dict[Label, int] = Counter()
        for source in (self.numbers, self.choices):
            for label, per_question in source.items():
                if question in per_question:
                    counts[label] += sum(per_question[question].values())
        return counts

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

    def without(self, questions: Iterable[int]) -> Scores:
        """These scores with the answers to ``questions`` left out (withheld questions)."""
        left_out = set(questions)
        return Scores(
            self.questions,
            {q: counter for q, counter in self.numbers.items() if q not in left_out},
            {q: counter for q, counter in self.choices.items() if q not in left_out},
        )

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
