"""manage.py create_api_token: a key for an existing source, shown once."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from metrics.models import ApiToken
from metrics.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue()


def test_it_prints_a_working_key_once_and_stores_its_hash(service, settings):
    settings.SITE_URL = "https://e360.example.com"
    source = SourceFactory(name="payments-ci")

    output = run("--source", "payments-ci", "--name", "deploy job")

    key = re.search(r"API key \(shown only now\): (e360_\S+)", output).group(1)
    token = ApiToken.objects.get()
    assert (token.source, token.name) == (source, "deploy job")
    assert token.key_hash == ApiToken.hash_key(key)
    assert key not in token.key_hash
    assert "curl -sS -X POST 'https://e360.example.com/api/v1/deployments'" in output
    assert f"Authorization: Bearer {key}" in output
    assert Client(headers={"Authorization": f"Bearer {key}"}).get("/api/v1/deployments").status_code == 200


def test_it_names_the_key_after_the_source_by_default(db):
    SourceFactory(name="payments-ci")

    run("--source", "payments-ci")

    assert ApiToken.objects.get().name.startswith("payments-ci key ")


def test_it_refuses_an_unknown_source_and_lists_the_known_ones(db):
    SourceFactory(name="payments-ci")

    with pytest.raises(CommandError, match=r'No source named "nope" \(sources: payments-ci\)'):
        run("--source", "nope")
    assert not ApiToken.objects.exists()


def test_it_refuses_an_inactive_source(db):
    SourceFactory(name="old-ci", is_active=False)

    with pytest.raises(CommandError, match="inactive"):
        run("--source", "old-ci")
    assert not ApiToken.objects.exists()
