from __future__ import annotations

import types
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command

from e360.models import Person, User
from e360.services import person_link_user
from e360.tests.factories import PersonFactory, UserFactory


class TestPasswordSignIn:
    def test_an_admin_created_account_signs_in_by_email(self, client, db):
        UserFactory(username="erin", email="erin@example.com")
        response = client.post("/accounts/login/", {"login": "erin@example.com", "password": "password"})
        assert response.status_code == 302
        assert response["Location"] == "/"

    def test_signing_in_links_the_person_with_a_verified_email(self, client, db):
        person = PersonFactory(email="erin@example.com")
        user = UserFactory(username="erin", email="erin@example.com")
        EmailAddress.objects.create(user=user, email="erin@example.com", verified=True, primary=True)
        client.post("/accounts/login/", {"login": "erin@example.com", "password": "password"})
        person.refresh_from_db()
        assert person.user == user

    def test_an_unverified_email_links_nobody(self, client, db):
        person = PersonFactory(email="erin@example.com")
        UserFactory(username="erin", email="erin@example.com")
        client.post("/accounts/login/", {"login": "erin@example.com", "password": "password"})
        person.refresh_from_db()
        assert person.user is None

    def test_a_wrong_password_is_refused_with_a_message(self, client, db):
        UserFactory(username="erin", email="erin@example.com")
        response = client.post("/accounts/login/", {"login": "erin@example.com", "password": "nope"})
        assert response.status_code == 200
        assert b"not correct" in response.content

    def test_sign_up_is_closed(self, client, db):
        response = client.get("/accounts/signup/")
        assert b"Sign Up Closed" in response.content or b"closed" in response.content.lower()
        client.post(
            "/accounts/signup/", {"email": "eve@example.com", "password1": "x9!kdkdkdk", "password2": "x9!kdkdkdk"}
        )
        assert not User.objects.filter(email="eve@example.com").exists()

    def test_repeated_failures_are_rate_limited(self, client, db):
        UserFactory(username="erin", email="erin@example.com")
        statuses = [
            client.post("/accounts/login/", {"login": "erin@example.com", "password": f"wrong{n}"}).status_code
            for n in range(12)
        ]
        assert (
            429 in statuses
            or b"Too many failed"
            in client.post("/accounts/login/", {"login": "erin@example.com", "password": "wrong"}).content
        )


