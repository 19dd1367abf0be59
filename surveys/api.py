"""``GET /api/v1/surveys/campaigns/{id}/results``: a survey campaign's results as JSON, for the signed-in user.

The same ``surveys.results`` as the results page and its CSV, so the three agree: the same groups, figures and
statuses, under the same anonymity rules. Authentication is the portal's session (sign in first; the API tokens of
delivery sources do not read survey results). A campaign the user may not see answers 404, as if it did not exist.

Mounted on the site's API (``metrics.api.api``) by the composition root, ``e360/urls.py``: this module imports
nothing from metrics.
"""

# No ``from __future__ import annotations``: ninja reads the schemas' and the view's annotations at import time.
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from django.conf import settings
from django.http import HttpRequest
from django.views.decorators.cache import never_cache
from ninja import Field, Path, Query, Router, Schema
from ninja.decorators import decorate_view
from ninja.errors import HttpError
from ninja.security import APIKeyCookie

from surveys import results as selectors
from surveys.anonymity import Status
from surveys.models import Campaign
from surveys.results import DimensionFigure, EnpsFigure, GroupResult, ParticipationFigure, QuestionFigure, Results

# Literals of the vocabularies' values, not the enums: the OpenAPI document lists the values inline, as it always has,
# instead of adding a component per enum. mypy reads the enums (a Literal built at run time is not a type to it).
if TYPE_CHECKING:
    CellStatus = Status
    CampaignStatus = Campaign.Status
else:
    CellStatus = Literal[tuple(Status)]
    CampaignStatus = Literal[selectors.WITH_RESULTS]
STATUS_HELP = (
    '"shown", or why the figures are null: "too_few" (fewer than k responses), "suppressed" (hidden to protect a '
    'small group elsewhere), "no_data" (nothing to show). `status_text` says the same in words.'
)
CHANGE_HELP = (
    'Null without a previous wave; else "shown", or why the change is null: the status of the wave that hides the '
    'group, or "suppressed" when the people who answered in one wave and not the other are 1 to k-1 (or, for a '
    "question, its answer counts differ by 1 to k-1), so the change would be theirs."
)


class PortalSession(APIKeyCookie):
    """The session cookie of a user signed in to the portal: the same person, and rules, as on the pages."""

    param_name = settings.SESSION_COOKIE_NAME
    openapi_description = "Sign in to e360 in this browser: it sends the session cookie itself, nothing to enter."

    def __init__(self) -> None:
        super().__init__(csrf=False)  # read-only endpoints: CSRF protects changes, and there are none

    def authenticate(self, request: HttpRequest, key: str | None) -> object:
        user = request.user
        if user.is_authenticated and user.is_active:
            return user
        raise HttpError(401, "Sign in to e360 first: survey results are read with the portal's session.")


router = Router(tags=["Surveys"], auth=PortalSession())


class ErrorOut(Schema):
    detail: str


class FieldErrorOut(Schema):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(Schema):
    detail: list[FieldErrorOut]


class CampaignOut(Schema):
    id: int
    name: str
    series: str
    wave: int
    status: CampaignStatus
    opens_at: datetime
    closes_at: datetime
    k: int = Field(description="The anonymity threshold: no figure of fewer responses is shown.")
    text_threshold: int = Field(description="Written answers are shown for groups with at least this many responses.")


class WaveOut(Schema):
    id: int
    name: str
    wave: int


class ParticipationOut(Schema):
    status: CellStatus = Field(description="By invitee counts: groups of fewer than k invitees are not shown.")
    status_text: str
    invited: int | None
    responded: int | None
    rate_percent: float | None
    below_target: bool | None = Field(description="Below the 75 % target.")
    flagged: bool | None = Field(description="Below 60 %: scores from so few respondents mislead.")


class ResponsesOut(Schema):
    status: CellStatus = Field(description=STATUS_HELP)
    status_text: str
    n: int | None


