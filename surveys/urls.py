from __future__ import annotations

from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    path("surveys/", views.my_surveys, name="mine"),
    path("surveys/<int:campaign_id>/", views.answer, name="answer"),
    path("surveys/<int:campaign_id>/thanks/", views.thanks, name="thanks"),
]
