"""Survey waves as the insights read them, from the stored figures only (``surveys.published``): the sentiment the
pages and dashboards show one viewer, and the sentiment the hourly refresh feeds the engine.

Nothing here decides anonymity again. The pages read through ``surveys.results`` — the same figures, cells and
changes the survey results page shows the same viewer — so a hidden cell reaches their dataclasses as its status and
text only, with every number None. The refresh reads ``GroupScore`` rows, shown cells only (``WaveFigures``).

Both pick a wave the same way: the closed campaigns that asked dimension questions, newest first, those that invited
everyone before the others (``_dimension_waves``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.urls import reverse

from insights import engine
from surveys import anonymity, published
from surveys import results as survey_results
from surveys.anonymity import ORG, Cell, Status
from surveys.models import LIKERT_KINDS, Campaign, Dimension, GroupScore, Question
from surveys.scoring import Participation

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from django.db.models import QuerySet

    from e360.models import Team, User

DIMENSION_LABELS: dict[str, str] = {dimension.value: dimension.label for dimension in Dimension}


def _dimension_waves() -> QuerySet[Campaign]:
    """Closed campaigns that asked dimension questions (likert questions with a dimension), newest first, preferring
    those that invited everyone: a later post-incident or onboarding survey of one team asks a few dimensions of a
    few people, and must not take the organisation-wide wave's place for every other team."""
    asked = Question.objects.filter(version=OuterRef("version"), kind__in=LIKERT_KINDS, dimension__gt="")
    # EXISTS, not a join made DISTINCT: that would compare every campaign's frozen team tree.
    return Campaign.objects.filter(Exists(asked), status=Campaign.Status.CLOSED).order_by(
        "-everyone", "-closes_at", "-pk"
    )


def dimensions_asked(campaign: Campaign) -> list[str]:
    """The dimensions the campaign's likert questions cover, in the order of docs/surveys.md#dimensions."""
    return [key for key, _ in survey_results.dimension_columns(published.questions(campaign))]


# --- What a viewer sees (pages and dashboards) -------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionScore:
    """A dimension's % favourable for the team. Every number is None unless ``status`` is ``Status.SHOWN``;
    ``change`` is the points since the previous wave, only where the team is shown in both waves."""

    key: str
    label: str
    score: float | None
    mean: float | None
    change: float | None
    org_score: float | None
    percentile: float | None
    peers: int | None
    status: Status
    status_text: str

    @property
    def shown(self) -> bool:
        return self.status == Status.SHOWN

    @property
    def change_text(self) -> str:
        return survey_results.signed(self.change)


@dataclass(frozen=True)
class Sentiment:
    """The team's (or the organisation's) latest closed wave with dimension questions, as the viewer may see it."""

    campaign: Campaign | None
    previous: Campaign | None
    status: Status
    status_text: str
    responses: int | None
    participation: Participation | None
    dimensions: tuple[DimensionScore, ...]
    results_url: str
    # The viewer's access to ``campaign``'s results and the published figures read for them (``Results.read``): what
    # ``sentiment_waves`` starts from.
    access: survey_results.CampaignAccess | None = field(default=None, repr=False, compare=False)
    read: dict[int, survey_results.Published] = field(default_factory=dict, repr=False, compare=False)

    @property
    def shown(self) -> bool:
        return self.status == Status.SHOWN

    @property
    def participation_percent(self) -> float | None:
        """Participation in %, for ``floatformat`` to round as every figure is (``widthratio`` rounds half to even)."""
        rate = self.participation.rate if self.participation is not None else None
        return None if rate is None else 100 * rate


def _campaign_access(campaign: Campaign, team: Team | None, viewer: User) -> survey_results.CampaignAccess | None:
    """The viewer's access to the campaign's results, if it covers ``team`` (None: any of its teams)."""
    try:
        scope = survey_results.campaign_for_user(viewer, campaign.pk)
    except Http404:
        return None
    if team is not None and team.pk not in scope.visible:
        return None
    return scope


def _latest_access(team: Team | None, viewer: User) -> survey_results.CampaignAccess | None:
    """The newest closed campaign with dimension questions whose results for ``team`` the viewer may see."""
    for campaign in _dimension_waves().only("pk"):  # each read again, whole, for its access
        scope = _campaign_access(campaign, team, viewer)
        if scope is not None:
            return scope
    return None


def results_url(campaign: Campaign, team: Team | None) -> str:
    """The campaign's results page, focused on ``team`` (None: the organisation)."""
    url = reverse("surveys:results", args=[campaign.pk])
    return f"{url}?team={team.slug}" if team is not None else url