class DimensionOut(Schema):
    dimension: str
    label: str
    status: CellStatus
    status_text: str
    percent_favourable: float | None = Field(description="The mean of the dimension's items' % favourable.")
    mean: float | None = Field(description="The mean of its items' means, 1-5 (reverse-coded items inverted).")
    change_vs_previous_wave: float | None = Field(description="Points; null unless its status is shown.")
    change_vs_previous_wave_status: str | None = Field(description=CHANGE_HELP)
    change_vs_org: float | None = Field(description="Points against the organisation's figure.")
    percentile_among_teams: float | None = Field(
        description="0-100 among the shown teams at the same level, ties counting half; null with fewer than 5."
    )
    teams_compared: int | None = Field(description="How many teams that percentile compares, this one included.")


class EnpsOut(Schema):
    status: CellStatus
    status_text: str
    answered: int | None
    promoters: int | None
    passives: int | None
    detractors: int | None
    score: float | None = Field(description="% promoters - % detractors, -100 to 100.")
    change_vs_previous_wave: float | None
    change_vs_previous_wave_status: str | None = Field(description=CHANGE_HELP)
    change_vs_org: float | None
    percentile_among_teams: float | None
    teams_compared: int | None


class BarOut(Schema):
    value: int | str
    label: str
    count: int


class QuestionOut(Schema):
    key: str
    text: str
    kind: str
    dimension: str
    reverse_coded: bool
    status: CellStatus
    status_text: str
    answered: int | None
    percent_favourable: float | None
    mean: float | None
    enps: float | None
    distribution: list[BarOut] = Field(description="Answers per value (per option for choice questions).")
    percents: dict[str, float] = Field(description="Choice questions: percent of respondents per option.")
    change_vs_previous_wave: float | None = Field(description="Points of % favourable (or eNPS).")
    change_vs_previous_wave_status: str | None = Field(description=CHANGE_HELP)
    change_vs_org: float | None


class GroupOut(Schema):
    team: str | None = Field(description="The team's slug; null for the whole organisation.")
    name: str
    depth: int = Field(description="Depth in this answer's tree of groups: 0 for the organisation.")
    participation: ParticipationOut
    responses: ResponsesOut | None = Field(description="Null while the campaign is open (scores after closing).")
    dimensions: list[DimensionOut] | None
    enps: EnpsOut | None
    questions: list[QuestionOut] | None


class TextOut(Schema):
    key: str
    text: str
    status: CellStatus
    status_text: str
    answers: list[str] = Field(description="In an order unrelated to submission; no team, no time.")


class ResultsOut(Schema):
    campaign: CampaignOut
    published: bool = Field(description="Closed: scores are out. While open, only participation is given.")
    team: str | None = Field(description="The team the answer is narrowed to (its subtree); null: all you may see.")
    previous_wave: WaveOut | None = Field(description="The closed wave the changes compare with.")
    groups: list[GroupOut]
    texts: list[TextOut] = Field(description="Written answers of the focused group (the team, else the organisation).")


class ResultsQuery(Schema):
    team: str | None = Field(None, max_length=100, description="A team's slug: narrow to its subtree.")


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _participation(figure: ParticipationFigure) -> dict:
    p = figure.participation
    return {
        "status": figure.status,
        "status_text": figure.status_text,
        "invited": p.invited if p else None,
        "responded": p.responded if p else None,
        "rate_percent": _r(100 * p.rate, 1) if p and p.rate is not None else None,
        "below_target": p.below_target if p else None,
        "flagged": p.flagged if p else None,
    }


def _dimension(d: DimensionFigure) -> dict:
    return {
        "dimension": d.key,
        "label": d.label,
        "status": d.status,
        "status_text": d.status_text,
        "percent_favourable": _r(d.percent_favourable, 1),
        "mean": _r(d.mean, 2),
        "change_vs_previous_wave": _r(d.change_wave, 1),
        "change_vs_previous_wave_status": d.change_wave_status,
        "change_vs_org": _r(d.change_org, 1),
        "percentile_among_teams": _r(d.percentile, 1),
        "teams_compared": d.peers,
    }


