from __future__ import annotations

from django.urls import path

from insights import views

app_name = "insights"

urlpatterns = [
    path("insights/bottlenecks/", views.org_bottlenecks, name="org-bottlenecks"),
    path("insights/correlations/", views.correlations, name="correlations"),
    path("teams/<slug:slug>/bottlenecks/", views.team_bottlenecks, name="team-bottlenecks"),
    path("teams/<slug:slug>/correlations/", views.team_correlations, name="team-correlations"),
]

# The leader dashboards (insights.dashboard_views).
from insights import dashboard_views  # noqa: E402 - kept with its routes

urlpatterns += [
    path("dashboard/", dashboard_views.org_dashboard, name="dashboard"),
    path("dashboard/pick/", dashboard_views.pick_team, name="dashboard-pick"),
    path("dashboard/summary/", dashboard_views.org_summary, name="org-summary"),
    path("teams/<slug:slug>/dashboard/", dashboard_views.team_dashboard, name="team-dashboard"),
]
