"""A source's secrets are its keys: shown once (at creation and at rotation), then only a hint, and
stored so that nobody who can read the admin or the database can read them. A rotated key keeps
working next to its successor for an overlap, then stops."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from e360.tests.factories import UserFactory
from metrics.models import ApiToken, InboundEvent, Source
from metrics.services import ROTATION_OVERLAP, api_token_authenticate, api_token_create, api_token_rotate

pytestmark = pytest.mark.django_db

DEPLOYMENT = {
    "id": "build-1",
    "result": "SUCCESS",
    "environment": "PRODUCTION",
    "finishedDate": "2025-03-01T10:05:00Z",
    "deploymentCommits": [{"repoUrl": "https://github.com/acme/checkout", "commitSha": "a" * 40}],
}


@pytest.fixture
def source(service):
    return Source.objects.create(name="ci", kind=Source.Kind.DEVLAKE, team=service.owner, default_service=service)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def viewer_client():
    """Staff who may only view sources and keys (a client of their own)."""
    viewer = UserFactory(username="vera", email="vera@example.com", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["view_source", "view_apitoken"]))
    client = Client()
    client.force_login(viewer)
    return client


def _shown_keys(page) -> list[str]:
    return re.findall(r"<code>(e360_[\w-]+)</code>", page.text)


def _end_overlap(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now() - timedelta(seconds=1))


def test_a_source_keeps_no_secret_of_its_own_in_clear(source):
    assert not [field.name for field in Source._meta.get_fields() if "secret" in field.name]


def test_staff_who_may_only_view_never_see_a_key(staff_client, viewer_client, source):
    created = staff_client.post(reverse("admin:metrics_apitoken_add"), {"source": source.pk, "name": "deploy bot"})
    [key] = _shown_keys(staff_client.get(created["Location"]))
    token = ApiToken.objects.get(name="deploy bot")
    staff_client.post(
        reverse("admin:metrics_apitoken_changelist"), {"action": "rotate", "_selected_action": [token.pk]}
    )
    new = ApiToken.objects.exclude(pk=token.pk).get()

    pages = [
        reverse("admin:metrics_source_changelist"),
        reverse("admin:metrics_source_change", args=[source.pk]),
        reverse("admin:metrics_source_history", args=[source.pk]),
        reverse("admin:metrics_apitoken_changelist"),
        reverse("admin:metrics_apitoken_change", args=[token.pk]),
        reverse("admin:metrics_apitoken_history", args=[token.pk]),
        reverse("admin:metrics_apitoken_change", args=[new.pk]),
    ]
    for url in pages:
        page = viewer_client.get(url)
        assert page.status_code == 200, url
        assert key not in page.text, url
        assert token.key_hash not in page.text, url
        assert not _shown_keys(page), url
    assert token.hint in viewer_client.get(reverse("admin:metrics_apitoken_change", args=[token.pk])).text
    assert 'value="rotate"' not in viewer_client.get(reverse("admin:metrics_apitoken_changelist")).text


def test_rotating_in_the_admin_shows_the_new_key_once_and_keeps_the_old_one_for_the_overlap(staff_client, source):
    token, old_key = api_token_create(source=source, name="deploy bot")

    response = staff_client.post(
        reverse("admin:metrics_apitoken_changelist"), {"action": "rotate", "_selected_action": [token.pk]}
    )

    page = staff_client.get(response["Location"])
    [new_key] = _shown_keys(page)
    assert f"…{token.hint}" in page.text
    assert new_key not in staff_client.get(response["Location"]).text
    new = api_token_authenticate(new_key)
    assert (new.source, new.name) == (source, "deploy bot")
    assert api_token_authenticate(old_key) == token
    token.refresh_from_db()
    assert token.revoked_at - timezone.now() == pytest.approx(ROTATION_OVERLAP, abs=timedelta(minutes=1))


def test_a_rotated_key_is_accepted_during_the_overlap_and_refused_after(source):
    token, old_key = api_token_create(source=source, name="deploy bot")

    new, new_key = api_token_rotate(token=token)

    assert api_token_authenticate(old_key) == token
    assert api_token_authenticate(new_key) == new
    _end_overlap(token)
    assert api_token_authenticate(old_key) is None
    assert api_token_authenticate(new_key) == new


def test_revoking_a_rotated_key_ends_the_overlap_at_once(staff_client, source):
    token, old_key = api_token_create(source=source, name="deploy bot")
    api_token_rotate(token=token)

    staff_client.post(
        reverse("admin:metrics_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]}
    )

    assert api_token_authenticate(old_key) is None


def test_a_revoked_key_is_not_rotated(source):
    token, _ = api_token_create(source=source, name="deploy bot")
    _end_overlap(token)
    token.refresh_from_db()

    with pytest.raises(ValueError, match="revoked"):
        api_token_rotate(token=token)


def test_the_devlake_webhook_takes_either_key_during_the_overlap_and_only_the_new_one_after(
    client, source, django_capture_on_commit_callbacks
):
    token, old_key = api_token_create(source=source, name="lake key")
    _, new_key = api_token_rotate(token=token)
    url = reverse("metrics:devlake-deployments", kwargs={"connection": source.pk})

    def deliver(key: str, build: str) -> int:
        body = json.dumps({**DEPLOYMENT, "id": build})
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                url, body, content_type="application/json", headers={"Authorization": f"Bearer {key}"}
            )
        return response.status_code

    assert deliver(old_key, "b1") == 200
    assert deliver(new_key, "b2") == 200
    _end_overlap(token)
    assert deliver(old_key, "b3") == 401
    assert deliver(new_key, "b4") == 200
    assert InboundEvent.objects.count() == 3
