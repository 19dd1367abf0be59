"""Survey results: what one viewer may see of one campaign, computed once for the page, the CSV and the API.

An open campaign's participation is counted from its invitations. A closed campaign's figures are read from those
``surveys.published`` computed once and stored: cells, answer counts, dimension scores and percentiles per group.
Scores come from ``surveys.scoring`` and every figure goes through ``surveys.anonymity``; nothing here
re-implements either.

How the anonymity rules (docs/surveys.md#anonymity) apply:

- Rule 6: while a campaign is open, only participation is computed: no response count, score or text is read.
- Rules 3 and 4: the cells (shown, too few, suppressed, no data) are decided once per campaign (``surveys.published``)
  over every group any output can show. Each output — the page
  for any viewer and team picked, the CSV, the API — then shows a subset of those cells. Complementary suppression
  therefore holds within every output (a subset of safe figures is safe) and also between outputs: deciding per
  output would let a lead's page and a developer's page, each safe alone, be subtracted from each other.
- Participation counts invitations, not answers; they are still shown only for groups of at least k invitees, with
  the same suppression over invitee counts, so that a rate never says whether one or two named people answered.
- A closed campaign is shown on its frozen team tree (``published.freeze``): the teams it lists, their places and
  names are those of when it closed, so a reorg later changes no figure and cannot be subtracted from an earlier one.
- Changes against the previous wave are shown only where ``anonymity.wave_change`` allowed it when the figures were
  published (the group shown in both waves, and the people who answered in one and not the other none or ≥ k);
  otherwise the change says why it is hidden. A question's change is also hidden when its own answer counts in the
  two waves differ by 1 … k-1 (who answered which question is not recorded, so only their number is checked).
- Per question (rule 3 within a group): a question answered by too few people of a shown group is withheld
  ("fewer than k answers"), and left out of the group's dimension scores and eNPS (``surveys.published``).
- Rule 5: free text is shown for a group only when ``anonymity.text_visible`` allows it and the group passes the same
  suppression with the text threshold as k (so that the texts of a team and of its parent cannot be subtracted into
  the texts of fewer than the threshold), in ``anonymity.shuffled_texts`` order, without team labels or times.
- Rule 7: nothing depends on who asks except which groups are listed: staff and org viewers get the same cells.

The organisation's figure is shown to everyone who may see a campaign's results: it aggregates at least k responses,
and it is the reference every team compares itself with.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from django.db.models import Count, Q
from django.http import Http404
from django.utils.crypto import salted_hmac

from e360 import access
from e360.stats import whole
from e360.tree import TeamTree
from surveys import anonymity, published, scoring
from surveys.anonymity import ORG, Cell, Label, Status
from surveys.forms import AGREEMENT, FREQUENCY  # the answers' words, as the form shows them
from surveys.models import CHOICE_KINDS, LIKERT_KINDS, Answer, Campaign, Dimension, Invitation, Kind, Question

if TYPE_CHECKING:
    from collections.abc import Iterable

    from e360.models import User
    from surveys.models import GroupScore

WITH_RESULTS = (Campaign.Status.OPEN, Campaign.Status.CLOSED)  # drafts and scheduled campaigns have none yet
ORG_NAME = "Whole organisation"


def status_text(status: Status, k: int, *, noun: str = "responses") -> str:
    """What a hidden cell says instead of its figure; empty for a shown one."""
    if status == Status.TOO_FEW:
        return f"fewer than {k} {noun}"
    if status == Status.SUPPRESSED:
        return "hidden to protect a small group"
    if status == Status.NO_DATA:
        return "no data"
    return ""


def signed(points: float | None) -> str:
    """A change in points as the pages write it: +8, −3 or 0, rounded half away from zero like every figure shown."""
    if points is None:
        return ""
    rounded = whole(points)
    if rounded == 0:
        return "0"
    return f"−{-rounded}" if rounded < 0 else f"+{rounded}"


def _percentile_text(percentile: float | None, peers: int | None) -> str:
    """A percentile among teams as the pages write it: "73rd of 40 teams"; empty when not ranked."""
    if percentile is None:
        return ""
    rank = whole(percentile)
    suffix = "th" if 10 <= rank % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
    return f"{rank}{suffix} percentile of {peers} teams"


class _Changes:
    """The changes of a figure, written for the page (the CSV and the API give the numbers)."""

    @property
    def change_wave_text(self) -> str:
        return signed(self.change_wave)  # type: ignore[attr-defined]

    @property
    def change_org_text(self) -> str:
        return signed(self.change_org)  # type: ignore[attr-defined]

    @property
    def change_wave_hidden(self) -> bool:
        """Whether the change since the previous wave is hidden to protect a small group (not merely absent)."""
        return self.change_wave_status == Status.SUPPRESSED  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Group:
    """A row of an output: the organisation (``id`` ORG) or a team, with its depth in the output's tree."""

    id: Label
    name: str
    slug: str
    depth: int  # 0 for the organisation, 1 for the top listed teams, 2 for those listed below them …
    label: str = ""  # the name for a list without indentation of its own (a select's options): its path

    @property
    def is_org(self) -> bool:
        return self.id is ORG

    @property
    def indent(self) -> int:
        """Its indentation under the organisation, which the top listed teams share."""
        return max(self.depth - 1, 0)


