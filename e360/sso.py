"""allauth adapters: closed sign-up, SSO allowed for people the catalog knows.

Password accounts exist only when an admin creates them. An SSO login may
create an account only when the provider vouches for the email (verified) and
that email belongs to an active person in the catalog, or to a domain listed in
SSO_ALLOWED_EMAIL_DOMAINS. Whoever signs in with a verified email is linked
to the catalog person with that email.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.core.internal import ratelimit
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.http import HttpRequest

from e360.models import Person, User
from e360.services import person_link_user


def _verified_emails(sociallogin: SocialLogin) -> list[str]:
    return [address.email.lower() for address in sociallogin.email_addresses if address.verified]


class AccountAdapter(DefaultAccountAdapter):
    """Failed password sign-ins are limited per client IP, and per account only gently, so that
    whoever knows an email cannot lock its owner out (``ACCOUNT_RATE_LIMITS`` in the settings):

    - allauth's ``login_failed`` limit per "key" counts per account *and* client IP here, so
      one address's wrong passwords never refuse the owner's right one from another;
    - ``login_failed_account`` counts an account's failures from every address, with a short
      window: a guess spread over many addresses makes the account wait a minute.
    A sign-in that succeeds takes back what it counted, as allauth does.
    """

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        return f"{self._account_key(request, **credentials)}@{self.get_client_ip(request)}"

    def _account_key(self, request: HttpRequest, **credentials: Any) -> str:
        return super()._get_login_attempts_cache_key(request, **credentials)

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        super().pre_authenticate(request, **credentials)
        self._account_rl_usage = ratelimit.consume(
            request, app="allauth.account", action="login_failed_account", key=self._account_key(request, **credentials)
        )
        if not self._account_rl_usage:
            raise self.validation_error("too_many_login_attempts")

    def _rollback_login_failed_rl_usage(self) -> None:
        super()._rollback_login_failed_rl_usage()
        if usage := getattr(self, "_account_rl_usage", None):
            usage.rollback()

    def login(self, request: HttpRequest, user: User) -> None:
        super().login(request, user)
        # Only verified addresses: an SSO provider vouched for them, or their
        # owner confirmed them by mail. Admins link other accounts in the admin.
        emails = EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
        person_link_user(user=user, emails=emails)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        emails = _verified_emails(sociallogin)
        if not emails:
            return False
        if any(email.rpartition("@")[2] in settings.SSO_ALLOWED_EMAIL_DOMAINS for email in emails):
            return True
        return Person.objects.filter(email__in=emails, is_active=True, user__isnull=True).exists()
