"""allauth adapters: closed sign-up, SSO allowed for people the catalog knows.

Password accounts exist only when an admin creates them. An SSO login may
create an account only when the provider vouches for the email (verified) and
that email belongs to an active person in the catalog, or to a domain listed in
SSO_ALLOWED_EMAIL_DOMAINS. Whoever signs in with a verified email is linked
to the catalog person with that email.
"""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.http import HttpRequest

from e360.models import Person, User
from e360.services import person_link_user


def _verified_emails(sociallogin: SocialLogin) -> list[str]:
    return [address.email.lower() for address in sociallogin.email_addresses if address.verified]


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

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