def _ordered(teams: set[int], tree: TeamTree) -> list[Group]:
    """The organisation, then ``teams`` in the tree's rendering order; depth counts the listed ancestors only."""
    groups = [Group(ORG, ORG_NAME, "", 0, ORG_NAME)]
    for team, indent in tree.indented(teams):
        groups.append(Group(team, tree.names[team], tree.slugs[team], 1 + indent, tree.label(team, teams)))
    return groups


# --- Access -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignAccess:
    """A campaign as one viewer may see its results: the teams of the campaign, and those the viewer sees."""

    campaign: Campaign
    tree: TeamTree
    teams: frozenset[int]  # the campaign's teams: invitees' teams and their ancestors, within its audience
    visible: frozenset[int]  # the ones the viewer may see
    invitations: dict[Label, tuple[int, int]]  # invitee team (ORG: none) → (invited, responded)
    rolled_up: dict[int, Label]  # teams of fewer than k invitees → the group their responses are stored under


def campaign_for_user(user: User, campaign_id: int) -> CampaignAccess:
    """The campaign's results scope for ``user``, or 404: not open or closed, or none of its teams is theirs.

    Developers see their own teams, leads their sub-tree too, org viewers (and staff holding that permission)
    everything (``e360.access.visible_team_ids``).
    """
    campaign = (
        Campaign.objects.filter(pk=campaign_id, status__in=WITH_RESULTS).select_related("series", "version").first()
    )
    if campaign is None:
        raise Http404("No survey results here.")
    if campaign.is_closed:
        frozen = published.freeze(campaign)
        return _scoped(user, campaign, frozen.tree, set(frozen.teams), {}, frozen.rolled_up)
    rows = (
        Invitation.objects.filter(campaign=campaign)
        .values("team_id", "label_id")
        .annotate(invited=Count("id"), responded=Count("id", filter=Q(responded=True)))
        .values_list("team_id", "label_id", "invited", "responded")
        .order_by()
    )
    tree = TeamTree.for_user(user)
    invitations: dict[Label, tuple[int, int]] = {}
    rolled_up: dict[int, Label] = {}
    for team, label, invited, responded in rows:
        key = team if team in tree else ORG
        before = invitations.get(key, (0, 0))
        invitations[key] = (before[0] + invited, before[1] + responded)
        if key is not ORG and label != team:
            rolled_up[key] = label if label in tree else ORG
    roots = () if campaign.everyone else campaign.teams.values_list("id", flat=True)
    teams = published.campaign_teams(campaign, invitations, roots, tree)
    return _scoped(user, campaign, tree, teams, invitations, rolled_up)


def _scoped(
    user: User,
    campaign: Campaign,
    tree: TeamTree,
    teams: set[int],
    invitations: dict[Label, tuple[int, int]],
    rolled_up: dict[int, Label],
) -> CampaignAccess:
    """The campaign's teams that ``user`` sees, or 404 when none (``access.sees_any_team``: who may see a
    campaign's results). A team deleted since a campaign closed is seen by org viewers only."""
    if not access.sees_any_team(user, teams):
        raise Http404("No survey results here.")
    visible = access.visible_among(user, teams)
    return CampaignAccess(campaign, tree, frozenset(teams), frozenset(visible), invitations, rolled_up)