def _enps(e: EnpsFigure) -> dict:
    value = e.enps
    return {
        "status": e.status,
        "status_text": e.status_text,
        "answered": value.answered if value else None,
        "promoters": value.promoters if value else None,
        "passives": value.passives if value else None,
        "detractors": value.detractors if value else None,
        "score": _r(e.score, 1),
        "change_vs_previous_wave": _r(e.change_wave, 1),
        "change_vs_previous_wave_status": e.change_wave_status,
        "change_vs_org": _r(e.change_org, 1),
        "percentile_among_teams": _r(e.percentile, 1),
        "teams_compared": e.peers,
    }


def _question(q: QuestionFigure) -> dict:
    question = q.question
    return {
        "key": question.key,
        "text": question.text,
        "kind": question.kind,
        "dimension": question.dimension,
        "reverse_coded": question.reverse_coded,
        "status": q.status,
        "status_text": q.status_text,
        "answered": q.answered,
        "percent_favourable": _r(q.percent_favourable, 1),
        "mean": _r(q.mean, 2),
        "enps": _r(q.enps.score, 1) if q.enps else None,
        "distribution": [{"value": b.value, "label": b.label, "count": b.count} for b in q.bars],
        "percents": {option: round(percent, 1) for option, percent in q.percents.items()},
        "change_vs_previous_wave": _r(q.change_wave, 1),
        "change_vs_previous_wave_status": q.change_wave_status,
        "change_vs_org": _r(q.change_org, 1),
    }


def _group(results: Results, g: GroupResult) -> dict:
    published = results.published
    return {
        "team": g.group.slug or None,
        "name": g.group.name,
        "depth": g.group.depth,
        "participation": _participation(g.participation),
        "responses": {"status": g.status, "status_text": g.status_text, "n": g.responses} if published else None,
        "dimensions": [_dimension(d) for d in g.dimensions] if published else None,
        "enps": _enps(g.enps) if published and g.enps is not None else None,
        "questions": [_question(q) for q in g.questions] if published else None,
    }


def results_json(results: Results) -> dict:
    """The results as the API answers them (also what the tests compare the page and the CSV with)."""
    campaign, previous = results.campaign, results.previous
    return {
        "campaign": {
            "id": campaign.pk,
            "name": campaign.name,
            "series": campaign.series.name,
            "wave": campaign.wave,
            "status": campaign.status,
            "opens_at": campaign.opens_at,
            "closes_at": campaign.closes_at,
            "k": campaign.k,
            "text_threshold": campaign.text_threshold,
        },
        "published": results.published,
        "team": results.focus.group.slug or None,
        "previous_wave": {"id": previous.pk, "name": previous.name, "wave": previous.wave} if previous else None,
        "groups": [_group(results, g) for g in results.groups],
        "texts": [
            {
                "key": t.question.key,
                "text": t.question.text,
                "status": t.status,
                "status_text": t.status_text,
                "answers": list(t.texts),
            }
            for t in results.texts
        ],
    }


@router.get(
    "/campaigns/{campaign_id}/results",
    response={200: ResultsOut, 401: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut},
    summary="A survey campaign's results",
    url_name="campaign_results",
)
@decorate_view(never_cache)  # the answer holds written answers: no cache keeps it
def campaign_results(
    request: HttpRequest,
    campaign_id: Path[int],
    query: Query[ResultsQuery],
) -> dict:
    """Participation per group while the campaign is open; after it closes, per group: responses, dimension scores
    (% favourable and mean), eNPS and each question's distribution, with changes against the previous wave (only
    where the group is shown in both waves) and against the organisation; and the written answers of the focused
    group when it has at least the text threshold of responses.

    Groups are the organisation and the campaign's teams you may see (your teams; a lead's sub-teams; everything
    for org viewers), narrowed to a team's subtree with `team`. A group of fewer than k responses, or one hidden so
    that another cannot be worked out by subtraction, has `status` other than "shown" and null figures.
    """
    scope = selectors.campaign_for_user(request.auth, campaign_id)  # type: ignore[attr-defined]  # PortalSession's user
    return results_json(selectors.campaign_results(scope, team=query.team))
