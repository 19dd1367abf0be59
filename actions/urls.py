from __future__ import annotations

from django.urls import path

from actions.views import (
    automations,
    gains,
    initiative_form,
    initiatives,
    remind_now,
    reminders,
    selfservice,
    suggestions,
    thresholds,
)

app_name = "actions"

urlpatterns = [
    # --- automations ---
    path("", automations.run_log, name="automation-runs"),
    path("automations/<int:pk>/", automations.automation_detail, name="automation-detail"),
    # --- end of automations ---
    # --- self-service actions ---
    path("runs/", selfservice.run_actions, name="run-actions"),
    path("runs/<int:pk>/", selfservice.run_cell, name="run-cell"),
    path("runs/<int:pk>/rerun/", selfservice.run_rerun, name="run-rerun"),
    path("runs/<int:pk>/logs/", selfservice.run_logs, name="run-logs"),
    path("pulls/", remind_now.pr_actions, name="pr-actions"),
    path("pulls/<int:pk>/", remind_now.pr_cell, name="pr-cell"),
    path("pulls/<int:pk>/remind/", remind_now.pr_remind, name="pr-remind"),
    path("teams/<slug:slug>/remind/", remind_now.team_remind, name="team-remind"),
    path("teams/<slug:slug>/remind/cell/", remind_now.team_remind_cell, name="team-remind-cell"),
    # --- end of self-service actions ---
    # --- bottleneck suggestions ---
    path("teams/<slug:slug>/suggestions/", suggestions.team_suggestions, name="team-suggestions"),
    # --- thresholds ---
    path("thresholds/", thresholds.threshold_list, name="threshold-list"),
    path("thresholds/new/", thresholds.threshold_add, name="threshold-add"),
    path("thresholds/backtest/", thresholds.threshold_backtest, name="threshold-backtest"),
    path("thresholds/<int:pk>/", thresholds.threshold_edit, name="threshold-edit"),
    path("thresholds/<int:pk>/delete/", thresholds.threshold_delete, name="threshold-delete"),
    # --- review reminders ---
    path("reminders/", reminders.policy_list, name="reminder-list"),
    path("reminders/new/", reminders.policy_add, name="reminder-add"),
    path("reminders/<int:pk>/", reminders.policy_edit, name="reminder-edit"),
    path("reminders/<int:pk>/delete/", reminders.policy_delete, name="reminder-delete"),
    # --- initiatives ---
    path("initiatives/", initiatives.initiative_list, name="initiative-list"),
    path("initiatives/new/", initiative_form.initiative_add, name="initiative-add"),
    path("initiatives/<int:pk>/", initiatives.initiative_detail, name="initiative-detail"),
    path("initiatives/<int:pk>/edit/", initiative_form.initiative_edit, name="initiative-edit"),
    path("initiatives/<int:pk>/export.csv", initiatives.initiative_csv, name="initiative-csv"),
    # --- velocity gains ---
    path("gains/", gains.gains, name="gains"),
    path("gains/export.csv", gains.gains_csv, name="gains-csv"),
]
