"""Single sign-on end to end: Chromium, e360's live server and a real OpenID provider.

The provider (``oidc_provider`` fixture) requires PKCE with S256, so every
successful login here also proves allauth sent a code challenge.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from playwright.sync_api import Page, Request, expect

from e360.models import Membership, Person, User
from e360.services import user_trust_email
from e360.tests.factories import MembershipFactory, PersonFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sso_sign_in(page: Page, oidc_provider, login: str) -> dict[str, list[str]]:
    """Sign in through the provider as ``login``; returns the authorization request's parameters."""
    page.goto("/accounts/login/")

    def is_authorization_request(request: Request) -> bool:
        return request.url.startswith(oidc_provider.issuer) and urlsplit(request.url).path == "/auth"

    with page.expect_request(is_authorization_request) as authorization:
        page.get_by_role("button", name="Single sign-on").click()
    expect(page.get_by_role("heading", name="Sign in to the test IdP")).to_be_visible()
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(oidc_provider.accounts[login]["password"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("button", name="Allow").click()
    return parse_qs(urlsplit(authorization.value.url).query)


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    # Also forget the provider's session, so the next login is a full one (login and consent).
    page.context.clear_cookies()


def expect_home(page: Page, live_server) -> None:
    expect(page).to_have_url(f"{live_server.url}/")


@pytest.fixture
def ada(team, teammate) -> Person:
    """In the catalog, not yet signed in: the provider's ``ada`` account has her email."""
    person = PersonFactory(name="Ada Lovelace", handle="ada", email="ada@example.com")
    MembershipFactory(person=person, team=team, role=Membership.Role.MEMBER)
    return person


def test_a_catalog_person_signs_in_with_sso_and_sees_their_teams(
    page, page_problems, live_server, oidc_provider, sso_app, ada
):
    params = sso_sign_in(page, oidc_provider, "ada")

    expect_home(page, live_server)
    expect(page.get_by_role("heading", name="Hello, Ada Lovelace")).to_be_visible()
    my_teams = page.get_by_role("region", name="My teams")
    expect(my_teams.get_by_role("link", name="Payments", exact=True)).to_be_visible()
    # PKCE with S256 (the provider would also have refused a request without it).
    assert params["code_challenge_method"] == ["S256"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", params["code_challenge"][0])
    assert params["response_type"] == ["code"]
    assert set(params["scope"][0].split()) >= {"openid", "email"}
    user = User.objects.get(email="ada@example.com")
    ada.refresh_from_db()
    assert ada.user == user
    assert SocialAccount.objects.get(user=user).provider == "sso"
    page_problems.assert_none()


def test_a_second_sso_login_reuses_the_same_user(page, page_problems, live_server, oidc_provider, sso_app, ada):
    sso_sign_in(page, oidc_provider, "ada")
    expect_home(page, live_server)
    sign_out(page)

    sso_sign_in(page, oidc_provider, "ada")

    expect_home(page, live_server)
    expect(page.get_by_role("heading", name="Hello, Ada Lovelace")).to_be_visible()
    assert User.objects.filter(email="ada@example.com").count() == 1
    assert SocialAccount.objects.count() == 1
    ada.refresh_from_db()
    assert ada.user == SocialAccount.objects.get().user
    page_problems.assert_none()


def test_an_sso_account_unknown_to_the_catalog_is_refused(page, page_problems, oidc_provider, sso_app, ada):
    sso_sign_in(page, oidc_provider, "mallory")

    expect(page.get_by_role("heading", name="Sign-up is closed")).to_be_visible()
    assert not User.objects.filter(email="mallory@elsewhere.test").exists()
    assert not SocialAccount.objects.exists()
    page_problems.assert_none()


def test_an_allowed_email_domain_lets_an_unknown_person_in(
    page, page_problems, live_server, settings, oidc_provider, sso_app
):
    settings.SSO_ALLOWED_EMAIL_DOMAINS = ["elsewhere.test"]

    sso_sign_in(page, oidc_provider, "mallory")

    expect_home(page, live_server)
    expect(page.get_by_text("Your account is not linked to a person in the catalog yet")).to_be_visible()
    user = User.objects.get(email="mallory@elsewhere.test")
    assert not Person.objects.filter(user=user).exists()
    page_problems.assert_none()


def test_an_unverified_email_is_refused_even_for_a_catalog_person(page, page_problems, oidc_provider, sso_app):
    eve = PersonFactory(name="Eve", handle="eve", email="eve@example.com")

    sso_sign_in(page, oidc_provider, "eve")

    expect(page.get_by_role("heading", name="Sign-up is closed")).to_be_visible()
    assert not User.objects.filter(email="eve@example.com").exists()
    eve.refresh_from_db()
    assert eve.user is None
    page_problems.assert_none()


def test_an_admin_created_account_is_connected_not_duplicated(page, page_problems, live_server, oidc_provider, sso_app):
    grace = UserFactory(username="grace", email="grace@example.com")
    user_trust_email(user=grace)  # as the admin and ensure_admin do
    person = PersonFactory(name="Grace Hopper", handle="grace", email="grace@example.com")

    sso_sign_in(page, oidc_provider, "grace")

    expect_home(page, live_server)
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("grace@example.com")
    assert list(User.objects.filter(email__iexact="grace@example.com")) == [grace]
    assert SocialAccount.objects.get().user == grace
    person.refresh_from_db()
    grace.refresh_from_db()
    assert person.user == grace
    assert grace.has_usable_password()
    page_problems.assert_none()


def test_the_provider_refuses_a_login_without_pkce(page, page_problems, oidc_provider, sso_app, ada):
    # Keeps the PKCE claim above honest: the provider really does require a code challenge.
    sso_app.settings = {**sso_app.settings, "oauth_pkce_enabled": False}
    sso_app.save()
    page.goto("/accounts/login/")

    page.get_by_role("button", name="Single sign-on").click()

    expect(page.get_by_role("heading", name="Third-Party Login Failure")).to_be_visible()
    assert not User.objects.filter(email="ada@example.com").exists()
    assert not SocialAccount.objects.exists()
    # allauth answers the failed callback with 401, which Chromium logs as a failed load.
    assert len(page_problems.take("status of 401")) == 1
    page_problems.assert_none()