def campaigns_for_user(user: User) -> list[Campaign]:
    """Open and closed campaigns whose results ``user`` may see (``access.sees_any_team``, as ``campaign_for_user``
    decides), newest first."""
    campaigns = list(Campaign.objects.filter(status__in=WITH_RESULTS).order_by("-opens_at", "-pk"))
    visible_ids = access.visible_team_ids(user)
    if visible_ids is None or not visible_ids:
        # Everything for an org viewer; nothing for someone who sees no team, without reading the campaigns' teams.
        return campaigns if visible_ids is None else []
    tree = TeamTree.for_user(user)
    live = [c for c in campaigns if not c.is_closed]
    invited: dict[int, set[int]] = defaultdict(set)
    pairs = Invitation.objects.filter(campaign__in=live, team__isnull=False).values_list("campaign_id", "team_id")
    for campaign_id, team in pairs.distinct().order_by():
        invited[campaign_id].add(team)
    roots: dict[int, set[int]] = defaultdict(set)
    links = Campaign.teams.through.objects.filter(campaign__in=live).values_list("campaign_id", "team_id")
    for campaign_id, team in links:
        roots[campaign_id].add(team)

    def teams(c: Campaign) -> set[int]:
        if c.is_closed:
            return set(published.freeze(c).teams)
        return published.campaign_teams(c, invited[c.pk], roots[c.pk], tree)

    return [c for c in campaigns if access.sees_any_team(user, teams(c))]


# --- Figures ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One answer value of a question's distribution, with the count of answers that chose it."""

    value: int | str
    label: str
    count: int
    tone: str  # "favourable", "neutral" or "unfavourable": the chart's colour, never the only cue
    percent: float | None = None  # choice questions: % of the question's respondents


@dataclass(frozen=True)
class QuestionFigure(_Changes):
    """One question for one group. Every number is None unless ``status`` is ``Status.SHOWN``."""

    question: Question
    status: Status
    status_text: str
    answered: int | None = None
    percent_favourable: float | None = None  # likert items
    mean: float | None = None  # likert items, 1-5, reverse-coded items inverted
    enps: scoring.Enps | None = None  # eNPS questions
    bars: tuple[Bar, ...] = ()
    percents: dict[str, float] = field(default_factory=dict)  # choice questions: % of respondents per option
    change_wave: float | None = None  # points of % favourable (eNPS points for eNPS) vs the previous wave
    change_org: float | None = None  # the same vs the organisation
    change_wave_status: Status | None = None  # shown or why not (``anonymity.wave_change``); None: no previous wave

    @property
    def shown(self) -> bool:
        return self.status == Status.SHOWN

    @property
    def headline(self) -> float | None:
        """The figure changes are about: % favourable, or the eNPS."""
        if self.enps is not None:
            return self.enps.score
        return self.percent_favourable