def sentiment(team: Team | None, viewer: User) -> Sentiment:
    """The latest closed wave with dimension questions that ``viewer`` may see results of, for ``team`` (None: the
    organisation), with the change since the previous wave of the series and the organisation's score beside it.
    """
    scope = _latest_access(team, viewer)
    if scope is None:
        return Sentiment(
            None, None, Status.NO_DATA, "no closed survey with results for this team yet", None, None, (), ""
        )
    # The focused group alone (levels=0) and no free text: a summary reads figures, never answers' words.
    results = survey_results.campaign_results(
        scope,
        team=team.slug if team is not None else None,
        levels=0,
        every_question=False,
        texts=False,
        picker=False,
    )
    focus, org = results.focus, results.groups[0]
    org_scores = {
        figure.key: figure.percent_favourable for figure in org.dimensions if team is not None and figure.shown
    }
    dimensions = tuple(
        DimensionScore(
            figure.key,
            figure.label,
            figure.percent_favourable,
            figure.mean,
            figure.change_wave,
            org_scores.get(figure.key) if figure.shown else None,
            figure.percentile,
            figure.peers,
            figure.status,
            figure.status_text,
        )
        for figure in focus.dimensions
    )
    participation = focus.participation.participation if focus.participation.shown else None
    return Sentiment(
        campaign=results.campaign,
        previous=results.previous,
        status=focus.status or Status.NO_DATA,  # a published result has one
        status_text=focus.status_text,
        responses=focus.responses if focus.shown else None,
        participation=participation,
        dimensions=dimensions,
        results_url=results_url(results.campaign, team),
        access=scope,
        read=results.read,
    )


