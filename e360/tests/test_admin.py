from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse


def _registered():
    return [
        (model._meta.app_label, model._meta.model_name, model_admin)
        for model, model_admin in admin.site._registry.items()
    ]


@pytest.mark.parametrize(("app_label", "model_name", "model_admin"), _registered())
def test_every_changelist_and_add_page_answers_200_to_staff(client, staff, app_label, model_name, model_admin, rf):
    client.force_login(staff)
    changelist = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert changelist.status_code == 200
    add = client.get(reverse(f"admin:{app_label}_{model_name}_add"))
    request = rf.get("/")
    request.user = staff
    expected = 200 if model_admin.has_add_permission(request) else 403
    assert add.status_code == expected


def test_the_catalog_change_pages_render_with_inlines(client, staff, service, owner, team):
    client.force_login(staff)
    for obj in (team, service, owner.person):
        url = reverse(f"admin:e360_{obj._meta.model_name}_change", args=[obj.pk])
        assert client.get(url).status_code == 200


def test_services_are_edited_one_repository_per_line(client, staff, service):
    client.force_login(staff)
    url = reverse("admin:e360_service_change", args=[service.pk])
    response = client.post(
        url,
        {
            "name": service.name,
            "slug": service.slug,
            "owner": service.owner_id,
            "tier": 2,
            "repositories": "acme/checkout\n\n  acme/checkout-web  \n",
            "production_environments": "production\nprod-*",
        },
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.repositories == ["acme/checkout", "acme/checkout-web"]
    assert service.production_environments == ["production", "prod-*"]


def test_the_admin_sends_anonymous_visitors_to_the_portal_sign_in(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    login = client.get(response["Location"], follow=True)
    assert login.redirect_chain[-1][0].startswith("/accounts/login/")


def test_the_admin_refuses_non_staff(client, teammate):
    client.force_login(teammate)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    # The portal's own page (templates/403.html): its header, what the admin is for, and a way back.
    body = response.content.decode()
    assert '<header class="topbar">' in body
    assert "The administration is for staff" in body
    assert '<a class="button" href="/">Back to the home page</a>' in body
