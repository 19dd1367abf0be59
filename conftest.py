"""Shared fixtures: a small organisation and the three users every view is tested with.

- ``owner``: leads ``team`` (and so sees its sub-team ``subteam``);
- ``teammate``: a plain member of ``team``;
- ``outsider``: a member of ``other_team`` only, who must get 404 on ``team``.

The real components of the end-to-end tests are plugins every app's tests share: Chromium through
Playwright (e360/tests/browser.py) and the loopback OpenID Connect provider (e360/tests/sso.py).
"""

from __future__ import annotations

import pytest
from hypothesis import settings as hypothesis_settings

from e360.models import Membership
from e360.tests.factories import MembershipFactory, PersonFactory, ServiceFactory, TeamFactory, UserFactory

pytest_plugins = ["e360.tests.browser", "e360.tests.sso"]


# Property tests judge correctness, not speed: a slow example on a busy CI machine is no failure.
hypothesis_settings.register_profile("e360", deadline=None)
hypothesis_settings.load_profile("e360")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Production uses a manifest built by collectstatic; tests render templates without one.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _sync_tasks(monkeypatch):
    # django-q2 reads Q_CLUSTER once, at import, into Conf: run tasks inline in tests.
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def team(db):
    return TeamFactory(name="Payments", slug="payments")


@pytest.fixture
def subteam(team):
    return TeamFactory(name="Payments API", slug="payments-api", parent=team)


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Search", slug="search")


@pytest.fixture
def service(team):
    return ServiceFactory(name="Checkout", slug="checkout", owner=team)


def _member(username: str, team, role: str):
    user = UserFactory(username=username, email=f"{username}@example.com")
    person = PersonFactory(name=username.capitalize(), handle=username, email=user.email, user=user)
    MembershipFactory(person=person, team=team, role=role)
    return user


@pytest.fixture
def owner(team):
    return _member("alice", team, Membership.Role.LEAD)


@pytest.fixture
def teammate(team):
    return _member("bob", team, Membership.Role.MEMBER)


@pytest.fixture
def outsider(other_team):
    return _member("charlie", other_team, Membership.Role.MEMBER)


@pytest.fixture
def staff(db):
    return UserFactory(username="admin", email="admin@example.com", is_staff=True, is_superuser=True)
