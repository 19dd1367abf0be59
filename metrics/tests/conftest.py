"""Fixtures for the metrics tests: an API source with a token, more services and an org viewer for the pages, a
small team tree for the rollup tests."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from e360.tests.factories import ServiceFactory, TeamFactory, UserFactory
from metrics.tests.factories import ApiTokenFactory, SourceFactory


@pytest.fixture
def source(service):
    """An API source whose records default to nothing: each record names its service."""
    return SourceFactory(name="ci", team=service.owner)


@pytest.fixture
def token(source):
    return ApiTokenFactory(source=source, name="deploy script")


@pytest.fixture
def api_client(token) -> Client:
    """A test client that sends the token's key as a bearer token."""
    return Client(headers={"Authorization": f"Bearer {token.key}"})


@pytest.fixture
def ledger(subteam):
    """A service of the sub-team (``subteam``, under ``team``)."""
    return ServiceFactory(name="Ledger", slug="ledger", owner=subteam)


@pytest.fixture
def search(other_team):
    """A service of a team outside ``team``'s tree."""
    return ServiceFactory(name="Search API", slug="search-api", owner=other_team)


@pytest.fixture
def org_viewer(db):
    """Olga, who may see the whole organisation and is in no team."""
    user = UserFactory(username="olga", email="olga@example.com")
    user.user_permissions.add(Permission.objects.get(codename="view_org", content_type__app_label="e360"))
    return user


@pytest.fixture
def tree(db):
    """org > group > (alpha, beta); the group owns a service itself, alpha two, beta one."""
    org = TeamFactory(slug="org", name="Org")
    group = TeamFactory(slug="group", name="Group", parent=org)
    alpha = TeamFactory(slug="alpha", name="Alpha", parent=group)
    beta = TeamFactory(slug="beta", name="Beta", parent=group)
    for slug, owner in [("platform", group), ("checkout", alpha), ("cart", alpha), ("search", beta)]:
        ServiceFactory(slug=slug, name=slug.title(), owner=owner)
    return {team.slug: team for team in (org, group, alpha, beta)}


@pytest.fixture
def tasks_run_inline(monkeypatch):
    """Tasks queued with ``async_task`` run at once, in the test (django-q2's sync mode)."""
    # django-q2 reads Q_CLUSTER["sync"] once, at import: patch the flag it kept.
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)
