from django.urls import path

from integrations import webhooks
from integrations.views import sources

app_name = "integrations"

urlpatterns = [
    path("hooks/<slug:provider_name>/<uuid:webhook_id>/", webhooks.receive, name="webhook"),
    path("sources/", sources.source_list, name="source-list"),
    path("sources/<int:source_id>/", sources.source_detail, name="source-detail"),
]
