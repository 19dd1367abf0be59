from __future__ import annotations

from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    path("surveys/", views.my_surveys, name="mine"),
    path("surveys/<int:campaign_id>/", views.answer, name="answer"),
    path("surveys/<int:campaign_id>/thanks/", views.thanks, name="thanks"),
]

# --- Results (surveys.results_views): the list, a campaign's page and its CSV. The JSON API is surveys/api.py,
# mounted under /api/v1/surveys/ by e360/urls.py.
from surveys import results_views  # noqa: E402

urlpatterns += [
    path("surveys/results/", results_views.results_index, name="results-index"),
    path("surveys/<int:campaign_id>/results/", results_views.campaign_results, name="results"),
    path("surveys/<int:campaign_id>/results.csv", results_views.campaign_results_csv, name="results-csv"),
]
