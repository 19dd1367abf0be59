from __future__ import annotations

from django.urls import path

from actions.views import thresholds

app_name = "actions"

urlpatterns = [
    # --- thresholds ---
    path("actions/thresholds/", thresholds.threshold_list, name="threshold-list"),
    path("actions/thresholds/new/", thresholds.threshold_add, name="threshold-add"),
    path("actions/thresholds/backtest/", thresholds.threshold_backtest, name="threshold-backtest"),
    path("actions/thresholds/<int:pk>/", thresholds.threshold_edit, name="threshold-edit"),
    path("actions/thresholds/<int:pk>/delete/", thresholds.threshold_delete, name="threshold-delete"),
]
