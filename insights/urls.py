from __future__ import annotations

from django.urls import path

from insights.views import bottlenecks, correlations, dashboard

app_name = "insights"

urlpatterns = [
    path("insights/bottlenecks/", bottlenecks.org_bottlenecks, name="org-bottlenecks"),
    path("insights/correlations/", correlations.correlations, name="correlations"),
    path("teams/<slug:slug>/bottlenecks/", bottlenecks.team_bottlenecks, name="team-bottlenecks"),
    path("teams/<slug:slug>/correlations/", correlations.team_correlations, name="team-correlations"),
    # The leader dashboards.
    path("dashboard/", dashboard.org_dashboard, name="dashboard"),
    path("dashboard/pick/", dashboard.pick_team, name="dashboard-pick"),
    path("dashboard/summary/", dashboard.org_summary, name="org-summary"),
    path("teams/<slug:slug>/dashboard/", dashboard.team_dashboard, name="team-dashboard"),
]
