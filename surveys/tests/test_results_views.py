"""The results pages: the list, a campaign's page (with its team picker and htmx partial) and its CSV export.

The data is the hand-made organisation of surveys/tests/waves.py (k = 3, text threshold 4).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.template.defaultfilters import linebreaksbr
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from e360.models import User
from surveys.models import GroupScore
from surveys.templatetags.written_answers import answer_items
from surveys.tests.results_readers import csv_rows, csv_url, heatmap, page_url, table
from surveys.tests.waves import PAY, PAY_API, answer, bulk_responses, close, open_wave, org_viewer

# --- The page -----------------------------------------------------------------------------------------------------


def test_a_lead_sees_the_heatmap_of_their_subtree(client, closed, org):
    client.force_login(org.users["lena"])
    response = client.get(page_url(closed))

    assert response.status_code == 200
    rows = heatmap(response)
    assert list(rows) == ["Whole organisation", "Engineering", "Payments", "Payments API", "Search", "Tiny"]
    # Responses, CI/CD, Focus, eNPS. Payments: CI/CD (66.7 + 28.6) / 2 = 47.6 → 48 %, Focus 2 of 7 → 29 %.
    assert rows["Payments"] == ["7", "48%", "29%", "14"]
    assert rows["Whole organisation"] == ["12", "48%", "42%", "8"]
    assert rows["Search"] == ["fewer than 3 responses"] * 4
    assert rows["Tiny"] == ["no data: its answers count in Engineering"] * 4
    html = response.content.decode()
    assert "Questions · Whole organisation" in html
    assert 'id="chart-q' in html and 'id="survey-charts-data"' in html


def test_the_page_s_charts_get_their_data_from_json_script(client, closed, org):
    client.force_login(org.users["lena"])
    response = client.get(page_url(closed, "pay"))

    charts = response.context["charts"]
    assert charts[0]["labels"] == [
        "Strongly disagree",
        "Disagree",
        "Neither agree nor disagree",
        "Agree",
        "Strongly agree",
    ]
    assert charts[0]["counts"] == [1, 1, 0, 3, 1]  # ci_fast for Payments: 5, 4, 2, 4, 4, 1
    html = response.content.decode()
    assert '<script id="survey-charts" type="application/json">' in html
    assert "<script>" not in html  # no inline script: everything else comes from static files (CSP)


def test_the_team_picker_narrows_the_page_and_htmx_gets_the_content_only(client, closed, org):
    client.force_login(org.users["lena"])
    page = client.get(page_url(closed, "pay"))
    partial = client.get(page_url(closed, "pay"), headers={"HX-Request": "true", "HX-Target": "results-content"})

    assert list(heatmap(page)) == ["Whole organisation", "Payments", "Payments API"]
    assert '<option value="pay" selected>Engineering › Payments</option>' in page.content.decode()  # noqa: RUF001
    body = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in body and body.lstrip().startswith('<div id="results-content"')
    assert list(heatmap(partial)) == ["Whole organisation", "Payments", "Payments API"]
    assert "HX-Request" in partial["Vary"]
    # Without JavaScript the picker is a GET form and every row a link.
    assert 'method="get"' in body and f'href="/surveys/{closed.pk}/results/?team=pay-api"' in body


def test_a_suppressed_group_says_so_on_the_page(client, differencing, org):
    client.force_login(org.users["paula"])
    rows = heatmap(client.get(page_url(differencing)))

    assert rows["Payments"] == ["hidden to protect a small group"] * 4
    assert rows["Payments API"][0] == "3"


def test_texts_show_without_teams_only_from_the_text_threshold(client, closed, org):
    client.force_login(org.users["lena"])
    whole = client.get(page_url(closed)).content.decode()
    api = client.get(page_url(closed, "pay-api")).content.decode()

    assert "<li>A secret only search would write.</li>" in whole
    assert "Written answers · Payments API" in api and "fewer than 4 responses" in api
    assert "Flaky integration tests" not in api


@pytest.mark.parametrize(
    "text",
    ["<script>alert('x')</script> & \"quotes\"", "line one\r\nline two\rthree\nfour", "a <b>\n\n</b>", ""],
)
def test_written_answers_are_escaped_with_their_line_breaks_as_linebreaksbr_makes_them(text):
    assert answer_items([text, "plain"]) == f"<li>{linebreaksbr(text, autoescape=True)}</li><li>plain</li>"
    assert answer_items([]) == ""


def test_changes_since_the_previous_wave_only_where_comparable(client, two_waves, org):
    _, second = two_waves
    client.force_login(org.users["lena"])
    response = client.get(page_url(second, "pay-api"))

    rows = heatmap(response)
    # CI/CD of Payments API: now (66.7 + 66.7) / 2, then (33.3 + 33.3) / 2 (ci_waiting 4, 4, 2 reversed: 1 of 3).
    assert rows["Payments API"][1] == "67%+33 points since wave 1"
    html = client.get(page_url(second, "pay")).content.decode()
    assert "vs wave 1: hidden to protect a small group" in html  # Payments was hidden (suppressed) in wave 1


def test_an_open_campaign_s_page_holds_no_score(client, org):
    campaign = open_wave(org)
    answer(campaign, org.api, *PAY_API)
    answer(campaign, org.pay, *PAY)
    client.force_login(org.users["lena"])
    response = client.get(page_url(campaign))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Scores are published when the survey closes" in html
    assert table(html, "heatmap") == []
    assert "favourable" not in html and "eNPS" not in html and "chart-q" not in html
    assert "Flaky integration tests" not in html
    rows = {row[0]: row[1:] for row in table(html, "table")[1:]}
    assert rows["Payments"] == ["9", "7", "78%", "on target"]
    assert rows["Tiny"] == ["fewer than 3 invited"]


@pytest.mark.parametrize("url", [page_url, csv_url])
def test_an_outsider_gets_a_404(client, closed, org, url):
    client.force_login(org.users["charlie"])

    assert client.get(url(closed)).status_code == 404


@pytest.mark.parametrize("url", [page_url, csv_url])
def test_a_team_one_may_not_see_is_a_404(client, closed, org, url):
    client.force_login(org.users["api-0"])

    assert client.get(url(closed, "search")).status_code == 404
    assert client.get(url(closed, "pay-api")).status_code == 200


@pytest.mark.parametrize("url", [page_url, csv_url])
def test_anonymous_visitors_are_sent_to_sign_in(client, closed, url):
    response = client.get(url(closed))

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_missing_campaign_is_a_404(client, org):
    client.force_login(org_viewer())

    assert client.get("/surveys/999999/results/").status_code == 404
    assert client.get("/surveys/99999999999999999999999/results.csv").status_code == 404


def test_results_refuse_posts(client, closed, org):
    client.force_login(org.users["lena"])

    assert client.post(page_url(closed)).status_code == 405


def test_the_page_s_queries_do_not_grow_with_responses(client, closed, org):
    def count() -> int:
        client.force_login(User.objects.get(username="lena"))
        GroupScore.objects.filter(campaign=closed).delete()  # the worst case: the first read computes the figures
        with CaptureQueriesContext(connection) as queries:
            assert client.get(page_url(closed, "pay")).status_code == 200
        return len(queries.captured_queries)

    few = count()
    bulk_responses(closed, org.api, 300)
    bulk_responses(closed, org.pay, 300, (1, 5, 1, 0, "Platform", "Another text."))
    assert count() == few <= 26


# --- The list -----------------------------------------------------------------------------------------------------


def test_the_list_shows_campaigns_with_results_for_one_s_teams(client, closed, org):
    opened = open_wave(org)
    client.force_login(org.users["api-0"])
    html = client.get("/surveys/results/").content.decode()

    assert f'href="/surveys/{closed.pk}/results/"' in html and f'href="/surveys/{opened.pk}/results/"' in html
    assert "participation only" in html


def test_an_outsider_s_list_is_empty(client, closed, org):
    client.force_login(org.users["charlie"])
    response = client.get("/surveys/results/")

    assert response.status_code == 200
    assert "No survey has results for your teams yet." in response.content.decode()


# --- CSV ----------------------------------------------------------------------------------------------------------


def test_the_csv_holds_the_same_aggregates(client, closed, org):
    client.force_login(org.users["paula"])
    response = client.get(csv_url(closed))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="survey-{closed.pk}-results.csv"'
    rows = csv_rows(response)
    assert {row["group"] for row in rows} == {"Whole organisation", "Payments", "Payments API"}
    pay = {(r["figure"], r["key"]): r for r in rows if r["team"] == "pay"}
    assert pay["responses", ""]["n"] == "7"
    assert (pay["dimension", "ci_cd"]["percent_favourable"], pay["dimension", "ci_cd"]["mean"]) == ("47.6", "2.95")
    assert pay["enps", ""]["enps"] == "14.3"
    assert pay["question", "role"]["distribution"] == "Backend: 2; Frontend: 1; Platform: 1"
    assert pay["question", "ci_fast"]["change_vs_org"] == "12.1"
    assert pay["participation", ""]["participation_percent"] == "77.8"


def test_the_csv_writes_hidden_cells_as_their_status_never_a_number(client, differencing, org):
    client.force_login(org.users["lena"])
    rows = csv_rows(client.get(csv_url(differencing)))

    for team, text in [("pay", "hidden to protect a small group"), ("search", "fewer than 3 responses")]:
        hidden = [r for r in rows if r["team"] == team and r["figure"] != "participation"]
        assert hidden and all(r["status"] in ("suppressed", "too_few") for r in hidden)
        for r in hidden:
            values = [r[c] for c in ("n", "percent_favourable", "mean", "enps", "distribution") if r[c]]
            assert values and set(values) == {text}, r


def test_an_open_campaign_s_csv_is_participation_only(client, org):
    campaign = open_wave(org)
    answer(campaign, org.pay, *PAY)
    client.force_login(org.users["lena"])
    rows = csv_rows(client.get(csv_url(campaign)))

    assert {r["figure"] for r in rows} == {"participation"}
    assert all(not r[c] for r in rows for c in ("n", "percent_favourable", "mean", "enps", "distribution"))


def test_a_team_name_cannot_become_a_spreadsheet_formula(client, org):
    campaign = open_wave(org)
    answer(campaign, org.pay, *PAY)
    org.pay.name = "=HYPERLINK(1)"  # named so when the campaign closes: its results keep that name
    org.pay.save()
    closed = close(campaign)
    client.force_login(org.users["lena"])
    rows = csv_rows(client.get(csv_url(closed, "pay")))

    assert {r["group"] for r in rows if r["team"] == "pay"} == {"'=HYPERLINK(1)"}


def test_the_csv_s_queries_do_not_grow_with_responses(client, closed, org):
    def count() -> int:
        client.force_login(User.objects.get(username="lena"))
        GroupScore.objects.filter(campaign=closed).delete()  # the worst case: the first read computes the figures
        with CaptureQueriesContext(connection) as queries:
            assert client.get(csv_url(closed)).status_code == 200
        return len(queries.captured_queries)

    few = count()
    bulk_responses(closed, org.search, 300)
    assert count() == few <= 26


@pytest.mark.parametrize("url", [page_url, csv_url])
def test_no_cache_keeps_results(client, closed, org, url):
    client.force_login(org.users["lena"])
    response = client.get(url(closed))

    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_the_results_list_says_how_many_responses_a_group_needs(client, closed, org):
    client.force_login(org.users["lena"])

    response = client.get(reverse("surveys:results-index"))

    assert f"only for groups of at least {closed.k} responses;" in response.content.decode()
    assert "at least k " not in response.content.decode()
