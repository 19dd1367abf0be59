from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from e360 import views
from metrics.api import api
from surveys.api import router as surveys_router

# The admin signs in through the same allauth pages (and rate limits) as everyone.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]  # allauth's documented way
admin.site.site_header = "e360 administration"
admin.site.site_title = "e360 admin"

# Survey results read with the portal's session (surveys/api.py). Mounted here, the composition root, so that
# neither app imports the other.
api.add_router("/surveys/", surveys_router)

catalog_patterns = [
    path("teams/", views.team_list, name="team-list"),
    path("teams/<slug:slug>/", views.team_detail, name="team-detail"),
    path("services/", views.service_list, name="service-list"),
    path("services/<slug:slug>/", views.service_detail, name="service-detail"),
    path("people/", views.people_list, name="people-list"),
    path("people/<slug:handle>/", views.person_detail, name="person-detail"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("", include((catalog_patterns, "catalog"))),
    path("healthz", views.healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("", include("metrics.urls")),
    path("", include("surveys.urls")),
    path("", include("insights.urls")),
    path("", include("integrations.urls")),
    path("", include("actions.urls")),
    path("accounts/demo/<slug:role>/", views.demo_sign_in, name="demo-sign-in"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
