from django.urls import path

from integrations import webhooks

app_name = "integrations"

urlpatterns = [
    path("hooks/<slug:provider_name>/<uuid:webhook_id>/", webhooks.receive, name="webhook"),
]