@dataclass(frozen=True)
class DimensionFigure(_Changes):
    key: str
    label: str
    status: Status
    status_text: str
    percent_favourable: float | None = None  # scoring.dimension_score: the mean of its items' % favourable
    mean: float | None = None  # the mean of its items' means (1-5)
    change_wave: float | None = None
    change_org: float | None = None
    percentile: float | None = None  # among the teams at the same level (``surveys.published``)
    peers: int | None = None  # how many teams that percentile compares, this one included
    change_wave_status: Status | None = None

    @property
    def shown(self) -> bool:
        return self.status == Status.SHOWN

    @property
    def percentile_text(self) -> str:
        return _percentile_text(self.percentile, self.peers)

    @property
    def heat(self) -> int | None:
        """Which of five colour bands the heatmap gives the cell (0: below 20 % favourable … 4: 80 % or more)."""
        if self.percent_favourable is None:
            return None
        return min(4, int(self.percent_favourable // 20))


@dataclass(frozen=True)
class EnpsFigure(_Changes):
    status: Status
    status_text: str
    enps: scoring.Enps | None = None
    change_wave: float | None = None
    change_org: float | None = None
    percentile: float | None = None
    peers: int | None = None
    change_wave_status: Status | None = None

    @property
    def shown(self) -> bool:
        return self.status == Status.SHOWN

    @property
    def percentile_text(self) -> str:
        return _percentile_text(self.percentile, self.peers)

    @property
    def score(self) -> float | None:
        return None if self.enps is None else self.enps.score


@dataclass(frozen=True)
class ParticipationFigure:
    status: Status
    status_text: str
    participation: scoring.Participation | None = None

    @property
    def shown(self) -> bool:
        return self.status == Status.SHOWN

    @property
    def percent(self) -> float | None:
        p = self.participation
        return None if p is None or p.rate is None else 100 * p.rate


@dataclass(frozen=True)
class GroupResult:
    group: Group
    participation: ParticipationFigure
    status: Status | None = None  # the responses' cell; None while the campaign is open
    status_text: str = ""
    responses: int | None = None
    dimensions: tuple[DimensionFigure, ...] = ()
    enps: EnpsFigure | None = None
    questions: tuple[QuestionFigure, ...] = ()

    @property
    def shown(self) -> bool:
        return self.status == Status.SHOWN


@dataclass(frozen=True)
class TextFigure:
    """A free-text question's answers for the focused group, shuffled, without labels or times (rule 5)."""

    question: Question
    status: Status
    status_text: str
    texts: tuple[str, ...] = ()

    @property
    def shown(self) -> bool:
        return self.status == Status.SHOWN


@dataclass(frozen=True)
class Results:
    campaign: Campaign
    published: bool  # closed: scores are out (rule 6)
    groups: tuple[GroupResult, ...]  # the organisation first, then the teams of the output as a tree
    focus: GroupResult  # the picked team, or the organisation
    teams: tuple[Group, ...]  # every team of the campaign the viewer may pick
    previous: Campaign | None = None  # the wave changes compare with
    dimensions: tuple[tuple[str, str], ...] = ()  # the heatmap's columns: (key, label)
    has_enps: bool = False
    texts: tuple[TextFigure, ...] = ()
    # The published figures read for the output's groups, per campaign (this wave's and the previous one's): a
    # caller showing the same groups of the same waves again reuses them instead of reading them twice.
    read: dict[int, Published] = field(default_factory=dict, repr=False, compare=False)


# --- One wave's figures -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """What a closed campaign's published figures for some groups are read as: its questions and their stored rows
    (``surveys.published``)."""

    questions: list[Question]
    rows: dict[Label, GroupScore]

    @classmethod
    def read(cls, campaign: Campaign, groups: Iterable[Label]) -> Published:
        return cls(published.questions(campaign), published.group_scores(campaign, groups))


def dimension_columns(questions: list[Question]) -> tuple[tuple[str, str], ...]:
    """The dimensions ``questions`` ask as likert questions, as (key, label) in the order of
    docs/surveys.md#dimensions."""
    present = {q.dimension for q in questions if q.kind in LIKERT_KINDS and q.dimension}
    return tuple((d.value, d.label) for d in Dimension if d.value in present)


class _Wave:
    """A closed campaign's published figures (``surveys.published``) for the groups of one output."""

    def __init__(self, campaign: Campaign, groups: Iterable[Label]) -> None:
        self.campaign = campaign
        self.questions = published.questions(campaign)
        self.rows = published.group_scores(campaign, groups)

    def cell(self, group: Label) -> Cell:
        row = self.rows.get(group)
        return Cell(0, Status.NO_DATA) if row is None else Cell(row.responses or 0, Status(row.status))

    def text_cell(self, group: Label) -> Cell:
        row = self.rows.get(group)
        return Cell(0, Status.NO_DATA) if row is None else Cell(row.responses or 0, Status(row.text_status))

    def participation(self, group: Label) -> ParticipationFigure:
        row = self.rows.get(group)
        if row is None:
            return _participation_figure(Cell(0, Status.NO_DATA), 0, self.campaign.k)
        return _participation_figure(
            Cell(row.invited or 0, Status(row.participation_status)), row.responded or 0, self.campaign.k
        )

    def dimension(self, group: Label, key: str) -> dict:
        """A shown group's figures for a dimension: score (% favourable), mean, and percentile and peers if ranked."""
        return self.rows[group].dimensions.get(key) or {"score": None, "mean": None}

    def enps(self, group: Label) -> dict | None:
        return self.rows[group].enps

    def withheld(self, group: Label) -> dict[int, Status]:
        """A shown group's withheld questions (too few answers, or hidden against differencing) → their status."""
        return {int(q): Status(status) for q, status in self.rows[group].withheld.items()}

    def change_status(self, group: Label) -> Status:
        """Whether the group's change since the previous wave may be shown (decided when published)."""
        row = self.rows.get(group)
        return Status.NO_DATA if row is None else Status(row.change_status)

    def scores(self, group: Label) -> published.Scores:
        """A shown group's scores per question, from its counts."""
        return published.Scores.from_row(self.questions, self.rows[group])


def _bars(question: Question, numbers: Counter, choices: Counter) -> tuple[Bar, ...]:
    if question.kind in LIKERT_KINDS:
        labels = AGREEMENT if question.kind == Kind.AGREEMENT else FREQUENCY
        return tuple(
            Bar(
                value,
                labels[value - 1],
                numbers.get(value, 0),
                _likert_tone(scoring.likert_score(value, reverse=question.reverse_coded)),
            )
            for value in scoring.LIKERT_RANGE
        )
    if question.kind == Kind.ENPS:
        return tuple(Bar(v, str(v), numbers.get(v, 0), _enps_tone(v)) for v in scoring.ENPS_RANGE)
    if question.kind in CHOICE_KINDS:
        chosen: Counter = Counter()
        for options, n in choices.items():
            for option in set(options):
                chosen[option] += n
        return tuple(Bar(option, option, chosen.get(option, 0), "neutral") for option in question.options)
    return ()


def _likert_tone(score: int) -> str:
    return "favourable" if score in scoring.FAVOURABLE else "neutral" if score == 3 else "unfavourable"


def _enps_tone(value: int) -> str:
    return "favourable" if value in scoring.PROMOTERS else "neutral" if value in scoring.PASSIVES else "unfavourable"


def _minus(current: float | None, reference: float | None) -> float | None:
    return scoring.change_points(current, reference)


# --- The results --------------------------------------------------------------------------------------------------


def _participation(scope: CampaignAccess, groups: list[Group]) -> dict[Label, ParticipationFigure]:
    """An open campaign's participation per group (a closed one's is stored with its figures)."""
    candidates = [ORG, *scope.tree.closure(scope.invitations), *(g.id for g in groups)]
    cells = published.participation_cells(scope.invitations, scope.tree, scope.campaign.k, candidates)
    return {g.id: _participation_figure(*cells[g.id], scope.campaign.k) for g in groups}


def _participation_figure(cell: Cell, responded: int, k: int) -> ParticipationFigure:
    if cell.shown:
        return ParticipationFigure(Status.SHOWN, "", scoring.participation(cell.n, responded))
    return ParticipationFigure(cell.status, status_text(cell.status, k, noun="invited"))


def _text_figures(wave: _Wave, tree: TeamTree, group: Label) -> tuple[TextFigure, ...]:
    campaign = wave.campaign
    questions = [q for q in wave.questions if q.kind == Kind.TEXT]
    if not questions:
        return ()
    cell = wave.text_cell(group)
    visible = cell.shown and anonymity.text_visible(cell.n, campaign.text_threshold)
    if not visible:
        status = cell.status if not cell.shown else Status.TOO_FEW
        text = status_text(status, campaign.text_threshold)
        return tuple(TextFigure(q, status, text) for q in questions)
    answers = Answer.objects.filter(response__campaign=campaign, question__in=questions).exclude(text="")
    if group is not ORG:
        answers = answers.filter(response__label_id__in=tree.subtree([group]))
    by_question: dict[int, list[str]] = defaultdict(list)
    for question, text in answers.values_list("question_id", "text").order_by():
        by_question[question].append(text)
    figures = []
    for q in questions:
        seed = salted_hmac("surveys.results.texts", f"{campaign.pk}:{group}:{q.pk}", algorithm="sha256").digest()
        texts = tuple(anonymity.shuffled_texts(by_question[q.pk], seed))
        figures.append(
            TextFigure(q, Status.SHOWN if texts else Status.NO_DATA, "" if texts else "no written answers", texts)
        )
    return tuple(figures)


def campaign_results(
    scope: CampaignAccess,
    *,
    team: str | None = None,
    levels: int | None = None,
    every_question: bool = True,
    texts: bool = True,
    picker: bool = True,
) -> Results:
    """The results ``scope``'s viewer may see, narrowed to ``team``'s subtree (a slug) when given.

    The output lists the organisation, then the campaign's teams the viewer sees (within ``team`` if given, and at
    most ``levels`` below it when given: a page of a large organisation lists its groups, not its 400 teams); the
    focused group (``team``, else the organisation) also gets its free text, unless ``texts`` is False (a
    dashboard's summary). Every group gets its per-question
    figures, or only the focused one without ``every_question`` (the page charts the focused group's alone). Without
    ``picker`` (a summary) ``teams``, the teams the viewer may pick, is empty.
    An unknown team, or one the viewer may not see, is a 404. Cells are decided over every group whatever is
    listed, so what a page lists never changes what it shows.
    """
    campaign, tree = scope.campaign, scope.tree
    focus: Label = ORG
    if team:
        focus = next((t for t in scope.visible if tree.slugs[t] == team), ORG)
        if focus is ORG:
            raise Http404(f'No team "{team}" in these results for you.')
    listed = set(scope.visible) if focus is ORG else set(scope.visible) & tree.subtree([focus])
    if levels is not None:
        listed = {t for t in listed if _below(t, focus, tree) <= levels}
    groups = _ordered(listed, tree)
    pickable = tuple(_ordered(set(scope.visible), tree)[1:]) if picker else ()
    if not campaign.is_closed:
        participation = _participation(scope, groups)
        results = tuple(GroupResult(g, participation[g.id]) for g in groups)
        return Results(campaign, False, results, _find(results, focus), pickable)

    ids = [g.id for g in groups]
    wave = _Wave(campaign, ids)
    previous_campaign = published.previous_wave(campaign)
    previous = _Wave(previous_campaign, ids) if previous_campaign is not None else None
    columns = dimension_columns(wave.questions)
    has_enps = any(q.kind == Kind.ENPS for q in wave.questions)
    results = tuple(
        _group_result(
            g,
            wave.participation(g.id),
            wave,
            previous,
            columns,
            has_enps,
            _rolled_into(scope, g),
            with_questions=every_question or g.id == focus,
        )
        for g in groups
    )
    return Results(
        campaign,
        True,
        results,
        _find(results, focus),
        pickable,
        previous_campaign,
        columns,
        has_enps,
        _text_figures(wave, tree, focus) if texts else (),
        {w.campaign.pk: Published(w.questions, w.rows) for w in (wave, previous) if w is not None},
    )


def _below(team: int, focus: Label, tree: TeamTree) -> int:
    """How many levels ``team`` lies below ``focus`` (the organisation is above every root)."""
    chain = tree.chain(team)
    return len(chain) if focus is ORG else chain.index(focus)


def _rolled_into(scope: CampaignAccess, group: Group) -> str | None:
    """Where a team's responses went when it had fewer than k invitees (storage rule), to say so in its cells."""
    if group.id is ORG or group.id not in scope.rolled_up:
        return None
    label = scope.rolled_up[group.id]
    return "the whole organisation" if label is ORG else scope.tree.names[label]


def _find(results: tuple[GroupResult, ...], focus: Label) -> GroupResult:
    return next(r for r in results if r.group.id == focus)


def _group_result(
    group: Group,
    participation: ParticipationFigure,
    wave: _Wave,
    previous: _Wave | None,
    columns: tuple[tuple[str, str], ...],
    has_enps: bool,
    rolled_into: str | None = None,
    *,
    with_questions: bool = True,
) -> GroupResult:
    k = wave.campaign.k
    cell = wave.cell(group.id)
    if not cell.shown:
        text = status_text(cell.status, k)
        if cell.status == Status.NO_DATA and rolled_into:
            text = f"no data: its answers count in {rolled_into}"
        return GroupResult(
            group,
            participation,
            cell.status,
            text,
            dimensions=tuple(DimensionFigure(key, label, cell.status, text) for key, label in columns),
            enps=EnpsFigure(cell.status, text) if has_enps else None,
            questions=tuple(
                QuestionFigure(q, cell.status, text) for q in wave.questions if with_questions and q.kind != Kind.TEXT
            ),
        )
    # A change vs the previous wave only where it was decided safe when published (rule 4 across waves); one vs the
    # organisation for teams, when the organisation is shown.
    change = wave.change_status(group.id) if previous is not None else None
    before = previous if change == Status.SHOWN else None
    org = wave if not group.is_org and wave.cell(ORG).shown else None
    withheld = wave.withheld(group.id)
    hidden_changes = (
        published.hidden_changes(
            wave.questions,
            wave.rows[group.id],
            before.questions,
            before.rows[group.id],
            max(wave.campaign.k, before.campaign.k),
        )
        if before
        else published.HiddenChanges(frozenset(), frozenset())
    )

    def hidden(questions: Iterable[Question]) -> Status | None:
        """The status of the first withheld question among ``questions`` (None: none is)."""
        return next((withheld[q.pk] for q in questions if q.pk in withheld), None)

    dimensions = []
    for key, label in columns:
        figures = wave.dimension(group.id, key)
        if figures["score"] is None:
            # Every answered item of the dimension is withheld: it says so; otherwise nobody answered it.
            status = hidden(q for q in wave.questions if q.dimension == key) or Status.NO_DATA
            dimensions.append(DimensionFigure(key, label, status, status_text(status, k, noun="answers")))
            continue
        dimension_change = Status.SUPPRESSED if key in hidden_changes.dimensions else change
        dimensions.append(
            DimensionFigure(
                key,
                label,
                Status.SHOWN,
                "",
                figures["score"],
                figures["mean"],
                _minus(figures["score"], before.dimension(group.id, key)["score"])
                if before is not None and dimension_change == Status.SHOWN
                else None,
                _minus(figures["score"], org.dimension(ORG, key)["score"]) if org else None,
                figures.get("percentile"),
                figures.get("peers"),
                dimension_change,
            )
        )

    enps = None
    if has_enps:
        enps_figures = wave.enps(group.id)
        enps_question = next(q for q in wave.questions if q.kind == Kind.ENPS)
        if enps_figures is None or enps_figures["score"] is None:
            status = hidden([enps_question]) or Status.NO_DATA
            enps = EnpsFigure(status, status_text(status, k, noun="answers"))
        else:
            enps_change = Status.SUPPRESSED if enps_question.key in hidden_changes.questions else change
            enps = EnpsFigure(
                Status.SHOWN,
                "",
                scoring.Enps(*(enps_figures[f] for f in ("answered", "promoters", "passives", "detractors", "score"))),
                _minus(enps_figures["score"], _enps_score(before, group.id))
                if before is not None and enps_change == Status.SHOWN
                else None,
                _minus(enps_figures["score"], _enps_score(org, ORG)) if org else None,
                enps_figures.get("percentile"),
                enps_figures.get("peers"),
                enps_change,
            )

    questions = []
    if with_questions:
        scores = wave.scores(group.id)
        scores_before = before.scores(group.id) if before else None
        scores_org = org.scores(ORG) if org else None
        for q in wave.questions:
            if q.kind == Kind.TEXT:
                continue
            if q.pk in withheld:
                questions.append(QuestionFigure(q, withheld[q.pk], status_text(withheld[q.pk], k, noun="answers")))
                continue
            figure = _question_figure(q, scores)
            if figure is None:
                questions.append(QuestionFigure(q, Status.NO_DATA, status_text(Status.NO_DATA, k)))
                continue
            headline = figure.headline
            question_change = Status.SUPPRESSED if q.key in hidden_changes.questions else change
            questions.append(
                replace(
                    figure,
                    change_wave=_minus(headline, scores_before.item_by_key(q.key))
                    if scores_before and question_change == Status.SHOWN
                    else None,
                    change_org=_minus(headline, scores_org.item_by_key(q.key)) if scores_org else None,
                    change_wave_status=question_change,
                )
            )
    return GroupResult(group, participation, Status.SHOWN, "", cell.n, tuple(dimensions), enps, tuple(questions))


def _enps_score(wave: _Wave, group: Label) -> float | None:
    figures = wave.enps(group)
    return None if figures is None else figures["score"]


def _question_figure(q: Question, scores: published.Scores) -> QuestionFigure | None:
    choices = scores.choices.get(q.pk, Counter())
    bars = _bars(q, scores.numbers.get(q.pk, Counter()), choices)
    if q.kind in LIKERT_KINDS:
        item = scores.items[q.pk]
        if not item.answered:
            return None
        return QuestionFigure(q, Status.SHOWN, "", item.answered, item.percent_favourable, item.mean, bars=bars)
    if q.kind == Kind.ENPS:
        value = scores.enps[q.pk]
        if not value.answered:
            return None
        return QuestionFigure(q, Status.SHOWN, "", value.answered, enps=value, bars=bars)
    percents = scoring.choice_distribution(
        itertools.chain.from_iterable(itertools.repeat(options, n) for options, n in choices.items()), q.options
    )
    if not percents:
        return None
    bars = tuple(replace(bar, percent=percents[bar.value]) for bar in bars)  # type: ignore[index]  # options: str
    return QuestionFigure(q, Status.SHOWN, "", sum(choices.values()), bars=bars, percents=percents)