@dataclass(frozen=True)
class WaveCell:
    score: float | None
    status: Status
    status_text: str

    @property
    def shown(self) -> bool:
        return self.status == Status.SHOWN

    @property
    def heat(self) -> int | None:
        """Which of five colour bands a heatmap gives the cell (0: below 20% favourable … 4: 80% or more)."""
        return None if self.score is None else min(4, int(self.score // 20))


@dataclass(frozen=True)
class WaveGrid:
    """A team's dimension scores across waves: ``waves`` oldest first, ``rows`` of (key, label, one cell a wave)."""

    waves: tuple[Campaign, ...]
    rows: tuple[tuple[str, str, tuple[WaveCell, ...]], ...]


def sentiment_waves(team: Team | None, viewer: User, latest: Sentiment, limit: int = 6) -> WaveGrid:
    """The team's dimension scores across the last ``limit`` closed waves of the series of its latest wave
    (``latest``: ``sentiment(team, viewer)``), each wave's cells as that wave's own results page shows them to
    ``viewer``."""
    if latest.access is None:
        return WaveGrid((), ())
    newest = latest.access.campaign
    waves = list(
        Campaign.objects.filter(series_id=newest.series_id, wave__lte=newest.wave, status=Campaign.Status.CLOSED)
        .select_related("version")
        .order_by("-wave")[:limit]
    )[::-1]
    group = team.pk if team is not None else ORG
    columns: list[dict[str, WaveCell]] = []
    asked: set[str] = set()
    for campaign in waves:
        scope = latest.access if campaign.pk == newest.pk else _campaign_access(campaign, team, viewer)
        cells: dict[str, WaveCell] = {}
        if scope is not None:
            figures = latest.read.get(campaign.pk) or survey_results.Published.read(
                campaign, [] if team is None else [group]
            )
            keys = [key for key, _ in survey_results.dimension_columns(figures.questions)]
            asked.update(keys)
            row = figures.rows.get(group)
            status = Status.NO_DATA if row is None else Status(row.status)
            for key in keys:
                score = (
                    (row.dimensions.get(key) or {}).get("score") if row is not None and status == Status.SHOWN else None
                )
                if status == Status.SHOWN and score is None:
                    cells[key] = WaveCell(None, Status.NO_DATA, survey_results.status_text(Status.NO_DATA, campaign.k))
                elif status == Status.SHOWN:
                    cells[key] = WaveCell(score, Status.SHOWN, "")
                else:
                    cells[key] = WaveCell(None, status, survey_results.status_text(status, campaign.k))
        columns.append(cells)
    missing = WaveCell(None, Status.NO_DATA, "not asked")
    rows = tuple(
        (d.value, d.label, tuple(column.get(d.value, missing) for column in columns))
        for d in Dimension
        if d.value in asked
    )
    return WaveGrid(tuple(waves), rows)


# --- What the engine is fed (the hourly refresh) -----------------------------------------------------------------


def latest_wave() -> Campaign | None:
    """The latest closed campaign that asked dimension questions, one that invited everyone first
    (``_dimension_waves``): the wave the rankings and correlations use."""
    return _dimension_waves().select_related("version", "series").first()


def wave_closed_between(since: datetime | None, until: datetime) -> Campaign | None:
    """The latest wave (as ``latest_wave`` picks it) that closed after ``since`` (None: any time) and by ``until``:
    an initiative's survey side before and after its start."""
    closed = Q(closed_at__lte=until) | Q(closed_at__isnull=True, closes_at__lte=until)
    if since is not None:
        closed &= Q(closed_at__gt=since) | Q(closed_at__isnull=True, closes_at__gt=since)
    return _dimension_waves().filter(closed).select_related("version", "series").first()


def previous_wave(campaign: Campaign) -> Campaign | None:
    """The closed wave ``campaign``'s changes compare with (what the results pages compare with)."""
    return published.previous_wave(campaign)


@dataclass(frozen=True)
class WaveFigures:
    """One closed wave's stored figures for the teams the insights may show, read once: those its results list, on
    the team tree frozen when it closed (``surveys.published``). A campaign of one team has a stored figure for that
    team's parent too, equal to the team's; the results pages do not list the parent, and neither may the insights,
    or its plain members would read the team's figure."""

    campaign: Campaign
    rows: dict[anonymity.Label, GroupScore]
    teams: frozenset[int]

    @classmethod
    def load(cls, campaign: Campaign, teams: Iterable[int] | None = None) -> WaveFigures:
        """The wave's figures of every group, or of ``teams`` and the organisation alone (a reader of a few teams:
        every group's rows are hundreds of rows of JSON)."""
        return cls(campaign, published.group_scores(campaign, teams), published.freeze(campaign).teams)

    @cached_property
    def questions(self) -> list[Question]:
        return published.questions(self.campaign)

    def change_shown(self, team: anonymity.Label, before: WaveFigures, dimension: str) -> bool:
        """Whether the team's change on ``dimension`` since ``before`` (the previous wave) may be shown, as the
        results pages decide it: ``anonymity.wave_change`` when the figures were published, and
        ``published.hidden_changes`` for the dimension's items."""
        row = self.rows.get(team)
        if not self.cell(team).shown or row is None or row.change_status != Status.SHOWN or team not in before.rows:
            return False
        k = max(self.campaign.k, before.campaign.k)
        hidden = published.hidden_changes(self.questions, row, before.questions, before.rows[team], k)
        return dimension not in hidden.dimensions

    def cell(self, team: anonymity.Label) -> Cell:
        row = self.rows.get(team)
        if row is None or (team is not ORG and team not in self.teams):
            return Cell(0, Status.NO_DATA)
        return Cell(row.responses or 0, Status(row.status))

    def score(self, team: anonymity.Label, dimension: str) -> float | None:
        """A shown group's % favourable on ``dimension``; None when hidden or not asked."""
        if not self.cell(team).shown:
            return None
        return (self.rows[team].dimensions.get(dimension) or {}).get("score")


def sentiments(
    team: anonymity.Label, wave: WaveFigures, before: WaveFigures | None, asked: Iterable[str]
) -> list[engine.Sentiment]:
    """The engine's sentiment per asked dimension for a team (ORG: the organisation), from stored figures only.

    A hidden team carries no number, only why ("fewer than 3 responses"). The previous wave's score is given only
    where the change may be shown (``WaveFigures.change_shown``); the organisation's only when it is shown and the
    team is not the organisation itself.
    """
    campaign = wave.campaign
    cell = wave.cell(team)
    found = []
    for dimension in asked:
        if not cell.shown:
            why = survey_results.status_text(cell.status, campaign.k)
            found.append(engine.Sentiment(dimension, False, None, None, None, 0, why))
            continue
        score = wave.score(team, dimension)
        if score is None:
            found.append(engine.Sentiment(dimension, False, None, None, None, 0, "no survey answers"))
            continue
        previous = None
        if before is not None and wave.change_shown(team, before, dimension):
            previous = before.score(team, dimension)
        org = wave.score(ORG, dimension) if team is not ORG else None
        found.append(engine.Sentiment(dimension, True, score, previous, org, cell.n))
    return found
