"""Reading survey results the ways people get them: the selector (``surveys.results``), the results page,
its CSV export and the API, by address, with readers of what each returns."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

from surveys import results
from surveys.models import Campaign


def scope(user, campaign: Campaign) -> results.CampaignAccess:
    return results.campaign_for_user(user, campaign.pk)


def results_for(user, campaign: Campaign, team: str | None = None) -> results.Results:
    return results.campaign_results(scope(user, campaign), team=team)


def group(res: results.Results, slug: str) -> results.GroupResult:
    return next(g for g in res.groups if g.group.slug == slug)


def dimension(g: results.GroupResult, key: str) -> results.DimensionFigure:
    return next(d for d in g.dimensions if d.key == key)


def question(g: results.GroupResult, key: str) -> results.QuestionFigure:
    return next(q for q in g.questions if q.question.key == key)


def slugs(res: results.Results) -> list[str]:
    return [g.group.slug for g in res.groups]


# --- The page, the CSV and the API ---


class Tables(HTMLParser):
    """The text of every cell of the tables whose class list holds ``css_class``, row by row."""

    def __init__(self, css_class: str) -> None:
        super().__init__()
        self.css_class = css_class
        self.rows: list[list[str]] = []
        self._depth = 0  # > 0 inside a wanted table
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and (self._depth or self.css_class in classes):
            self._depth += 1
        elif self._depth and tag == "tr":
            self.rows.append([])
        elif self._depth and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self._depth:
            self._depth -= 1
        elif self._depth and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table(html: str, css_class: str) -> list[list[str]]:
    parser = Tables(css_class)
    parser.feed(html)
    return parser.rows


def heatmap(response) -> dict[str, list[str]]:
    """The heatmap's rows by group name: [responses, dimensions…, eNPS]."""
    rows = table(response.content.decode(), "heatmap")
    return {row[0]: row[1:] for row in rows[1:]}


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def page_url(campaign, team: str | None = None) -> str:
    return f"/surveys/{campaign.pk}/results/" + (f"?team={team}" if team else "")


def csv_url(campaign, team: str | None = None) -> str:
    return f"/surveys/{campaign.pk}/results.csv" + (f"?team={team}" if team else "")


def api_url(campaign, team: str | None = None) -> str:
    return f"/api/v1/surveys/campaigns/{campaign.pk}/results" + (f"?team={team}" if team else "")
