"""The metrics admin: every page opens, keys are shown once, inbound events can be retried."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from metrics.ingest import KIND_DEPLOYMENT, inbound_process
from metrics.models import (
    ApiToken,
    DailyRollup,
    Deployment,
    InboundEvent,
    Incident,
    PullRequest,
    Repository,
    Review,
    Source,
)
from metrics.services import api_token_authenticate, api_token_create

WHEN = datetime(2025, 3, 1, 10, tzinfo=UTC)


# Queued tasks (the drain, the refresh) run at once, in the test.
pytestmark = pytest.mark.usefixtures("tasks_run_inline")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def source(team):
    return Source.objects.create(name="ci", kind=Source.Kind.DEVLAKE, team=team)


def _metrics_admins():
    return [
        (model._meta.model_name, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "metrics"
    ]


def test_every_metrics_model_with_data_is_in_the_admin():
    registered = {model for model in admin.site._registry if model._meta.app_label == "metrics"}
    # Commits and reviews are read through their pull requests.
    expected = set(apps.get_app_config("metrics").get_models()) - {apps.get_model("metrics", "Commit"), Review}
    assert expected <= registered


@pytest.mark.parametrize(("model_name", "model_admin"), _metrics_admins())
def test_every_changelist_and_add_page_answers_staff(staff_client, staff, rf, model_name, model_admin):
    assert staff_client.get(reverse(f"admin:metrics_{model_name}_changelist")).status_code == 200
    request = rf.get("/")
    request.user = staff
    expected = 200 if model_admin.has_add_permission(request) else 403
    assert staff_client.get(reverse(f"admin:metrics_{model_name}_add")).status_code == expected


@pytest.fixture
def records(source, service):
    repository = Repository.objects.create(name="acme/checkout", service=service)
    deployment = Deployment.objects.create(
        source=source, external_id="d1", service=service, environment="production", finished_at=WHEN
    )
    incident = Incident.objects.create(source=source, external_id="i1", service=service, started_at=WHEN)
    pull_request = PullRequest.objects.create(
        source=source, external_id="p1", repository=repository, service=service, number=7, opened_at=WHEN
    )
    Review.objects.create(pull_request=pull_request, external_id="r1", author="bob", submitted_at=WHEN)
    rollup = DailyRollup.objects.create(service=service, environment="production", day=WHEN.date(), deployments=1)
    delivery = InboundEvent.objects.create(
        source=source, delivery_id="x", kind=KIND_DEPLOYMENT, payload={"id": "d1", "note": "<b>bold</b>"}
    )
    token, _ = api_token_create(source=source, name="ci key")
    return [source, repository, deployment, incident, pull_request, rollup, delivery, token]


def test_change_pages_render_with_their_inlines(staff_client, records):
    for obj in records:
        response = staff_client.get(reverse(f"admin:metrics_{obj._meta.model_name}_change", args=[obj.pk]))
        assert response.status_code == 200, obj._meta.model_name


def test_the_source_page_shows_its_devlake_url_and_tokens_read_only(staff_client, records, settings):
    source = records[0]
    settings.SITE_URL = "https://e360.example.com"
    response = staff_client.get(reverse("admin:metrics_source_change", args=[source.pk]))
    assert f"https://e360.example.com/api/rest/plugins/webhook/connections/{source.pk}/" in response.text
    assert "ci key" in response.text
    assert 'name="tokens-0-name"' not in response.text  # listed, not editable
    add_key = reverse("admin:metrics_apitoken_add") + f"?source={source.pk}"
    assert add_key in response.text
    assert f'value="{source.pk}" selected' in staff_client.get(add_key).text


def test_a_delivery_shows_its_payload_escaped_and_cannot_be_edited(staff_client, records):
    delivery = records[6]
    response = staff_client.get(reverse("admin:metrics_inboundevent_change", args=[delivery.pk]))
    assert "&lt;b&gt;bold&lt;/b&gt;" in response.text
    assert "<pre>" in response.text
    assert 'name="_save"' not in response.text


def test_adding_a_token_shows_its_key_once_and_stores_only_its_hash(staff_client, source):
    response = staff_client.post(reverse("admin:metrics_apitoken_add"), {"source": source.pk, "name": "deploy bot"})
    assert response.status_code == 302

    page = staff_client.get(response["Location"])
    keys = re.findall(r"<code>(e360_[\w-]+)</code>", page.text)
    assert len(keys) == 1
    [key] = keys
    token = ApiToken.objects.get(name="deploy bot")
    assert token.key_hash == ApiToken.hash_key(key)
    assert api_token_authenticate(key) == token
    assert key[-6:] == token.hint

    again = staff_client.get(response["Location"])
    assert key not in again.text
    assert key not in staff_client.get(reverse("admin:metrics_apitoken_change", args=[token.pk])).text


def test_the_revoke_action_revokes_keys(staff_client, source):
    token, key = api_token_create(source=source, name="old")
    response = staff_client.post(
        reverse("admin:metrics_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]}
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api_token_authenticate(key) is None


def test_the_retry_action_reprocesses_a_failed_delivery_after_the_map_is_fixed(
    staff_client, source, service, django_capture_on_commit_callbacks
):
    delivery = InboundEvent.objects.create(
        source=source,
        delivery_id="y",
        kind=KIND_DEPLOYMENT,
        payload={"id": "b1", "repoUrl": "https://github.com/acme/old-name", "commitSha": "a1"},
    )
    inbound_process(event_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == InboundEvent.Status.FAILED
    failed_list = staff_client.get(reverse("admin:metrics_inboundevent_changelist"), {"status__exact": "failed"})
    assert "acme/old-name" in failed_list.text

    source.repo_service_map = {"acme/old-name": service.slug}
    source.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:metrics_inboundevent_changelist"), {"action": "retry", "_selected_action": [delivery.pk]}
        )

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == InboundEvent.Status.PROCESSED
    assert Deployment.objects.get().service == service


def test_the_mark_ignored_action(staff_client, records):
    delivery = records[6]
    staff_client.post(
        reverse("admin:metrics_inboundevent_changelist"), {"action": "mark_ignored", "_selected_action": [delivery.pk]}
    )
    delivery.refresh_from_db()
    assert delivery.status == InboundEvent.Status.IGNORED


def test_delivery_actions_need_the_change_permission(client, source, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", "viewer@example.com", "pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_inboundevent"))
    client.force_login(viewer)

    response = client.get(reverse("admin:metrics_inboundevent_changelist"))

    assert response.status_code == 200
    assert 'value="retry"' not in response.text


def test_the_delivery_list_takes_a_bounded_number_of_queries(staff_client, source, django_assert_max_num_queries):
    InboundEvent.objects.bulk_create(
        InboundEvent(source=source, delivery_id=str(i), kind=KIND_DEPLOYMENT, payload={}) for i in range(30)
    )
    with django_assert_max_num_queries(12):
        assert staff_client.get(reverse("admin:metrics_inboundevent_changelist")).status_code == 200