class TestSignInLimits:
    """Wrong passwords are limited per client IP; per account only gently, so that knowing an
    email is not enough to lock its owner out."""

    ATTACKER, OWNER = "203.0.113.9", "198.51.100.7"

    @staticmethod
    def _sign_in(client, email: str, password: str, ip: str, **headers):
        return client.post("/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR=ip, **headers)

    def test_wrong_passwords_from_one_address_do_not_lock_the_owner_out_from_another(self, client, db):
        UserFactory(username="erin", email="erin@example.com")
        for n in range(12):
            self._sign_in(client, "erin@example.com", f"wrong{n}", self.ATTACKER)
        refused = self._sign_in(client, "erin@example.com", "password", self.ATTACKER)
        assert b"Too many failed login attempts" in refused.content

        response = self._sign_in(client, "erin@example.com", "password", self.OWNER)
        assert response.status_code == 302
        assert response["Location"] == "/"

    def test_an_address_may_try_five_wrong_passwords_per_account(self, client, db):
        UserFactory(username="erin", email="erin@example.com")
        for n in range(4):
            self._sign_in(client, "erin@example.com", f"wrong{n}", self.ATTACKER)
        assert b"not correct" in self._sign_in(client, "erin@example.com", "wrong", self.ATTACKER).content
        assert b"Too many failed" in self._sign_in(client, "erin@example.com", "wrong", self.ATTACKER).content

    def test_an_address_guessing_across_accounts_stops_after_twenty(self, client, db):
        for n in range(6):
            UserFactory(username=f"user{n}", email=f"user{n}@example.com")
        for n in range(5):
            for _attempt in range(4):
                assert b"not correct" in self._sign_in(client, f"user{n}@example.com", "wrong", self.ATTACKER).content
        assert b"Too many failed" in self._sign_in(client, "user5@example.com", "password", self.ATTACKER).content
        assert self._sign_in(client, "user5@example.com", "password", self.OWNER).status_code == 302

    def test_a_guess_spread_over_many_addresses_makes_the_account_wait_a_minute(self, client, db, monkeypatch):
        import time

        from allauth.core.internal import ratelimit

        UserFactory(username="erin", email="erin@example.com")
        for n in range(30):
            assert b"not correct" in self._sign_in(client, "erin@example.com", "wrong", f"192.0.2.{n + 1}").content
        assert b"Too many failed" in self._sign_in(client, "erin@example.com", "password", self.OWNER).content

        later = types.SimpleNamespace(time=lambda: time.time() + 61, monotonic=time.monotonic, sleep=time.sleep)
        monkeypatch.setattr(ratelimit, "time", later)
        assert self._sign_in(client, "erin@example.com", "password", self.OWNER).status_code == 302

    def test_a_successful_sign_in_takes_back_what_it_counted(self, client, db):
        UserFactory(username="erin", email="erin@example.com")
        for n in range(40):
            assert self._sign_in(client, "erin@example.com", "password", f"192.0.2.{n + 1}").status_code == 302
            client.logout()
        assert b"not correct" in self._sign_in(client, "erin@example.com", "wrong", self.OWNER).content

    def test_behind_a_trusted_proxy_the_forwarded_client_address_is_counted(self, client, db, settings):
        settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
        UserFactory(username="erin", email="erin@example.com")
        proxy = "10.0.0.2"
        for n in range(8):
            self._sign_in(client, "erin@example.com", f"wrong{n}", proxy, HTTP_X_FORWARDED_FOR=self.ATTACKER)
        forwarded = {"HTTP_X_FORWARDED_FOR": f"{self.ATTACKER}, {self.OWNER}"}  # the proxy appends who it saw
        assert self._sign_in(client, "erin@example.com", "password", proxy, **forwarded).status_code == 302


class TestPersonLink:
    def test_it_links_the_unclaimed_person_with_a_matching_email(self, db):
        person = PersonFactory(email="dev@example.com")
        user = UserFactory()
        assert person_link_user(user=user, emails=["DEV@example.com"]) == person
        person.refresh_from_db()
        assert person.user == user

    def test_a_claimed_person_is_not_taken_over(self, db):
        first = UserFactory()
        PersonFactory(email="dev@example.com", user=first)
        assert person_link_user(user=UserFactory(), emails=["dev@example.com"]) is None

    def test_an_inactive_person_is_not_linked(self, db):
        PersonFactory(email="dev@example.com", is_active=False)
        assert person_link_user(user=UserFactory(), emails=["dev@example.com"]) is None

    def test_a_linked_user_keeps_their_person(self, db):
        user = UserFactory()
        mine = PersonFactory(user=user)
        PersonFactory(email="other@example.com")
        assert person_link_user(user=user, emails=["other@example.com"]) == mine
        assert Person.objects.get(email="other@example.com").user is None


class TestEnsureAdmin:
    def test_it_creates_one_admin_and_prints_its_password_once(self, db, monkeypatch):
        monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
        out = StringIO()
        call_command("ensure_admin", stdout=out)
        password = out.getvalue().split("password: ")[1].split()[0]
        admin = User.objects.get(is_superuser=True)
        assert admin.check_password(password)
        again = StringIO()
        call_command("ensure_admin", stdout=again)
        assert "password:" not in again.getvalue()
        assert User.objects.filter(is_superuser=True).count() == 1

    def test_it_takes_the_account_from_the_environment(self, db, monkeypatch):
        monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root@Example.com")
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "correct horse battery")
        out = StringIO()
        call_command("ensure_admin", stdout=out)
        admin = User.objects.get(is_superuser=True)
        assert admin.email == "root@example.com"
        assert admin.check_password("correct horse battery")
        assert "correct horse battery" not in out.getvalue()

    @pytest.mark.parametrize("path", ["/admin/", "/admin/e360/team/"])
    def test_the_new_admin_reaches_the_admin(self, client, db, monkeypatch, path):
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "correct horse battery")
        call_command("ensure_admin", stdout=StringIO())
        client.post("/accounts/login/", {"login": "admin@example.com", "password": "correct horse battery"})
        assert client.get(path).status_code == 200
