"""``GET /api/v1/surveys/campaigns/{id}/results``: the same figures and rules as the page and the CSV.

The data is the hand-made organisation of surveys/tests/waves.py (k = 3, text threshold 4).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from django.template.defaultfilters import floatformat
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from e360.models import User
from metrics.models import ApiToken
from metrics.tests.factories import SourceFactory
from surveys.models import GroupScore
from surveys.tests.results_readers import api_url, csv_rows, csv_url, heatmap, page_url
from surveys.tests.waves import PAY, PAY_API, answer, bulk_responses, open_wave, org_viewer, pay_waves

SCORES = ("n", "percent_favourable", "mean", "score", "enps", "answered", "promoters", "detractors", "passives")


def get(client, user, campaign, team: str | None = None) -> dict:
    client.force_login(user)
    response = client.get(api_url(campaign, team))
    assert response.status_code == 200, response.content
    return response.json()


def by_team(body: dict) -> dict:
    return {g["team"]: g for g in body["groups"]}


def numbers(value) -> list:
    """Every number anywhere in a JSON value, with the key it sits under."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                found.append((key, item))
            else:
                found.extend(numbers(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(numbers(item))
    return found


def test_it_answers_the_figures_of_every_group_one_may_see(client, closed, org):
    body = get(client, org.users["paula"], closed)

    assert body["published"] is True and body["team"] is None and body["previous_wave"] is None
    assert body["campaign"]["k"] == 3 and body["campaign"]["status"] == "closed"
    groups = by_team(body)
    assert list(groups) == [None, "pay", "pay-api"]
    pay = groups["pay"]
    assert pay["responses"] == {"status": "shown", "status_text": "", "n": 7}
    assert pay["dimensions"][0] == {
        "dimension": "ci_cd",
        "label": "CI/CD",
        "status": "shown",
        "status_text": "",
        "percent_favourable": 47.6,
        "mean": 2.95,
        "change_vs_previous_wave": None,
        "change_vs_previous_wave_status": None,  # no previous wave
        "change_vs_org": -0.5,
        "percentile_among_teams": None,  # Payments is alone at its level
        "teams_compared": None,
    }
    assert (pay["enps"]["score"], pay["enps"]["promoters"], pay["enps"]["detractors"]) == (14.3, 3, 2)
    role = next(q for q in pay["questions"] if q["key"] == "role")
    assert role["percents"] == {"Backend": 50.0, "Frontend": 25.0, "Platform": 25.0}
    assert [b["count"] for b in role["distribution"]] == [2, 1, 1]
    assert pay["participation"]["invited"] == 9 and pay["participation"]["rate_percent"] == 77.8
    assert [t["status"] for t in body["texts"]] == ["shown"]  # the organisation's 12 responses


def test_a_group_below_k_has_no_figure_only_its_status(client, closed, org):
    search = by_team(get(client, org.users["lena"], closed))["search"]

    assert search["responses"] == {"status": "too_few", "status_text": "fewer than 3 responses", "n": None}
    assert numbers([search["responses"], search["dimensions"], search["enps"], search["questions"]]) == []
    assert all(q["distribution"] == [] for q in search["questions"])


def test_a_suppressed_group_has_no_figure_either(client, differencing, org):
    groups = by_team(get(client, org.users["lena"], differencing))

    pay = groups["pay"]
    assert pay["responses"]["status"] == "suppressed"
    assert pay["responses"]["status_text"] == "hidden to protect a small group"
    assert numbers([pay["responses"], pay["dimensions"], pay["enps"], pay["questions"]]) == []
    assert groups["pay-api"]["responses"]["n"] == 3


def test_an_open_campaign_answers_participation_and_no_score(client, org):
    campaign = open_wave(org)
    answer(campaign, org.api, *PAY_API)
    answer(campaign, org.pay, *PAY)
    body = get(client, org.users["lena"], campaign)

    assert body["published"] is False and body["texts"] == []
    for g in body["groups"]:
        assert (g["responses"], g["dimensions"], g["enps"], g["questions"]) == (None, None, None, None)
    assert {key for g in body["groups"] for key, _ in numbers(g)} <= {"invited", "responded", "rate_percent", "depth"}
    assert by_team(body)["pay"]["participation"]["responded"] == 7


def test_texts_follow_the_text_threshold(client, closed, org):
    api = get(client, org.users["lena"], closed, team="pay-api")
    pay = get(client, org.users["lena"], closed, team="pay")

    assert api["texts"] == [
        {
            "key": "slow",
            "text": "What slows you down?",
            "status": "too_few",
            "status_text": "fewer than 4 responses",
            "answers": [],
        }
    ]
    assert len(pay["texts"][0]["answers"]) == 4


def test_changes_since_the_previous_wave_only_where_comparable(client, two_waves, org):
    first, second = two_waves
    body = get(client, org.users["lena"], second)

    assert body["previous_wave"] == {"id": first.pk, "name": first.name, "wave": 1}
    groups = by_team(body)
    assert groups["pay-api"]["dimensions"][0]["change_vs_previous_wave"] == 33.3
    assert all(d["change_vs_previous_wave"] is None for d in groups["pay"]["dimensions"])  # hidden in wave 1


def test_a_team_narrows_the_answer(client, closed, org):
    body = get(client, org.users["lena"], closed, team="pay")

    assert body["team"] == "pay" and [g["team"] for g in body["groups"]] == [None, "pay", "pay-api"]


# --- Page, CSV and API agree --------------------------------------------------------------------------------------


def _shown(value, digits: str = "0") -> str:
    return floatformat(value, digits)


def expected_heatmap_row(group: dict) -> list[str]:
    """What the page's heatmap must show for an API group: its figures as the page rounds them, or its status."""
    responses = group["responses"]
    if responses["status"] != "shown":
        cells = [responses["status_text"]] * (1 + len(group["dimensions"]) + 1)
        return cells
    row = [str(responses["n"])]
    for d in group["dimensions"]:
        row.append(f"{_shown(d['percent_favourable'])}%" if d["status"] == "shown" else d["status_text"])
    row.append(_shown(group["enps"]["score"]) if group["enps"]["status"] == "shown" else group["enps"]["status_text"])
    return row


def expected_csv(group: dict) -> dict[tuple[str, str], dict[str, str]]:
    """The CSV values an API group implies: numbers as the API gives them, or the status text in their place."""

    def text(value) -> str:
        return "" if value is None else str(value)

    rows = {}
    responses = group["responses"]
    rows["responses", ""] = {"status": responses["status"], "n": text(responses["n"]) or responses["status_text"]}
    for d in group["dimensions"]:
        hidden = d["status"] != "shown"
        rows["dimension", d["dimension"]] = {
            "status": d["status"],
            "percent_favourable": d["status_text"] if hidden else text(d["percent_favourable"]),
            "mean": d["status_text"] if hidden else text(d["mean"]),
            "change_vs_org": "" if hidden else text(d["change_vs_org"]),
        }
    e = group["enps"]
    rows["enps", ""] = {"status": e["status"], "enps": text(e["score"]) if e["status"] == "shown" else e["status_text"]}
    for q in group["questions"]:
        hidden = q["status"] != "shown"
        rows["question", q["key"]] = {
            "status": q["status"],
            "n": q["status_text"] if hidden else text(q["answered"]),
            "percent_favourable": q["status_text"] if hidden else text(q["percent_favourable"]),
            "distribution": q["status_text"]
            if hidden
            else "; ".join(f"{b['label']}: {b['count']}" for b in q["distribution"]),
        }
    return rows


@pytest.mark.parametrize(
    ("fixture", "viewer", "team"),
    [("closed", "lena", None), ("differencing", "lena", None), ("closed", "paula", "pay-api")],
)
def test_the_page_the_csv_and_the_api_agree(client, org, request, fixture, viewer, team):
    campaign = request.getfixturevalue(fixture)
    client.force_login(org.users[viewer])
    body = client.get(api_url(campaign, team)).json()
    page = heatmap(client.get(page_url(campaign, team)))
    rows = csv_rows(client.get(csv_url(campaign, team)))

    # The page lists two levels below the picked group; the CSV and the API every team: the page's rows are theirs.
    assert set(page) <= {g["name"] for g in body["groups"]}
    assert sorted({(r["group"], r["team"]) for r in rows}) == sorted(
        (g["name"], g["team"] or "") for g in body["groups"]
    )
    for group in body["groups"]:
        if group["name"] in page:
            assert page[group["name"]] == expected_heatmap_row(group), group["name"]
        csv_group = {(r["figure"], r["key"]): r for r in rows if r["team"] == (group["team"] or "")}
        for key, expected in expected_csv(group).items():
            assert {column: csv_group[key][column] for column in expected} == expected, (group["name"], key)
        participation = group["participation"]
        assert csv_group["participation", ""]["invited"] == str(
            participation["invited"] or participation["status_text"]
        )


def test_a_change_hidden_across_waves_says_so_in_the_api_the_csv_and_the_page(client, org):
    _, second = pay_waves(org, 4, 5)  # the same four people, and a fifth: the change would be the fifth's
    client.force_login(org.users["lena"])
    pay = by_team(client.get(api_url(second)).json())["pay"]
    changes = [*pay["dimensions"], pay["enps"]]
    assert all(c["change_vs_previous_wave"] is None for c in changes)
    assert all(c["change_vs_previous_wave_status"] == "suppressed" for c in changes)
    assert all(q["change_vs_previous_wave_status"] == "suppressed" for q in pay["questions"])
    rows = [r for r in csv_rows(client.get(csv_url(second))) if r["team"] == "pay" and r["figure"] == "dimension"]
    assert {r["change_vs_previous_wave"] for r in rows} == {"hidden to protect a small group"}
    assert "vs wave 1: hidden to protect a small group" in client.get(page_url(second, "pay")).content.decode()


def test_a_withheld_question_has_no_number_in_the_api_or_the_csv(client, skipped, org):
    client.force_login(org.users["lena"])
    api = by_team(client.get(api_url(skipped)).json())["pay-api"]
    focus = next(q for q in api["questions"] if q["key"] == "focus_time")
    assert (focus["status"], focus["status_text"], focus["answered"], numbers(focus["distribution"])) == (
        "too_few",
        "fewer than 3 answers",
        None,
        [],
    )
    rows = {(r["team"], r["key"]): r for r in csv_rows(client.get(csv_url(skipped))) if r["figure"] == "question"}
    assert rows["pay-api", "focus_time"]["n"] == "fewer than 3 answers"
    assert rows["pay-api", "ci_fast"]["n"] == "hidden to protect a small group"
    assert rows["pay", "ci_fast"]["n"] == "4"


# --- Access -------------------------------------------------------------------------------------------------------


def test_an_outsider_gets_a_404(client, closed, org):
    client.force_login(org.users["charlie"])
    response = client.get(api_url(closed))

    assert response.status_code == 404
    assert response.json() == {"detail": "No survey results here."}


@pytest.mark.parametrize("team", ["search", "sales-tools", "no-such-team"])
def test_a_team_one_may_not_see_is_a_404(client, closed, org, team):
    client.force_login(org.users["api-0"])

    assert client.get(api_url(closed, team)).status_code == 404


def test_a_missing_or_draft_campaign_is_a_404(client, org):
    client.force_login(org_viewer())

    assert client.get("/api/v1/surveys/campaigns/424242/results").status_code == 404
    assert client.get("/api/v1/surveys/campaigns/99999999999999999999999/results").status_code == 404


def test_without_a_session_it_answers_401_saying_how_to_sign_in(client, closed):
    response = client.get(api_url(closed))

    assert response.status_code == 401
    assert "Sign in to e360" in response.json()["detail"]


def test_a_delivery_api_token_does_not_read_survey_results(client, closed):
    source = SourceFactory(name="ci")
    ApiToken.objects.create(source=source, name="ci", key_hash=ApiToken.hash_key("e360_k"), hint="360_k")
    response = client.get(api_url(closed), headers={"Authorization": "Bearer e360_k"})

    assert response.status_code == 401


def test_a_bad_team_parameter_is_a_422_with_a_message(client, closed, org):
    client.force_login(org.users["lena"])
    response = client.get(api_url(closed, "x" * 101))

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "team"]


def test_the_openapi_schema_documents_the_endpoint_and_its_session_auth(client):
    document = client.get("/api/v1/openapi.json").json()

    operation = document["paths"]["/api/v1/surveys/campaigns/{campaign_id}/results"]["get"]
    assert operation["operationId"] == "campaign_results" and operation["tags"] == ["Surveys"]
    assert set(operation["responses"]) == {"200", "401", "404", "422"}
    assert operation["security"] == [{"PortalSession": []}]
    assert document["components"]["securitySchemes"]["PortalSession"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "sessionid",
        "description": "Sign in to e360 in this browser: it sends the session cookie itself, nothing to enter.",
    }


def test_the_queries_do_not_grow_with_responses(client, closed, org):
    def count() -> int:
        client.force_login(User.objects.get(username="lena"))
        GroupScore.objects.filter(campaign=closed).delete()  # the worst case: the first read computes the figures
        with CaptureQueriesContext(connection) as queries:
            assert client.get(api_url(closed)).status_code == 200
        return len(queries.captured_queries)

    few = count()
    bulk_responses(closed, org.api, 300)
    bulk_responses(closed, None, 300, (2, 2, 2, 2, "Frontend", "Org-wide text."))
    assert count() == few <= 26


# --- Every input, signed in: no 5xx, only documented statuses and bodies matching the schema ----------------------

SCHEMA = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json",
    get_wsgi_application(),
    config=SchemathesisConfig.from_dict(
        {
            "seed": 360,
            "generation": {"max-examples": 25},
            "phases": {"coverage": {"unexpected-methods": ["delete"], "generation": {"mode": "negative"}}},
        }
    ),
).include(tag="Surveys")
OPERATION = "/api/v1/surveys/campaigns/{campaign_id}/results"


@pytest.fixture
def session(client, closed, org):
    """A signed-in org viewer's session cookie; requests go through the WSGI app on the test's connection."""
    client.force_login(org_viewer())
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield {django_settings.SESSION_COOKIE_NAME: client.cookies[django_settings.SESSION_COOKIE_NAME].value}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@SCHEMA.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_endpoint_fail_or_leave_its_schema(case, session):
    # Most generated ids name no campaign (404): data acceptance is not the point, the answers' shapes are.
    case.call_and_validate(cookies=session, excluded_checks=[positive_data_acceptance])


@pytest.mark.parametrize("team", [None, "pay", "search"])
def test_a_real_answer_matches_the_documented_schema(session, closed, team):
    operation = SCHEMA[OPERATION]["GET"]
    case = operation.Case(path_parameters={"campaign_id": closed.pk}, query={"team": team} if team else {})
    response = case.call(cookies=session)

    assert response.status_code == 200
    operation.validate_response(response)


def test_no_cache_keeps_the_answer(client, closed, org):
    client.force_login(org.users["lena"])
    response = client.get(api_url(closed))

    assert "no-store" in response["Cache-Control"]
