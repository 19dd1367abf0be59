from __future__ import annotations

from django.urls import path

from actions.views import selfservice

app_name = "actions"

urlpatterns = [
    # --- self-service actions ---
    path("runs/", selfservice.run_actions, name="run-actions"),
    path("runs/<int:pk>/", selfservice.run_cell, name="run-cell"),
    path("runs/<int:pk>/rerun/", selfservice.run_rerun, name="run-rerun"),
    path("runs/<int:pk>/logs/", selfservice.run_logs, name="run-logs"),
    # --- end of self-service actions ---
]
