"""Secrets are stored encrypted under keys from SECRET_KEY, and survive its rotation (e360/secrets.py)."""

from __future__ import annotations

import pytest
from django.db import connection as db

from e360 import secrets
from integrations.models import Connection
from integrations.tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


STORED = {
    "webhook_secret": "SELECT webhook_secret FROM integrations_connection WHERE source_id = %s",
    "api_token": "SELECT api_token FROM integrations_connection WHERE source_id = %s",
}


def _stored(pk: int, column: str) -> str:
    """The column as the database holds it (the model would decrypt it)."""
    with db.cursor() as cursor:
        cursor.execute(STORED[column], [pk])
        return cursor.fetchone()[0]


def test_the_database_holds_no_secret_in_clear_and_the_model_reads_it_back():
    connection = ConnectionFactory(webhook_secret="hook-secret", api_token="ghp_clear")
    assert "hook-secret" not in _stored(connection.pk, "webhook_secret")
    assert "ghp_clear" not in _stored(connection.pk, "api_token")
    fresh = Connection.objects.get(pk=connection.pk)
    assert (fresh.webhook_secret, fresh.api_token) == ("hook-secret", "ghp_clear")
    assert "ghp_clear" not in repr(fresh.api_token) and "hook-secret" not in repr(vars(fresh))


def test_a_rotated_secret_key_still_opens_old_secrets_and_rotate_moves_them(settings):
    connection = ConnectionFactory(webhook_secret="hook-secret")
    old = _stored(connection.pk, "webhook_secret")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a brand new secret key " * 3, [settings.SECRET_KEY]
    assert Connection.objects.get(pk=connection.pk).webhook_secret == "hook-secret"
    rotated = secrets.rotate(old)
    settings.SECRET_KEY_FALLBACKS = []
    assert secrets.decrypt(rotated) == "hook-secret"
    with pytest.raises(secrets.SecretUnreadable, match="SECRET_KEY_FALLBACKS"):
        secrets.decrypt(old)


def test_an_empty_secret_stays_empty():
    connection = ConnectionFactory(webhook_secret="")
    assert _stored(connection.pk, "webhook_secret") == ""
    assert Connection.objects.get(pk=connection.pk).webhook_secret == ""
