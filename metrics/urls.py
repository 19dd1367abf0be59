from __future__ import annotations

from django.urls import path, re_path

from metrics import webhooks
from metrics.views import delivery, operations

app_name = "metrics"

# Apache DevLake's webhook plugin paths, under DevLake's /api/rest prefix: by connection id,
# by connection name, and the older form without "connections/".
_DEVLAKE = "api/rest/plugins/webhook/"
devlake_patterns = []
for prefix, param, suffix in [
    ("connections/by-name/", "<str:connection_name>", "-by-name"),
    ("connections/", "<str:connection>", ""),
    ("", "<str:connection>", "-legacy"),
]:
    devlake_patterns += [
        path(f"{_DEVLAKE}{prefix}{param}/deployments", webhooks.deployments, name=f"devlake-deployments{suffix}"),
        path(f"{_DEVLAKE}{prefix}{param}/issues", webhooks.issues, name=f"devlake-issues{suffix}"),
        path(
            f"{_DEVLAKE}{prefix}{param}/issue/<str:issue_key>/close",
            webhooks.issue_close,
            name=f"devlake-issue-close{suffix}",
        ),
    ]

# Delivery pages, beside the catalog pages of the same service or team (e360 links to them).
page_patterns = [
    path("services/<slug:slug>/delivery/", delivery.service_delivery, name="service-delivery"),
    path("services/<slug:slug>/delivery/summary/", delivery.service_delivery_summary, name="service-delivery-summary"),
    path("teams/<slug:slug>/delivery/", delivery.team_delivery, name="team-delivery"),
    path("teams/<slug:slug>/delivery/summary/", delivery.team_delivery_summary, name="team-delivery-summary"),
    # Operational views: pull requests waiting for a first review, and pipeline reliability.
    path("services/<slug:slug>/reviews/", operations.service_reviews, name="service-reviews"),
    path("teams/<slug:slug>/reviews/", operations.team_reviews, name="team-reviews"),
    path("reviews/", operations.organisation_reviews, name="reviews"),
    path("services/<slug:slug>/pipelines/", operations.service_pipelines, name="service-pipelines"),
    path("teams/<slug:slug>/pipelines/", operations.team_pipelines, name="team-pipelines"),
    path("pipelines/", operations.organisation_pipelines, name="pipelines"),
]

urlpatterns = [
    *page_patterns,
    *devlake_patterns,
    # Every other DevLake path (pull_requests, projects/<name>/deployments, ...) answers JSON too.
    re_path(r"^api/rest/(?P<path>.*)$", webhooks.not_found, name="devlake-not-found"),
]
