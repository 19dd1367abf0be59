from __future__ import annotations

from django.urls import path

from surveys.views import answers, results

app_name = "surveys"

urlpatterns = [
    path("surveys/", answers.my_surveys, name="mine"),
    path("surveys/<int:campaign_id>/", answers.answer, name="answer"),
    path("surveys/<int:campaign_id>/thanks/", answers.thanks, name="thanks"),
    # Results: the list, a campaign's page and its CSV. The JSON API is surveys/api.py, mounted under
    # /api/v1/surveys/ by e360/urls.py.
    path("surveys/results/", results.results_index, name="results-index"),
    path("surveys/<int:campaign_id>/results/", results.campaign_results, name="results"),
    path("surveys/<int:campaign_id>/results.csv", results.campaign_results_csv, name="results-csv"),
]
